#!/usr/bin/env node
// The draw's proof at scale (issue 17): its bytes, and the storefront verifying it in headless
// Chromium. A synthetic N-ticket proof in the server's format (tools/proof_fixture.py) and the
// built storefront (web/dist) are served on 127.0.0.1 by a tiny static server — the API under
// /api, pages gzip-encoded as CloudFront would send them — and the *Verify my place* page checks
// it in its Web Worker, in a fresh browser profile (nothing cached).
//
//   node bench/proof-verify.cjs [--tickets 1000000] [--early 0] [--tamper KIND]
//
// prints one JSON line: {tickets, pages, bytes, bytes_per_ticket, gzip_bytes,
// gzip_bytes_per_ticket, verify_ms, page_ms, ticket_position_ok}. bytes: the manifest and every
// page as served uncompressed; gzip: each compressed on its own (zlib level 6); verify_ms: the
// worker's own time from the manifest to the verdict (downloads included); page_ms: navigation to
// the verdict on screen. Two more runs of the worker alone, each given a ticket from the middle
// of the draw, check the position and the rows it reports. --tamper KIND breaks the proof in one way
// (tools/proof_fixture.py --help): the page must say the draw does NOT match, naming the right
// check, and the line has `failure` instead. Exit status 1 when a check of this script fails.
//
// Needs python3, Debian's chromium (/usr/bin/chromium or $CHROMIUM) and playwright-core (installed
// into .tools/ui-node like scripts/ui-check.sh does); builds web/dist if web/ changed.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const zlib = require("node:zlib");

const ROOT = path.resolve(__dirname, "..");
const DIST = path.join(ROOT, "web", "dist");
const NODE_TOOLS = path.join(ROOT, ".tools", "ui-node");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
// What each way of breaking the proof must be reported as (web/src/verify.ts's checks).
const EXPECTED_FAILURE = { seed: "commitment", swap: "order", sha: "pages", prefix: "order", duplicate: "sections", count: "pages", size: "pages" };
const TIMEOUT = 10 * 60_000;

function options() {
  const args = process.argv.slice(2);
  const value = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const tickets = Number(value("tickets", "1000000"));
  const early = Number(value("early", "0"));
  const tamper = value("tamper", undefined);
  if (!Number.isInteger(tickets) || tickets < 10 || !Number.isInteger(early) || early < 0 || early > tickets) throw new Error("usage: --tickets N (>= 10) [--early E] [--tamper KIND]");
  if (tamper && !(tamper in EXPECTED_FAILURE)) throw new Error(`--tamper: one of ${Object.keys(EXPECTED_FAILURE).join(", ")}`);
  return { tickets, early, tamper };
}

function playwright() {
  try {
    return require("playwright-core");
  } catch {
    const installed = path.join(NODE_TOOLS, "node_modules", "playwright-core");
    if (!fs.existsSync(installed)) {
      execFileSync("npm", ["install", "--prefix", NODE_TOOLS, "--no-audit", "--no-fund", "--loglevel=error", "playwright-core@1.65.1"], { stdio: "inherit" });
    }
    return require(installed);
  }
}

/** The fixture as the API serves it: path → {body, gzip, type}. */
function loadFixture(dir, dropId) {
  const files = new Map();
  const folder = path.join(dir, "drops", dropId, "queue", "proof");
  for (const name of fs.readdirSync(folder)) {
    const body = fs.readFileSync(path.join(folder, name));
    const manifest = name === "manifest.json";
    const route = manifest ? `/drops/${dropId}/queue/proof` : `/drops/${dropId}/queue/proof/${name}`;
    files.set(route, { body, gzip: zlib.gzipSync(body, { level: 6 }), type: manifest ? "application/json" : "text/plain; charset=utf-8" });
  }
  return files;
}

function serve(api) {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://localhost");
    if (url.pathname === "/config.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(`window.BURST_CONFIG = { api: "http://${request.headers.host}/api" };`);
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      const file = api.get(url.pathname.slice(4));
      if (!file) {
        response.writeHead(404, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { code: "not_found", message: "no such resource in the fixture" } }));
        return;
      }
      const gzip = /\bgzip\b/.test(request.headers["accept-encoding"] || "");
      const body = gzip ? file.gzip : file.body;
      response.writeHead(200, {
        "content-type": file.type,
        "content-length": body.length,
        ...(gzip ? { "content-encoding": "gzip" } : {}),
        "cache-control": "public, max-age=31536000, immutable",
      });
      response.end(body);
      return;
    }
    const local = path.join(DIST, path.normalize(url.pathname === "/" ? "/index.html" : url.pathname));
    if (!local.startsWith(DIST) || !fs.existsSync(local) || !fs.statSync(local).isFile()) {
      response.writeHead(404);
      response.end();
      return;
    }
    const type = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" }[path.extname(local)] || "application/octet-stream";
    response.writeHead(200, { "content-type": type });
    response.end(fs.readFileSync(local));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Two tickets from the middle of the cohort and their positions, read from the fixture's files:
 * the second of a page (its rows before it end the previous page) and the last of the next page
 * (its rows after it open the page after that). */
