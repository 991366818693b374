// "Verify my place": recompute the queue's draw in the browser from the published proof.
// The commitment is SHA-256(seed bytes); the cohort is ordered by ascending lowercase hex
// HMAC-SHA256(key = seed bytes, message = ticket id as UTF-8) — shared/src/domain/queue/draw.rs.
import type { DrawProof } from "./types";

const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (h: string) => new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));

export interface DrawCheck {
  commitmentOk: boolean;
  computedCommitment: string;
  orderOk: boolean;
  /** The cohort as recomputed here (ticket id and its draw key), position 1 first. */
  recomputed: { id: string; key: string }[];
  /** 1-based; null when the ticket is not in the cohort (joined after the start). */
  myPosition: number | null;
  mismatches: number;
  ms: number;
}

export async function checkDraw(proof: DrawProof, myTicket?: string): Promise<DrawCheck> {
  const start = performance.now();
  const seed = bytes(proof.seed);
  const computedCommitment = hex(await crypto.subtle.digest("SHA-256", seed));
  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const encoder = new TextEncoder();
  const keyed = await Promise.all(
    proof.cohort.map(async (id) => ({ id, key: hex(await crypto.subtle.sign("HMAC", key, encoder.encode(id))) })),
  );
  const recomputed = [...keyed].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
  let mismatches = 0;
  recomputed.forEach((entry, i) => {
    if (entry.id !== proof.cohort[i]) mismatches++;
  });
  const index = myTicket ? recomputed.findIndex((e) => e.id === myTicket) : -1;
  return {
    commitmentOk: computedCommitment === proof.seed_commitment,
    computedCommitment,
    orderOk: mismatches === 0,
    recomputed,
    myPosition: index >= 0 ? index + 1 : null,
    mismatches,
    ms: performance.now() - start,
  };
}
