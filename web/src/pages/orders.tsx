// Orders history, one order, and the pages Stripe Checkout returns to.
import { useEffect, useState } from "preact/hooks";
import { DropArt } from "../art";
import { api, ApiError, human } from "../api";
import { auth } from "../auth";
import { drops, loadDrop, loadDrops, loadOrders, loadReservation, mine, orders, rememberHold, useLoop } from "../data";
import { dateTime, money, plural } from "../format";
import { useStore } from "../store";
import type { Order } from "../types";
import { Chip, Link, Notice, Skeleton, Spinner } from "../ui";
import { HoldCard } from "./drop";

const STATUS_TEXT: Record<string, string> = {
  paid: "Paid — it's yours.",
  payment_pending: "Your bank is settling the payment; the unit stays reserved for you.",
  payment_failed: "The payment didn't go through; the unit went back to the pool.",
  refunding: "A refund is on its way.",
  refunded: "Refunded in full.",
  disputed: "Under dispute with your bank.",
};

const REFUND_REASON: Record<string, string> = {
  amount_mismatch: "the amount paid didn't match the price",
  sold_out: "the payment arrived after the last unit was sold",
  per_user_limit: "it would have passed the per-shopper limit",
  drop_ended: "the drop had ended",
  refunded_at_stripe: "refunded by the shop",
};

function useDropNames() {
  const state = useStore(drops);
  useEffect(() => {
    if (!state.list) void loadDrops().catch(() => {});
  }, []);
  return (id: string) => state.byId[id]?.name ?? "A Burst drop";
}

