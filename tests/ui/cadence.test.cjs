// Unit tests of web/src/cadence.ts, the storefront's pacing rules (no browser, no stack): the
// TypeScript is stripped with the storefront's own Vite (web/node_modules) and imported.
// Usage: node --test tests/ui/cadence.test.cjs   (scripts/ui-check.sh runs it)
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const test = require("node:test");
const { pathToFileURL } = require("node:url");

const WEB = path.join(__dirname, "../../web");

let cadence;
test.before(async () => {
  const { transformWithOxc } = await import(pathToFileURL(path.join(WEB, "node_modules/vite/dist/node/index.js")).href);
  const source = fs.readFileSync(path.join(WEB, "src/cadence.ts"), "utf8");
  const { code } = await transformWithOxc(source, "cadence.ts", { lang: "ts" });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cadence-")), "cadence.mjs");
  fs.writeFileSync(file, code);
  cadence = await import(pathToFileURL(file).href);
});

const ticket = (fields) => ({ id: "t", drop_id: "d", status: "waiting", position: 500, ahead: 400, eta_seconds: null, admission: null, poll_after_ms: 15_000, beyond_stock: false, joined_at: "", ...fields });
const perMinute = (ms) => 60_000 / ms;

test("a page that only watches asks at most four times a minute, whatever the server says", () => {
  const { statusWait, dropsListWait, dropWait, ticketWait } = cadence;
  const now = Date.parse("2026-12-07T20:00:00Z");
  for (const asked of [0, 1, 500, 1_000, 2_000, 14_999, 15_000, 30_000, 75_000, NaN, undefined]) {
    const wait = statusWait({ poll_after_ms: asked, serving: 0, admitted_per_minute: 0 });
    assert.ok(perMinute(wait) <= 4, `status document asked ${asked}: waits ${wait}`);
    assert.ok(wait <= 60_000, `status document asked ${asked}: waits ${wait}, beyond the server's maximum`);
  }
  for (const pages of [0, 1, 2, 3, 5]) assert.ok(perMinute(dropsListWait(pages)) * Math.max(1, pages) <= 4, `${pages} pages`);
  for (const status of ["upcoming", "live", "sold_out", "ended"]) {
    for (const startsIn of [-3_600_000, 0, 10_000, 60_000, 3_600_000, 172_800_000]) {
      const wait = dropWait({ status, starts_at: new Date(now + startsIn).toISOString() }, now);
      assert.ok(wait >= 15_000 && wait <= 60_000, `${status} starting in ${startsIn}: ${wait}`);
    }
  }
  // A ticket far from the front, before the draw or settled is not read by itself: the page
  // watches the status document and wakes the ticket at the moments that concern it.
  for (const asked of [15_000, 30_000, 37_500, 60_000]) {
    for (const live of [false, true]) {
      assert.equal(ticketWait(ticket({ poll_after_ms: asked }), live), Infinity);
      assert.equal(ticketWait(ticket({ position: null, ahead: null, poll_after_ms: asked }), live), Infinity);
    }
  }
});

test("far from the front the status document is read a quarter of the wait, from four times a minute to once", () => {
  const { statusWait } = cadence;
  const open = { poll_after_ms: 15_000, serving: 1_000, admitted_per_minute: 100 };
  assert.equal(statusWait(open, ticket({ position: 100_000 })), 60_000);
  assert.equal(statusWait(open, ticket({ position: 1_201 })), 30_000);
  assert.equal(statusWait(open, ticket({ position: 1_050 })), 15_000);
  assert.equal(statusWait(open, ticket({ position: null })), 15_000);
  assert.equal(statusWait({ ...open, admitted_per_minute: 0 }, ticket({ position: 100_000 })), 15_000);
  assert.equal(statusWait({ ...open, poll_after_ms: 60_000 }, null), 60_000);
});

test("the server's poll_after_ms is honoured: never sooner than asked, never beyond its maximum", () => {
  const { honour } = cadence;
  assert.equal(honour(2_000), 2_000);
  assert.equal(honour(37_500), 37_500);
  assert.equal(honour(90_000), 60_000);
  assert.equal(honour(100), 1_000);
  assert.equal(honour(undefined, 15_000), 15_000);
  assert.equal(honour(2_000, 15_000), 15_000);
});

