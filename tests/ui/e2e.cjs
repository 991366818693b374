// The storefront in headless Chromium, against the whole local stack (scripts/ui-check.sh):
//   - the operator creates a queued drop with proof of work in the console (1 unit, starting in
//     ~150 s: both shoppers join before it even on a loaded machine, after the sweeps and the
//     proof of work) and watches its live ledger;
//   - two shoppers, bob on a 1440 px desktop and alice on a 390 px phone, join its queue (the
//     proof of work runs in the browser with a visible progress bar and the API accepts it), wait
//     in the pre-queue, are drawn at the start; the first admitted claims (keyboard), holds
//     (role=timer) and releases; the unit passes to the second, who sees their place move,
//     is admitted, claims, pays on the Checkout page, comes back, and sees the order paid; both
//     verify the draw in the browser;
//   - the operator sees the sale in a consistent ledger, pauses and resumes the drop, and
//     creates a raffle with a price schedule;
//   - every page: axe-core (no serious or critical violation), no horizontal overflow at 360,
//     390, 768 and 1440 px, screenshots; no request to any host but the UI, the API, the
//     WebSocket endpoint and Checkout; the performance budgets of budgets.json.
// Usage: node e2e.cjs <ui url> <output dir>   (env: CHROMIUM, WEB_DIST, STRIPE_URL)
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const zlib = require("node:zlib");
const { chromium } = require("playwright-core");

const [uiUrl, outDir] = process.argv.slice(2);
const SHOTS = path.join(outDir, "shots");
const WEB_DIST = process.env.WEB_DIST || path.join(__dirname, "../../web/dist");
const BUDGETS = JSON.parse(fs.readFileSync(path.join(__dirname, "budgets.json"), "utf8"));
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TIMEOUT = 90_000;
const WIDTHS = [360, 390, 768, 1440];
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

fs.mkdirSync(SHOTS, { recursive: true });
const report = { checks: [], axe: {}, overflow: {}, budgets: {}, notes: [], hosts: new Set() };
let shotNo = 0;
let failures = 0;

function pass(name) {
  report.checks.push({ name, ok: true });
  console.log(`  ok   ${name}`);
}
function fail(name, why) {
  failures++;
  report.checks.push({ name, ok: false, why });
  console.log(`  FAIL ${name}: ${why}`);
}
function note(text) {
  report.notes.push(text);
  console.log(`  note ${text}`);
}
async function step(name, fn) {
  try {
    await fn();
    pass(name);
  } catch (error) {
    fail(name, error.message.split("\n")[0]);
    throw error;
  }
}

// The runtime config the UI was served with (the dev tokens, endpoints).
async function readConfig() {
  const text = await (await fetch(new URL("config.js", uiUrl))).text();
  const sandbox = { window: {} };
  vm.runInNewContext(text, sandbox);
  return sandbox.window.BURST_CONFIG;
}

async function shot(page, name) {
  const width = page.viewportSize().width;
  const file = path.join(SHOTS, `${String(++shotNo).padStart(2, "0")}-${name}-${width}.png`);
  await page.screenshot({ path: file });
  return file;
}

async function axe(page, name) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    }));
  const width = page.viewportSize().width;
  const all = result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target?.join(" ") }));
  report.axe[`${name}@${width}`] = all;
  const bad = all.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) fail(`axe ${name} @${width}`, bad.map((v) => `${v.impact} ${v.id} (${v.nodes}) ${v.target}: ${v.help}`).join("; "));
  else pass(`axe ${name} @${width}: no serious/critical (${all.length} minor/moderate)`);
}

