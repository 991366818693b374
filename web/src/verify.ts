// "Verify my place": the draw's proof (the manifest of GET /drops/{id}/queue/proof and its
// immutable pages) is checked in a Web Worker, verify.worker.ts, so that a million tickets never
// hold up the page. The rule is the README's "Verify a draw yourself".
import { config } from "./config";
import type { ProofManifest } from "./types";

/** What a failure is about, in the order the page lists the checks. */
export type Check = "commitment" | "pages" | "order" | "sections";

export interface Failure {
  check: Check;
  /** The page it was found in, if any. */
  page?: string;
  message: string;
}

export interface DrawEntry {
  position: number;
  id: string;
  key: string;
}

export interface Progress {
  pages: number;
  totalPages: number;
  tickets: number;
}

export interface DrawCheck {
  /** Null: every check passed. */
  failure: Failure | null;
  computedCommitment: string;
  /** Tickets checked (all of them when the draw checks out). */
  tickets: number;
  /** Pages checked, of the manifest's `totalPages`. */
  pages: number;
  totalPages: number;
  /** Null when the ticket is in neither section (it joined after the draw) or none was given. */
  myPosition: number | null;
  /** The first positions and those around the shopper's ticket, recomputed, in position order. */
  rows: DrawEntry[];
  ms: number;
}

export interface VerifyRequest {
  manifest: ProofManifest;
  /** The API's absolute base URL: the pages' URLs are relative to it. */
  apiBase: string;
  ticket?: string;
}

export type VerifyMessage = ({ type: "progress" } & Progress) | { type: "done"; check: DrawCheck };

/** Starts checking the proof in a worker; `cancel` stops it (leaving the page, another ticket). */
export function verifyDraw(manifest: ProofManifest, ticket: string | undefined, onProgress: (progress: Progress) => void): { result: Promise<DrawCheck>; cancel: () => void } {
  const worker = new Worker(new URL("./verify.worker.ts", import.meta.url), { type: "module", name: "verify-draw" });
  const result = new Promise<DrawCheck>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<VerifyMessage>) => {
      const message = event.data;
      if (message.type === "progress") onProgress(message);
      else {
        resolve(message.check);
        worker.terminate();
      }
    };
    worker.onerror = (event) => {
      reject(new Error(event.message || "The verification stopped unexpectedly."));
      worker.terminate();
    };
  });
  const apiBase = new URL(config.api || "/", location.href).href.replace(/\/$/, "");
  worker.postMessage({ manifest, apiBase, ticket } satisfies VerifyRequest);
  return { result, cancel: () => worker.terminate() };
}
