import { render, type JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { network } from "./api";
import { auth, cognitoSignIn, devNames, initAuth, signOut, switchDev, usesCognito } from "./auth";
import { configured } from "./config";
import { liveStatus, reconnectLive, startLive } from "./live";
import { DropsPage } from "./pages/drops";
import { useNow, useStore } from "./store";
import { Link, Notice, Skeleton } from "./ui";
import "./styles.css";

// Stripe Checkout comes back to the origin with ?reservation=…&checkout=success|cancel: turn it
// into a hash route and clean the address bar.
function adoptReturn() {
  const query = new URLSearchParams(location.search);
  const reservation = query.get("reservation");
  const outcome = query.get("checkout");
  if (reservation && outcome) {
    history.replaceState(null, "", `${location.pathname}#/return/${encodeURIComponent(reservation)}/${outcome === "success" ? "success" : "cancel"}`);
  }
}

// The drops list is the first load; every other page loads when first visited (the drop page
// is warmed as the shopper reaches for one).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lazyPage<C extends (props: any) => JSX.Element>(load: () => Promise<C>): C {
  let Page: C | null = null;
  let loading: Promise<void> | null = null;
  return function LazyPage(props: object) {
    const [, loaded] = useState(0);
    if (Page) { const P = Page as (p: object) => JSX.Element; return <P {...props} />; }
    loading ??= load().then((page) => {
      Page = page;
    });
    void loading.then(() => loaded(1));
    return (
      <div class="page narrow" aria-busy="true">
        <Skeleton lines={4} />
      </div>
    );
  } as C;
}
const DropPage = lazyPage(() => import("./pages/drop").then((m) => m.DropPage));
const VerifyPage = lazyPage(() => import("./pages/verify").then((m) => m.VerifyPage));
const ReturnPage = lazyPage(() => import("./pages/orders").then((m) => m.ReturnPage));
const OrderPage = lazyPage(() => import("./pages/orders").then((m) => m.OrderPage));
const OrdersPage = lazyPage(() => import("./pages/orders").then((m) => m.OrdersPage));
const OpsPage = lazyPage(() => import("./pages/ops").then((m) => m.OpsPage));
const OpsDropPage = lazyPage(() => import("./pages/ops").then((m) => m.OpsDropPage));

function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#/, "") || "/";
}

function Router({ path }: { path: string }) {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  const [a, b, c, d] = parts;
  if (!a) return <DropsPage />;
  if (a === "drop" && b && c === "verify") return <VerifyPage id={b} />;
  if (a === "drop" && b) return <DropPage id={b} />;
  if (a === "return" && b) return <ReturnPage reservationId={b} outcome={c === "success" ? "success" : "cancel"} />;
  if (a === "orders" && b) return <OrderPage id={b} />;
  if (a === "orders") return <OrdersPage />;
  if (a === "ops" && b) return <OpsDropPage id={b} />;
  if (a === "ops") return <OpsPage />;
  void d;
  return (
    <section class="page narrow">
      <h1>Nothing here</h1>
      <p class="muted">That page doesn't exist. <Link to="/">See the drops</Link>.</p>
    </section>
  );
}

function LiveBadge() {
  const live = useStore(liveStatus);
  const now = useNow();
  const label =
    live.state === "live" ? "Live" : live.state === "connecting" ? "Connecting" : live.state === "off" ? "Auto-refresh" : `Reconnecting${live.retryAt ? ` in ${Math.max(1, Math.ceil((live.retryAt - now) / 1000))} s` : "…"}`;
  return (
    <span class={`live-badge live-${live.state}`} title={live.state === "live" ? "Updates arrive the moment they happen" : "Updating by polling until the live channel is back"}>
      <span class="dot" aria-hidden="true" />
      <span class="live-text">{label}</span>
    </span>
  );
}

