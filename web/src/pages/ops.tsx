// The operator console (admin group): create drops (queue, proof of work, raffle, early access,
// price schedule), and a live view per drop — the ledger with `consistent` front and centre,
// queue depth, serving, admission rate, holds expiring — with pause / resume and the event log.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, human, missingRoute } from "../api";
import { auth } from "../auth";
import { loadDrop, loadDrops, loadQueue, queues, drops as dropsStore, useLoop } from "../data";
import { needLive, onLive, watchDrop } from "../live";
import { dateTime, money, price, timeOfDay } from "../format";
import { useNow, useStore } from "../store";
import type { AdminEvent, Audit, Drop } from "../types";
import { Chip, Link, Notice, Skeleton, Spinner, Stat } from "../ui";

function useAdmin() {
  const { identity } = useStore(auth);
  return identity?.admin ? identity : null;
}

function NotAdmin() {
  return (
    <div class="page narrow">
      <h1>Operator console</h1>
      <Notice tone="warn" title="Operators only">Switch to the admin identity to run drops.</Notice>
    </div>
  );
}

// ---- Create ----

const local = (date: Date) => {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};
const iso = (value: string) => (value ? new Date(value).toISOString() : undefined);

type InputType = "text" | "datetime-local" | "number";

interface Row {
  a: string;
  b: string;
}