// Horizontal overflow: the document and every control must fit the viewport (except inside a
// deliberate horizontal scroller, such as a wide table's wrapper).
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const bad = [];
    if (document.documentElement.scrollWidth > width + 1) bad.push(`document is ${document.documentElement.scrollWidth}px wide`);
    const inScroller = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === "auto" || o === "scroll") return true;
      }
      return false;
    };
    for (const el of document.querySelectorAll("button, a, input, select, textarea, [role=timer], [role=status], h1, h2, .panel, .card, .notice, .bar, .verdict")) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || el.closest(".sr-only, .skip") || inScroller(el)) continue;
      if (r.right > width + 1 || r.left < -1) {
        bad.push(`${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).split(" ")[0]}` : ""} "${(el.textContent || "").trim().slice(0, 24)}" spans ${Math.round(r.left)}–${Math.round(r.right)}`);
      }
    }
    return bad.slice(0, 4);
  });
}

/** Axe at the page's own width, overflow at every width, screenshots at 390 and 1440. */
async function sweep(page, name, { shots = [390, 1440], focus } = {}) {
  const base = page.viewportSize();
  await page.waitForTimeout(300);
  await axe(page, name);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 700 ? 844 : 900 });
    await page.waitForTimeout(150);
    const bad = await overflow(page);
    report.overflow[`${name}@${width}`] = bad;
    if (bad.length) fail(`no overflow ${name} @${width}`, bad.join("; "));
    if (shots.includes(width)) {
      if (focus) {
        await page.evaluate((sel) => {
          const el = document.querySelector(sel);
          if (!el) return;
          const r = el.getBoundingClientRect();
          // Leave it be when it starts in the upper half of the screen (desktop); scroll it up
          // under the header when it starts lower (phones).
          if (r.top >= 70 && r.top <= innerHeight * 0.5) return;
          window.scrollBy(0, r.top - 110);
        }, focus);
      }
      await shot(page, name);
    }
  }
  await page.setViewportSize(base);
  await page.waitForTimeout(100);
  pass(`no horizontal overflow: ${name} at ${WIDTHS.join(", ")} px`);
}

async function newShopper(browser, config, who, viewport, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  context.setDefaultTimeout(TIMEOUT);
  await context.addInitScript((name) => localStorage.setItem("burst.who", name), who);
  context.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ws:" || u.protocol === "wss:") report.hosts.add(u.host);
  });
  context.on("websocket", (ws) => report.hosts.add(new URL(ws.url()).host));
  const page = await context.newPage();
  page.on("pageerror", (e) => fail(`no page errors (${who})`, e.message));
  page.on("response", (r) => r.status() >= 500 && fail("no server errors", `${r.status()} ${r.url()}`));
  return { context, page };
}

const button = (page, name) => page.getByRole("button", { name, exact: true });

async function localInput(page, offsetSeconds) {
  return page.evaluate((s) => {
    const d = new Date(Date.now() + s * 1000);
    const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 19);
  }, offsetSeconds);
}

// ---------------------------------------------------------------------------------------------

function firstLoadBytes() {
  const html = fs.readFileSync(path.join(WEB_DIST, "index.html"), "utf8");
  const js = [...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"|<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)].map((m) => m[1] || m[2]);
  const css = [...html.matchAll(/<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"/g)].map((m) => m[1]);
  const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(WEB_DIST, f.replace(/^\.?\//, ""))), { level: 9 }).length;
  const lazy = fs.readdirSync(path.join(WEB_DIST, "assets")).filter((f) => f.endsWith(".js") && !js.some((j) => j.endsWith(f)));
  return {
    js: js.reduce((a, f) => a + gz(f), 0),
    jsFiles: js,
    css: css.reduce((a, f) => a + gz(f), 0),
    lazy: Object.fromEntries(lazy.map((f) => [f, gz(`assets/${f}`)])),
  };
}

/** One cold load of the drops page: FCP, LCP, TBT (long tasks over 50 ms), CLS. */
async function measureOnce(browser, viewport, cpu) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript(() => {
    const perf = (window.__perf = { lcp: 0, cls: 0, tbt: 0, longtasks: 0 });
    new PerformanceObserver((l) => l.getEntries().forEach((e) => (perf.lcp = e.startTime))).observe({ type: "largest-contentful-paint", buffered: true });
    new PerformanceObserver((l) => l.getEntries().forEach((e) => !e.hadRecentInput && (perf.cls += e.value))).observe({ type: "layout-shift", buffered: true });
    new PerformanceObserver((l) => l.getEntries().forEach((e) => { perf.longtasks++; perf.tbt += Math.max(0, e.duration - 50); })).observe({ type: "longtask", buffered: true });
  });
  const page = await context.newPage();
  if (cpu > 1) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpu });
  }
  await page.goto(uiUrl);
  // Wait without Playwright's selector polling: its injected queries run on the page's main
  // thread and would count as the page's own long tasks.
  for (let i = 0; i < 30; i++) {
    await page.waitForTimeout(1000);
    if (await page.evaluate(() => Boolean(document.querySelector(".drop-card h2 a")))) break;
  }
  await page.waitForTimeout(1500);
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const js = performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js"));
    return { ...window.__perf, fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, jsRequests: js.length };
  });
  await context.close();
  return m;
}

/** The median of five cold loads (a shared CI machine is noisy), against budgets.json, after
 * one load that is not counted: the browser's first context pays for Chromium's own start-up
 * (its processes, its code caches), which is not the page's cost. */
async function measure(browser, label, viewport, cpu) {
  await measureOnce(browser, viewport, cpu);
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await measureOnce(browser, viewport, cpu));
  const median = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[2];
  const m = Object.fromEntries(["fcp", "lcp", "tbt", "cls", "dcl", "load", "jsRequests"].map((k) => [k, median(k)]));
  const rounded = { fcp_ms: Math.round(m.fcp), lcp_ms: Math.round(m.lcp), tbt_ms: Math.round(m.tbt), cls: Number(m.cls.toFixed(3)), dcl_ms: Math.round(m.dcl), load_ms: Math.round(m.load), js_requests: m.jsRequests, runs: runs.map((r) => ({ lcp: Math.round(r.lcp), tbt: Math.round(r.tbt) })) };
  report.budgets[label] = rounded;
  const over = [];
  if (rounded.fcp_ms > BUDGETS.fcp_ms) over.push(`FCP ${rounded.fcp_ms} ms > ${BUDGETS.fcp_ms}`);
  if (rounded.lcp_ms > BUDGETS.lcp_ms) over.push(`LCP ${rounded.lcp_ms} ms > ${BUDGETS.lcp_ms}`);
  if (rounded.tbt_ms > BUDGETS.tbt_ms) over.push(`TBT ${rounded.tbt_ms} ms > ${BUDGETS.tbt_ms}`);
  if (rounded.cls > BUDGETS.cls) over.push(`CLS ${rounded.cls} > ${BUDGETS.cls}`);
  const line = `FCP ${rounded.fcp_ms} ms · LCP ${rounded.lcp_ms} ms · TBT ${rounded.tbt_ms} ms · CLS ${rounded.cls}`;
  if (over.length) fail(`budgets ${label}`, `${over.join(", ")} (${line})`);
  else pass(`budgets ${label}: ${line}`);
}

// ---------------------------------------------------------------------------------------------

(async () => {
  const config = await readConfig();
  if (!config?.devTokens?.admin) throw new Error("config.js has no dev tokens");
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ARGS });
  const opened = [];
  try {
    // ---- budgets first, on a quiet stack ----
    const bytes = firstLoadBytes();
    report.budgets.bytes = bytes;
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    if (bytes.js > BUDGETS.first_load_js_gzip_bytes) fail("first-load JS budget", `${kb(bytes.js)} gzip > ${kb(BUDGETS.first_load_js_gzip_bytes)}`);
    else pass(`first-load JS ${kb(bytes.js)} gzip (budget ${kb(BUDGETS.first_load_js_gzip_bytes)}), CSS ${kb(bytes.css)} gzip`);
    if (bytes.css > BUDGETS.first_load_css_gzip_bytes) fail("first-load CSS budget", kb(bytes.css));
    for (const [file, size] of Object.entries(bytes.lazy)) {
      if (size > BUDGETS.lazy_chunk_js_gzip_bytes) fail("lazy chunk budget", `${file} ${kb(size)}`);
    }
    await measure(browser, "desktop 1440", { width: 1440, height: 900 }, 1);
    await measure(browser, "phone 390, 4x CPU", { width: 390, height: 844 }, 4);

    // ---- the operator creates a queued drop ----
    const ops = await newShopper(browser, config, "admin", { width: 1440, height: 900 });
    opened.push(ops.context);
    let dropId;
    const dropName = `Pulse Runner ${Date.now().toString(36).slice(-4).toUpperCase()}`;
    await step("operator creates a queued drop with proof of work in the console", async () => {
      await ops.page.goto(`${uiUrl}/#/ops`);
      await ops.page.getByRole("heading", { name: "Create a drop" }).waitFor();
      await ops.page.getByLabel("Name").fill(dropName);
      await ops.page.getByLabel("Description").fill("A one-unit run for the browser check: queue, draw, hold, pay.");
      await ops.page.getByLabel("Price", { exact: true }).fill("189.00");
      await ops.page.getByLabel("Units").fill("1");
      await ops.page.getByLabel("Queue opens").fill(await localInput(ops.page, -60));
      await ops.page.getByLabel("Starts").fill(await localInput(ops.page, 150));
      if (!(await ops.page.getByLabel("Proof of work to join").isChecked())) throw new Error("proof of work is not on by default");
      await sweep(ops.page, "ops-create", { shots: [1440] });
      await ops.page.getByRole("button", { name: "Create drop" }).click();
      await ops.page.waitForURL(/#\/ops\/[0-9a-f]{32}$/);
      dropId = ops.page.url().split("/").pop();
      await ops.page.getByText("LEDGER CONSISTENT").waitFor();
    });
    await sweep(ops.page, "ops-live-ledger");

    // ---- two shoppers join before the start ----
    const bob = await newShopper(browser, config, "bob", { width: 1440, height: 900 });
    const alice = await newShopper(browser, config, "alice", { width: 390, height: 844, isMobile: true, hasTouch: true });
    opened.push(bob.context, alice.context);
    const shoppers = { bob, alice };

    await step("drops list shows the new drop upcoming with a countdown", async () => {
      await bob.page.goto(uiUrl);
      const card = bob.page.locator(".drop-card", { hasText: dropName });
      await card.getByText("Queue open").waitFor();
      await card.getByText(/Draw & start in/).waitFor();
    });
    await sweep(bob.page, "drops");

    for (const [who, s] of Object.entries(shoppers)) {
      await step(`${who}: joins the queue — proof of work in the browser, visible progress, accepted by the API`, async () => {
        await s.page.goto(`${uiUrl}/#/drop/${dropId}`);
        const join = button(s.page, "Join the queue");
        await join.waitFor();
        if (who === "alice") await sweep(s.page, "drop-upcoming-join", { focus: ".panel-cta" });
        await s.page.evaluate(() => {
          window.__sawProgress = false;
          new MutationObserver(() => {
            if (document.querySelector('[role="progressbar"]')) window.__sawProgress = true;
          }).observe(document.body, { childList: true, subtree: true });
        });
        const joined = s.page.waitForResponse((r) => r.url().endsWith(`/drops/${dropId}/queue`) && r.request().method() === "POST");
        const challenge = s.page.waitForResponse((r) => r.url().endsWith(`/drops/${dropId}/challenge`));
        await join.click();
        if ((await challenge).status() !== 200) throw new Error(`challenge answered ${(await challenge).status()}`);
        const progress = s.page.getByRole("progressbar", { name: "Proof of work" });
        if (await progress.isVisible().catch(() => false)) await shot(s.page, "pow-progress");
        const response = await joined;
        if (response.status() !== 201) throw new Error(`join answered ${response.status()}: ${await response.text()}`);
        const body = response.request().postDataJSON();
        if (!body?.altcha) throw new Error("the join carried no ALTCHA payload");
        if (!(await s.page.evaluate(() => window.__sawProgress))) throw new Error("no progress indicator was shown");
        await s.page.getByText("You're in — order is drawn at start.").waitFor();
      });
      await sweep(s.page, "pre-queue", { focus: ".panel-in" });
    }

    // ---- the start: the draw, admission of position 1 ----
    let first, second;
    await step("at the start both are drawn; position 1 is admitted with a Claim and a countdown", async () => {
      const admitted = (s) => button(s.page, "Claim").waitFor({ timeout: 120_000 }).then(() => s);
      const winner = await Promise.race([admitted(alice), admitted(bob)]);
      first = winner === alice ? "alice" : "bob";
      second = first === "alice" ? "bob" : "alice";
      note(`the draw put ${first} first and ${second} second`);
      await shoppers[first].page.getByText(/It's your turn/).waitFor();
    });
    await sweep(shoppers[first].page, "admitted", { focus: ".panel-admitted" });

    await step(`${second}: waits with place, people ahead and ETA in a role=status region`, async () => {
      const status = shoppers[second].page.locator('[role="status"]', { hasText: "Your place" });
      await status.waitFor({ timeout: 60_000 });
      const text = await status.textContent();
      if (!/#2/.test(text)) throw new Error(`the status reads "${text}"`);
    });
    await sweep(shoppers[second].page, "queue-position", { focus: ".panel-in" });

    const holdOf = async (s) => {
      const timer = s.page.getByRole("timer");
      await timer.waitFor();
      const t = (await timer.textContent()).trim();
      if (!/^(09|10):\d\d$/.test(t)) throw new Error(`the hold timer shows ${t}`);
      for (const name of ["Pay", "Release"]) {
        const box = await button(s.page, name).boundingBox();
        const width = s.page.viewportSize().width;
        if (!box || box.x < 0 || box.x + box.width > width) throw new Error(`${name} is outside the viewport`);
      }
    };

    await step(`${first}: claims with the keyboard (visible focus) and holds the unit (role=timer, Pay, Release)`, async () => {
      const page = shoppers[first].page;
      await page.locator("body").click({ position: { x: 2, y: 300 } }).catch(() => {});
      await page.evaluate(() => document.activeElement && document.activeElement.blur());
      let found = false;
      for (let i = 0; i < 40 && !found; i++) {
        await page.keyboard.press("Tab");
        found = await page.evaluate(() => document.activeElement?.textContent?.trim() === "Claim");
      }
      if (!found) throw new Error("Claim is not reachable with Tab");
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      if (outline === "none") throw new Error("the focused Claim button shows no focus outline");
      await page.keyboard.press("Enter");
      await holdOf(shoppers[first]);
    });
    await sweep(shoppers[first].page, "hold", { focus: ".panel-hold" });

    await step(`${first}: releases; the unit passes to ${second}`, async () => {
      await button(shoppers[first].page, "Release").click();
      await shoppers[first].page.getByText("You released your hold").waitFor();
      await button(shoppers[second].page, "Claim").waitFor({ timeout: 90_000 });
    });
    await sweep(shoppers[first].page, "released", { shots: [390], focus: ".notice" });

    await step(`${second}: claims, pays on the Checkout page, returns, sees the order paid`, async () => {
      const page = shoppers[second].page;
      await button(page, "Claim").click();
      await holdOf(shoppers[second]);
      await button(page, "Pay").click();
      await page.waitForURL(/\/pay\/cs_/);
      const payButton = page.locator("button.pay");
      const label = (await payButton.textContent()).trim();
      if (!/^Pay 189\.00 EUR$/.test(label)) throw new Error(`the Checkout page offers "${label}"`);
      await shot(page, "checkout");
      await payButton.click();
      await page.waitForURL((url) => url.toString().startsWith(uiUrl) && url.hash.startsWith("#/return/"));
      await page.getByText("Payment received — it's yours.").waitFor({ timeout: 60_000 });
    });
    await sweep(shoppers[second].page, "return-success");

    await step(`${second}: the order page and the orders history show it paid`, async () => {
      const page = shoppers[second].page;
      await page.getByRole("link", { name: "View order" }).click();
      await page.getByRole("heading", { name: "Your order" }).waitFor();
      await page.locator(".chip-paid").first().waitFor();
      await sweep(page, "order");
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
      await page.locator(".order-row", { hasText: dropName }).locator(".chip-paid").waitFor();
    });
    await sweep(shoppers[second].page, "orders");

    for (const who of [second, first]) {
      await step(`${who}: Verify my place recomputes the draw (paged proof, Web Worker) and finds their ticket`, async () => {
        const page = shoppers[who].page;
        await page.goto(`${uiUrl}/#/drop/${dropId}/verify`);
        await page.getByText("The draw checks out.").waitFor();
        const mine = await page.locator("tr.me td").first().textContent();
        const expected = who === first ? "#1" : "#2";
        if (mine.trim() !== expected) throw new Error(`highlighted ${mine}, expected ${expected}`);
      });
    }
    await sweep(shoppers[second].page, "verify");

    // ---- the operator: the sale in the ledger, then pause ----
    await step("operator: the live ledger shows the sale, consistent", async () => {
      await ops.page.bringToFront();
      await ops.page.locator(".stat", { hasText: "Sold" }).locator("dd", { hasText: /^1$/ }).first().waitFor({ timeout: 30_000 });
      await ops.page.getByText("LEDGER CONSISTENT").waitFor();
    });
    await sweep(ops.page, "ops-sold");
    await step("operator: pause stops the drop and resume restarts it", async () => {
      const pauseResponse = ops.page.waitForResponse((r) => /\/admin\/drops\/[0-9a-f]+\/pause$/.test(r.url()) && r.request().method() === "POST");
      await button(ops.page, "Pause").click();
      const response = await pauseResponse;
      if (!response.ok()) throw new Error(`pause answered ${response.status()}`);
      await button(ops.page, "Resume").waitFor();
      await shot(ops.page, "ops-paused");
      await button(ops.page, "Resume").click();
      await button(ops.page, "Pause").waitFor();
    });

    await step("operator: creates a raffle with a price schedule", async () => {
      const p = ops.page;
      await p.goto(`${uiUrl}/#/ops`);
      await p.getByLabel("Name").fill(`Raffle ${dropName}`);
      await p.getByLabel("Units").fill("2");
      await p.getByLabel("Starts").fill(await localInput(p, 3600));
      await p.getByRole("radio", { name: "Raffle" }).check();
      await p.getByLabel("Entries open").fill(await localInput(p, 60));
      await p.getByLabel("Entries close").fill(await localInput(p, 3600));
      await p.getByRole("button", { name: "Add price step" }).click();
      await p.getByLabel("At", { exact: true }).fill(await localInput(p, 1800));
      await p.getByLabel("Price", { exact: true }).nth(1).fill("149.00");
      await sweep(p, "ops-create-raffle", { shots: [1440] });
      await p.getByRole("button", { name: "Create drop" }).click();
      await p.waitForURL(/#\/ops\/[0-9a-f]{32}$/, { timeout: 30_000 });
    });

    // ---- every other page and state ----
    const demo = async (name) => {
      const drops = (await (await fetch(`${config.api}/drops`)).json()).drops;
      return drops.find((d) => d.name.startsWith(name));
    };
    const page = alice.page;
    for (const [name, label, expect] of [
      ["Aurora Runner", "drop-live", () => button(page, "Claim").waitFor()],
      ["Ember Tee", "drop-sold-out", () => page.getByText(/units are gone/).waitFor()],
      ["Solstice Watch", "drop-upcoming", () => page.getByText("Queue opens in").waitFor()],
      ["Halo Turntable", "drop-raffle", () => page.locator(".chip", { hasText: /^Raffle$/ }).waitFor()],
      ["Drift Jacket", "drop-falling-price", () => page.getByText("Published price schedule").waitFor()],
    ]) {
      const drop = await demo(name);
      if (!drop) throw new Error(`make dev seeds the demo drop "${name}"`);
      await step(`${label}: ${name}`, async () => {
        await page.goto(`${uiUrl}/#/drop/${drop.id}`);
        await expect();
      });
      await sweep(page, label, { shots: [390] });
    }
    await step("drop modes (issue 11) render together: raffle, price schedule, early access, paused", async () => {
      // Every mode field on one drop at once (no demo drop has them all): the browser adds them
      // to the real answer.
      const solstice = await demo("Solstice Watch");
      const url = `${config.api}/drops/${solstice.id}`;
      const at = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString();
      await page.route(url, async (route) => {
        const response = await route.fetch();
        const drop = await response.json();
        Object.assign(drop, {
          mode: "raffle",
          raffle: { entries_close_at: at(60 * 60), claim_window_seconds: 600 },
          price_schedule: [{ at: at(-10), amount: 119000 }, { at: at(90), amount: 99000 }],
          early_access: [{ group: "vip", starts_at: at(60 * 70) }],
          paused: true,
        });
        await route.fulfill({ response, json: drop });
      });
      await page.goto(`${uiUrl}/#/drop/${solstice.id}`);
      await page.getByText("Published price schedule").waitFor();
      for (const text of ["€1,190.00", "Paused by the operator", "Entries open in"]) await page.getByText(text).first().waitFor();
      await page.locator(".chip-vip", { hasText: "vip" }).waitFor();
      await page.locator(".chip", { hasText: /^Raffle$/ }).waitFor();
      await sweep(page, "drop-modes", { shots: [390, 1440] });
      await page.unroute(url);
    });
    await step("the cancelled-checkout return page", async () => {
      // A first-come drop of its own (the demo drops may already be bought by reruns).
      const created = await fetch(`${config.api}/admin/drops`, {
        method: "POST",
        headers: { authorization: `Bearer ${config.devTokens.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `Checkout ${dropName}`, description: "Cancelled and delayed payments.", price: { amount: 18900, currency: "EUR" }, total_units: 5, starts_at: new Date(Date.now() - 60_000).toISOString() }),
      });
      if (created.status !== 201) throw new Error(`creating the first-come drop answered ${created.status}`);
      const direct = await created.json();
      await page.goto(`${uiUrl}/#/drop/${direct.id}`);
      await button(page, "Claim").click();
      await holdOf(alice);
      await button(page, "Pay").click();
      await page.waitForURL(/\/pay\/cs_/);
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByText("Checkout cancelled.").waitFor();
      await button(page, "Release").waitFor();
    });
    await sweep(page, "return-cancel", { shots: [390], focus: ".panel-hold" });
    await step("a delayed payment: the payment-pending page, then the order paid by itself", async () => {
      await button(page, "Pay").click();
      await page.waitForURL(/\/pay\/cs_/);
      await page.getByRole("button", { name: /Pay by bank debit/ }).click();
      await page.waitForURL((url) => url.toString().startsWith(uiUrl) && url.hash.startsWith("#/return/"));
      await page.getByText("Payment pending.").waitFor({ timeout: 30_000 });
      await sweep(page, "return-pending", { shots: [390] });
      await page.getByText("Payment received — it's yours.").waitFor({ timeout: 60_000 });
    });

    await step("offline: a banner says so and the page recovers by itself", async () => {
      await page.goto(uiUrl);
      await page.locator(".drop-card h2 a").first().waitFor();
      await alice.context.setOffline(true);
      await page.locator(".bar-warn").waitFor({ timeout: 20_000 });
      await shot(page, "offline");
      await alice.context.setOffline(false);
      await page.locator(".bar-warn").waitFor({ state: "detached", timeout: 40_000 });
    });

    await step("prefers-reduced-motion stops the animations", async () => {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, reducedMotion: "reduce" });
      opened.push(context);
      const p = await context.newPage();
      await p.goto(uiUrl);
      await p.locator(".chip-live .dot").first().waitFor();
      const animation = await p.evaluate(() => getComputedStyle(document.querySelector(".chip-live .dot")).animationName);
      if (animation !== "none") throw new Error(`the art still animates (${animation})`);
    });

    await step("no request to any host but the UI, the API, the WebSocket endpoint and Checkout", async () => {
      const allowed = new Set([new URL(uiUrl).host, new URL(config.api).host, new URL(config.ws).host, new URL(process.env.STRIPE_URL || "http://127.0.0.1:12111").host]);
      const others = [...report.hosts].filter((h) => !allowed.has(h));
      if (others.length) throw new Error(`requests to ${others.join(", ")}`);
    });
  } catch (error) {
    if (!report.checks.some((c) => !c.ok)) fail("the run", error.stack || error.message);
  } finally {
    for (const context of opened) {
      for (const p of context.pages()) await p.screenshot({ path: path.join(SHOTS, `zz-last-${shotNo++}.png`) }).catch(() => {});
    }
    await browser.close();
    report.hosts = [...report.hosts];
    fs.writeFileSync(path.join(outDir, "report.json"), JSON.stringify(report, null, 2));
    const passed = report.checks.filter((c) => c.ok).length;
    console.log(`ui-e2e: report ${path.join(outDir, "report.json")}, screenshots ${SHOTS}`);
    console.log(`ui-e2e: ${passed} passed, ${failures} failed`);
    process.exitCode = failures ? 1 : 0;
  }
})();
