// What the pages show, kept fresh: drops (live counters from the WebSocket when one is open),
// queue status documents (ETag, honouring poll_after_ms), the shopper's tickets and holds. How
// often each is asked is cadence.ts's: the request budget of docs/capacity.md.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "./api";
import { auth } from "./auth";
import { afterError, dropsListWait, dropWait, MAX_WAIT_MS, statusWait } from "./cadence";
import { liveStatus, onLive, watchDrop, type LiveMessage } from "./live";
import { createStore, useStore } from "./store";
import type { Drop, Order, QueueStatus, Reservation, Ticket } from "./types";

export const drops = createStore<{ list: Drop[] | null; byId: Record<string, Drop>; error?: unknown; at?: number }>({ list: null, byId: {} });
export const queues = createStore<Record<string, QueueStatus>>({});

function putDrop(drop: Drop) {
  drops.set((s) => ({
    byId: { ...s.byId, [drop.id]: drop },
    list: s.list ? s.list.map((d) => (d.id === drop.id ? drop : d)) : s.list,
  }));
}

// Live pushes: a drop's numbers (and the queue's serving / waiting), applied at most every
// 150 ms so a burst of messages (a page subscribing to every drop) renders once.
const pendingDrops = new Map<string, LiveMessage>();
let flushTimer = 0;
onLive((message) => {
  if (message.type !== "drop" || !message.drop_id) return;
  pendingDrops.set(message.drop_id, message);
  if (!flushTimer) flushTimer = window.setTimeout(flushDrops, 150);
});

function flushDrops() {
  flushTimer = 0;
  const batch = [...pendingDrops.values()];
  pendingDrops.clear();
  const byId = { ...drops.get().byId };
  const queueUpdates: Record<string, QueueStatus> = {};
  for (const message of batch) applyDropMessage(message, byId, queueUpdates);
  drops.set((s) => ({ byId, list: s.list ? s.list.map((d) => byId[d.id] ?? d) : s.list }));
  if (Object.keys(queueUpdates).length) queues.set(queueUpdates);
}

function applyDropMessage(message: LiveMessage, byId: Record<string, Drop>, queueUpdates: Record<string, QueueStatus>) {
  const id = message.drop_id!;
  const current = byId[id];
  if (current) {
    byId[id] = {
      ...current,
      available: Number(message.available ?? current.available),
      held: Number(message.held ?? current.held),
      sold: Number(message.sold ?? current.sold),
      status: (message.status as Drop["status"]) ?? current.status,
    };
  }
  const queue = queues.get()[id];
  if (queue && typeof message.serving === "number") {
    queueUpdates[id] = { ...queue, serving: message.serving, waiting: Number(message.waiting ?? queue.waiting), available: Number(message.available ?? queue.available) };
  }
}

