// The live channel (issue 10): one WebSocket for the whole app. Subscribes to every drop on
// screen, carries the shopper's personal events when opened with their token, pings so API
// Gateway's 10-minute idle timeout never closes it, and reconnects with jittered backoff. While
// it is down the pages poll (see data.ts), so nothing depends on it.
import { bearer } from "./auth";
import { config } from "./config";
import { createStore } from "./store";

export type LiveState = "off" | "connecting" | "live" | "down";
export const liveStatus = createStore<{ state: LiveState; retryAt?: number }>({ state: config.ws ? "connecting" : "off" });

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
let token: string | null = null;
let generation = 0;

const PING_MS = 4 * 60 * 1000;

function send(frame: object) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

async function open() {
  if (!config.ws) return;
  const mine = ++generation;
  clearTimeout(retryTimer);
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
  attempts += 1;
  const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempts - 1, 5)) * (0.7 + Math.random() * 0.6);
  liveStatus.set({ state: "down", retryAt: Date.now() + delay });
  clearTimeout(retryTimer);
  retryTimer = window.setTimeout(open, delay);
}

export function startLive() {
  if (!config.ws) return;
  void open();
  // Reconnect at once when the tab or the network comes back.
  addEventListener("online", () => liveStatus.get().state !== "live" && void open());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && liveStatus.get().state === "down") void open();
  });
}

/** Reconnects with the current identity's token (personal events follow the shopper). */
export function reconnectLive() {
  if (!config.ws) return;
  const old = socket;
  socket = null;
  old?.close();
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
