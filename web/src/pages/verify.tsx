// "Verify my place": fetch the published proof's manifest and recompute the draw here, in this
// browser, page by page in a Web Worker (verify.ts).
import { useEffect, useState } from "preact/hooks";
import { api, human } from "../api";
import { auth } from "../auth";
import { loadDrop, loadTicket, mine } from "../data";
import { dateTime, int } from "../format";
import { useStore } from "../store";
import type { ProofManifest } from "../types";
import { Link, Notice, Spinner } from "../ui";
import { type Check, type DrawCheck, type Progress, verifyDraw } from "../verify";

/** A check's state: passed, failed, or not reached (an earlier page failed first). */
function status(check: DrawCheck, which: Check): "ok" | "bad" | "" {
  if (!check.failure) return "ok";
  if (check.failure.check === which) return "bad";
  return which === "commitment" ? "ok" : "";
}

const MARK = { ok: "✓", bad: "✗", "": "–" };

export function VerifyPage({ id }: { id: string }) {
  const { identity } = useStore(auth);
  const m = useStore(mine);
  const [manifest, setManifest] = useState<ProofManifest | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [check, setCheck] = useState<DrawCheck | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const ticket = m.tickets[id];

  useEffect(() => {
    void loadDrop(id).then((d) => setName(d.name)).catch(() => {});
    if (identity) void loadTicket(id).catch(() => {});
  }, [id, identity?.sub]);

  useEffect(() => {
    let cancel = () => {};
    let cancelled = false;
    setCheck(null);
    setProgress(null);
    // The manifest never changes after the draw: the browser may revalidate it from its cache.
    api<ProofManifest>("GET", `/drops/${id}/queue/proof`, { auth: false, conditional: true })
      .then((p) => {
        if (cancelled) return;
        setManifest(p);
        const run = verifyDraw(p, ticket?.id, setProgress);
        cancel = run.cancel;
        return run.result.then((result) => !cancelled && setCheck(result));
      })
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
      cancel();
    };
  }, [id, ticket?.id]);

  const mineAt = check?.myPosition ?? null;
  const rows = check?.rows ?? [];
  const total = manifest ? manifest.early.size + manifest.cohort.size : 0;
  const pct = progress && progress.totalPages > 0 ? Math.floor((100 * progress.pages) / progress.totalPages) : 0;
  const ok = check && !check.failure;
  return (
    <div class="page narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link to="/">Drops</Link> <span aria-hidden="true">/</span> <Link to={`/drop/${id}`}>{name || "Drop"}</Link> <span aria-hidden="true">/</span>{" "}
        <span aria-current="page">Verify</span>
      </nav>
      <h1>Verify my place</h1>
      <p class="lede">
        Before the start we published a commitment to a secret seed. At the start the seed was revealed and every ticket in the
        waiting room was ordered by HMAC-SHA256 of its id, keyed with that seed. Your browser now downloads the published order
        page by page and recomputes all of it — no need to trust us.
      </p>
      {error ? (
        <Notice tone={(error as { code?: string }).code === "draw_pending" ? "info" : "error"} title="No proof yet" live>
          {human(error)}
        </Notice>
      ) : !check ? (
        <div class="verdict verdict-pending">
          <span class="verdict-mark" aria-hidden="true">
            …
          </span>
          <div>
            <strong>
              <Spinner label="Recomputing the draw" /> Recomputing the draw…
            </strong>
            {progress && (
              <>
                <div class="progress" role="progressbar" aria-label="Pages of the draw checked" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
                  <span style={{ width: `${pct}%` }} />
                </div>
                <span class="block small num">
                  {int(progress.pages)} of {int(progress.totalPages)} pages · {int(progress.tickets)} of {int(total)} tickets checked
                </span>
              </>
            )}
          </div>
        </div>
      ) : (
        <>
          <div class={`verdict ${ok ? "verdict-ok" : "verdict-bad"}`} role="status">
            <span class="verdict-mark" aria-hidden="true">
              {ok ? "✓" : "✗"}
            </span>
            <div>
              <strong>{ok ? "The draw checks out." : "The draw does NOT match the proof."}</strong>
              <span class="block small">
                {ok
                  ? `${int(check.tickets)} tickets in ${int(check.pages)} pages recomputed in ${int(Math.max(1, Math.round(check.ms)))} ms.`
                  : `Stopped after ${int(check.tickets)} tickets${check.failure?.page ? `, at page ${check.failure.page}` : ""}.`}
              </span>
            </div>
          </div>
          <ol class="checks">
            <li class={status(check, "commitment")}>
              <strong>{MARK[status(check, "commitment")]} Seed matches its commitment.</strong>
              <span class="mono small break">SHA-256(seed) = {check.computedCommitment || "—"}</span>
              <span class="mono small break">published = {manifest!.seed_commitment}</span>
              {check.failure?.check === "commitment" && <span class="small">{check.failure.message}</span>}
            </li>
            <li class={status(check, "pages")}>
              <strong>
                {MARK[status(check, "pages")]}{" "}
                {ok
                  ? `Every page is the published one: ${int(check.pages)} pages, each with its SHA-256 and ticket count.`
                  : check.failure?.check === "pages"
                    ? "A page is not the published one."
                    : `Pages checked before stopping: ${int(check.pages)} of ${int(check.totalPages)}.`}
              </strong>
              {check.failure?.check === "pages" && <span class="small break">{check.failure.message}</span>}
            </li>
            <li class={status(check, "order")}>
              <strong>
                {MARK[status(check, "order")]} Order recomputed: {ok ? "identical to the published order" : check.failure?.check === "order" ? "it differs" : "not finished"}.
              </strong>
              {check.failure?.check === "order" && <span class="small break">{check.failure.message}</span>}
            </li>
            <li class={status(check, "sections")}>
              <strong>
                {MARK[status(check, "sections")]} Every ticket once: {manifest!.early.size > 0 ? "early access first, then the cohort, " : ""}places 1 to {int(total)}.
              </strong>
              {check.failure?.check === "sections" && <span class="small break">{check.failure.message}</span>}
            </li>
            <li class={mineAt ? "ok" : ""}>
              <strong>
                {mineAt
                  ? `✓ Your ticket is #${int(mineAt)} in the draw${ticket?.position === mineAt ? " — exactly the place you were given" : ""}.`
                  : !ok && ticket
                    ? "Your ticket was not reached."
                    : ticket
                      ? "Your ticket joined after the draw, so it queues in arrival order after the cohort."
                      : identity
                        ? "You have no ticket in this queue."
                        : "Sign in to find your own ticket."}
              </strong>
            </li>
          </ol>
          {rows.length > 0 && (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="The recomputed draw">
              <table class="draw">
                <caption class="sr-only">The recomputed draw around your ticket</caption>
                <thead>
                  <tr>
                    <th scope="col">Place</th>
                    <th scope="col">Ticket</th>
                    <th scope="col">HMAC key</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r, i) => (
                    <>
                      {i > 0 && r.position !== rows[i - 1].position + 1 && (
                        <tr class="gap" aria-hidden="true">
                          <td colSpan={3}>⋯</td>
                        </tr>
                      )}
                      <tr class={r.position === mineAt ? "me" : ""} aria-current={r.position === mineAt ? "true" : undefined}>
                        <td class="num">#{r.position}</td>
                        <td class="mono">
                          {r.id.slice(0, 12)}…{r.position === mineAt && <span class="chip chip-you">You</span>}
                        </td>
                        <td class="mono muted">{r.key.slice(0, 16)}…</td>
                      </tr>
                    </>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <details class="raw">
            <summary>Do it yourself</summary>
            <p class="small">
              Seed <span class="mono break">{manifest!.seed}</span>
            </p>
            <pre class="mono small">{`commitment  = sha256(hex_decode(seed))
key(ticket) = hmac_sha256(hex_decode(seed), utf8(ticket_id))
page e-xx   = early-access tickets whose hex key starts with xx
page m-xx   = the cohort's tickets whose hex key starts with xx
each page   = ticket ids in ascending (key, id) order, one a line
place       = section start + index in its pages, concatenated`}</pre>
            <p class="small">
              From a terminal: <span class="mono break">python3 tools/verify_draw.py API {id} --ticket YOUR_TICKET</span> (one file in Burst's repository,
              Python's standard library only).
            </p>
            <p class="small muted">Proof fetched {dateTime(new Date().toISOString())} from /drops/{id}/queue/proof.</p>
          </details>
        </>
      )}
    </div>
  );
}