function middleTickets(dir, dropId, manifest) {
  const pages = manifest.cohort.pages;
  const middle = Math.floor(pages.length / 2);
  return [
    [middle, 1],
    [middle + 1, pages[middle + 1].count - 1],
  ].map(([index, line]) => {
    const page = pages[index];
    const before = pages.slice(0, index).reduce((sum, p) => sum + p.count, 0);
    const body = fs.readFileSync(path.join(dir, "drops", dropId, "queue", "proof", page.name), "ascii");
    return { id: body.slice(line * 33, line * 33 + 32), position: manifest.cohort.start + before + line };
  });
}

async function main() {
  const { tickets, early, tamper } = options();
  // The storefront as it is now (rebuilt only if web/ changed); its output goes to stderr, this
  // script's one line to stdout.
  execFileSync(path.join(ROOT, "scripts", "web.sh"), ["ensure"], { stdio: ["ignore", 2, 2] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burst-proof-"));
  let server;
  let browser;
  try {
    const made = JSON.parse(
      execFileSync("python3", [path.join(ROOT, "tools", "proof_fixture.py"), dir, "--tickets", String(tickets), "--early", String(early), ...(tamper ? ["--tamper", tamper] : [])], { encoding: "utf8" }),
    );
    const dropId = made.drop_id;
    const api = loadFixture(dir, dropId);
    const manifest = JSON.parse(api.get(`/drops/${dropId}/queue/proof`).body);
    let bytes = 0;
    let gzipBytes = 0;
    for (const file of api.values()) {
      bytes += file.body.length;
      gzipBytes += file.gzip.length;
    }
    server = await serve(api);
    const origin = `http://127.0.0.1:${server.address().port}`;
    browser = await playwright().chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));

    // The shopper's view: the verify page, from navigation to the verdict.
    const started = Date.now();
    await page.goto(`${origin}/#/drop/${dropId}/verify`);
    const verdict = page.locator(".verdict[role=status] strong").first();
    await verdict.waitFor({ timeout: TIMEOUT });
    const pageMs = Date.now() - started;
    const verdictText = (await verdict.textContent()).trim();
    const detail = (await page.locator(".verdict[role=status] .block").first().textContent()).trim();

    // The worker alone, with a ticket: its position and rows, and the failure's structure.
    const workerUrl = `assets/${fs.readdirSync(path.join(DIST, "assets")).find((f) => /^verify\.worker-.*\.js$/.test(f))}`;
    const runWorker = (ticket) =>
      page.evaluate(
        ({ workerUrl, manifest, apiBase, ticket }) =>
          new Promise((resolve, reject) => {
            const worker = new Worker(workerUrl, { type: "module" });
            worker.onmessage = (event) => event.data.type === "done" && resolve(event.data.check);
            worker.onerror = (event) => reject(new Error(event.message));
            worker.postMessage({ manifest, apiBase, ticket });
          }),
        { workerUrl, manifest, apiBase: `${origin}/api`, ticket },
      );
    const wanted = middleTickets(dir, dropId, manifest);
    const check = await runWorker(wanted[0].id);

    const result = {
      tickets,
      early,
      pages: made.pages,
      bytes,
      bytes_per_ticket: +(bytes / tickets).toFixed(2),
      gzip_bytes: gzipBytes,
      gzip_bytes_per_ticket: +(gzipBytes / tickets).toFixed(2),
      verify_ms: Math.round(Number(/recomputed in ([\d,]+) ms/.exec(detail)?.[1].replace(/,/g, "")) || check.ms),
      page_ms: pageMs,
    };
    if (tamper) {
      result.tamper = tamper;
      result.failure = check.failure;
      if (verdictText !== "The draw does NOT match the proof.") problems.push(`tampered (${tamper}), the page says: ${verdictText}`);
      if (check.failure?.check !== EXPECTED_FAILURE[tamper]) problems.push(`tampered (${tamper}): expected a failed ${EXPECTED_FAILURE[tamper]} check, got ${JSON.stringify(check.failure)}`);
    } else {
      if (verdictText !== "The draw checks out.") problems.push(`the page says: ${verdictText} ${detail}`);
      if (check.failure) problems.push(`the worker failed a true proof: ${JSON.stringify(check.failure)}`);
      if (check.tickets !== tickets) problems.push(`the worker checked ${check.tickets} of ${tickets} tickets`);
      result.ticket_position_ok = true;
      for (const [i, ticket] of wanted.entries()) {
        const found = i === 0 ? check : await runWorker(ticket.id);
        const rows = found.rows.map((row) => row.position);
        const expected = [1, 2, 3, 4, 5, ...[-3, -2, -1, 0, 1, 2].map((d) => ticket.position + d)];
        if (found.myPosition !== ticket.position || expected.some((p) => !rows.includes(p))) {
          result.ticket_position_ok = false;
          problems.push(`ticket ${ticket.id}: expected position ${ticket.position} with rows ${expected}, got ${found.myPosition} with rows ${rows}`);
        }
      }
    }
    console.log(JSON.stringify(result));
    for (const problem of problems) console.error(`proof-verify: ${problem}`);
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    if (browser) await browser.close();
    if (server) server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`proof-verify: ${error.stack || error}`);
  process.exit(1);
});
