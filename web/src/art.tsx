import { Component } from "preact";

// Generated product art: an SVG composition drawn deterministically from the drop id (palette,
// object, orbit, particles). No images, no external assets; the same drop always looks the same.

function prng(seed: string) {
  // FNV-1a over the id, then mulberry32.
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HUES = [78, 168, 190, 265, 292, 325, 18, 42];

export function palette(id: string) {
  const r = prng(id);
  const a = HUES[Math.floor(r() * HUES.length)];
  let b = HUES[Math.floor(r() * HUES.length)];
  if (Math.abs(a - b) < 40) b = (a + 150) % 360;
  return { a, b };
}

interface ArtProps {
  id: string;
  name: string;
  /** Dims the art for sold-out / ended drops. */
  muted?: boolean;
  class?: string;
}

/** Small circles as one path: `M x-r y a r r 0 1 0 2r 0 a r r 0 1 0 -2r 0` each. */
function dots(points: readonly (readonly [number, number, number])[]): string {
  return points.map(([x, y, r]) => `M${x - r} ${y}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`).join("");
}

/** The art never changes for a drop: skip re-rendering it when live numbers tick. */
export class DropArt extends Component<ArtProps> {
  shouldComponentUpdate(next: ArtProps) {
    return next.id !== this.props.id || next.name !== this.props.name || next.muted !== this.props.muted || next.class !== this.props.class;
  }
  render(props: ArtProps) {
    return <Art {...props} />;
  }
}

function Art({ id, name, muted, class: cls }: ArtProps) {
  const r = prng(id);
  const { a, b } = palette(id);
  const A = `hsl(${a} 100% 62%)`;
  const B = `hsl(${b} 100% 60%)`;
  const key = id.slice(0, 8);
  const kind = Math.floor(r() * 4); // 0 orb, 1 prism, 2 ring stack, 3 capsule
  const tilt = Math.round(r() * 50 - 25);
  const cx = 200 + Math.round(r() * 60 - 30);
  const stars = Array.from({ length: 16 }, () => [Math.round(r() * 400), Math.round(r() * 170), Number((r() * 1.4 + 0.4).toFixed(1))] as const);
  const letter = (name.trim()[0] ?? "B").toUpperCase();
  const lines = Array.from({ length: 9 }, (_, i) => i);
  return (
    <svg
      class={`art ${muted ? "art-muted" : ""} ${cls ?? ""}`}
      viewBox="0 0 400 300"
      preserveAspectRatio="xMidYMid slice"
      role="img"
      aria-label={`Generated artwork for ${name}`}
      focusable="false"
    >
      <defs>
        <radialGradient id={`bg-${key}`} cx="50%" cy="38%" r="75%">
          <stop offset="0" stop-color={`hsl(${a} 70% 16%)`} />
          <stop offset="0.55" stop-color={`hsl(${b} 60% 7%)`} />
          <stop offset="1" stop-color="#05060a" />
        </radialGradient>
        <linearGradient id={`fill-${key}`} x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stop-color={A} />
          <stop offset="1" stop-color={B} />
        </linearGradient>
        <linearGradient id={`floor-${key}`} x1="0" y1="0" x2="0" y2="1">
          <stop offset="0" stop-color={B} stop-opacity="0" />
          <stop offset="1" stop-color={B} stop-opacity="0.55" />
        </linearGradient>
        {/* Glows are radial gradients, not blur filters: cheap to paint on a phone. */}
        <radialGradient id={`glow-${key}`}>
          <stop offset="0" stop-color={A} stop-opacity="0.75" />
          <stop offset="0.45" stop-color={B} stop-opacity="0.3" />
          <stop offset="1" stop-color={B} stop-opacity="0" />
        </radialGradient>
        <radialGradient id={`pool-${key}`}>
          <stop offset="0" stop-color={A} stop-opacity="0.55" />
          <stop offset="1" stop-color={A} stop-opacity="0" />
        </radialGradient>
      </defs>
      <rect width="400" height="300" fill={`url(#bg-${key})`} />
      <text x="392" y="286" text-anchor="end" font-size="210" font-weight="900" fill={A} opacity="0.06" font-family="inherit">
        {letter}
      </text>
      {/* One path per layer (not one element per star or line): a light DOM for fast first paints. */}
      <path d={dots(stars.slice(0, 8))} fill="#fff" opacity="0.75" />
      <path d={dots(stars.slice(8))} fill="#fff" opacity="0.4" />
      <g opacity="0.7">
        <path d={lines.map((i) => `M${200 + (i - 4) * 22} 214L${200 + (i - 4) * 120} 300`).join("")} stroke={`url(#floor-${key})`} stroke-width="1" />
        <path d="M0 214H400M0 226H400" stroke={B} stroke-opacity="0.4" />
        <path d="M0 242H400M0 264H400M0 292H400" stroke={B} stroke-opacity="0.25" />
      </g>
      <ellipse cx={cx} cy="214" rx="130" ry="22" fill={`url(#pool-${key})`} />
      <g class="art-object" style={{ transformOrigin: `${cx}px 130px` }}>
        <circle cx={cx} cy="128" r="118" fill={`url(#glow-${key})`} />
        {kind === 0 && (
          <g>
            <circle cx={cx} cy="128" r="58" fill={`url(#fill-${key})`} />
            <ellipse cx={cx - 18} cy="104" rx="22" ry="13" fill="#fff" opacity="0.35" />
            <ellipse cx={cx} cy="128" rx="92" ry="20" fill="none" stroke={A} stroke-width="2" transform={`rotate(${tilt} ${cx} 128)`} />
          </g>
        )}
        {kind === 1 && (
          <g transform={`rotate(${tilt / 2} ${cx} 128)`}>
            <path d={`M${cx} 58 L${cx + 62} 150 L${cx} 196 L${cx - 62} 150 Z`} fill={`url(#fill-${key})`} />
            <path d={`M${cx} 58 L${cx + 62} 150 L${cx} 134 Z`} fill="#fff" opacity="0.25" />
            <path d={`M${cx} 58 L${cx} 196`} stroke="#fff" stroke-opacity="0.35" />
          </g>
        )}
        {kind === 2 && (
          <g fill="none" stroke-width="10" stroke-linecap="round">
            <ellipse cx={cx} cy="92" rx="70" ry="18" stroke={A} />
            <ellipse cx={cx} cy="128" rx="84" ry="22" stroke={`url(#fill-${key})`} />
            <ellipse cx={cx} cy="166" rx="70" ry="18" stroke={B} />
          </g>
        )}
        {kind === 3 && (
          <g transform={`rotate(${tilt} ${cx} 128)`}>
            <rect x={cx - 96} y="98" width="192" height="62" rx="31" fill={`url(#fill-${key})`} />
            <rect x={cx - 80} y="106" width="110" height="14" rx="7" fill="#fff" opacity="0.35" />
            <circle cx={cx + 60} cy="129" r="14" fill="#05060a" opacity="0.5" />
          </g>
        )}
      </g>
    </svg>
  );
}
