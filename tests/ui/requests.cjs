// The storefront's request budget (docs/capacity.md "Request budgets per page"), measured: the
// real storefront in headless Chromium against the local stack (scripts/ui-check.sh), one page
// per phase a shopper lives through — the drops list, a first-come drop live, a queued drop not
// yet open, the pre-queue, the queue far from the front, near it, admitted, holding a unit, sold
// out — each with the live socket allowed and without one (the deployment's `ws` left out of
// /config.js). Playwright's page.clock runs each page through simulated minutes; every API request
// is counted by route and every socket the page opens. Fails when a page asks more than its
// budget; prints the table (phase × route × requests per simulated minute).
// Usage: node requests.cjs <ui url> [output dir]   (env: CHROMIUM, BURST_DEV_JWT_SECRET,
//   REQUESTS_MINUTES: simulated minutes per page, default 3)
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { chromium } = require("playwright-core");

const [uiUrl, outDir] = process.argv.slice(2);
const SECRET = process.env.BURST_DEV_JWT_SECRET || "burst-local-dev-secret";
const MINUTES = Number(process.env.REQUESTS_MINUTES || 3);
const STEP_MS = 250;
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const run = Date.now().toString(36).slice(-5);

// Per page and simulated minute, after the page has loaded (docs/capacity.md): a page that only
// watches asks at most 4 times; near the front the server asks every 2 s (+ up to 25 %), admitted
// every 5 s; a hold is re-read every 15 s and at its end (the plan budgets 12). Sockets: only near
// the front and admitted, at most one per page.
const BUDGET = {
  "drops list": { perMinute: 4, sockets: 0 },
  "first come, live": { perMinute: 4, sockets: 0 },
  "queued, not open yet": { perMinute: 4, sockets: 0 },
  "pre-queue (ticket)": { perMinute: 4, sockets: 0 },
  "queue open, far from the front": { perMinute: 4, sockets: 0 },
  "near the front": { perMinute: 30, sockets: 1 },
  admitted: { perMinute: 12, sockets: 1 },
  "holding a unit": { perMinute: 12, sockets: 0 },
  "sold out": { perMinute: 4, sockets: 0 },
};
const LOAD_BUDGET = 5;

const b64url = (data) => Buffer.from(data).toString("base64url");
function token(sub, groups = []) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify({ sub, iss: "burst-local", iat: now, exp: now + 6 * 3600, "cognito:groups": groups }))}`;
  return `${body}.${crypto.createHmac("sha256", SECRET).update(body).digest("base64url")}`;
}

async function readConfig() {
  const text = await (await fetch(new URL("config.js", uiUrl))).text();
  const sandbox = { window: {} };
  vm.runInNewContext(text, sandbox);
  return sandbox.window.BURST_CONFIG;
}

let config;
async function call(method, route, who, body) {
  const response = await fetch(`${config.api}${route}`, {
    method,
    headers: { authorization: `Bearer ${who === "admin" ? config.devTokens.admin : token(who)}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${route} as ${who}: ${response.status} ${text.slice(0, 200)}`);
  return json;
}

const at = (seconds) => new Date(Date.now() + seconds * 1000).toISOString();
async function createDrop(name, fields) {
  return call("POST", "/admin/drops", "admin", {
    name: `${name} ${run}`,
    description: "tests/ui/requests.cjs",
    price: { amount: 5000, currency: "EUR" },
    total_units: 100,
    hold_seconds: 3600,
    ...fields,
  });
}
const queue = (opensIn, fields = {}) => ({ opens_at: at(opensIn), proof_of_work: false, ip_joins_per_minute: 100000, admission_seconds: 3600, ...fields });

async function ticketOf(dropId, who) {
  return (await call("GET", `/drops/${dropId}/queue/me`, who)).ticket;
}
async function waitTicket(dropId, who, ok, what) {
  for (let i = 0; i < 240; i++) {
    const ticket = await ticketOf(dropId, who);
    if (ok(ticket)) return ticket;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${who}'s ticket never became ${what}`);
}

/** The route an API request counts under: ids replaced by {id}. */
function routeOf(request) {
  const url = new URL(request.url());
  const route = url.pathname.replace(/\/[0-9a-f]{16,}|\/(?:res|rsv|ord|cs)_[A-Za-z0-9]+|\/[0-9A-Za-z-]{20,}/g, "/{id}");
  return `${request.method()} ${route}`;
}

function configScript(user, withSocket) {
  const runtime = { api: config.api, ...(withSocket ? { ws: config.ws } : {}), devTokens: { [user]: user === "admin" ? config.devTokens.admin : token(user) } };
  return `window.BURST_CONFIG = ${JSON.stringify(runtime)};`;
}

