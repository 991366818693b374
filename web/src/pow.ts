// Proof of work to join a queue, with the official ALTCHA solver (`altcha/lib`: the same
// solveChallenge + PBKDF2 WebCrypto key derivation the widget's workers run). Loaded only when a
// shopper joins a queue that asks for it. Progress is real: every key derivation is counted.
// The payload is built exactly as the widget builds it: base64 of {challenge, solution}.
import { pbkdf2, solveChallenge } from "altcha/lib";
import type { Challenge } from "altcha/lib";

export interface PowProgress {
  tries: number;
  /** The expected total so far (grows if the work runs long): for the progress bar. */
  expected: number;
  elapsedMs: number;
}

/** Mean tries at rest is 1,000 (counter drawn from 0..2,000): the bar targets the top of that range. */
const EXPECTED = 2000;

export async function solve(challenge: Challenge, onProgress: (p: PowProgress) => void, signal?: AbortSignal): Promise<string> {
  const start = performance.now();
  let tries = 0;
  let expected = EXPECTED;
  let last = 0;
  const report = () => {
    const now = performance.now();
    if (now - last < 80) return;
    last = now;
    while (tries > expected * 0.92) expected *= 2;
    onProgress({ tries, expected, elapsedMs: now - start });
  };
  const deriveKey: typeof pbkdf2.deriveKey = async (parameters, salt, password) => {
    tries++;
    report();
    return pbkdf2.deriveKey(parameters, salt, password);
  };
  // Two interleaved solvers (counters i, i+2, …) keep WebCrypto busy on two cores, as the
  // widget's workers do; the first to find the counter wins and stops the other.
  const lanes = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
  const controller = new AbortController();
  signal?.addEventListener("abort", () => controller.abort());
  const runs = Array.from({ length: lanes }, (_, i) =>
    solveChallenge({ challenge, deriveKey, controller, counterStart: i, counterStep: lanes, timeout: 120_000 }).then((s) => {
      if (!s) throw new Error("no solution");
      return s;
    }),
  );
  const solution = await Promise.any(runs).finally(() => controller.abort());
  onProgress({ tries, expected: tries, elapsedMs: performance.now() - start });
  return btoa(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution }));
}
