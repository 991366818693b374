// Checks a draw's proof off the main thread (README "Verify a draw yourself"): the seed against its
// commitment, the manifest's structure, then the pages in order — a few downloads ahead, each
// checked against its SHA-256 and count, each ticket's draw key against the page's prefix and the
// previous ticket — keeping only the page at hand, the last key of each section and, to find a
// ticket in both sections, the early page of the current prefix. tools/verify_draw.py is the
// same check from the command line.
import { DrawKeys, keyHex } from "./drawkey";
import type { ProofPage, ProofSection } from "./types";
import type { Check, DrawCheck, DrawEntry, VerifyMessage, VerifyRequest } from "./verify";

const LINE = 33; // a ticket id's 32 hex chars and "\n"
const DOWNLOADS_AHEAD = 4;
const TOP_ROWS = 5; // positions shown from the top of the draw
const ROWS_BEFORE = 3; // around the shopper's ticket
const ROWS_AFTER = 2;
const NEWLINE = 10;
const HEX_DIGIT = new Uint8Array(256);
for (const c of "0123456789abcdef") HEX_DIGIT[c.charCodeAt(0)] = 1;
const HEX64 = /^[0-9a-f]{64}$/;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

class Failed extends Error {
  constructor(
    readonly check: Check,
    message: string,
    readonly page?: string,
  ) {
    super(page ? `Page ${page}: ${message}` : message);
  }
}

interface Section {
  name: "early" | "cohort";
  letter: "e" | "m";
  start: number;
  size: number;
  pages: ProofPage[];
  checked: number;
  /** The last ticket checked: its key and id, for the order across pages. */
  hasLast: boolean;
  lastKey: Int32Array;
  lastId: Uint8Array;
  /** The last rows of the previous page (the shopper's ticket may open the next one). */
  tail: { position: number; id: string }[];
  /** Rows still wanted after the shopper's ticket, from the section's next page. */
  owed: number;
}

/** A page's ticket ids (its lines, each checked to be 32 hex and a newline). */
const lines = (text: string, count: number) => Array.from({ length: count }, (_, i) => text.slice(i * LINE, i * LINE + 32));

const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

function readSection(manifest: Record<string, unknown>, name: "early" | "cohort"): Section {
  const document = manifest[name] as ProofSection | undefined;
  if (!document || !Number.isInteger(document.start) || !Number.isInteger(document.size) || !Array.isArray(document.pages)) {
    throw new Failed("pages", `The manifest has no valid ${name} section.`);
  }
  const letter = name === "early" ? "e" : "m";
  let previous = "";
  let counted = 0;
  for (const page of document.pages) {
    const valid =
      typeof page?.name === "string" &&
      new RegExp(`^${letter}-[0-9a-f]{2}$`).test(page.name) &&
      typeof page.url === "string" &&
      Number.isInteger(page.count) &&
      page.count >= 1 &&
      typeof page.sha256 === "string" &&
      HEX64.test(page.sha256);
    if (!valid) throw new Failed("pages", `The manifest lists an invalid ${name} page: ${JSON.stringify(page).slice(0, 200)}.`);
    if (page.name <= previous) throw new Failed("pages", `The manifest lists page ${page.name} after ${previous}: pages ascend by name.`);
    previous = page.name;
    counted += page.count;
  }
  if (counted !== document.size) throw new Failed("pages", `The ${name} section's pages hold ${counted} tickets, its size is ${document.size}.`);
  return { name, letter, start: document.start, size: document.size, pages: document.pages, checked: 0, hasLast: false, lastKey: new Int32Array(8), lastId: new Uint8Array(32), tail: [], owed: 0 };
}