test("near the front and admitted: as fast as the server asks without a socket; pushes replace that with one", () => {
  const { ticketWait, ticketIsUrgent, wantsSocket } = cadence;
  const near = ticket({ position: 40, ahead: 12, poll_after_ms: 2_300 });
  const admitted = ticket({ status: "admitted", position: 40, ahead: 0, poll_after_ms: 5_000, admission: { token: "x", expires_at: "" } });
  assert.equal(ticketWait(near, false), 2_300);
  assert.equal(ticketWait(admitted, false), 5_000);
  assert.equal(ticketWait(near, true), 15_000);
  assert.equal(ticketWait(admitted, true), 15_000);
  assert.ok(ticketIsUrgent(near) && ticketIsUrgent(admitted) && wantsSocket(near) && wantsSocket(admitted));
  // Who only watches never opens a socket: far, before the draw, settled, no ticket.
  for (const t of [ticket({}), ticket({ position: null, ahead: null, poll_after_ms: 2_000 }), ticket({ status: "claimed", poll_after_ms: 60_000 }), ticket({ status: "closed", poll_after_ms: 60_000 }), null, undefined]) {
    assert.equal(wantsSocket(t), false, JSON.stringify(t));
  }
  for (const status of ["claimed", "expired", "closed"]) assert.equal(ticketWait(ticket({ status, poll_after_ms: 60_000 }), false), Infinity);
  assert.equal(ticketWait(null, false), Infinity);
});

test("a waiting ticket's moments come from the status document: the draw and the close (spread by the crowd), the front coming near", () => {
  const { drawn, crowdReadDelay, nearFront, CROWD_SPREAD_MAX_MS } = cadence;
  assert.equal(drawn({ seed: null, cohort_size: null }), false);
  assert.equal(drawn({ seed: "ab", cohort_size: 2 }), true);
  // Two shoppers read at once; a million spread over three minutes (≈ 5,600 reads/s).
  assert.equal(crowdReadDelay(2, 1), 0.4);
  assert.equal(crowdReadDelay(1_000_000, 1), CROWD_SPREAD_MAX_MS);
  assert.equal(crowdReadDelay(50_000, 0.5), 5_000);
  assert.equal(crowdReadDelay(null, 1), 0);
  const placed = ticket({ position: 1_000 });
  assert.equal(nearFront(placed, { serving: 100, admitted_per_minute: 60 }), false);
  assert.equal(nearFront(placed, { serving: 951, admitted_per_minute: 1 }), true);
  assert.equal(nearFront(placed, { serving: 800, admitted_per_minute: 600 }), true);
  assert.equal(nearFront(ticket({ position: null }), { serving: 5_000, admitted_per_minute: 600 }), false);
});

test("a hold is re-read when it ends and otherwise four times a minute; a pending payment every 5 s", () => {
  const { holdWait } = cadence;
  assert.equal(holdWait({ status: "held" }, 540_000), 15_000);
  assert.equal(holdWait({ status: "held" }, 3_000), 4_000);
  assert.equal(holdWait({ status: "held" }, -5_000), 1_000);
  assert.equal(holdWait({ status: "payment_pending" }, 0), 5_000);
  for (const status of ["paid", "expired", "released", "refunded"]) assert.equal(holdWait({ status }, 0), 60_000);
});

test("failures back off from 4 s to a minute, or wait what Retry-After says", () => {
  const { afterError } = cadence;
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => afterError(n, undefined, 0)), [4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  assert.equal(afterError(1, 7, 0), 7_000);
  assert.equal(afterError(1, undefined, 1), 5_000);
  assert.equal(afterError(1, 600, 0.5), 60_000);
});

test("sockets connect spread over 30 s: a crowd of 10,000 stays under 500 new connections a second", () => {
  const { connectDelay, reconnectDelay, CONNECT_SPREAD_MS } = cadence;
  assert.equal(connectDelay(0), 0);
  assert.equal(connectDelay(1), CONNECT_SPREAD_MS);
  assert.equal(connectDelay(7), CONNECT_SPREAD_MS);
  // 10,000 sockets needed at once (every socket of the reference drop coming back after a
  // deploy, docs/capacity.md § 11.2), each at its own random moment: the busiest second stays
  // under the quota.
  const perSecond = new Map();
  for (let i = 0; i < 10_000; i++) {
    const second = Math.floor(connectDelay(Math.random()) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  assert.ok(Math.max(...perSecond.values()) < 500, `busiest second ${Math.max(...perSecond.values())}`);
  // Reconnects: the spread plus a backoff that doubles to 30 s.
  assert.equal(reconnectDelay(1, 0), 1_000);
  assert.equal(reconnectDelay(3, 0), 4_000);
  assert.equal(reconnectDelay(10, 1), 30_000 + CONNECT_SPREAD_MS);
});
