import { useEffect, useState } from "preact/hooks";
import { DropArt } from "../art";
import { human } from "../api";
import { useDrops } from "../data";
import { currentPrice, int, plural, price } from "../format";
import type { Drop } from "../types";
import { Chip, Countdown, Meter, Notice, Skeleton } from "../ui";

/** What a card says about when: the next moment that matters for this drop. */
export function nextMoment(drop: Drop, now: number): { label: string; at: string } | null {
  if (drop.status !== "upcoming") return null;
  if (drop.mode === "raffle" && drop.queue && Date.parse(drop.queue.opens_at) > now) return { label: "Entries open in", at: drop.queue.opens_at };
  if (drop.queue && Date.parse(drop.queue.opens_at) > now) return { label: "Queue opens in", at: drop.queue.opens_at };
  return { label: drop.queue ? "Draw & start in" : "Starts in", at: drop.starts_at };
}

function DropCard({ drop, now, index }: { drop: Drop; now: number; index: number }) {
  const moment = nextMoment(drop, now);
  const dim = drop.status === "sold_out" || drop.status === "ended";
  const queueOpen = drop.queue && drop.status === "upcoming" && Date.parse(drop.queue.opens_at) <= now;
  const p = currentPrice(drop, now);
  const kind = drop.mode === "raffle" ? "Raffle" : drop.queue ? "Queued drop" : "First come";
  return (
    <article class={`card drop-card status-${drop.status}`} style={{ "--i": index } as never}>
      <div class="card-art">
        <DropArt id={drop.id} name={drop.name} muted={dim} />
        <div class="card-flags">
          <Chip status={drop.status} live={drop.status === "live"} />
          {queueOpen && <span class="chip chip-queue">{drop.mode === "raffle" ? "Entries open" : "Queue open"}</span>}
          {drop.paused && <span class="chip chip-paused">Paused</span>}
        </div>
      </div>
      <div class="card-body">
        <p class="eyebrow">{kind}</p>
        <h2 class="card-title">
          <a class="stretched" href={`#/drop/${drop.id}`}>
            {drop.name}
          </a>
        </h2>
        <div class="card-row">
          <span class="price-tag">{price(p)}</span>
          <span class="muted small">{plural(drop.total_units, "unit")}</span>
        </div>
        {moment ? (
          <p class="card-when">
            <Countdown to={moment.at} label={moment.label} />
          </p>
        ) : drop.status === "live" ? (
          <div class="card-stock">
            <Meter value={drop.available} max={drop.total_units} label={`${drop.available} of ${drop.total_units} left`} />
            <p class="small">
              <strong class="num">{int(drop.available)}</strong> left · <span class="muted">{drop.held} held · {drop.sold} sold</span>
            </p>
          </div>
        ) : (
          <p class="card-when muted">{drop.status === "sold_out" ? `All ${drop.total_units} gone` : "This drop has closed"}</p>
        )}
      </div>
    </article>
  );
}

const ORDER: Record<string, number> = { live: 0, upcoming: 1, sold_out: 2, ended: 3 };
/** Cards rendered per task: the first screen comes first, the rest a few at a time after it, so
 * no single task of the first load grows with the number of drops (the TBT budget). */
const CARDS_PER_TASK = 2;

export function DropsPage() {
  const state = useDrops();
  // Not useNow(): only the countdowns tick; the list re-renders when the data moves.
  const now = Date.now();
  const list = [...(state.list ?? [])].sort((a, b) => ORDER[a.status] - ORDER[b.status] || Date.parse(a.starts_at) - Date.parse(b.starts_at));
  const live = list.filter((d) => d.status === "live").length;
  const [shown, setShown] = useState(CARDS_PER_TASK);
  useEffect(() => {
    if (shown >= list.length) return;
    const next = setTimeout(() => setShown((n) => n + CARDS_PER_TASK), 0);
    return () => clearTimeout(next);
  }, [shown, list.length]);
  return (
    <div class="page">
      <section class="hero" aria-labelledby="hero-title">
        <p class="eyebrow glow">Limited releases · fair by design</p>
        <h1 id="hero-title">
          Every drop, <span class="grad">drawn fair.</span>
        </h1>
        <p class="lede">
          Queues ordered by a seed committed before the start — verify your place yourself. Claim, and the unit is held for you
          while you pay.
        </p>
        <p class="hero-stats small muted">
          {state.list ? `${plural(list.length, "drop")} · ${live} live now` : "Loading drops…"}
        </p>
      </section>
      {state.error && !state.list ? <Notice tone="error" title="Can't load the drops" live>{human(state.error)}</Notice> : null}
      {!state.list && !state.error ? (
        <div class="grid">
          {[0, 1, 2].map(() => (
            <div class="card drop-card">
              <div class="card-art shimmer" />
              <div class="card-body">
                <Skeleton />
              </div>
            </div>
          ))}
        </div>
      ) : state.list && !list.length ? (
        <div class="empty">
          <h2>No drops right now</h2>
          <p class="muted">The next release is being prepared. Check back soon.</p>
        </div>
      ) : (
        <div class="grid">
          {list.slice(0, shown).map((drop, i) => (
            <DropCard drop={drop} now={now} index={i} key={drop.id} />
          ))}
        </div>
      )}
    </div>
  );
}
