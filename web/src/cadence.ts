// How often each page asks the API, and who opens a socket: the request budget of
// docs/capacity.md ("Request budgets per page") as pure functions, so the rules live in one place
// and are tested without a browser (tests/ui/cadence.test.cjs). The browser test
// (tests/ui/requests.cjs) measures the pages built on them.
import type { Drop, QueueStatus, Reservation, Ticket } from "./types";

/** The least wait of a page that only watches: at most four asks a minute (policy.rs WATCHING_POLL_MS). */
export const WATCHING_MS = 15_000;
/** The longest the server ever asks a page to wait (policy.rs MAX_POLL_MS). */
export const MAX_WAIT_MS = 60_000;
/** Never ask more often than this, whatever a (faulty) answer says. */
export const MIN_WAIT_MS = 1_000;
/** A payment the bank has not confirmed yet: the shopper is looking at "pending". */
export const PENDING_PAYMENT_MS = 5_000;
/** A socket (first connect or reconnect) opens at a uniformly random moment within this window,
 * so a crowd that needs one at the same moment (the draw, a deploy dropping every socket) reaches
 * API Gateway's 500 new connections/s spread out (docs/capacity.md § 6). */
export const CONNECT_SPREAD_MS = 30_000;
/** A socket nobody needs any more closes after this long (no flapping between phases). */
export const SOCKET_LINGER_MS = 60_000;

const clamp = (ms: number, low: number, high: number) => Math.min(high, Math.max(low, ms));

/** The server's `poll_after_ms`, honoured: never sooner than asked (nor than `floor`), never
 * later than the server's maximum. A missing or broken value counts as `floor`. */
export function honour(pollAfterMs: number | undefined, floor = MIN_WAIT_MS): number {
  const asked = Number.isFinite(pollAfterMs) && pollAfterMs! > 0 ? pollAfterMs! : floor;
  return clamp(asked, Math.max(floor, MIN_WAIT_MS), MAX_WAIT_MS);
}

/** Waiting for a known moment (a start): half the time left, between four a minute and one. */
export function untilMoment(msLeft: number): number {
  return clamp(msLeft / 2, WATCHING_MS, MAX_WAIT_MS);
}

/** The drops list: a page that only watches; every page of the list counts as an ask. */
export function dropsListWait(pagesPerLoad: number): number {
  return WATCHING_MS * Math.max(1, pagesPerLoad);
}

/** `GET /drops/{id}` of a first-come drop (it has no status document): paced by its phase. */
export function dropWait(drop: Pick<Drop, "status" | "starts_at">, now: number): number {
  if (drop.status === "upcoming") return untilMoment(Date.parse(drop.starts_at) - now);
  if (drop.status === "live") return WATCHING_MS;
  return MAX_WAIT_MS;
}

/** The edge-cached status document of a queued drop, for a page that only watches it: as the
 * server asks, never more than four times a minute; for a placed ticket far from the front, a
 * quarter of its wait by the document's numbers (the page still sees the front coming near in
 * time: the wait shrinks with it), up to the server's maximum. */
export function statusWait(
  status: Pick<QueueStatus, "poll_after_ms" | "serving" | "admitted_per_minute">,
  ticket?: Ticket | null,
): number {
  const asked = honour(status.poll_after_ms, WATCHING_MS);
  if (ticket?.status !== "waiting" || ticket.position == null || !(status.admitted_per_minute > 0)) return asked;
  const ahead = Math.max(0, ticket.position - status.serving - 1);
  return clamp(((ahead / status.admitted_per_minute) * 60_000) / 4, asked, MAX_WAIT_MS);
}

/** Fewer ahead than this is near the front (policy.rs NEAR_FRONT), as is a turn within a minute. */
export const NEAR_FRONT = 50;
const NEAR_ETA_SECONDS = 60;
/** At the draw every pre-queue ticket reads its place once, and at the close every waiting ticket
 * reads its end once: a crowd reading at one moment, spread so it asks at most this many times a
 * second (the plan's ≈ 5,600/s for a million over three minutes, inside the account's 10,000/s),
 * and never over more than three minutes. */
export const CROWD_READS_PER_SECOND = 5_000;
export const CROWD_SPREAD_MAX_MS = 180_000;

/** Never again by itself: only a push, a join or a moment the page watches for asks again. */
export const UNTIL_WOKEN = Number.POSITIVE_INFINITY;

/** Whether the shopper's ticket is where seconds count: admitted, or waiting where the server
 * asks for quick reads (near the front: it answers less than the watching wait). */
