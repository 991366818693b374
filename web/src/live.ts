// The live channel (issue 10): one WebSocket for the whole app, opened only while a page needs
// it (`needLive`: a ticket near the front or admitted, the operator's console — cadence.ts
// `wantsSocket`), at a random moment within `CONNECT_SPREAD_MS` (30 s) so a crowd connects spread out
// (API Gateway takes 500 new connections/s), and closed a minute after the last page stops
// needing it. Subscribes to every drop on screen, carries the shopper's personal events when
// opened with their token, pings so API Gateway's 10-minute idle timeout never closes it, and
// reconnects with the spread plus a backoff. The pages poll at their own pace whether or not it
// is up (data.ts), so nothing depends on it.
import { bearer } from "./auth";
import { connectDelay, reconnectDelay, SOCKET_LINGER_MS } from "./cadence";
import { config } from "./config";
import { createStore } from "./store";

export type LiveState = "off" | "connecting" | "live" | "down";
export const liveStatus = createStore<{ state: LiveState; retryAt?: number }>({ state: "off" });

export interface LiveMessage {
  type: string;
  drop_id?: string;
  [key: string]: unknown;
}

type Listener = (message: LiveMessage) => void;
const listeners = new Set<Listener>();
const watched = new Map<string, number>();
let socket: WebSocket | null = null;
let attempts = 0;
let retryTimer = 0;
let pingTimer = 0;
let lingerTimer = 0;
let token: string | null = null;
let generation = 0;
/** How many pages need the socket now. */
let needed = 0;

const PING_MS = 4 * 60 * 1000;

function send(frame: object) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

async function open() {
  if (!config.ws || !needed) return;
  const mine = ++generation;
  clearTimeout(retryTimer);
  retryTimer = 0;
  token = await bearer().catch(() => null);
  if (mine !== generation) return;
  liveStatus.set({ state: "connecting", retryAt: undefined });
  let ws: WebSocket;
  try {
    ws = new WebSocket(token ? `${config.ws}?token=${encodeURIComponent(token)}` : config.ws);
  } catch {
    scheduleRetry();
    return;
  }
  socket = ws;
  ws.onopen = () => {
    if (ws !== socket) return;
    attempts = 0;
    liveStatus.set({ state: "live", retryAt: undefined });
    for (const drop of watched.keys()) send({ action: "subscribe", drop_id: drop });
    clearInterval(pingTimer);
    pingTimer = window.setInterval(() => send({ action: "ping" }), PING_MS);
  };
  ws.onmessage = (event) => {
    let message: LiveMessage;
    try {
      message = JSON.parse(String(event.data)) as LiveMessage;
    } catch {
      return;
    }
    if (message.type === "subscribed" && message.drop && typeof message.drop === "object") {
      // The snapshot answer carries the same numbers as a `drop` push.
      const snapshot = { ...(message.drop as object), type: "drop" } as LiveMessage;
      for (const listener of [...listeners]) listener(snapshot);
      return;
    }
    for (const listener of [...listeners]) listener(message);
  };
  ws.onclose = () => {
    if (ws !== socket) return;
    clearInterval(pingTimer);
    socket = null;
    scheduleRetry();
  };
  ws.onerror = () => ws.close();
}

function scheduleRetry() {
  if (!needed) return close();
  attempts += 1;
  const delay = reconnectDelay(attempts, Math.random());
  liveStatus.set({ state: "down", retryAt: Date.now() + delay });
  clearTimeout(retryTimer);
  retryTimer = window.setTimeout(open, delay);
}

/** Opens the socket within the connect spread (unless it is open or on its way). */
function connectSoon() {
  if (!config.ws || socket || retryTimer) return;
  const delay = connectDelay(Math.random());
  liveStatus.set({ state: "connecting", retryAt: undefined });
  retryTimer = window.setTimeout(() => {
    retryTimer = 0;
    void open();
  }, delay);
}

function close() {
  generation++;
  clearTimeout(retryTimer);
  retryTimer = 0;
  clearInterval(pingTimer);
  const old = socket;
  socket = null;
  old?.close();
  attempts = 0;
  liveStatus.set({ state: "off", retryAt: undefined });
}

/** A page needs pushes (cadence.ts `wantsSocket`): the socket opens within the connect spread
 * and stays while anyone needs it, plus a linger. Returns the release. */
export function needLive(): () => void {
  needed += 1;
  clearTimeout(lingerTimer);
  connectSoon();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    needed -= 1;
    if (!needed) {
      clearTimeout(lingerTimer);
      lingerTimer = window.setTimeout(() => !needed && close(), SOCKET_LINGER_MS);
    }
  };
}

export function startLive() {
  if (!config.ws) return;
  // Reconnect when the tab or the network comes back, if a page still needs the socket — within
  // the spread: a whole crowd comes back online at once after a network blip.
  const back = () => {
    if (needed && liveStatus.get().state === "down") {
      clearTimeout(retryTimer);
      retryTimer = 0;
      connectSoon();
    }
  };
  addEventListener("online", back);
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && back());
}

/** Reconnects with the current identity's token (personal events follow the shopper). */
export function reconnectLive() {
  if (!config.ws || !socket) return;
  const old = socket;
  socket = null;
  old.close();
  clearInterval(pingTimer);
  void open();
}

export function watchDrop(dropId: string): () => void {
  watched.set(dropId, (watched.get(dropId) ?? 0) + 1);
  if (watched.get(dropId) === 1) send({ action: "subscribe", drop_id: dropId });
  return () => {
    const left = (watched.get(dropId) ?? 1) - 1;
    if (left > 0) watched.set(dropId, left);
    else {
      watched.delete(dropId);
      send({ action: "unsubscribe", drop_id: dropId });
    }
  };
}

export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const isLive = () => liveStatus.get().state === "live";