function Rows({ legend, rows, setRows, aLabel, bLabel, aType, bType, addLabel }: {
  legend: string;
  rows: Row[];
  setRows: (r: Row[]) => void;
  aLabel: string;
  bLabel: string;
  aType: InputType;
  bType: InputType;
  addLabel: string;
}) {
  return (
    <fieldset class="rows">
      <legend>{legend}</legend>
      {rows.map((row, i) => (
        <div class="row-line">
          <label>
            <span>{aLabel}</span>
            <input {...({ type: aType } as object)} value={row.a} step={aType === "number" ? "0.01" : aType === "datetime-local" ? "1" : undefined} onInput={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, a: (e.target as HTMLInputElement).value } : r)))} />
          </label>
          <label>
            <span>{bLabel}</span>
            <input {...({ type: bType } as object)} value={row.b} step={bType === "number" ? "0.01" : bType === "datetime-local" ? "1" : undefined} onInput={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, b: (e.target as HTMLInputElement).value } : r)))} />
          </label>
          <button type="button" class="btn btn-ghost btn-sm" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove ${legend.toLowerCase()} row ${i + 1}`}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="btn btn-ghost btn-sm" onClick={() => setRows([...rows, { a: "", b: "" }])}>
        {addLabel}
      </button>
    </fieldset>
  );
}

function CreateDrop({ onCreated }: { onCreated: (drop: Drop) => void }) {
  const soon = new Date(Date.now() + 10 * 60_000);
  const [f, setF] = useState({
    name: "",
    description: "",
    amount: "189.00",
    currency: "EUR",
    units: "100",
    limit: "1",
    hold: "600",
    starts: local(soon),
    ends: "",
    mode: "queue" as "direct" | "queue" | "raffle",
    opens: local(new Date()),
    admission: "120",
    admitPerMinute: "",
    pow: true,
    entriesClose: local(soon),
    claimWindow: "600",
  });
  const [early, setEarly] = useState<Row[]>([]);
  const [schedule, setSchedule] = useState<Row[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof typeof f) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setF({ ...f, [k]: t.type === "checkbox" ? t.checked : t.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const minor = (v: string) => Math.round(parseFloat(v) * 100);
    const body: Record<string, unknown> = {
      name: f.name,
      description: f.description || undefined,
      price: { amount: minor(f.amount), currency: f.currency.toUpperCase() },
      total_units: Number(f.units),
      per_user_limit: Number(f.limit) || undefined,
      hold_seconds: Number(f.hold) || undefined,
      starts_at: iso(f.starts),
      ends_at: iso(f.ends),
    };
    if (f.mode !== "direct") {
      body.queue = {
        opens_at: iso(f.opens),
        admission_seconds: Number(f.admission) || undefined,
        admit_per_minute: Number(f.admitPerMinute) || undefined,
        proof_of_work: f.pow,
      };
    }
    if (f.mode === "raffle") {
      body.mode = "raffle";
      body.raffle = { entries_close_at: iso(f.entriesClose), claim_window_seconds: Number(f.claimWindow) || 600 };
    }
    const ea = early.filter((r) => r.a && r.b).map((r) => ({ group: r.a.trim(), starts_at: iso(r.b) }));
    if (ea.length) body.early_access = ea;
    const ps = schedule.filter((r) => r.a && r.b).map((r) => ({ at: iso(r.a), amount: minor(r.b) }));
    if (ps.length) body.price_schedule = ps;
    try {
      const drop = await api<Drop>("POST", "/admin/drops", { body: JSON.parse(JSON.stringify(body)) });
      onCreated(drop);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // Today's API refuses the drop-mode fields as unknown (issue 11 adds them).
  const unsupported = error instanceof ApiError && error.code === "invalid_request" && /unknown field/.test(error.message);
  return (
    <form class="panel form" onSubmit={submit} aria-labelledby="create-h">
      <h2 id="create-h">Create a drop</h2>
      <label>
        <span>Name</span>
        <input required maxLength={120} value={f.name} onInput={set("name")} placeholder="Aurora Runner — Midnight" />
      </label>
      <label>
        <span>Description</span>
        <textarea maxLength={2000} rows={2} value={f.description} onInput={set("description")} />
      </label>
      <div class="form-grid">
        <label>
          <span>Price</span>
          <input required type="number" min="0.01" step="0.01" inputMode="decimal" value={f.amount} onInput={set("amount")} />
        </label>
        <label>
          <span>Currency</span>
          <input required pattern="[A-Za-z]{3}" maxLength={3} value={f.currency} onInput={set("currency")} />
        </label>
        <label>
          <span>Units</span>
          <input required type="number" min="1" max="1000000" value={f.units} onInput={set("units")} />
        </label>
        <label>
          <span>Limit per shopper</span>
          <input type="number" min="1" max="100" value={f.limit} onInput={set("limit")} />
        </label>
        <label>
          <span>Hold (seconds)</span>
          <input type="number" min="1" max="3600" value={f.hold} onInput={set("hold")} />
        </label>
        <label>
          <span>Starts</span>
          <input required type="datetime-local" step="1" value={f.starts} onInput={set("starts")} />
        </label>
        <label>
          <span>Ends (optional)</span>
          <input type="datetime-local" step="1" value={f.ends} onInput={set("ends")} />
        </label>
      </div>
      <fieldset class="segmented">
        <legend>How shoppers get in</legend>
        {(["direct", "queue", "raffle"] as const).map((mode) => (
          <label class={f.mode === mode ? "on" : ""}>
            <input type="radio" name="mode" value={mode} checked={f.mode === mode} onChange={() => setF({ ...f, mode })} />
            <span>{mode === "direct" ? "First come" : mode === "queue" ? "Queue" : "Raffle"}</span>
          </label>
        ))}
      </fieldset>
      {f.mode !== "direct" && (
        <div class="form-grid">
          <label>
            <span>{f.mode === "raffle" ? "Entries open" : "Queue opens"}</span>
            <input required type="datetime-local" step="1" value={f.opens} onInput={set("opens")} />
          </label>
          {f.mode === "queue" ? (
            <>
              <label>
                <span>Admission (seconds)</span>
                <input type="number" min="1" max="3600" value={f.admission} onInput={set("admission")} />
              </label>
              <label>
                <span>Admit per minute (optional)</span>
                <input type="number" min="1" value={f.admitPerMinute} onInput={set("admitPerMinute")} />
              </label>
            </>
          ) : (
            <>
              <label>
                <span>Entries close</span>
                <input required type="datetime-local" step="1" value={f.entriesClose} onInput={set("entriesClose")} />
              </label>
              <label>
                <span>Claim window (seconds)</span>
                <input type="number" min="1" value={f.claimWindow} onInput={set("claimWindow")} />
              </label>
            </>
          )}
          <label class="check">
            <input type="checkbox" checked={f.pow} onChange={set("pow")} />
            <span>Proof of work to join</span>
          </label>
        </div>
      )}
      <Rows legend="Early access" rows={early} setRows={setEarly} aLabel="Group" bLabel="From" aType="text" bType="datetime-local" addLabel="Add early-access group" />
      <Rows legend="Price schedule" rows={schedule} setRows={setSchedule} aLabel="At" bLabel="Price" aType="datetime-local" bType="number" addLabel="Add price step" />
      {error ? (
        <Notice tone="error" title={unsupported ? "Not supported by this server yet" : "The drop wasn't created"} live>
          {unsupported ? `This API doesn't accept “${String((error as ApiError).details.field)}” yet (drop modes are rolling out). Remove it and try again.` : human(error)}
        </Notice>
      ) : null}
      <button class="btn btn-primary btn-lg" type="submit" disabled={busy}>
        {busy && <Spinner label="Creating" />}
        Create drop
      </button>
    </form>
  );
}