export function ticketIsUrgent(ticket: Ticket | null | undefined): boolean {
  if (!ticket) return false;
  if (ticket.status === "admitted") return true;
  return ticket.status === "waiting" && ticket.position != null && ticket.poll_after_ms < WATCHING_MS;
}

/** Whether the pre-queue has been drawn (the status document reveals the seed and the cohort). */
export function drawn(status: Pick<QueueStatus, "seed" | "cohort_size"> | undefined): boolean {
  return Boolean(status?.seed) || status?.cohort_size != null;
}

/** When a ticket reads at a moment its whole crowd sees (`random` in 0..1): spread over the time
 * `crowd` reads take at `CROWD_READS_PER_SECOND` (at once for a small drop). */
export function crowdReadDelay(crowd: number | null | undefined, random: number): number {
  const spread = Math.min(CROWD_SPREAD_MAX_MS, ((crowd ?? 0) / CROWD_READS_PER_SECOND) * 1000);
  return clamp(random, 0, 1) * spread;
}

/** Whether a drawn, waiting ticket has come near the front by the status document's numbers (its
 * place is fixed; the line's `serving` and pace are the edge-cached document's). */
export function nearFront(ticket: Ticket | null | undefined, status: Pick<QueueStatus, "serving" | "admitted_per_minute"> | undefined): boolean {
  if (!ticket || ticket.status !== "waiting" || ticket.position == null || !status) return false;
  const ahead = Math.max(0, ticket.position - status.serving - 1);
  if (ahead < NEAR_FRONT) return true;
  return status.admitted_per_minute > 0 && (ahead / status.admitted_per_minute) * 60 <= NEAR_ETA_SECONDS;
}

/** The shopper's ticket (`GET …/queue/me`, uncached, one per shopper) after a read. Where seconds
 * count, as often as the server asks (with a live socket the changes are pushed: the watching
 * pace, as a safety net). Everywhere else the ticket says nothing the edge-cached status document
 * does not: the page watches that, and reads the ticket again only at a moment it sees coming
 * (the draw, the front getting near, the queue closing) or on a push — `UNTIL_WOKEN`. */
export function ticketWait(ticket: Ticket | null, live: boolean): number {
  if (!ticket || (ticket.status !== "waiting" && ticket.status !== "admitted")) return UNTIL_WOKEN;
  if (ticketIsUrgent(ticket)) return live ? WATCHING_MS : honour(ticket.poll_after_ms);
  return UNTIL_WOKEN;
}

/** The shopper's hold: its end is known (the countdown), so it is re-read at that moment and
 * otherwise at the watching pace; a payment being confirmed is watched closely. */
export function holdWait(reservation: Pick<Reservation, "status">, msLeft: number): number {
  if (reservation.status === "payment_pending") return PENDING_PAYMENT_MS;
  if (reservation.status === "held") return clamp(msLeft + MIN_WAIT_MS, MIN_WAIT_MS, WATCHING_MS);
  return MAX_WAIT_MS;
}

/** After a failed ask: the server's Retry-After if it gave one, else doubling from 4 s to the
 * maximum, stretched by up to a quarter (`random` in 0..1) so a crowd's retries spread. */
export function afterError(failures: number, retryAfterSeconds: number | undefined, random: number): number {
  const base = retryAfterSeconds ? retryAfterSeconds * 1000 : 4_000 * 2 ** Math.min(Math.max(failures - 1, 0), 4);
  return clamp(base * (1 + 0.25 * clamp(random, 0, 1)), MIN_WAIT_MS, MAX_WAIT_MS);
}

/** Who opens a socket: a shopper whose ticket is urgent (near the front or admitted) — pushes
 * then tell them their turn at once — and the operator's console. Everyone who only watches
 * polls the edge-cached documents instead (docs/capacity.md § 6: who connects, and how fast). */
export function wantsSocket(ticket: Ticket | null | undefined): boolean {
  return ticketIsUrgent(ticket);
}

/** When a needed socket connects (`random` in 0..1): anywhere in the spread. */
export function connectDelay(random: number): number {
  return clamp(random, 0, 1) * CONNECT_SPREAD_MS;
}

/** A reconnect after `attempts` failures: the spread again, plus a backoff that doubles to 30 s. */
export function reconnectDelay(attempts: number, random: number): number {
  return connectDelay(random) + Math.min(30_000, 1_000 * 2 ** Math.min(Math.max(attempts - 1, 0), 5));
}
