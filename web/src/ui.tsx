// Small shared pieces: status chips, meters, notices, countdowns, the route link.
import type { ComponentChildren } from "preact";
import { clock, spoken, statusLabel } from "./format";
import { useNow } from "./store";

export function Chip({ status, live }: { status: string; live?: boolean }) {
  return (
    <span class={`chip chip-${status}`}>
      {live && <span class="dot" aria-hidden="true" />}
      {statusLabel[status] ?? status.replace(/_/g, " ")}
    </span>
  );
}

export function Meter({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  return (
    <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} aria-label={label}>
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}

type Tone = "info" | "ok" | "warn" | "error";
export function Notice({ tone = "info", title, children, live }: { tone?: Tone; title?: string; children?: ComponentChildren; live?: boolean }) {
  return (
    <div class={`notice notice-${tone}`} role={live ? (tone === "error" ? "alert" : "status") : undefined}>
      <span class="notice-icon" aria-hidden="true">
        {tone === "ok" ? "✓" : tone === "error" ? "!" : tone === "warn" ? "!" : "i"}
      </span>
      <div>
        {title && <strong>{title}</strong>}
        {children && <div class="notice-body">{children}</div>}
      </div>
    </div>
  );
}

/** A ticking countdown to `to` (ISO). Not a live region: announcing every second is noise. */
export function Countdown({ to, label, big }: { to: string; label?: string; big?: boolean }) {
  const now = useNow();
  const left = (Date.parse(to) - now) / 1000;
  return (
    <span class={`countdown ${big ? "countdown-big" : ""}`}>
      {label && <span class="countdown-label">{label} </span>}
      <time dateTime={to} aria-label={`${label ? `${label} ` : ""}${spoken(left)}`}>
        {clock(left)}
      </time>
    </span>
  );
}

export function Link({ to, children, class: cls, ...rest }: { to: string; children: ComponentChildren; class?: string; [k: string]: unknown }) {
  return (
    <a href={`#${to}`} class={cls} {...rest}>
      {children}
    </a>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span class="spinner" role="status">
      <span class="sr-only">{label}</span>
    </span>
  );
}

export function Skeleton({ lines = 3 }: { lines?: number }) {
  return (
    <div class="skeleton" aria-hidden="true">
      {Array.from({ length: lines }, (_, i) => (
        <span style={{ width: `${90 - i * 18}%` }} />
      ))}
    </div>
  );
}

export function Stat({ label, value, hint, tone }: { label: string; value: ComponentChildren; hint?: string; tone?: string }) {
  return (
    <div class={`stat ${tone ? `stat-${tone}` : ""}`}>
      <dt>{label}</dt>
      <dd>
        {value}
        {hint && <small>{hint}</small>}
      </dd>
    </div>
  );
}