/** One page in one phase: loaded for real, then `MINUTES` simulated minutes counted. */
async function measure(browser, { phase, user, hash, ready, holds }, withSocket) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route(`${uiUrl.replace(/\/$/, "")}/config.js`, (route) => route.fulfill({ contentType: "application/javascript", body: configScript(user, withSocket) }));
  await context.addInitScript(([name, remembered]) => {
    localStorage.setItem("burst.who", name);
    if (remembered) localStorage.setItem(`burst.holds.${name}`, JSON.stringify(remembered));
  }, [user, holds ?? null]);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  let counting = "load";
  const counts = { load: new Map(), steady: new Map() };
  const sockets = { load: 0, steady: 0 };
  const inflight = new Set();
  page.on("request", (request) => {
    if (!request.url().startsWith(config.api)) return;
    inflight.add(request);
    const key = routeOf(request);
    counts[counting].set(key, (counts[counting].get(key) ?? 0) + 1);
  });
  const done = (request) => inflight.delete(request);
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  page.on("websocket", () => (sockets[counting] += 1));
  // After each step of the clock: let any request the step started finish (real time), and the
  // page set its next timer, before the clock moves on.
  let asked = 0;
  page.on("request", () => (asked += 1));
  const settle = async () => {
    const before = asked;
    await page.waitForTimeout(2);
    if (asked === before && !inflight.size) return;
    for (let i = 0; i < 250 && inflight.size; i++) await page.waitForTimeout(20);
    await page.waitForTimeout(20);
  };

  // The page loads in real time; then its clock stops and moves only by STEP_MS steps, so every
  // timer fires at its simulated moment (a wait is measured at most one step long).
  await page.clock.install();
  await page.goto(`${uiUrl.replace(/\/$/, "")}/#${hash}`);
  await ready(page).waitFor({ timeout: 30_000 });
  await settle();
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
  await settle();
  counting = "steady";
  const from = await page.evaluate(() => Date.now());
  for (let step = 0; step < (MINUTES * 60_000) / STEP_MS; step++) {
    await page.clock.runFor(STEP_MS);
    await settle();
  }
  const minutes = ((await page.evaluate(() => Date.now())) - from) / 60_000;
  const stillThere = await ready(page).isVisible();
  await context.close();
  const perMinute = Object.fromEntries([...counts.steady].map(([route, n]) => [route, n / minutes]));
  const total = [...counts.steady.values()].reduce((a, b) => a + b, 0) / minutes;
  const load = [...counts.load.values()].reduce((a, b) => a + b, 0);
  return { phase, socket: withSocket, minutes, load, loadRoutes: Object.fromEntries(counts.load), perMinute, total, sockets, errors, stillThere };
}