/** Every drop (up to 500), and how many pages of the list that took (each one an ask). */
export async function loadDrops(): Promise<{ list: Drop[]; pages: number }> {
  try {
    const all: Drop[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { drops: Drop[]; next_cursor: string | null } = await api("GET", `/drops?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { auth: false });
      pages += 1;
      all.push(...page.drops);
      cursor = page.next_cursor;
    } while (cursor && all.length < 500);
    drops.set((s) => ({ list: all, byId: { ...s.byId, ...Object.fromEntries(all.map((d) => [d.id, d])) }, error: undefined, at: Date.now() }));
    return { list: all, pages };
  } catch (error) {
    drops.set({ error });
    throw error;
  }
}

export async function loadDrop(id: string): Promise<Drop> {
  const drop = await api<Drop>("GET", `/drops/${id}`, { auth: false });
  putDrop(drop);
  return drop;
}

export async function loadQueue(id: string): Promise<QueueStatus> {
  const status = await api<QueueStatus>("GET", `/drops/${id}/queue`, { auth: false, conditional: true });
  queues.set({ [id]: status });
  return status;
}

/** A loop that runs `tick`, then waits what it answers (ms); after a failure, the server's
 * Retry-After or a growing backoff. Stops on unmount; restarts (ticking at once) when `deps`
 * change. */
export function useLoop(tick: () => Promise<number>, deps: unknown[]) {
  useEffect(() => {
    let stopped = false;
    let timer = 0;
    let wake: (() => void) | null = null;
    const run = async () => {
      let failures = 0;
      while (!stopped) {
        let wait: number;
        try {
          wait = await tick();
          failures = 0;
        } catch (error) {
          failures += 1;
          wait = afterError(failures, error instanceof ApiError ? error.retryAfter : undefined, Math.random());
        }
        if (stopped) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          // An infinite wait (cadence.ts UNTIL_WOKEN) lasts until a wake-up or a restart.
          if (Number.isFinite(wait)) timer = window.setTimeout(resolve, Math.max(500, wait));
        });
      }
    };
    void run();
    const wakeNow = () => {
      clearTimeout(timer);
      wake?.();
    };
    // A socket lost may have carried what the page waits for: ask again now (the pace follows
    // from the answer). A socket coming up changes nothing at once.
    let wasLive = liveStatus.get().state === "live";
    const off = liveStatus.subscribe(({ state }) => {
      if (wasLive && state !== "live") wakeNow();
      wasLive = state === "live";
    });
    addEventListener("online", wakeNow);
    return () => {
      stopped = true;
      clearTimeout(timer);
      off();
      removeEventListener("online", wakeNow);
    };
  }, deps);
}

/** The drop list: it only watches, at most four asks a minute (cadence.ts). */
export function useDrops() {
  const state = useStore(drops);
  const ids = (state.list ?? []).map((d) => d.id).join(",");
  useLoop(async () => dropsListWait((await loadDrops()).pages), []);
  useEffect(() => {
    const offs = ids ? ids.split(",").map(watchDrop) : [];
    return () => offs.forEach((off) => off());
  }, [ids]);
  return state;
}

/** A queued drop as its status document shows it now: the units left and the phase (the document
 * is edge-cached; `GET /drops/{id}` is not, and reads every inventory shard). */
function withQueueNumbers(drop: Drop, status: QueueStatus): Drop {
  const byPhase: Partial<Record<QueueStatus["phase"], Drop["status"]>> = { open: "live", paused: "live", sold_out: "sold_out", ended: "ended" };
  return { ...drop, available: status.available, status: byPhase[status.phase] ?? drop.status };
}

/** One drop and its queue status. A queued drop's numbers come from its edge-cached status
 * document, polled as the server asks while `watchStatus` (the page reads no urgent ticket of its
 * own: that says more, for one ask); `GET /drops/{id}` is read once. A first-come drop has no
 * status document: `GET /drops/{id}` at its own pace. */
export function useDrop(id: string, watchStatus = true) {
  const state = useStore(drops);
  const queueState = useStore(queues);
  const [error, setError] = useState<unknown>(null);
  // The visit's one read of the drop, shared by the loop's restarts (one may begin before it ends).
  const visit = useRef<{ id: string; drop: Promise<Drop> } | null>(null);
  const queued = Boolean(state.byId[id]?.queue);
  useEffect(() => watchDrop(id), [id]);
  useLoop(async () => {
    try {
      const first = visit.current?.id !== id;
      if (first) visit.current = { id, drop: loadDrop(id) };
      let drop = await visit.current!.drop;
      setError(null);
      if (!drop.queue) {
        if (!first) drop = await loadDrop(id);
        return dropWait(drop, Date.now());
      }
      if (!first && !watchStatus) return MAX_WAIT_MS;
      const status = await loadQueue(id);
      putDrop(withQueueNumbers(drops.get().byId[id] ?? drop, status));
      return watchStatus ? statusWait(status, mine.get().tickets[id]) : MAX_WAIT_MS;
    } catch (e) {
      if (visit.current?.id === id) visit.current = null;
      setError(e);
      throw e;
    }
    // A first-come drop's pace does not depend on `watchStatus`: no restart for it.
  }, [id, queued ? watchStatus : true]);
  return { drop: state.byId[id] as Drop | undefined, queue: queueState[id] as QueueStatus | undefined, error };
}

// ---- The shopper's own things ----

function holdKey() {
  return `burst.holds.${auth.get().identity?.sub ?? "anon"}`;
}
/** Reservation ids this browser made, by drop (the API has no "my holds" list). */
export function rememberedHolds(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(holdKey()) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}
export function rememberHold(dropId: string, reservationId: string) {
  localStorage.setItem(holdKey(), JSON.stringify({ ...rememberedHolds(), [dropId]: reservationId }));
  mine.set({ holdsVersion: mine.get().holdsVersion + 1 });
}

export const mine = createStore<{
  tickets: Record<string, Ticket | null>;
  reservations: Record<string, Reservation & { receivedAt: number }>;
  holdsVersion: number;
}>({ tickets: {}, reservations: {}, holdsVersion: 0 });

auth.subscribe(() => mine.set({ tickets: {}, reservations: {}, holdsVersion: mine.get().holdsVersion + 1 }));

export async function loadTicket(dropId: string): Promise<Ticket | null> {
  try {
    const { ticket } = await api<{ ticket: Ticket }>("GET", `/drops/${dropId}/queue/me`);
    mine.set((s) => ({ tickets: { ...s.tickets, [dropId]: ticket } }));
    return ticket;
  } catch (error) {
    if (error instanceof ApiError && (error.code === "not_in_queue" || error.code === "unauthenticated")) {
      mine.set((s) => ({ tickets: { ...s.tickets, [dropId]: null } }));
      return null;
    }
    throw error;
  }
}

export function putTicket(ticket: Ticket) {
  mine.set((s) => ({ tickets: { ...s.tickets, [ticket.drop_id]: ticket } }));
}

export async function loadReservation(id: string): Promise<Reservation> {
  const { reservation } = await api<{ reservation: Reservation }>("GET", `/reservations/${id}`);
  putReservation(reservation);
  return reservation;
}

export function putReservation(reservation: Reservation) {
  mine.set((s) => ({ reservations: { ...s.reservations, [reservation.id]: { ...reservation, receivedAt: Date.now() } } }));
}

/** Seconds left on a hold, from the server's own count (immune to a wrong device clock). */
export function holdSecondsLeft(r: Reservation & { receivedAt: number }, now = Date.now()): number {
  if (r.status !== "held") return 0;
  return Math.max(0, r.seconds_left - (now - r.receivedAt) / 1000);
}

// Personal pushes: refresh what moved.
const personalListeners = new Set<(type: string, dropId: string) => void>();
export function onPersonal(listener: (type: string, dropId: string) => void) {
  personalListeners.add(listener);
  return () => personalListeners.delete(listener);
}
onLive((message) => {
  if (message.type === "ticket" && message.drop_id) {
    const ticket = mine.get().tickets[message.drop_id];
    if (ticket && ticket.id === message.ticket_id) {
      putTicket({ ...ticket, status: message.status as Ticket["status"], position: (message.position as number | null) ?? ticket.position });
    }
    personalListeners.forEach((l) => l("ticket", message.drop_id!));
  } else if (message.type === "reservation" && typeof message.reservation_id === "string") {
    const current = mine.get().reservations[message.reservation_id];
    if (current) putReservation({ ...current, status: message.status as Reservation["status"], seconds_left: message.status === "held" ? holdSecondsLeft(current) : 0 });
    personalListeners.forEach((l) => l("reservation", String(message.drop_id ?? "")));
  }
});

export const orders = createStore<{ list: Order[] | null; error?: unknown }>({ list: null });
export async function loadOrders(): Promise<Order[]> {
  const { orders: list } = await api<{ orders: Order[] }>("GET", "/me/orders");
  orders.set({ list, error: undefined });
  return list;
}
auth.subscribe(() => orders.set({ list: null }));