function Identity() {
  const { identity } = useStore(auth);
  if (devNames.length) {
    return (
      <label class="who">
        <span class="who-label">Signed in as</span>
        <select
          aria-label="Signed in as"
          value={identity?.name}
          onChange={(e) => {
            switchDev((e.target as HTMLSelectElement).value);
            reconnectLive();
          }}
        >
          {devNames.map((name) => (
            <option value={name}>{name === "admin" ? "admin (operator)" : name}</option>
          ))}
        </select>
      </label>
    );
  }
  if (usesCognito) {
    return identity ? (
      <button class="btn btn-ghost btn-sm" onClick={signOut}>
        Sign out {identity.name}
      </button>
    ) : (
      <button class="btn btn-primary btn-sm" onClick={() => void cognitoSignIn()}>
        Sign in
      </button>
    );
  }
  return <span class="muted small">Browsing</span>;
}

function Header({ path }: { path: string }) {
  const { identity } = useStore(auth);
  const here = (p: string) => (p === "/" ? path === "/" || path.startsWith("/drop") : path.startsWith(p));
  return (
    <header class="top">
      <div class="top-inner">
        <a class="brand" href="#/" aria-label="Burst — all drops">
          <svg viewBox="0 0 32 32" aria-hidden="true" width="28" height="28">
            <rect width="32" height="32" rx="9" fill="#0d0f17" />
            <path d="M18 3 7 18h8l-2 11 12-16h-8z" fill="url(#brand-g)" />
            <defs>
              <linearGradient id="brand-g" x1="0" y1="0" x2="1" y2="1">
                <stop offset="0" stop-color="#c6ff3d" />
                <stop offset="1" stop-color="#22e4ff" />
              </linearGradient>
            </defs>
          </svg>
          <span>BURST</span>
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={here("/") ? "page" : undefined}>
            Drops
          </a>
          {identity && (
            <a href="#/orders" aria-current={here("/orders") ? "page" : undefined}>
              Orders
            </a>
          )}
          {identity?.admin && (
            <a href="#/ops" aria-current={here("/ops") ? "page" : undefined}>
              Operator
            </a>
          )}
        </nav>
        <div class="top-end">
          <LiveBadge />
          <Identity />
        </div>
      </div>
    </header>
  );
}

function ConnectionBar() {
  const net = useStore(network);
  const { error } = useStore(auth);
  return (
    <div class="bars">
      {net.offline && (
        <div class="bar bar-warn" role="status">
          <strong>Connection lost.</strong> We keep retrying automatically — your place in line is kept on our side.
        </div>
      )}
      {error && (
        <div class="bar bar-error" role="alert">
          Sign-in failed: {error}
        </div>
      )}
    </div>
  );
}

function App() {
  const path = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    // Move focus to the new page for keyboard and screen-reader users (not on first load).
    if (first.current) {
      first.current = false;
      return;
    }
    window.scrollTo(0, 0);
    main.current?.focus({ preventScroll: true });
  }, [path.split("?")[0]]);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <Header path={path} />
      <ConnectionBar />
      <main id="main" ref={main} tabIndex={-1}>
        {!configured && (
          <div class="page narrow">
            <Notice tone="warn" title="No configuration">
              /config.js is missing: run <code>make dev</code>, or deploy with the stack.
            </Notice>
          </div>
        )}
        <Router path={path} />
      </main>
      <footer class="foot">
        <span>Burst · fair drops, drawn from a committed seed</span>
        <span class="muted">Every hold is yours for its full window. Payments by Stripe.</span>
      </footer>
    </>
  );
}

adoptReturn();
void initAuth().finally(() => {
  startLive();
  render(<App />, document.getElementById("app")!);
  // Warm the drop page's chunk at the shopper's first sign of reaching for a drop (a pointer
  // over the page, a touch, a focus): the first tap on a drop is still instant, and the load
  // itself evaluates no code it does not show — on a phone, that evaluation was a long task of
  // its own, counted in the page's blocking time.
  const reach = ["pointerover", "touchstart", "focusin", "keydown"];
  const warm = () => {
    reach.forEach((type) => removeEventListener(type, warm, true));
    void import("./pages/drop");
  };
  reach.forEach((type) => addEventListener(type, warm, { capture: true, passive: true }));
});
