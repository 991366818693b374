// "Verify my place": recompute the queue's draw in the browser from the published proof.
// The commitment is SHA-256(seed bytes); the cohort is ordered by ascending lowercase hex
// HMAC-SHA256(key = seed bytes, message = ticket id as UTF-8) — shared/src/domain/queue/draw.rs.
import type { DrawProof } from "./types";

const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (h: string) => new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));

export interface DrawEntry {
  id: string;
  key: string;
  position: number;
}

export interface DrawCheck {
  commitmentOk: boolean;
  computedCommitment: string;
  orderOk: boolean;
  /** Every drawn ticket as recomputed here (the early-access cohort first, from position 1; then
   * the cohort from `cohort_start`), in position order. */
  recomputed: DrawEntry[];
  /** Null when the ticket is in neither cohort (it joined after the draw). */
  myPosition: number | null;
  mismatches: number;
  total: number;
  ms: number;
}

export async function checkDraw(proof: DrawProof, myTicket?: string): Promise<DrawCheck> {
  const start = performance.now();
  const seed = bytes(proof.seed);
  const computedCommitment = hex(await crypto.subtle.digest("SHA-256", seed));
  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const encoder = new TextEncoder();
  let mismatches = 0;
  // One list: recompute its keys, sort, compare with the published order, number from `first`.
  const redraw = async (published: string[], first: number): Promise<DrawEntry[]> => {
    const keyed = await Promise.all(published.map(async (id) => ({ id, key: hex(await crypto.subtle.sign("HMAC", key, encoder.encode(id))) })));
    keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    return keyed.map((entry, i) => {
      if (entry.id !== published[i]) mismatches++;
      return { ...entry, position: first + i };
    });
  };
  const recomputed = [...(await redraw(proof.early_cohort ?? [], 1)), ...(await redraw(proof.cohort, proof.cohort_start ?? 1))];
  const mine = myTicket ? recomputed.find((e) => e.id === myTicket) : undefined;
  return {
    commitmentOk: computedCommitment === proof.seed_commitment,
    computedCommitment,
    orderOk: mismatches === 0,
    recomputed,
    myPosition: mine ? mine.position : null,
    mismatches,
    total: recomputed.length,
    ms: performance.now() - start,
  };
}
