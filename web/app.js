// Burst web UI: drops with live stock, claims, held reservations with their countdown, and the
// admin's create + audit. Talks to the API exactly as any client would.
"use strict";

const config = window.BURST_CONFIG || {};
const API = (config.api || "").replace(/\/$/, "");
const tokens = config.devTokens || {};
const POLL_MS = 2000;

const state = { who: localStorage.getItem("burst.who") || Object.keys(tokens)[0] || "", drops: [], holds: {}, orders: [] };

const $ = (selector) => document.querySelector(selector);
const h = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(child));
  return node;
};

function toast(message, kind = "info") {
  const node = h("div", { class: `toast ${kind}` }, message);
  $("#toasts").append(node);
  setTimeout(() => node.remove(), 4500);
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (tokens[state.who]) headers.authorization = `Bearer ${tokens[state.who]}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data?.error?.message || `HTTP ${response.status}`);
    error.code = data?.error?.code;
    error.details = data?.error;
    throw error;
  }
  return data;
}

const money = (price) =>
  new Intl.NumberFormat(undefined, { style: "currency", currency: price.currency }).format(price.amount / 100);

function countdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function holdsKey() { return `burst.holds.${state.who}`; }
function loadHolds() {
  try { return JSON.parse(localStorage.getItem(holdsKey())) || {}; } catch { return {}; }
}
function saveHolds() { localStorage.setItem(holdsKey(), JSON.stringify(state.holds)); }

function renderIdentity() {
  const select = $("#who");
  select.replaceChildren(
    ...Object.keys(tokens).map((name) => h("option", { value: name, selected: name === state.who }, name)),
  );
  if (!Object.keys(tokens).length) select.append(h("option", {}, "no dev tokens (run make dev)"));
  $("#admin").hidden = state.who !== "admin";
}

function renderDrops() {
  const grid = $("#drops");
  if (!state.drops.length) {
    grid.replaceChildren(h("div", { class: "card muted" }, "No drops yet."));
    return;
  }
  grid.replaceChildren(...state.drops.map((drop) => {
    const sold = drop.total_units - drop.available;
    const percent = drop.total_units ? (drop.available / drop.total_units) * 100 : 0;
    const startsIn = (new Date(drop.starts_at) - Date.now()) / 1000;
    const held = Object.values(state.holds).find((r) => r.drop_id === drop.id && r.status === "held");
    const bought = state.orders
      .filter((o) => o.drop_id === drop.id && (o.status === "paid" || o.status === "payment_pending"))
      .reduce((units, o) => units + o.quantity, 0);
    const limitReached = bought >= drop.per_user_limit;
    const label = limitReached ? "Yours" : drop.status === "upcoming" ? `Opens in ${countdown(startsIn)}`
      : drop.status === "sold_out" ? "Sold out" : drop.status === "ended" ? "Ended"
      : held ? "You hold one" : "Claim";
    return h("article", { class: "card drop" },
      h("div", { class: "meta" },
        h("span", { class: `badge ${drop.status}` }, drop.status.replace("_", " ")),
        h("span", { class: "price" }, money(drop.price))),
      h("h3", {}, drop.name),
      h("p", {}, drop.description),
      h("div", { class: "stock" },
        h("div", { class: "bar" }, h("span", { style: `width:${percent}%` })),
        h("div", { class: "stock-line" },
          h("span", {}, `${drop.available} of ${drop.total_units} left`),
          h("span", {}, `${drop.held} held · ${drop.sold} sold`))),
      h("button", {
        class: "btn primary",
        disabled: drop.status !== "live" || Boolean(held) || limitReached || !tokens[state.who],
        onclick: () => claim(drop),
      }, label),
      state.who === "admin" ? h("button", { class: "btn ghost", style: "margin-top:8px;width:100%", onclick: () => audit(drop) }, "Audit") : "",
    );
  }));
  $("#updated").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
}

function renderHolds() {
  const holds = Object.values(state.holds).filter((r) => r.status === "held" || Date.now() - r.seenAt < 15000);
  $("#holds").replaceChildren(...holds.map((reservation) => {
    const drop = state.drops.find((d) => d.id === reservation.drop_id);
    const left = (new Date(reservation.expires_at) - Date.now()) / 1000;
    const live = reservation.status === "held" && left > 0;
    return h("div", { class: `card hold ${live ? "held" : reservation.status}` },
      h("div", {},
        h("strong", {}, live ? `Held for you: ${drop ? drop.name : reservation.drop_id}`
          : reservation.status === "paid" ? `Yours: ${drop ? drop.name : reservation.drop_id}` : `Hold ${reservation.status.replace("_", " ")}`),
        h("small", {}, live ? `${reservation.quantity} unit(s) · pay before the timer ends or it returns to the pool`
          : reservation.status === "paid" ? "Paid — see My orders." 
          : reservation.status === "payment_pending" ? "Payment pending — your unit stays reserved until it settles."
          : "The unit went back to the pool.")),
      h("div", { class: "timer" }, live ? countdown(left) : reservation.status === "paid" ? "PAID" : "00:00"),
      live ? h("div", { class: "actions" },
        h("button", { class: "btn pay", onclick: () => pay(reservation) }, "Pay now"),
        h("button", { class: "btn ghost", onclick: () => release(reservation) }, "Release")) : "",
    );
  }));
}

async function refreshDrops() {
  try {
    state.drops = (await api("GET", "/drops")).drops;
    renderDrops();
  } catch (error) {
    $("#updated").textContent = `offline: ${error.message}`;
  }
}

async function refreshHolds() {
  // A refresh still running when the identity changes must not write into the new one's holds.
  const who = state.who;
  const holds = state.holds;
  for (const reservation of Object.values(holds)) {
    if (reservation.status !== "held" && reservation.status !== "payment_pending") continue;
    try {
      const fresh = (await api("GET", `/reservations/${reservation.id}`)).reservation;
      holds[fresh.id] = { ...fresh, seenAt: Date.now() };
    } catch (error) {
      if (error.code === "not_found") delete holds[reservation.id];
    }
    if (state.who !== who) return;
  }
  saveHolds();
  renderHolds();
}

async function claim(drop) {
  try {
    const { reservation } = await api("POST", `/drops/${drop.id}/claims`, { quantity: 1 });
    state.holds[reservation.id] = { ...reservation, seenAt: Date.now() };
    saveHolds();
    toast(`Got it — held for ${countdown(reservation.seconds_left)}.`);
  } catch (error) {
    if (error.code === "already_claimed" && error.details.reservation_id) {
      state.holds[error.details.reservation_id] = { id: error.details.reservation_id, drop_id: drop.id, status: "held", expires_at: new Date().toISOString(), seenAt: Date.now() };
      await refreshHolds();
    }
    toast(error.message, "error");
  }
  await refreshDrops();
  renderHolds();
}

async function pay(reservation) {
  try {
    const { checkout_url } = await api("POST", `/reservations/${reservation.id}/checkout`);
    window.location.assign(checkout_url);
  } catch (error) {
    toast(error.message, "error");
  }
}

async function refreshOrders() {
  if (!tokens[state.who]) return;
  try {
    const { orders } = await api("GET", "/me/orders");
    state.orders = orders;
    renderDrops();
    $("#orders-section").hidden = orders.length === 0;
    $("#orders").replaceChildren(...orders.map((order) => {
      const drop = state.drops.find((d) => d.id === order.drop_id);
      return h("div", { class: "card order" },
        h("div", {},
          h("strong", {}, drop ? drop.name : order.drop_id),
          h("div", { class: "muted" }, `${order.quantity} × · ${money({ amount: order.amount, currency: order.currency })}`
            + (order.refund_reason ? ` · refunded (${order.refund_reason.replace("_", " ")})` : ""))),
        h("span", { class: `status ${order.status}` }, order.status.replace("_", " ")));
    }));
  } catch (error) {
    toast(error.message, "error");
  }
}

// Back from Stripe Checkout: the webhook settles the payment; follow the hold until it does.
function returnFromCheckout() {
  const params = new URLSearchParams(window.location.search);
  const id = params.get("reservation");
  if (!id) return;
  history.replaceState(null, "", window.location.pathname);
  if (params.get("checkout") === "success") {
    toast("Payment received — confirming your order…");
    state.holds[id] = { ...(state.holds[id] || {}), id, status: "held", seenAt: Date.now(),
      expires_at: state.holds[id]?.expires_at || new Date(Date.now() + 60000).toISOString() };
  } else {
    toast("Checkout cancelled. Your hold stays until its timer ends.");
  }
}

async function release(reservation) {
  try {
    const released = (await api("DELETE", `/reservations/${reservation.id}`)).reservation;
    state.holds[released.id] = { ...released, seenAt: Date.now() };
    saveHolds();
    toast("Released. The unit is back in the pool.");
  } catch (error) {
    toast(error.message, "error");
  }
  await refreshDrops();
  renderHolds();
}

async function audit(drop) {
  const panel = $("#audit");
  try {
    const report = await api("GET", `/admin/drops/${drop.id}/audit`);
    const cell = (label, value) => [h("dt", {}, label), h("dd", {}, String(value))];
    panel.replaceChildren(
      h("h3", {}, `Ledger — ${drop.name}`),
      h("dl", {},
        cell("total", report.total_units), cell("available", report.available), cell("held", report.held),
        cell("expired pending", report.expired_pending), cell("sold", report.sold),
        h("dt", {}, "consistent"), h("dd", { class: report.consistent ? "ok" : "not-ok" }, report.consistent ? "yes" : "NO")),
      report.problems.length ? h("p", { class: "not-ok" }, report.problems.join("; ")) : "",
    );
    panel.hidden = false;
  } catch (error) {
    toast(error.message, "error");
  }
}

$("#create-drop").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const number = (name) => Number(form.get(name));
  try {
    const drop = await api("POST", "/admin/drops", {
      name: form.get("name"),
      description: form.get("description"),
      price: { amount: number("amount"), currency: form.get("currency") },
      total_units: number("total_units"),
      starts_at: new Date(Date.now() + number("starts_in") * 1000).toISOString(),
      per_user_limit: number("per_user_limit"),
      hold_seconds: number("hold_seconds"),
    });
    toast(`Created “${drop.name}”.`);
    await refreshDrops();
  } catch (error) {
    toast(error.details?.field ? `${error.details.field}: ${error.message}` : error.message, "error");
  }
});

$("#who").addEventListener("change", (event) => {
  state.who = event.target.value;
  localStorage.setItem("burst.who", state.who);
  state.holds = loadHolds();
  state.orders = [];
  renderIdentity();
  renderDrops();
  refreshHolds();
  refreshOrders();
});

state.holds = loadHolds();
returnFromCheckout();
renderIdentity();
refreshDrops().then(refreshHolds).then(refreshOrders);
setInterval(refreshOrders, 5000);
setInterval(refreshDrops, POLL_MS);
setInterval(refreshHolds, 5000);
setInterval(() => { renderHolds(); if (state.drops.some((d) => d.status === "upcoming")) renderDrops(); }, 1000);
