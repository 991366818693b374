// One drop: its art, live numbers and the shopper's whole journey — queue (proof of work,
// pre-queue, position, admission), claim, the hold (timer, Pay, Release).
import { useEffect, useRef, useState } from "preact/hooks";
import { DropArt } from "../art";
import { api, ApiError, human, withRetry } from "../api";
import { auth } from "../auth";
import { crowdReadDelay, drawn, holdWait, MAX_WAIT_MS, nearFront, ticketIsUrgent, ticketWait, wantsSocket } from "../cadence";
import {
  holdSecondsLeft,
  loadReservation,
  loadTicket,
  mine,
  onPersonal,
  putReservation,
  putTicket,
  rememberedHolds,
  rememberHold,
  useDrop,
  useLoop,
} from "../data";
import { isLive, needLive } from "../live";
import { clock, currentPrice, dateTime, etaRange, int, money, plural, price, spoken } from "../format";
import { useNow, useStore } from "../store";
import type { Drop, QueueStatus, Reservation, Ticket } from "../types";
import { Chip, Countdown, Link, Meter, Notice, Skeleton, Spinner, Stat } from "../ui";

type Busy = { what: string; note?: string } | null;

function useAction() {
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (what: string, action: () => Promise<void>) => {
    setBusy({ what });
    setError(null);
    try {
      await withRetry(action, (seconds, e) => setBusy({ what, note: e.code === "network" ? `Connection lost — retrying in ${seconds} s` : `Busy — retrying in ${seconds} s` }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, setError, run };
}

function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as ApiError;
  const tone = e.code === "sold_out" || e.code === "rate_limited" || e.code === "drop_paused" ? "warn" : "error";
  const title =
    e.code === "sold_out"
      ? "Sold out"
      : e.code === "rate_limited"
        ? "Slow down"
        : e.code === "admission_invalid" || e.code === "admission_required"
          ? "Not admitted"
          : e.code === "network"
            ? "Network lost"
            : e.code === "drop_paused"
              ? "Paused"
              : "That didn't work";
  return (
    <Notice tone={tone} title={title} live>
      {human(error)}
      {e.code === "rate_limited" && e.retryAfter ? <RetryIn seconds={e.retryAfter} /> : null}
    </Notice>
  );
}

function RetryIn({ seconds }: { seconds: number }) {
  const [until] = useState(() => Date.now() + seconds * 1000);
  const now = useNow();
  const left = Math.ceil((until - now) / 1000);
  return <span class="block small muted">{left > 0 ? `You can try again in ${left} s.` : "You can try again now."}</span>;
}

// ---------------------------------------------------------------------------------------------
// The hold: a 10-minute window, Pay (Stripe Checkout) and Release.

export function HoldCard({ drop, reservation }: { drop: Drop; reservation: Reservation & { receivedAt: number } }) {
  const now = useNow();
  const { busy, error, run } = useAction();
  const left = holdSecondsLeft(reservation, now);
  const unit = reservation.price ?? currentPrice(drop);
  const total = money(unit.amount * reservation.quantity, unit.currency);
  const windowSeconds = drop.hold_seconds || 600;
  const pay = () =>
    run("pay", async () => {
      const session = await api<{ checkout_url: string }>("POST", `/reservations/${reservation.id}/checkout`);
      location.assign(session.checkout_url);
      await new Promise((r) => setTimeout(r, 10_000));
    });
  const release = () =>
    run("release", async () => {
      try {
        const { reservation: final } = await api<{ reservation: Reservation }>("DELETE", `/reservations/${reservation.id}`);
        putReservation(final);
      } catch (e) {
        if (e instanceof ApiError && e.code === "reservation_not_held") await loadReservation(reservation.id);
        else throw e;
      }
    });
  if (reservation.status === "paid") {
    return (
      <section class="panel panel-ok" aria-labelledby="hold-h">
        <p class="eyebrow">Order confirmed</p>
        <h2 id="hold-h">It's yours.</h2>
        <p>Payment received for {plural(reservation.quantity, "unit")} of {drop.name}.</p>
        <Link class="btn btn-primary" to={`/orders/${reservation.id}`}>
          View your order
        </Link>
      </section>
    );
  }
  if (reservation.status === "payment_pending") {
    return (
      <section class="panel" aria-labelledby="hold-h">
        <p class="eyebrow">Payment pending</p>
        <h2 id="hold-h">Your payment is settling</h2>
        <p>Your unit stays reserved until your bank confirms. No need to pay again — we'll update this page.</p>
        <Link class="btn btn-ghost" to={`/orders/${reservation.id}`}>
          Track the order
        </Link>
      </section>
    );
  }
  const urgent = left < 60;
  return (
    <section class={`panel panel-hold ${urgent ? "urgent" : ""}`} aria-labelledby="hold-h">
      <div class="hold-head">
        <div>
          <p class="eyebrow">Held for you</p>
          <h2 id="hold-h">Complete your purchase</h2>
        </div>
        <div class="hold-timer" role="timer" aria-live="off" aria-label={`Time left on your hold: ${spoken(left)}`}>
          {clock(left)}
        </div>
      </div>
      <Meter value={left} max={windowSeconds} label="Hold time remaining" />
      <p class="small muted">
        {plural(reservation.quantity, "unit")} · {total}
        {reservation.price ? " · price locked" : ""} · pay before the timer ends or it goes back to the pool.
      </p>
      <ErrorNotice error={error} />
      {busy?.note && <p class="small warn-text" role="status">{busy.note}</p>}
      <div class="actions">
        <button class="btn btn-primary btn-lg" onClick={pay} disabled={Boolean(busy) || left <= 0}>
          {busy?.what === "pay" ? <Spinner label="Opening checkout" /> : null}
          Pay
        </button>
        <button class="btn btn-ghost btn-lg" onClick={release} disabled={Boolean(busy)}>
          Release
        </button>
      </div>
      <p class="fine">Secure checkout by Stripe · {total}</p>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Claiming (a live drop, or an admitted ticket)

function useClaim(drop: Drop) {
  const action = useAction();
  const claim = (admissionToken?: string) =>
    action.run("claim", async () => {
      try {
        const { reservation } = await api<{ reservation: Reservation }>("POST", `/drops/${drop.id}/claims`, {
          body: { quantity: 1, ...(admissionToken ? { admission_token: admissionToken } : {}) },
        });
        putReservation(reservation);
        rememberHold(drop.id, reservation.id);
      } catch (e) {
        if (e instanceof ApiError && e.code === "already_claimed" && typeof e.details.reservation_id === "string") {
          rememberHold(drop.id, e.details.reservation_id);
          const existing = await loadReservation(e.details.reservation_id);
          if (existing.status === "held" || existing.status === "paid" || existing.status === "payment_pending") return;
        }
        throw e;
      }
    });
  return { ...action, claim };
}

function DirectJourney({ drop }: { drop: Drop }) {
  const { busy, error, claim } = useClaim(drop);
  const now = useNow();
  const early = myEarlyAccess(drop, now);
  if (drop.status === "upcoming" && !early) {
    return (
      <section class="panel" aria-labelledby="j-h">
        <p class="eyebrow">Coming soon</p>
        <h2 id="j-h">Opens {dateTime(drop.starts_at)}</h2>
        <Countdown to={drop.starts_at} label="Starts in" big />
        <p class="muted small">First come, first served. Every unit you claim is held for you for {Math.round(drop.hold_seconds / 60)} minutes.</p>
      </section>
    );
  }
  if (drop.status === "sold_out") return <SoldOut drop={drop} />;
  if (drop.status === "ended") return <Ended />;
  return (
    <section class="panel panel-cta" aria-labelledby="j-h">
      <p class="eyebrow">{early ? `Early access · ${early}` : "Live now"}</p>
      <h2 id="j-h">Claim yours</h2>
      <p class="muted small">
        One tap holds a unit for {Math.round(drop.hold_seconds / 60)} minutes while you pay. Limit {drop.per_user_limit} per shopper.
      </p>
      <ErrorNotice error={error} />
      {busy?.note && <p class="small warn-text" role="status">{busy.note}</p>}
      <button class="btn btn-primary btn-lg btn-block" onClick={() => claim()} disabled={Boolean(busy) || drop.paused}>
        {busy ? <Spinner label="Claiming" /> : null}
        Claim
      </button>
      {drop.paused && <p class="small warn-text">Claims are paused by the operator for a moment.</p>}
    </section>
  );
}

function SoldOut({ drop }: { drop: Drop }) {
  return (
    <section class="panel panel-muted" aria-labelledby="j-h">
      <p class="eyebrow">Sold out</p>
      <h2 id="j-h">All {drop.total_units} units are gone</h2>
      <p class="muted">
        {drop.held > 0
          ? `${plural(drop.held, "unit is", "units are")} still held by shoppers paying now — if a hold lapses it comes back here, live.`
          : "Thanks for showing up. Watch for the next drop."}
      </p>
    </section>
  );
}

function Ended() {
  return (
    <section class="panel panel-muted" aria-labelledby="j-h">
      <p class="eyebrow">Ended</p>
      <h2 id="j-h">This drop has closed</h2>
      <p class="muted">Your orders are under Orders.</p>
    </section>
  );
}

/** The early-access group open to this shopper now, if any (issue 11). */
function myEarlyAccess(drop: Drop, now: number): string | null {
  const identity = auth.get().identity;
  if (!drop.early_access?.length || !identity || Date.parse(drop.starts_at) <= now) return null;
  const open = drop.early_access.find((e) => identity.groups.includes(e.group) && Date.parse(e.starts_at) <= now);
  return open ? open.group : null;
}

// ---------------------------------------------------------------------------------------------
// The queue (and raffle) journey

interface PowState {
  tries: number;
  expected: number;
  elapsedMs: number;
}

function JoinPanel({ drop, queue }: { drop: Drop; queue?: QueueStatus }) {
  const [pow, setPow] = useState<PowState | null>(null);
  const { busy, error, run } = useAction();
  const raffle = drop.mode === "raffle";
  const needsPow = drop.queue?.proof_of_work ?? false;
  const join = () =>
    run("join", async () => {
      let body: { altcha?: string } | undefined;
      if (needsPow) {
        setPow({ tries: 0, expected: 2000, elapsedMs: 0 });
        const [{ challenge }, { solve }] = await Promise.all([
          api<{ challenge: import("altcha/lib").Challenge }>("GET", `/drops/${drop.id}/challenge`),
          import("../pow"),
        ]);
        body = { altcha: await solve(challenge, setPow) };
      }
      try {
        const { ticket } = await api<{ ticket: Ticket }>("POST", `/drops/${drop.id}/queue`, { body: body ?? {} });
        putTicket(ticket);
      } finally {
        setPow(null);
      }
    });
  const pct = pow ? Math.min(99, Math.round((pow.tries / pow.expected) * 100)) : 0;
  const beforeStart = Date.parse(drop.starts_at) > Date.now();
  return (
    <section class="panel panel-cta" aria-labelledby="j-h">
      <p class="eyebrow">{raffle ? "Raffle entries open" : queue?.phase === "prequeue" || beforeStart ? "Waiting room open" : "Queue open"}</p>
      <h2 id="j-h">{raffle ? "Enter the raffle" : beforeStart ? "Get in before the start" : "Join the line"}</h2>
      <p class="muted small">
        {raffle
          ? `Everyone who enters before ${dateTime(drop.raffle?.entries_close_at)} has the same chance: winners are drawn from a seed committed in advance.`
          : beforeStart
            ? "Everyone who joins before the start gets an equal shot: the order is drawn from a seed committed in advance. No advantage in refreshing."
            : "You'll queue in arrival order after the drawn cohort. Keep this page open — we'll tell you when it's your turn."}
      </p>
      <ErrorNotice error={error} />
      {pow && (
        <div class="pow" aria-live="polite">
          <div class="pow-head">
            <span>Checking your browser — a second of fair work, instead of a captcha</span>
            <span class="num">{pct}%</span>
          </div>
          <div class="progress" role="progressbar" aria-label="Proof of work" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
            <span style={{ width: `${pct}%` }} />
          </div>
          <p class="small muted num">{int(pow.tries)} keys tried · {(pow.elapsedMs / 1000).toFixed(1)} s</p>
        </div>
      )}
      {busy?.note && <p class="small warn-text" role="status">{busy.note}</p>}
      <button class="btn btn-primary btn-lg btn-block" onClick={join} disabled={Boolean(busy)}>
        {busy ? <Spinner label="Joining" /> : null}
        {raffle ? "Enter the raffle" : "Join the queue"}
      </button>
      {needsPow && !pow && <p class="fine">Protected by a proof of work (ALTCHA): your device does a moment of maths, bots pay for every try.</p>}
    </section>
  );
}

function QueueJourney({ drop, queue, ticket }: { drop: Drop; queue?: QueueStatus; ticket: Ticket | null | undefined }) {
  const now = useNow();
  const { busy, error, claim } = useClaim(drop);
  const raffle = drop.mode === "raffle";
  const q = drop.queue!;
  const paused = drop.paused || queue?.phase === "paused";
  if (ticket === undefined) {
    return (
      <section class="panel">
        <Skeleton />
      </section>
    );
  }
  if (!ticket) {
    if (Date.parse(q.opens_at) > now) {
      return (
        <section class="panel" aria-labelledby="j-h">
          <p class="eyebrow">{raffle ? "Raffle" : "Queued drop"}</p>
          <h2 id="j-h">{raffle ? "Entries open" : "The queue opens"} {dateTime(q.opens_at)}</h2>
          <Countdown to={q.opens_at} label={raffle ? "Entries open in" : "Queue opens in"} big />
          <p class="muted small">
            The drop itself starts {dateTime(drop.starts_at)}. {raffle ? "Entering early gives no advantage." : "Joining any time before the start gives everyone the same chance."}
          </p>
        </section>
      );
    }
    if (drop.status === "sold_out" || queue?.phase === "sold_out") return <SoldOut drop={drop} />;
    if (drop.status === "ended" || queue?.phase === "ended") return <Ended />;
    return <JoinPanel drop={drop} queue={queue} />;
  }
  // The shopper has a ticket.
  if (ticket.status === "admitted" && ticket.admission) {
    const left = (Date.parse(ticket.admission.expires_at) - now) / 1000;
    return (
      <section class="panel panel-cta panel-admitted" aria-labelledby="j-h">
        <div role="status">
          <p class="eyebrow">{raffle ? "You won" : "You're admitted"}</p>
          <h2 id="j-h">{raffle ? "Your number came up." : "It's your turn."}</h2>
        </div>
        <p>
          Claim within <Countdown to={ticket.admission.expires_at} /> — after that your slot passes to the next in line.
        </p>
        <Meter value={Math.max(0, left)} max={raffle ? drop.raffle?.claim_window_seconds ?? q.admission_seconds : q.admission_seconds} label="Admission time remaining" />
        <ErrorNotice error={error} />
        {busy?.note && <p class="small warn-text" role="status">{busy.note}</p>}
        <button class="btn btn-primary btn-lg btn-block pulse" onClick={() => claim(ticket.admission!.token)} disabled={Boolean(busy) || left <= 0}>
          {busy ? <Spinner label="Claiming" /> : null}
          Claim
        </button>
      </section>
    );
  }
  if (ticket.status === "claimed") {
    return (
      <section class="panel" aria-labelledby="j-h">
        <p class="eyebrow">Claimed</p>
        <h2 id="j-h">You claimed your unit</h2>
        <p class="muted">Your hold and payment are under <Link to="/orders">Orders</Link>.</p>
      </section>
    );
  }
  if (ticket.status === "expired") {
    return (
      <section class="panel panel-muted" aria-labelledby="j-h">
        <p class="eyebrow">Admission expired</p>
        <h2 id="j-h">Your turn passed</h2>
        <p class="muted">You were admitted but didn't claim in time, so your slot went to the next shopper in line.</p>
      </section>
    );
  }
  if (ticket.status === "closed") {
    return (
      <section class="panel panel-muted" aria-labelledby="j-h">
        <p class="eyebrow">{raffle ? "Not drawn" : "Queue closed"}</p>
        <h2 id="j-h">{raffle ? "Not this time" : "Sold out before your turn"}</h2>
        <p class="muted">{raffle ? "Your entry wasn't drawn and the waitlist has closed." : "Every unit found a buyer before the line reached you. Thanks for waiting fairly."}</p>
        {queue?.seed && <Link to={`/drop/${drop.id}/verify`}>Verify the draw</Link>}
      </section>
    );
  }
  // waiting
  const drawn = ticket.position != null;
  if (!drawn) {
    const closesAt = queue?.draw_at ?? (raffle ? drop.raffle?.entries_close_at ?? drop.starts_at : drop.starts_at);
    return (
      <section class="panel panel-in" aria-labelledby="j-h">
        <div role="status" class="queue-status">
          <p class="eyebrow">{raffle ? "Entered" : "Pre-queue"}</p>
          <h2 id="j-h">{raffle ? "You're in the draw." : "You're in — order is drawn at start."}</h2>
        </div>
        <Countdown to={closesAt} label={raffle ? "Winners drawn in" : "Draw in"} big />
        <p class="muted small">
          {raffle
            ? "Winners are drawn from a seed committed in advance; you'll see your result here."
            : "Everyone in the waiting room gets a random place at the start, from a seed committed in advance. Leaving and coming back keeps your ticket."}
        </p>
        {queue?.seed_commitment && (
          <p class="fine mono" title={queue.seed_commitment}>
            Seed commitment {queue.seed_commitment.slice(0, 16)}…
          </p>
        )}
        {paused && <Notice tone="warn" title="Paused">The operator paused admission for a moment. Your place is kept.</Notice>}
      </section>
    );
  }
  const position = ticket.position!;
  // Whichever is fresher, the ticket or the status document (a push moves it between ticket
  // reads; the ticket is read as often as the server asks): the line only moves forward.
  const serving = Math.max(queue?.serving ?? 0, ticket.ahead != null ? position - ticket.ahead - 1 : 0);
  const ahead = Math.max(0, position - serving - 1);
  return (
    <section class="panel panel-in" aria-labelledby="j-h">
      <p class="eyebrow">{raffle ? "Waitlisted" : "In the queue"}</p>
      <h2 id="j-h" class="sr-only">
        Your place in the queue
      </h2>
      <div role="status" aria-live="polite" aria-atomic="true" class="queue-status">
        <div class="place">
          <span class="place-label">Your place</span>
          <span class="place-num num">#{int(position)}</span>
        </div>
        <dl class="stats stats-3">
          <Stat label="Ahead of you" value={<span class="num">{int(ahead)}</span>} />
          <Stat label="Now serving" value={<span class="num">#{int(serving)}</span>} />
          <Stat label="Estimated wait" value={ticket.eta_seconds ? etaRange(ticket.eta_seconds) : "—"} hint={ticket.eta_seconds ? undefined : "measuring the pace"} />
        </dl>
      </div>
      <Meter value={serving} max={Math.max(position, 1)} label="Progress to your turn" />
      {ticket.beyond_stock && (
        <Notice tone="warn" title="More people ahead than units left">
          Only units that come back from lapsed holds could reach you. We'll keep your place in case they do.
        </Notice>
      )}
      {paused && <Notice tone="warn" title="Paused">The operator paused admission for a moment. Your place is kept.</Notice>}
      <p class="muted small">Keep this page open. When it's your turn you'll have {spoken(q.admission_seconds)} to claim.</p>
      {queue?.seed && (
        <Link class="btn btn-ghost" to={`/drop/${drop.id}/verify`}>
          Verify my place
        </Link>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

function PriceBlock({ drop }: { drop: Drop }) {
  const now = useNow();
  const p = currentPrice(drop, now);
  const steps = [...(drop.price_schedule ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const next = steps.find((s) => Date.parse(s.at) > now);
  return (
    <div class="price-block">
      <span class="price-big">{price(p)}</span>
      {p.amount !== drop.price.amount && <s class="muted">{price(drop.price)}</s>}
      {steps.length > 0 && (
        <div class="schedule">
          <p class="small muted">
            Published price schedule{next ? <> · next step to {money(next.amount, drop.price.currency)} in <Countdown to={next.at} /></> : ""}
          </p>
          <ol class="steps">
            <li class={!steps.some((s) => Date.parse(s.at) <= now) ? "current" : ""}>
              <span>Launch</span>
              <strong>{price(drop.price)}</strong>
            </li>
            {steps.map((s) => (
              <li class={s === [...steps].reverse().find((x) => Date.parse(x.at) <= now) ? "current" : ""}>
                <span>{dateTime(s.at)}</span>
                <strong>{money(s.amount, drop.price.currency)}</strong>
              </li>
            ))}
          </ol>
          <p class="fine">The price in force when you claim is locked into your hold.</p>
        </div>
      )}
    </div>
  );
}

export function DropPage({ id }: { id: string }) {
  const { identity } = useStore(auth);
  const m = useStore(mine);
  const holdId = rememberedHolds()[id];
  const hold = holdId ? m.reservations[holdId] : undefined;
  const ticket = m.tickets[id];
  const activeHold = hold && (hold.status === "held" || hold.status === "payment_pending" || hold.status === "paid");
  // Near the front (or admitted) the ticket is read often and says all the status document
  // would; elsewhere the page watches the edge-cached status document and reads the ticket only
  // when that shows a moment that concerns it (cadence.ts).
  const urgent = ticketIsUrgent(ticket);
  const { drop, queue, error } = useDrop(id, !urgent && !activeHold);
  const sub = identity?.sub;
  const queued = Boolean(drop?.queue);
  const [kick, setKick] = useState(0);
  void m.holdsVersion;

  // A socket only where seconds count (near the front, admitted): cadence.ts `wantsSocket`.
  const needsSocket = wantsSocket(ticket);
  useEffect(() => (needsSocket ? needLive() : undefined), [needsSocket]);

  // The hold, while there is one.
  useLoop(async () => {
    if (!holdId || !sub) return MAX_WAIT_MS;
    const r = await loadReservation(holdId);
    return holdWait(r, holdSecondsLeft({ ...r, receivedAt: Date.now() }) * 1000);
  }, [holdId, sub]);

  // The ticket: read on arrival; then as often as the server asks where seconds count, and
  // otherwise only when woken (below, or by a personal push).
  useLoop(async () => {
    if (!queued || !sub) return MAX_WAIT_MS;
    return ticketWait(await loadTicket(id), isLive());
  }, [id, sub, queued, kick]);
  useEffect(() => onPersonal((type, dropId) => {
    if (dropId === id && type === "ticket") setKick((k) => k + 1);
    if (type === "reservation" && holdId) void loadReservation(holdId).catch(() => {});
  }), [id, holdId]);

  // The moments the status document shows that concern a waiting ticket: the draw (each ticket
  // then reads its place once, spread over the cohort's size), the front coming near, the line
  // reaching it, the queue closing.
  const waiting = ticket?.status === "waiting";
  const unplaced = waiting && ticket.position == null && drawn(queue);
  const closing = waiting && (queue?.phase === "sold_out" || queue?.phase === "ended");
  useEffect(() => {
    if (!unplaced && !closing) return;
    const crowd = unplaced ? queue?.cohort_size : queue?.waiting;
    const timer = setTimeout(() => setKick((k) => k + 1), crowdReadDelay(crowd, Math.random()));
    return () => clearTimeout(timer);
  }, [unplaced, closing]);
  const comingNear = waiting && !urgent && nearFront(ticket, queue);
  useEffect(() => {
    if (comingNear) setKick((k) => k + 1);
  }, [comingNear && queue]);

  // When a live push says the line reached this shopper, read the ticket at once (its admission
  // is there). Every other move is shown from the push itself: a crowd of sockets must not turn
  // each admission into a crowd of ticket reads.
  const serving = queue?.serving;
  const lastServing = useRef(serving);
  useEffect(() => {
    const position = ticket?.position;
    const reached = serving !== undefined && position != null && serving >= position;
    if (lastServing.current !== serving && ticket?.status === "waiting" && reached) setKick((k) => k + 1);
    lastServing.current = serving;
  }, [serving]);

  if (!drop) {
    return (
      <div class="page">
        {error ? (
          <Notice tone="error" title="Can't load this drop" live>
            {human(error)} <Link to="/">Back to all drops</Link>
          </Notice>
        ) : (
          <div class="drop-layout">
            <div class="drop-art shimmer" />
            <div class="panel">
              <Skeleton lines={5} />
            </div>
          </div>
        )}
      </div>
    );
  }
  const dim = drop.status === "sold_out" || drop.status === "ended";
  const lapsed = hold && (hold.status === "expired" || hold.status === "released");
  return (
    <div class="page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link to="/">Drops</Link> <span aria-hidden="true">/</span> <span aria-current="page">{drop.name}</span>
      </nav>
      <div class="drop-layout">
        <div class="drop-visual">
          <div class="drop-art">
            <DropArt id={drop.id} name={drop.name} muted={dim} />
          </div>
          <div class="drop-facts">
            <dl class="stats stats-3">
              <Stat label="Left" value={<span class="num">{int(drop.available)}</span>} hint={`of ${int(drop.total_units)}`} />
              <Stat label="Held now" value={<span class="num">{int(drop.held)}</span>} />
              <Stat label="Sold" value={<span class="num">{int(drop.sold)}</span>} />
            </dl>
            <Meter value={drop.available} max={drop.total_units} label={`${drop.available} of ${drop.total_units} units left`} />
            {queue && (queue.phase === "open" || queue.phase === "paused") && (
              <p class="small muted">
                Queue: <strong class="num">{int(queue.waiting)}</strong> waiting · serving #{int(queue.serving)} · {queue.admitted_per_minute}/min admitted
              </p>
            )}
          </div>
        </div>
        <div class="drop-info">
          <div class="drop-title-row">
            <Chip status={drop.status} live={drop.status === "live"} />
            {drop.mode === "raffle" ? <span class="chip chip-queue">Raffle</span> : drop.queue ? <span class="chip chip-queue">Queued</span> : null}
            {drop.paused && <span class="chip chip-paused">Paused</span>}
          </div>
          <h1 class="drop-name">{drop.name}</h1>
          <PriceBlock drop={drop} />
          {drop.paused && (
            <Notice tone="warn" title="Paused by the operator">
              Admission and claims are on hold for a moment. Everything you hold or queued for is kept.
            </Notice>
          )}
          {lapsed && !activeHold && (
            <Notice tone="info" title={hold!.status === "released" ? "You released your hold" : "Your hold ran out"}>
              The unit went back to the pool{drop.status === "live" && !drop.queue ? " — you can claim again while stock lasts." : "."}
            </Notice>
          )}
          {!identity ? (
            <section class="panel">
              <h2>Sign in to take part</h2>
              <p class="muted">You need an account to join queues and claim.</p>
            </section>
          ) : activeHold ? (
            <HoldCard drop={drop} reservation={hold!} />
          ) : queued ? (
            <QueueJourney drop={drop} queue={queue} ticket={ticket} />
          ) : (
            <DirectJourney drop={drop} />
          )}
          {drop.description && <p class="drop-desc">{drop.description}</p>}
          <ul class="facts small">
            <li>Starts {dateTime(drop.starts_at)}</li>
            {drop.ends_at && <li>Ends {dateTime(drop.ends_at)}</li>}
            <li>Limit {drop.per_user_limit} per shopper</li>
            <li>{Math.round(drop.hold_seconds / 60)}-minute hold</li>
          </ul>
          {drop.early_access?.length ? (
            <ul class="early small">
              {drop.early_access.map((e) => (
                <li>
                  <span class="chip chip-vip">{e.group}</span> early access from {dateTime(e.starts_at)}
                  {identity?.groups.includes(e.group) ? " — that's you" : ""}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      </div>
    </div>
  );
}