(async () => {
  config = await readConfig();
  if (!config?.devTokens?.admin || !config.ws) throw new Error("config.js has no dev tokens or no ws endpoint");
  const started = Date.now();
  console.log(`requests: setting up the phases (run ${run}) …`);
  // Every phase on its own drop, through the API.
  const [live, soldOut, upcoming, prequeue, open, admitting] = await Promise.all([
    createDrop("Req live", { starts_at: at(-60) }),
    createDrop("Req sold out", { starts_at: at(-60), total_units: 1, shard_count: 1 }),
    createDrop("Req upcoming", { starts_at: at(2 * 86400 + 3600), queue: queue(2 * 86400) }),
    createDrop("Req prequeue", { starts_at: at(3600), queue: queue(-60) }),
    createDrop("Req open", { starts_at: at(-30), total_units: 1000, queue: queue(-60, { admit_per_minute: 1 }) }),
    createDrop("Req admitting", { starts_at: at(-30), queue: queue(-60, { admit_per_minute: 600 }) }),
  ]);
  await call("POST", `/drops/${soldOut.id}/claims`, `req-buyer-${run}`, { quantity: 1 });
  const who = (name) => `req-${name}-${run}`;
  await call("POST", `/drops/${prequeue.id}/queue`, who("pre"), {});
  // The open queue: 29 ahead of `near`, 89 ahead of `far`, one admitted a minute. Each group
  // joins at once; the groups one after the other.
  const join = (names) => Promise.all(names.map((name) => call("POST", `/drops/${open.id}/queue`, name, {})));
  const crowd = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => who(`crowd${from + i}`));
  await join(crowd(1, 29));
  await join([who("near")]);
  await join(crowd(31, 89));
  await join([who("far")]);
  await call("POST", `/drops/${admitting.id}/queue`, who("adm"), {});
  await call("POST", `/drops/${admitting.id}/queue`, who("holder"), {});
  await waitTicket(open.id, who("far"), (t) => t.position != null, "placed");
  const near = await waitTicket(open.id, who("near"), (t) => t.position != null && t.poll_after_ms < 15000, "near the front");
  const far = await ticketOf(open.id, who("far"));
  if (far.poll_after_ms < 15000) throw new Error(`the far ticket is near already (${JSON.stringify(far)})`);
  await waitTicket(admitting.id, who("adm"), (t) => t.status === "admitted", "admitted");
  const holderTicket = await waitTicket(admitting.id, who("holder"), (t) => t.status === "admitted", "admitted");
  const { reservation } = await call("POST", `/drops/${admitting.id}/claims`, who("holder"), { quantity: 1, admission_token: holderTicket.admission.token });
  console.log(`requests: set up in ${((Date.now() - started) / 1000).toFixed(0)} s; near #${near.position} (${near.ahead} ahead, asked ${near.poll_after_ms} ms), far #${far.position} (${far.ahead} ahead, asked ${far.poll_after_ms} ms)`);

  const text = (t) => (page) => page.getByText(t).first();
  const phases = [
    { phase: "drops list", user: who("watcher"), hash: "/", ready: (page) => page.locator(".drop-card h2 a").first() },
    { phase: "first come, live", user: who("watcher"), hash: `/drop/${live.id}`, ready: text("Claim yours") },
    { phase: "queued, not open yet", user: who("watcher"), hash: `/drop/${upcoming.id}`, ready: text("The queue opens") },
    { phase: "pre-queue (ticket)", user: who("pre"), hash: `/drop/${prequeue.id}`, ready: text("You're in — order is drawn at start.") },
    { phase: "queue open, far from the front", user: who("far"), hash: `/drop/${open.id}`, ready: text("Your place") },
    { phase: "near the front", user: who("near"), hash: `/drop/${open.id}`, ready: text("Your place") },
    { phase: "admitted", user: who("adm"), hash: `/drop/${admitting.id}`, ready: text("It's your turn.") },
    { phase: "holding a unit", user: who("holder"), hash: `/drop/${admitting.id}`, ready: text("Complete your purchase"), holds: { [admitting.id]: reservation.id } },
    { phase: "sold out", user: who("watcher"), hash: `/drop/${soldOut.id}`, ready: text("are gone") },
  ];

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ARGS });
  const results = [];
  let failures = 0;
  try {
    for (const spec of phases) {
      // The page with the socket allowed and without, side by side (each has its own clock).
      const pair = await Promise.all([true, false].map((withSocket) => measure(browser, spec, withSocket)));
      for (const r of pair) {
        const withSocket = r.socket;
        results.push(r);
        const budget = BUDGET[spec.phase];
        const over = [];
        if (r.total > budget.perMinute + 1e-9) over.push(`${r.total.toFixed(1)} requests/min > ${budget.perMinute}`);
        if (r.load > LOAD_BUDGET) over.push(`${r.load} requests at load > ${LOAD_BUDGET}`);
        const opened = r.sockets.load + r.sockets.steady;
        if (opened > (withSocket ? budget.sockets : 0)) over.push(`${opened} sockets opened > ${withSocket ? budget.sockets : 0}`);
        if (r.errors.length) over.push(`page errors: ${r.errors.join("; ")}`);
        if (!r.stillThere) over.push("the page left its phase while measured");
        const label = `${spec.phase}, ${withSocket ? "socket allowed" : "no socket"}`;
        if (over.length) {
          failures++;
          console.log(`  FAIL ${label}: ${over.join(", ")}`);
        } else console.log(`  ok   ${label}: ${r.total.toFixed(1)}/min (budget ${budget.perMinute}), ${r.load} at load, ${opened} socket(s)`);
      }
    }
  } finally {
    await browser.close();
  }

  // The table: phase × route, requests per simulated minute, with and without the socket.
  const routes = [...new Set(results.flatMap((r) => Object.keys(r.perMinute)))].sort();
  const short = (route) => route.replace("GET ", "").replace("/drops/{id}/queue/me", "ticket").replace("/drops/{id}/queue", "status").replace("/drops/{id}", "drop").replace("/reservations/{id}", "hold").replace(/^\/drops.*/, "list");
  const header = ["phase", "socket", "budget", "total", ...routes.map(short), "at load", "sockets opened"];
  const rows = results.map((r) => [r.phase, r.socket ? "allowed" : "none", String(BUDGET[r.phase].perMinute), r.total.toFixed(1), ...routes.map((route) => (r.perMinute[route] ? r.perMinute[route].toFixed(1) : "·")), String(r.load), String(r.sockets.load + r.sockets.steady)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const table = [line(header), `|${widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
  console.log(`\nAPI requests per page per simulated minute (${MINUTES} min each, after the load), routes: ${routes.join(", ")}\n`);
  console.log(table);
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, "requests.json"), JSON.stringify({ minutes: MINUTES, budget: BUDGET, loadBudget: LOAD_BUDGET, results }, null, 2));
    fs.writeFileSync(path.join(outDir, "requests.md"), `${table}\n`);
  }
  console.log(`\nrequests: ${results.length - failures} within budget, ${failures} over (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  process.exitCode = failures ? 1 : 0;
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