/** (key, id) against the section's last: negative, zero or positive. */
function compareToLast(s: Section, key: Int32Array, body: Uint8Array, offset: number): number {
  for (let k = 0; k < 8; k++) {
    const a = key[k] >>> 0;
    const b = s.lastKey[k] >>> 0;
    if (a !== b) return a < b ? -1 : 1;
  }
  for (let j = 0; j < 32; j++) {
    const a = body[offset + j];
    const b = s.lastId[j];
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

class Verification {
  readonly check: DrawCheck = { failure: null, computedCommitment: "", tickets: 0, pages: 0, totalPages: 0, myPosition: null, rows: [], ms: 0 };
  private readonly rows = new Map<number, string>();
  private keys!: DrawKeys;

  constructor(private readonly request: VerifyRequest) {}

  async run(): Promise<void> {
    const { manifest, apiBase, ticket } = this.request;
    if (typeof manifest.seed !== "string" || !HEX64.test(manifest.seed)) throw new Failed("commitment", "The manifest's seed is not 64 lowercase hex.");
    const seed = new Uint8Array(manifest.seed.match(/../g)!.map((x) => parseInt(x, 16)));
    this.check.computedCommitment = hex(await crypto.subtle.digest("SHA-256", seed));
    if (this.check.computedCommitment !== manifest.seed_commitment) {
      throw new Failed("commitment", `SHA-256 of the seed is ${this.check.computedCommitment}, the published commitment is ${manifest.seed_commitment}.`);
    }
    const early = readSection(manifest as unknown as Record<string, unknown>, "early");
    const cohort = readSection(manifest as unknown as Record<string, unknown>, "cohort");
    if (early.start !== 1) throw new Failed("sections", `The early section starts at position ${early.start}, not 1.`);
    if (cohort.start !== early.size + 1) throw new Failed("sections", `The cohort starts at position ${cohort.start}, not ${early.size + 1} (right after the early section).`);
    this.keys = new DrawKeys(seed);
    const wanted = ticket && /^[0-9a-f]{32}$/.test(ticket) ? ticket : undefined;
    const wantedPrefix = wanted ? this.keys.of(encoder.encode(wanted), 0)[0] >>> 24 : -1;

    // Prefix by prefix, the early page before the cohort's: a ticket in both sections has one
    // draw key, so it is in e-xx and m-xx of the same xx, and one early page is all that needs
    // remembering to find it. Each section keeps its own page order.
    const plan = [...early.pages.map((page) => ({ page, section: early })), ...cohort.pages.map((page) => ({ page, section: cohort }))].sort((a, b) =>
      a.page.name.slice(2) < b.page.name.slice(2) ? -1 : a.page.name.slice(2) > b.page.name.slice(2) ? 1 : a.section === early ? -1 : 1,
    );
    const downloads = new Map<number, Promise<Uint8Array<ArrayBuffer>>>();
    const download = (i: number) => {
      if (i >= plan.length || downloads.has(i)) return;
      const { page } = plan[i];
      const body = fetch(apiBase + page.url).then(
        async (response) => {
          if (!response.ok) throw new Failed("pages", `the API answered HTTP ${response.status}.`, page.name);
          return new Uint8Array(await response.arrayBuffer());
        },
        () => {
          throw new Failed("pages", "could not be downloaded (connection lost?).", page.name);
        },
      );
      body.catch(() => {}); // awaited in turn; a failure ahead of its turn is reported then
      downloads.set(i, body);
    };
    let earlyPage: { prefix: string; ids: Set<string> } | null = null;
    this.check.totalPages = plan.length;
    this.post({ type: "progress", pages: 0, totalPages: plan.length, tickets: 0 });
    for (let i = 0; i < plan.length; i++) {
      for (let ahead = i; ahead < i + DOWNLOADS_AHEAD; ahead++) download(ahead);
      const { page, section } = plan[i];
      const body = await downloads.get(i)!;
      downloads.delete(i);
      const digest = hex(await crypto.subtle.digest("SHA-256", body));
      if (digest !== page.sha256) throw new Failed("pages", `its SHA-256 is ${digest}, the manifest says ${page.sha256}.`, page.name);
      const prefix = page.name.slice(2);
      const twin = section === cohort && earlyPage?.prefix === prefix ? earlyPage.ids : null;
      this.checkPage(section, page, body, twin, parseInt(prefix, 16) === wantedPrefix ? wanted : undefined);
      if (section === early) earlyPage = { prefix, ids: new Set(lines(decoder.decode(body), page.count)) };
      this.check.pages = i + 1;
      this.post({ type: "progress", pages: i + 1, totalPages: plan.length, tickets: this.check.tickets });
    }
  }

  /** One page: its count, its lines, each key's prefix and order; its rows to show. */
  private checkPage(s: Section, page: ProofPage, body: Uint8Array, twin: Set<string> | null, wanted: string | undefined): void {
    const { count, name } = page;
    if (body.length !== LINE * count) throw new Failed("pages", `${body.length} bytes, where ${count} tickets take ${LINE * count}.`, name);
    for (let i = 0; i < count; i++) {
      const o = i * LINE;
      let valid = body[o + 32] === NEWLINE;
      for (let j = 0; j < 32; j++) valid = valid && HEX_DIGIT[body[o + j]] === 1;
      if (!valid) throw new Failed("pages", `line ${i + 1} is not a ticket id (32 lowercase hex).`, name);
    }
    const prefix = parseInt(name.slice(2), 16);
    const first = s.start + s.checked; // the page's first position
    for (let i = 0; i < count; i++) {
      const o = i * LINE;
      const key = this.keys.of(body, o);
      if (key[0] >>> 24 !== prefix) {
        throw new Failed("order", `line ${i + 1} (position ${first + i}): ticket ${decoder.decode(body.subarray(o, o + 32))}'s draw key starts ${keyHex(key).slice(0, 2)}, not ${name.slice(2)}.`, name);
      }
      if (s.hasLast && compareToLast(s, key, body, o) <= 0) {
        throw new Failed(
          "order",
          `line ${i + 1} (position ${first + i}): ticket ${decoder.decode(body.subarray(o, o + 32))} is not after ticket ${decoder.decode(s.lastId)} in draw order: this is not the draw's order.`,
          name,
        );
      }
      s.lastKey.set(key);
      s.lastId.set(body.subarray(o, o + 32));
      s.hasLast = true;
      s.checked++;
      this.check.tickets++;
    }
    // The ids as text (decoding a page is cheap next to hashing it): for the other section's
    // page of this prefix and the rows to show.
    const ids = lines(decoder.decode(body), count);
    if (twin) {
      const both = ids.findIndex((id) => twin.has(id));
      if (both >= 0) throw new Failed("sections", `ticket ${ids[both]} (position ${first + both}) is also in the early section, page e-${name.slice(2)}.`, name);
    }
    const row = (i: number) => this.rows.set(first + i, ids[i]);
    for (let i = 0; i < count && first + i <= TOP_ROWS; i++) row(i);
    for (let i = 0; s.owed > 0 && i < count; i++, s.owed--) row(i);
    const mine = wanted ? ids.indexOf(wanted) : -1;
    if (mine >= 0) {
      this.check.myPosition = first + mine;
      for (let i = Math.max(0, mine - ROWS_BEFORE); i <= Math.min(count - 1, mine + ROWS_AFTER); i++) row(i);
      for (const earlier of s.tail.slice(s.tail.length - Math.max(0, ROWS_BEFORE - mine))) this.rows.set(earlier.position, earlier.id);
      s.owed = Math.max(0, mine + ROWS_AFTER - (count - 1));
    }
    s.tail = ids.slice(-ROWS_BEFORE).map((id, k, tail) => ({ position: first + count - tail.length + k, id }));
  }

  finish(started: number): DrawCheck {
    this.check.rows = [...this.rows].sort(([a], [b]) => a - b).map(([position, id]): DrawEntry => ({ position, id, key: keyHex(this.keys.of(encoder.encode(id), 0)) }));
    this.check.ms = performance.now() - started;
    return this.check;
  }

  private post(message: VerifyMessage) {
    postMessage(message);
  }
}

onmessage = async (event: MessageEvent<VerifyRequest>) => {
  const started = performance.now();
  const verification = new Verification(event.data);
  try {
    await verification.run();
  } catch (error) {
    verification.check.failure =
      error instanceof Failed ? { check: error.check, page: error.page, message: error.message } : { check: "pages", message: `The check stopped: ${String(error)}` };
  }
  postMessage({ type: "done", check: verification.finish(started) } satisfies VerifyMessage);
};
