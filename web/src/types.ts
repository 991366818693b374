// The API's shapes (docs/openapi.yaml), plus the drop-mode fields of issue 11 as optional.
export interface Price {
  amount: number;
  currency: string;
}

export type DropStatus = "upcoming" | "live" | "sold_out" | "ended";

export interface QueueSettings {
  opens_at: string;
  admit_per_minute?: number;
  admission_seconds: number;
  proof_of_work: boolean;
  ip_joins_per_minute: number;
}

export interface Drop {
  id: string;
  name: string;
  description: string;
  price: Price;
  total_units: number;
  starts_at: string;
  ends_at?: string;
  per_user_limit: number;
  hold_seconds: number;
  shard_count: number;
  created_at: string;
  available: number;
  held: number;
  sold: number;
  status: DropStatus;
  queue?: QueueSettings;
  // Issue 11 (feature-detected):
  mode?: "claim" | "queue" | "raffle";
  raffle?: { entries_close_at: string; claim_window_seconds: number };
  early_access?: { group: string; starts_at: string }[];
  price_schedule?: { at: string; amount: number }[];
  price_now?: Price | number;
  paused?: boolean;
  version?: number;
}

export type QueuePhase = "upcoming" | "prequeue" | "open" | "sold_out" | "ended" | "paused";

export interface QueueStatus {
  drop_id: string;
  phase: QueuePhase;
  opens_at: string;
  starts_at: string;
  seed_commitment: string;
  seed: string | null;
  cohort_size: number | null;
  serving: number;
  waiting: number;
  admitted_per_minute: number;
  available: number;
  poll_after_ms: number;
  /** Issue 11: when the pre-queue is drawn (`starts_at`, or a raffle's `entries_close_at`). */
  draw_at?: string;
  early_cohort_size?: number | null;
}

export type TicketStatus = "waiting" | "admitted" | "claimed" | "expired" | "closed";

export interface Ticket {
  id: string;
  drop_id: string;
  status: TicketStatus;
  position: number | null;
  ahead: number | null;
  eta_seconds: { p50: number; p90: number } | null;
  admission: { token: string; expires_at: string } | null;
  poll_after_ms: number;
  beyond_stock: boolean;
  joined_at: string;
}

export type ReservationStatus = "held" | "payment_pending" | "paid" | "expired" | "released" | "refunded";

export interface Reservation {
  id: string;
  drop_id: string;
  quantity: number;
  status: ReservationStatus;
  expires_at: string;
  seconds_left: number;
  created_at: string;
  price?: Price;
}

export type OrderStatus = "paid" | "payment_pending" | "payment_failed" | "refunding" | "refunded" | "disputed";

export interface Order {
  id: string;
  drop_id: string;
  quantity: number;
  amount: number;
  currency: string;
  status: OrderStatus;
  created_at: string;
  paid_at: string | null;
  unit_price?: Price;
  refunded_at?: string;
  refund_reason?: string;
  amount_refunded?: number;
  dispute_status?: string;
}

export interface Audit {
  drop_id: string;
  total_units: number;
  available: number;
  held: number;
  expired_pending: number;
  payment_pending: number;
  sold: number;
  refunded_after_sale: number;
  disputed: number;
  consistent: boolean;
  problems: string[];
  shards: { shard: number; units: number; available: number; held: number; sold: number; held_by_reservations: number; sold_by_orders: number }[];
  checked_at: string;
}

/** `GET /drops/{id}/queue/proof`: the draw's manifest (README "Verify a draw yourself"). */
export interface ProofManifest {
  drop_id: string;
  seed: string;
  seed_commitment: string;
  /** The early-access section, from position 1 (size 0 and no pages without early access). */
  early: ProofSection;
  /** The cohort, from the position after the early section. */
  cohort: ProofSection;
}

export interface ProofSection {
  start: number;
  size: number;
  /** Non-empty pages ascending by name; concatenated, the section in position order. */
  pages: ProofPage[];
}

export interface ProofPage {
  /** `<e|m>-<xx>`: the section (early, cohort) and the first two hex chars of every ticket's draw key. */
  name: string;
  /** Relative to the API's base URL; immutable text, one ticket id per line. */
  url: string;
  count: number;
  /** Lowercase hex SHA-256 of the page's body. */
  sha256: string;
}

export interface AdminEvent {
  at: string;
  actor: string;
  action: string;
  details?: unknown;
}
