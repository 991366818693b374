// "Verify my place": fetch the published proof and recompute the draw here, in this browser.
import { useEffect, useState } from "preact/hooks";
import { api, human } from "../api";
import { auth } from "../auth";
import { loadDrop, loadTicket, mine } from "../data";
import { dateTime, int } from "../format";
import { useStore } from "../store";
import type { DrawProof } from "../types";
import { Link, Notice, Spinner } from "../ui";
import { checkDraw, type DrawCheck } from "../verify";

export function VerifyPage({ id }: { id: string }) {
  const { identity } = useStore(auth);
  const m = useStore(mine);
  const [proof, setProof] = useState<DrawProof | null>(null);
  const [check, setCheck] = useState<DrawCheck | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const ticket = m.tickets[id];

  useEffect(() => {
    void loadDrop(id).then((d) => setName(d.name)).catch(() => {});
    if (identity) void loadTicket(id).catch(() => {});
  }, [id, identity?.sub]);

  useEffect(() => {
    let cancelled = false;
    setCheck(null);
    api<DrawProof>("GET", `/drops/${id}/queue/proof`, { auth: false })
      .then(async (p) => {
        if (cancelled) return;
        setProof(p);
        const result = await checkDraw(p, ticket?.id);
        if (!cancelled) setCheck(result);
      })
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [id, ticket?.id]);

  const mineAt = check?.myPosition ?? null;
  const rows: { pos: number; id: string; key: string; gapBefore: boolean }[] = [];
  if (check) {
    const list = check.recomputed;
    const mineIndex = list.findIndex((e) => e.position === mineAt);
    const show = new Set<number>();
    for (let i = 0; i < Math.min(5, list.length); i++) show.add(i);
    if (mineIndex >= 0) for (let i = Math.max(0, mineIndex - 3); i < Math.min(list.length, mineIndex + 3); i++) show.add(i);
    let last = -1;
    for (const i of [...show].sort((a, b) => a - b)) {
      rows.push({ pos: list[i].position, id: list[i].id, key: list[i].key, gapBefore: last >= 0 && i !== last + 1 });
      last = i;
    }
  }
  const ok = check && check.commitmentOk && check.orderOk;
  return (
    <div class="page narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link to="/">Drops</Link> <span aria-hidden="true">/</span> <Link to={`/drop/${id}`}>{name || "Drop"}</Link> <span aria-hidden="true">/</span>{" "}
        <span aria-current="page">Verify</span>
      </nav>
      <h1>Verify my place</h1>
      <p class="lede">
        Before the start we published a commitment to a secret seed. At the start the seed was revealed and every ticket in the
        waiting room was ordered by HMAC-SHA256 of its id, keyed with that seed. Your browser now recomputes all of it with Web
        Crypto — no need to trust us.
      </p>
      {error ? (
        <Notice tone={(error as { code?: string }).code === "draw_pending" ? "info" : "error"} title="No proof yet" live>
          {human(error)}
        </Notice>
      ) : !check ? (
        <p>
          <Spinner label="Recomputing the draw" /> Recomputing the draw…
        </p>
      ) : (
        <>
          <div class={`verdict ${ok ? "verdict-ok" : "verdict-bad"}`} role="status">
            <span class="verdict-mark" aria-hidden="true">
              {ok ? "✓" : "✗"}
            </span>
            <div>
              <strong>{ok ? "The draw checks out." : "The draw does NOT match the proof."}</strong>
              <span class="block small">
                {int(check.total)} tickets recomputed in {Math.max(1, Math.round(check.ms))} ms.
              </span>
            </div>
          </div>
          <ol class="checks">
            <li class={check.commitmentOk ? "ok" : "bad"}>
              <strong>{check.commitmentOk ? "✓" : "✗"} Seed matches its commitment.</strong>
              <span class="mono small break">SHA-256(seed) = {check.computedCommitment}</span>
              <span class="mono small break">published = {proof!.seed_commitment}</span>
            </li>
            <li class={check.orderOk ? "ok" : "bad"}>
              <strong>
                {check.orderOk ? "✓" : "✗"} Order recomputed: {check.orderOk ? "identical to the published cohort" : `${check.mismatches} positions differ`}.
              </strong>
            </li>
            <li class={mineAt ? "ok" : ""}>
              <strong>
                {mineAt
                  ? `✓ Your ticket is #${int(mineAt)} in the draw${ticket?.position === mineAt ? " — exactly the place you were given" : ""}.`
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
                      {i > 0 && (r.gapBefore || r.pos !== rows[i - 1].pos + 1) && (
                        <tr class="gap" aria-hidden="true">
                          <td colSpan={3}>⋯</td>
                        </tr>
                      )}
                      <tr class={r.pos === mineAt ? "me" : ""} aria-current={r.pos === mineAt ? "true" : undefined}>
                        <td class="num">#{r.pos}</td>
                        <td class="mono">
                          {r.id.slice(0, 12)}…{r.pos === mineAt && <span class="chip chip-you">You</span>}
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
              Seed <span class="mono break">{proof!.seed}</span>
            </p>
            <pre class="mono small">{`commitment = sha256(hex_decode(seed))
key(ticket) = hmac_sha256(hex_decode(seed), utf8(ticket_id))
order      = sort cohort by hex(key) ascending`}</pre>
            <p class="small muted">Proof fetched {dateTime(new Date().toISOString())} from /drops/{id}/queue/proof.</p>
          </details>
        </>
      )}
    </div>
  );
}
