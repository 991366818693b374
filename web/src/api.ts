// The HTTP API (docs/openapi.yaml): one fetch wrapper, errors as ApiError with the API's code,
// and human sentences for every code a shopper can meet.
import { bearer } from "./auth";
import { config } from "./config";
import { dateTime } from "./format";
import { createStore } from "./store";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** The connection as the shopper should see it: `offline` after a request could not be sent. */
export const network = createStore<{ offline: boolean; since?: number }>({ offline: false });

function markOnline() {
  if (network.get().offline) network.set({ offline: false, since: undefined });
}
function markOffline() {
  if (!network.get().offline) network.set({ offline: true, since: Date.now() });
}

addEventListener("offline", markOffline);

export interface RequestOptions {
  body?: unknown;
  auth?: boolean;
  signal?: AbortSignal;
  /** A public, ETag'd document: let the browser's cache revalidate it (`If-None-Match` → `304`)
   * instead of refetching it whole. (Cross-origin, the ETag header is not readable from script
   * unless exposed, but the browser's own revalidation works either way.) */
  conditional?: boolean;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.auth !== false) {
    const token = await bearer();
    if (token) headers.authorization = `Bearer ${token}`;
  }
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(config.api + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: options.conditional ? "no-cache" : "no-store",
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    markOffline();
    throw new ApiError(0, "network", "We lost the connection. Retrying automatically…");
  }
  markOnline();
  const data = (await response.json().catch(() => ({}))) as { error?: Record<string, unknown>; message?: string };
  if (!response.ok) {
    const error = data.error ?? {};
    const retryHeader = Number(response.headers.get("retry-after"));
    const retryAfter = Number(error.retry_after_seconds ?? (retryHeader || undefined)) || undefined;
    // No `error` object: not Burst's answer but the gateway's (`cargo lambda watch` or API
    // Gateway) — a 404 there means the route itself does not exist (yet).
    const code = String(error.code ?? (response.status === 401 ? "unauthenticated" : response.status === 404 || response.status === 405 ? "no_route" : `http_${response.status}`));
    throw new ApiError(response.status, code, String(error.message ?? data.message ?? `HTTP ${response.status}`), error, retryAfter);
  }
  return data as T;
}

const when = (iso: unknown) => (typeof iso === "string" ? dateTime(iso) : "later");

/** What an error means for the shopper, in their words. */
export function human(error: unknown): string {
  if (!(error instanceof ApiError)) return "Something went wrong on our side. Try again in a moment.";
  const d = error.details;
  const wait = error.retryAfter ? `${error.retryAfter} s` : "a few seconds";
  switch (error.code) {
    case "network":
      return "You're offline or we can't reach Burst. We'll retry automatically.";
    case "sold_out":
      return "Sold out — every unit is taken. Holds that lapse come back, so keep this page open.";
    case "already_claimed":
      return "You already hold or bought as many as this drop allows.";
    case "drop_not_live":
      return d.ends_at && new Date(String(d.ends_at)) < new Date() ? "This drop has ended." : `Not live yet — it opens ${when(d.starts_at)}.`;
    case "queue_not_open":
      return `The queue isn't open yet — it opens ${when(d.opens_at)}.`;
    case "queue_closed":
      return "The queue is closed: the drop sold out or ended.";
    case "admission_required":
      return "This drop is queued: join the queue and claim when it's your turn.";
    case "admission_invalid":
      return "Your admission has expired or was already used — it passed to the next in line.";
    case "not_in_queue":
      return "You haven't joined this queue yet.";
    case "draw_pending":
      return `The draw is published when the drop starts (${when(d.starts_at)}).`;
    case "pow_required":
    case "pow_invalid":
      return "Your browser's check didn't go through. Try joining again.";
    case "pow_replayed":
      return "That check was already used. Try joining again for a fresh one.";
    case "rate_limited":
      return `Too many tries from your connection. Try again in ${wait}.`;
    case "busy":
      return `It's a rush right now — retrying in ${wait}.`;
    case "unavailable":
      return `Burst is catching its breath. Retrying in ${wait}.`;
    case "reservation_expired":
      return "Your hold ran out and the unit went back to the pool.";
    case "reservation_not_held":
      return d.status === "paid" ? "This hold is already paid." : "Your payment is being settled — no need to pay again.";
    case "payments_unavailable":
    case "payment_provider_error":
      return `Payments are briefly unavailable. Try again in ${wait}.`;
    case "unauthenticated":
      return "Please sign in first.";
    case "forbidden":
      return "That needs an operator account.";
    case "not_found":
      return "We couldn't find that — it may have ended or belong to someone else.";
    case "no_route":
      return "This server doesn't offer that yet.";
    case "invalid_request":
      return `Check ${d.field ? `“${String(d.field)}”` : "the form"}: ${error.message}`;
    case "drop_locked":
      return "This drop has opened; its settings are locked (pause and resume still work).";
    case "drop_changed":
      return "Someone else changed this drop at the same moment. Reload it and try again.";
    case "drop_paused":
      return "The shop paused this drop for a moment. Your place and holds are kept — try again shortly.";
    default:
      return error.message || "Something went wrong. Try again.";
  }
}

/** The API has no such route (a feature not deployed yet). */
export const missingRoute = (error: unknown) => error instanceof ApiError && error.code === "no_route";

/** Codes worth retrying by themselves, after `retryAfter` (or a backoff). */
export function transient(error: unknown): boolean {
  return error instanceof ApiError && ["network", "busy", "unavailable", "http_502", "http_503", "http_504", "internal"].includes(error.code);
}

/** Runs `action`, retrying transient failures up to `tries` times; `onWait` reports each pause. */
export async function withRetry<T>(action: () => Promise<T>, onWait?: (seconds: number, error: ApiError) => void, tries = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (!transient(error) || attempt >= tries) throw error;
      const e = error as ApiError;
      const seconds = Math.min(30, e.retryAfter ?? 2 ** attempt);
      onWait?.(seconds, e);
      await new Promise((r) => setTimeout(r, seconds * 1000 + Math.random() * 300));
    }
  }
}
