import type { Drop, Price } from "./types";

// Formatting without Intl: building an ICU formatter costs tens of milliseconds on a slow phone
// (measured: most of the drops page's first-render script time), and the shop needs only this.

/** 1234567 → "1,234,567". */
export function int(n: number): string {
  const sign = n < 0 ? "-" : "";
  return sign + String(Math.trunc(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const SYMBOLS: Record<string, string> = { EUR: "€", USD: "$", GBP: "£", JPY: "¥", INR: "₹", KRW: "₩", CAD: "CA$", AUD: "A$" };
/** Stripe's zero-decimal currencies: amounts are whole units. */
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);

/** Minor units → "€1,290.00" (or "1,290.00 SEK" for a currency without a symbol here). */
export function money(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  const zero = ZERO_DECIMAL.has(code);
  const major = zero ? amount : amount / 100;
  const whole = int(Math.floor(Math.abs(major)));
  const cents = zero ? "" : `.${String(Math.round(Math.abs(amount)) % 100).padStart(2, "0")}`;
  const sign = amount < 0 ? "-" : "";
  const symbol = SYMBOLS[code];
  if (!code) return `${sign}${whole}${cents}`;
  return symbol ? `${sign}${symbol}${whole}${cents}` : `${sign}${whole}${cents} ${code}`;
}
export const price = (p: Price) => money(p.amount, p.currency);

/** The price in force now: the API's `price_now`, else the last schedule step passed, else `price`. */
export function currentPrice(drop: Drop, now = Date.now()): Price {
  if (drop.price_now !== undefined) {
    return typeof drop.price_now === "number" ? { amount: drop.price_now, currency: drop.price.currency } : drop.price_now;
  }
  let amount = drop.price.amount;
  for (const step of [...(drop.price_schedule ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))) {
    if (Date.parse(step.at) <= now) amount = step.amount;
  }
  return { amount, currency: drop.price.currency };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** 09:41 under an hour, 2:05:09 under a day, then 3d 04h. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h) return `${h}:${pad(m)}:${pad(s % 60)}`;
  return `${pad(m)}:${pad(s % 60)}`;
}

/** The same duration for screen readers: "9 minutes 41 seconds". */
export function spoken(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (d) parts.push(`${d} day${d > 1 ? "s" : ""}`);
  if (h) parts.push(`${h} hour${h > 1 ? "s" : ""}`);
  if (m && !d) parts.push(`${m} minute${m > 1 ? "s" : ""}`);
  if (!d && !h && (r || !parts.length)) parts.push(`${r} second${r === 1 ? "" : "s"}`);
  return parts.join(" ");
}

export const secondsUntil = (iso: string | undefined, now = Date.now()) => (iso ? (Date.parse(iso) - now) / 1000 : 0);

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** "25 Nov, 16:39" in the shopper's time zone. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.getDate()} ${MONTHS[d.getMonth()]}, ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** "16:39:05". */
export function timeOfDay(iso: string): string {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "2–4 min" from an ETA range in seconds. */
export function etaRange(eta: { p50: number; p90: number } | null): string {
  if (!eta) return "measuring…";
  const fmt = (s: number) => (s < 60 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`);
  if (eta.p90 < 60 && eta.p50 < 60) return `${Math.max(1, Math.round(eta.p50))}–${Math.max(1, Math.round(eta.p90))} s`;
  const a = fmt(eta.p50), b = fmt(eta.p90);
  return a === b ? `about ${a}` : `${a.replace(/ min$/, "")}–${b}`;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${int(n)} ${n === 1 ? one : many}`;

export const statusLabel: Record<string, string> = {
  upcoming: "Upcoming",
  live: "Live",
  sold_out: "Sold out",
  ended: "Ended",
  paid: "Paid",
  payment_pending: "Payment pending",
  payment_failed: "Payment failed",
  refunding: "Refunding",
  refunded: "Refunded",
  disputed: "Disputed",
  held: "Held",
  expired: "Expired",
  released: "Released",
};