export function OrdersPage() {
  const { identity } = useStore(auth);
  const state = useStore(orders);
  const [error, setError] = useState<unknown>(null);
  const name = useDropNames();
  useLoop(async () => {
    if (!identity) return 60_000;
    try {
      const list = await loadOrders();
      setError(null);
      return list.some((o) => o.status === "payment_pending" || o.status === "refunding") ? 4_000 : 20_000;
    } catch (e) {
      setError(e);
      throw e;
    }
  }, [identity?.sub]);
  return (
    <div class="page narrow">
      <h1>Your orders</h1>
      {!identity ? (
        <Notice title="Sign in to see your orders" />
      ) : error && !state.list ? (
        <Notice tone="error" title="Can't load your orders" live>
          {human(error)}
        </Notice>
      ) : !state.list ? (
        <Skeleton lines={4} />
      ) : !state.list.length ? (
        <div class="empty">
          <h2>No orders yet</h2>
          <p class="muted">
            When you pay for a drop it shows up here. <Link to="/">Browse the drops</Link>
          </p>
        </div>
      ) : (
        <ul class="orders">
          {state.list.map((o) => (
            <li class="order-row">
              <div class="order-thumb">
                <DropArt id={o.drop_id} name={name(o.drop_id)} />
              </div>
              <div class="order-main">
                <a class="stretched order-name" href={`#/orders/${o.id}`}>
                  {name(o.drop_id)}
                </a>
                <span class="small muted">
                  {plural(o.quantity, "unit")} · {dateTime(o.paid_at ?? o.created_at)}
                </span>
              </div>
              <div class="order-end">
                <strong class="num">{money(o.amount, o.currency)}</strong>
                <Chip status={o.status} />
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function OrderCard({ order, dropName }: { order: Order; dropName: string }) {
  return (
    <article class="panel order-card" aria-labelledby="order-h">
      <div class="order-card-art">
        <DropArt id={order.drop_id} name={dropName} />
      </div>
      <div class="order-card-body">
        <Chip status={order.status} />
        <h2 id="order-h">{dropName}</h2>
        <p>{STATUS_TEXT[order.status] ?? order.status}</p>
        {order.refund_reason && <p class="small muted">Refunded because {REFUND_REASON[order.refund_reason] ?? order.refund_reason}.</p>}
        <dl class="kv">
          <dt>Order</dt>
          <dd class="mono">{order.id.slice(0, 12)}…</dd>
          <dt>Quantity</dt>
          <dd>{order.quantity}</dd>
          {order.unit_price && (
            <>
              <dt>Unit price</dt>
              <dd class="num">{money(order.unit_price.amount, order.unit_price.currency)} (locked at your hold)</dd>
            </>
          )}
          <dt>Amount</dt>
          <dd class="num">{money(order.amount, order.currency)}</dd>
          <dt>Ordered</dt>
          <dd>{dateTime(order.created_at)}</dd>
          {order.paid_at && (
            <>
              <dt>Paid</dt>
              <dd>{dateTime(order.paid_at)}</dd>
            </>
          )}
          {order.refunded_at && (
            <>
              <dt>Refunded</dt>
              <dd>{dateTime(order.refunded_at)}</dd>
            </>
          )}
          {order.dispute_status && (
            <>
              <dt>Dispute</dt>
              <dd>{order.dispute_status.replace(/_/g, " ")}</dd>
            </>
          )}
        </dl>
      </div>
    </article>
  );
}

export function OrderPage({ id }: { id: string }) {
  const { identity } = useStore(auth);
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<unknown>(null);
  const name = useDropNames();
  useLoop(async () => {
    if (!identity) return 60_000;
    try {
      const { order: o } = await api<{ order: Order }>("GET", `/orders/${id}`);
      setOrder(o);
      setError(null);
      return o.status === "paid" || o.status === "refunded" ? 30_000 : 3_000;
    } catch (e) {
      setError(e);
      throw e;
    }
  }, [id, identity?.sub]);
  return (
    <div class="page narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link to="/orders">Orders</Link> <span aria-hidden="true">/</span> <span aria-current="page">Order</span>
      </nav>
      <h1>Your order</h1>
      {order ? (
        <OrderCard order={order} dropName={name(order.drop_id)} />
      ) : error ? (
        <Notice tone="error" title="Can't load this order" live>
          {human(error)}
        </Notice>
      ) : (
        <Skeleton lines={4} />
      )}
      <p>
        <Link to="/orders">All orders</Link> · <Link to="/">More drops</Link>
      </p>
    </div>
  );
}

/** Where Stripe Checkout sends the shopper back: success, cancelled, or a payment still settling. */
export function ReturnPage({ reservationId, outcome }: { reservationId: string; outcome: "success" | "cancel" }) {
  const { identity } = useStore(auth);
  const m = useStore(mine);
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [since] = useState(Date.now());
  const name = useDropNames();
  const reservation = m.reservations[reservationId];
  const drop = useStore(drops).byId[reservation?.drop_id ?? ""];
  useLoop(async () => {
    if (!identity) return 60_000;
    try {
      const r = await loadReservation(reservationId);
      rememberHold(r.drop_id, r.id);
      if (!drops.get().byId[r.drop_id]) void loadDrop(r.drop_id).catch(() => {});
      if (outcome === "success" || r.status === "paid" || r.status === "payment_pending") {
        try {
          const { order: o } = await api<{ order: Order }>("GET", `/orders/${reservationId}`);
          setOrder(o);
          if (o.status === "paid" || o.status === "refunded" || o.status === "payment_failed") return 30_000;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === "not_found")) throw e;
        }
      }
      setError(null);
      return 1_500;
    } catch (e) {
      setError(e);
      throw e;
    }
  }, [reservationId, identity?.sub]);

  const dropName = reservation ? name(reservation.drop_id) : "";
  let body;
  if (!identity) body = <Notice title="Sign in to see your payment" />;
  else if (error && !reservation) body = <Notice tone="error" title="Can't find this payment" live>{human(error)}</Notice>;
  else if (order?.status === "paid") {
    body = (
      <>
        <div class="verdict verdict-ok" role="status">
          <span class="verdict-mark" aria-hidden="true">✓</span>
          <div>
            <strong>Payment received — it's yours.</strong>
            <span class="block small">A confirmation is on its way.</span>
          </div>
        </div>
        <OrderCard order={order} dropName={dropName} />
        <p>
          <Link class="btn btn-primary" to={`/orders/${order.id}`}>View order</Link> <Link class="btn btn-ghost" to="/">More drops</Link>
        </p>
      </>
    );
  } else if (order?.status === "payment_pending" || reservation?.status === "payment_pending") {
    body = (
      <>
        <div class="verdict verdict-pending" role="status">
          <span class="verdict-mark" aria-hidden="true">…</span>
          <div>
            <strong>Payment pending.</strong>
            <span class="block small">Your bank is settling it. Your unit stays reserved — this page updates by itself.</span>
          </div>
        </div>
        {order && <OrderCard order={order} dropName={dropName} />}
      </>
    );
  } else if (order) {
    body = <OrderCard order={order} dropName={dropName} />;
  } else if (outcome === "cancel") {
    body = (
      <>
        <div class="verdict verdict-pending" role="status">
          <span class="verdict-mark" aria-hidden="true">↩</span>
          <div>
            <strong>Checkout cancelled.</strong>
            <span class="block small">
              {reservation?.status === "held" ? "No charge was made. Your hold is still yours until the timer ends." : "No charge was made."}
            </span>
          </div>
        </div>
        {reservation && drop && reservation.status === "held" ? (
          <HoldCard drop={drop} reservation={reservation} />
        ) : reservation ? (
          <Notice title="Your hold has ended">The unit went back to the pool. <Link to={`/drop/${reservation.drop_id}`}>Back to the drop</Link></Notice>
        ) : (
          <Skeleton />
        )}
      </>
    );
  } else {
    const slow = Date.now() - since > 30_000;
    body = (
      <div class="verdict verdict-pending" role="status">
        <Spinner label="Confirming payment" />
        <div>
          <strong>{slow ? "Still confirming with Stripe…" : "Confirming your payment…"}</strong>
          <span class="block small">{slow ? "This is taking longer than usual. Your unit stays held meanwhile; this page updates by itself." : "This takes a second or two."}</span>
        </div>
      </div>
    );
  }
  return (
    <div class="page narrow">
      <h1>{outcome === "success" ? "Thanks for your order" : "Checkout"}</h1>
      {body}
    </div>
  );
}