export function OpsPage() {
  const admin = useAdmin();
  const state = useStore(dropsStore);
  useEffect(() => {
    void loadDrops().catch(() => {});
  }, []);
  if (!admin) return <NotAdmin />;
  return (
    <div class="page">
      <h1>Operator console</h1>
      <div class="ops-layout">
        <CreateDrop onCreated={(drop) => (location.hash = `#/ops/${drop.id}`)} />
        <section class="panel" aria-labelledby="list-h">
          <h2 id="list-h">Drops</h2>
          {!state.list ? (
            <Skeleton lines={4} />
          ) : (
            <ul class="ops-list">
              {state.list.map((d) => (
                <li>
                  <a href={`#/ops/${d.id}`} class="stretched">
                    {d.name}
                  </a>
                  <span class="small muted">
                    {d.sold}/{d.total_units} sold · {d.queue ? (d.mode === "raffle" ? "raffle" : "queue") : "first come"}
                  </span>
                  <Chip status={d.status} />
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

// ---- Live view ----

function Ledger({ audit }: { audit: Audit }) {
  const segs = [
    ["sold", audit.sold],
    ["held", audit.held - audit.payment_pending],
    ["pending", audit.payment_pending],
    ["expired", audit.expired_pending],
    ["available", audit.available],
  ] as const;
  return (
    <section class="panel ledger" aria-labelledby="ledger-h">
      <div class={`consistency ${audit.consistent ? "is-ok" : "is-bad"}`} role="status" aria-live="polite">
        <span class="consistency-mark" aria-hidden="true">
          {audit.consistent ? "✓" : "✗"}
        </span>
        <div>
          <strong>{audit.consistent ? "LEDGER CONSISTENT" : "LEDGER INCONSISTENT"}</strong>
          <span class="block small">
            available + held + expired pending + sold = {audit.available + audit.held + audit.expired_pending + audit.sold} of {audit.total_units} · checked{" "}
            {timeOfDay(audit.checked_at)}
          </span>
        </div>
      </div>
      <h2 id="ledger-h">Ledger</h2>
      <div class="stack-bar" aria-hidden="true">
        {segs.map(([k, v]) => (v > 0 ? <span class={`seg seg-${k}`} style={{ flexGrow: v }} title={`${k} ${v}`} /> : null))}
      </div>
      <ul class="legend" aria-hidden="true">
        <li style={{ "--c": "var(--lime)" } as never}>sold</li>
        <li style={{ "--c": "var(--magenta)" } as never}>held</li>
        <li style={{ "--c": "var(--amber)" } as never}>paying</li>
        <li style={{ "--c": "var(--red)" } as never}>expired, returning</li>
        <li style={{ "--c": "#3a4466" } as never}>available</li>
      </ul>
      <dl class="stats stats-4">
        <Stat label="Available" value={<span class="num">{audit.available}</span>} />
        <Stat label="Held" value={<span class="num">{audit.held}</span>} hint={audit.payment_pending ? `${audit.payment_pending} paying` : undefined} />
        <Stat label="Expired, not yet returned" value={<span class="num">{audit.expired_pending}</span>} tone={audit.expired_pending ? "warn" : undefined} />
        <Stat label="Sold" value={<span class="num">{audit.sold}</span>} />
        <Stat label="Refunded after sale" value={<span class="num">{audit.refunded_after_sale}</span>} />
        <Stat label="Disputed" value={<span class="num">{audit.disputed}</span>} tone={audit.disputed ? "warn" : undefined} />
        <Stat label="Total" value={<span class="num">{audit.total_units}</span>} />
        <Stat label="Shards" value={<span class="num">{audit.shards.length}</span>} />
      </dl>
      {audit.problems.length > 0 && (
        <Notice tone="error" title="Problems">
          <ul>
            {audit.problems.map((p) => (
              <li>{p}</li>
            ))}
          </ul>
        </Notice>
      )}
      <details>
        <summary>Shards</summary>
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Shards">
          <table class="shards">
            <caption class="sr-only">Per-shard counters against reservations and orders</caption>
            <thead>
              <tr>
                <th scope="col">Shard</th>
                <th scope="col">Units</th>
                <th scope="col">Avail.</th>
                <th scope="col">Held</th>
                <th scope="col">Sold</th>
                <th scope="col">Held by res.</th>
                <th scope="col">Sold by orders</th>
              </tr>
            </thead>
            <tbody>
              {audit.shards.map((s) => (
                <tr class={s.held !== s.held_by_reservations || s.sold !== s.sold_by_orders ? "bad" : ""}>
                  <td>{s.shard}</td>
                  <td>{s.units}</td>
                  <td>{s.available}</td>
                  <td>{s.held}</td>
                  <td>{s.sold}</td>
                  <td>{s.held_by_reservations}</td>
                  <td>{s.sold_by_orders}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

type Support = "unknown" | "yes" | "no";

/** PATCH /admin/drops/{id} (issue 11): settings can change until the drop opens. */
function EditDrop({ drop }: { drop: Drop }) {
  const toLocal = (value?: string) => (value ? local(new Date(value)).slice(0, 19) : "");
  const [f, setF] = useState({ name: drop.name, description: drop.description, starts: toLocal(drop.starts_at), ends: toLocal(drop.ends_at), opens: toLocal(drop.queue?.opens_at) });
  const [state, setState] = useState<{ busy?: boolean; tone?: "ok" | "warn" | "error"; message?: string }>({});
  const opened = Date.parse(drop.queue?.opens_at ?? drop.starts_at) <= Date.now();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const save = async (e: Event) => {
    e.preventDefault();
    setState({ busy: true });
    const body: Record<string, unknown> = {};
    if (f.name !== drop.name) body.name = f.name;
    if (f.description !== drop.description) body.description = f.description;
    if (f.starts !== toLocal(drop.starts_at)) body.starts_at = iso(f.starts);
    if (f.ends !== toLocal(drop.ends_at)) body.ends_at = iso(f.ends) ?? null;
    // The queue is replaced as a whole: send its other settings unchanged.
    if (drop.queue && f.opens !== toLocal(drop.queue.opens_at)) body.queue = { ...drop.queue, opens_at: iso(f.opens) };
    if (!Object.keys(body).length) {
      setState({ tone: "ok", message: "Nothing changed." });
      return;
    }
    try {
      await api("PATCH", `/admin/drops/${drop.id}`, { body });
      await loadDrop(drop.id);
      setState({ tone: "ok", message: "Saved." });
    } catch (err) {
      if (missingRoute(err)) {
        setState({ tone: "warn", message: `Editing isn't available on this API yet (PATCH /admin/drops/{id} answered ${(err as ApiError).status}).` });
      } else setState({ tone: "error", message: human(err) });
    }
  };
  return (
    <details class="panel edit">
      <summary>Edit settings{opened ? " (locked: the drop has opened)" : ""}</summary>
      <form class="form" onSubmit={save}>
        <label>
          <span>Name</span>
          <input required maxLength={120} value={f.name} onInput={set("name")} disabled={opened} />
        </label>
        <label>
          <span>Description</span>
          <textarea maxLength={2000} rows={2} value={f.description} onInput={set("description")} disabled={opened} />
        </label>
        <div class="form-grid">
          {drop.queue && (
            <label>
              <span>Queue opens</span>
              <input type="datetime-local" step="1" value={f.opens} onInput={set("opens")} disabled={opened} />
            </label>
          )}
          <label>
            <span>Starts</span>
            <input type="datetime-local" step="1" value={f.starts} onInput={set("starts")} disabled={opened} />
          </label>
          <label>
            <span>Ends</span>
            <input type="datetime-local" step="1" value={f.ends} onInput={set("ends")} disabled={opened} />
          </label>
        </div>
        {state.message && <Notice tone={state.tone} live>{state.message}</Notice>}
        <button class="btn btn-ghost" type="submit" disabled={opened || state.busy}>
          Save changes
        </button>
      </form>
    </details>
  );
}

export function OpsDropPage({ id }: { id: string }) {
  const admin = useAdmin();
  const drop = useStore(dropsStore).byId[id];
  const queue = useStore(queues)[id];
  const [audit, setAudit] = useState<Audit | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<AdminEvent[] | null>(null);
  const [eventsSupport, setEventsSupport] = useState<Support>("unknown");
  const [pauseState, setPauseState] = useState<{ busy?: boolean; message?: string; tone?: "ok" | "warn" | "error"; unsupported?: boolean }>({});
  const [integrity, setIntegrity] = useState<Record<string, unknown> | null>(null);
  const [kick, setKick] = useState(0);
  useNow();

  useEffect(() => watchDrop(id), [id]);
  // The operator's console is one of the few pages that keeps a socket (cadence.ts `wantsSocket`).
  useEffect(() => needLive(), []);
  useEffect(() => onLive((m) => m.type === "drop" && m.drop_id === id && setKick((k) => k + 1)), [id]);

  useLoop(async () => {
    if (!admin) return 60_000;
    try {
      const [a, d] = await Promise.all([api<Audit>("GET", `/admin/drops/${id}/audit`), loadDrop(id)]);
      setAudit(a);
      setError(null);
      if (d.queue) await loadQueue(id).catch(() => {});
      if (Date.parse(d.starts_at) <= Date.now() && d.queue) {
        api<Record<string, unknown>>("GET", `/drops/${id}/integrity`, { auth: false }).then(setIntegrity, () => {});
      }
      if (eventsSupport !== "no") {
        api<{ events: AdminEvent[] }>("GET", `/admin/drops/${id}/events`).then(
          (r) => {
            setEvents(r.events);
            setEventsSupport("yes");
          },
          (e) => missingRoute(e) && setEventsSupport((s) => (s === "yes" ? s : "no")),
        );
      }
      return 2_000;
    } catch (e) {
      setError(e);
      throw e;
    }
  }, [id, admin?.sub, kick]);

  if (!admin) return <NotAdmin />;
  const paused = Boolean(drop?.paused) || queue?.phase === "paused";
  const toggle = async () => {
    const action = paused ? "resume" : "pause";
    setPauseState({ busy: true });
    try {
      await api("POST", `/admin/drops/${id}/${action}`);
      setPauseState({ message: action === "pause" ? "Paused: admission and claims stopped." : "Resumed.", tone: "ok" });
      await loadDrop(id);
    } catch (e) {
      if (missingRoute(e)) {
        setPauseState({ unsupported: true, tone: "warn", message: `Pause / resume isn't available on this API yet (POST /admin/drops/{id}/${action} answered ${(e as ApiError).status}).` });
      } else {
        setPauseState({ tone: "error", message: human(e) });
      }
    }
  };
  const heldExpiring = audit ? audit.held - audit.payment_pending : 0;
  return (
    <div class="page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link to="/ops">Operator</Link> <span aria-hidden="true">/</span> <span aria-current="page">{drop?.name ?? "Drop"}</span>
      </nav>
      <div class="ops-head">
        <div>
          <h1>{drop?.name ?? "Drop"}</h1>
          {drop && (
            <p class="muted small">
              <Chip status={drop.status} live={drop.status === "live"} /> {price(drop.price)} · starts {dateTime(drop.starts_at)}
              {drop.queue ? ` · queue opens ${dateTime(drop.queue.opens_at)}${drop.queue.proof_of_work ? " · proof of work" : ""}` : " · first come"}
              {" · "}
              <Link to={`/drop/${id}`}>Shopper view</Link>
            </p>
          )}
        </div>
        <div class="ops-actions">
          <button class={`btn ${paused ? "btn-primary" : "btn-danger"}`} onClick={toggle} disabled={pauseState.busy} data-pause-support={pauseState.unsupported ? "no" : "unknown"}>
            {pauseState.busy && <Spinner label="Working" />}
            {paused ? "Resume" : "Pause"}
          </button>
        </div>
      </div>
      {pauseState.message && (
        <Notice tone={pauseState.tone} title={pauseState.unsupported ? "Not available yet" : undefined} live>
          {pauseState.message}
        </Notice>
      )}
      {paused && <Notice tone="warn" title="Paused">Admission and claims are stopped until you resume.</Notice>}
      {error && !audit ? (
        <Notice tone="error" title="Can't load the ledger" live>
          {human(error)}
        </Notice>
      ) : null}
      <div class="ops-grid">
        <div class="ops-main">
          {audit ? <Ledger audit={audit} /> : <section class="panel"><Skeleton lines={6} /></section>}
          {drop && <EditDrop drop={drop} key={drop.id} />}
        </div>
        <div class="ops-side">
          <section class="panel" aria-labelledby="queue-h">
            <h2 id="queue-h">Queue</h2>
            {drop?.queue && queue ? (
              <dl class="stats stats-2">
                <Stat label="Phase" value={queue.phase.replace("_", " ")} />
                <Stat label="Waiting (depth)" value={<span class="num">{queue.waiting}</span>} />
                <Stat label="Serving position" value={<span class="num">#{queue.serving}</span>} />
                <Stat label="Admitted / minute" value={<span class="num">{queue.admitted_per_minute}</span>} />
                <Stat label="Cohort drawn" value={<span class="num">{queue.cohort_size ?? "—"}</span>} />
                <Stat label="Available" value={<span class="num">{queue.available}</span>} />
              </dl>
            ) : drop && !drop.queue ? (
              <p class="muted">First come, first served — no queue.</p>
            ) : (
              <Skeleton />
            )}
            {queue && <p class="fine mono break">seed commitment {queue.seed_commitment}</p>}
          </section>
          <section class="panel" aria-labelledby="holds-h">
            <h2 id="holds-h">Holds</h2>
            {audit ? (
              <dl class="stats stats-2">
                <Stat label="In their window" value={<span class="num">{heldExpiring}</span>} hint={drop ? `expire within ${Math.round(drop.hold_seconds / 60)} min` : undefined} />
                <Stat label="Paying (pending)" value={<span class="num">{audit.payment_pending}</span>} />
                <Stat label="Expired, returning" value={<span class="num">{audit.expired_pending}</span>} tone={audit.expired_pending ? "warn" : undefined} hint="the sweeper returns them" />
                <Stat label="Revenue" value={drop ? money(audit.sold * drop.price.amount, drop.price.currency) : "—"} hint="at list price" />
              </dl>
            ) : (
              <Skeleton />
            )}
          </section>
          {integrity && (
            <section class="panel" aria-labelledby="int-h">
              <h2 id="int-h">Anti-bot integrity</h2>
              <IntegrityView report={integrity} />
            </section>
          )}
          <section class="panel" aria-labelledby="events-h">
            <h2 id="events-h">Operator events</h2>
            {eventsSupport === "no" ? (
              <p class="muted small">The event log isn't available on this API yet.</p>
            ) : !events ? (
              <Skeleton lines={2} />
            ) : !events.length ? (
              <p class="muted small">Nothing yet.</p>
            ) : (
              <ol class="events">
                {events.slice(-20).reverse().map((e) => (
                  <li>
                    <time dateTime={e.at}>{dateTime(e.at)}</time> <strong>{e.action}</strong> <span class="muted">by {e.actor}</span>
                  </li>
                ))}
              </ol>
            )}
          </section>
        </div>
      </div>
    </div>
  );
}

function IntegrityView({ report }: { report: Record<string, unknown> }) {
  const joins = (report.joins ?? {}) as Record<string, number | Record<string, number>>;
  const refused = (joins.refused ?? {}) as Record<string, number>;
  const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0);
  return (
    <dl class="stats stats-2">
      <Stat label="Joins received" value={<span class="num">{String(joins.received ?? 0)}</span>} />
      <Stat label="Tickets" value={<span class="num">{String(joins.tickets ?? 0)}</span>} />
      <Stat label="Joins refused" value={<span class="num">{refusedTotal}</span>} hint={Object.entries(refused).filter(([, v]) => v).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(" · ") || undefined} />
      <Stat label="Admitted / claimed" value={<span class="num">{String(report.admitted ?? 0)} / {String(report.claimed ?? 0)}</span>} />
    </dl>
  );
}
