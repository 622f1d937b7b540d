// A uPlot time-series chart that follows the page's theme and width.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
  color?: string; // a CSS colour or var(--name)
  fill?: boolean;
  bars?: boolean;
  axis?: "left" | "right";
  money?: boolean;
}

export interface Marker {
  t: number; // seconds since the epoch
  label: string;
  color?: string;
}

interface Props {
  title: string; // accessible name and caption
  times: number[]; // seconds since the epoch
  series: Series[];
  markers?: Marker[];
  height?: number;
  id?: string;
}

const palette = ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7", "--c8"];

function cssColor(el: Element, c: string): string {
  const m = /^var\((--[\w-]+)\)$/.exec(c);
  const name = m ? m[1] : c.startsWith("--") ? c : "";
  if (!name) return c;
  return getComputedStyle(el).getPropertyValue(name).trim() || "#888";
}

export function Chart({ title, times, series, markers = [], height = 220, id }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    const fg = cssColor(el, "--muted");
    const grid = cssColor(el, "--grid");
    const hasRight = series.some((s) => s.axis === "right");
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, y: { auto: true, range: (_u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56 },
        ...(hasRight
          ? [{ scale: "usd", side: 1, stroke: fg, grid: { show: false }, size: 64, values: (_u: uPlot, v: number[]) => v.map((x) => "$" + x.toFixed(2)) }]
          : []),
      ],
      series: [
        { label: "time" },
        ...series.map((s, i) => {
          const color = cssColor(el, s.color ?? palette[i % palette.length]);
          return {
            label: s.label,
            stroke: color,
            width: 2,
            scale: s.axis === "right" ? "usd" : "y",
            fill: s.fill ? color + "33" : undefined,
            paths: s.bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : undefined,
            value: (_u: uPlot, v: number | null) => (v == null ? "—" : s.money ? "$" + v.toFixed(4) : String(v)),
          } as uPlot.Series;
        }),
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            markers.forEach((m, i) => {
              const x = u.valToPos(m.t, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
              ctx.strokeStyle = cssColor(el, m.color ?? "--danger");
              ctx.fillStyle = ctx.strokeStyle;
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.setLineDash([6, 4]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(m.label, x + 4, u.bbox.top + 14 * devicePixelRatio * (1 + (i % 3)));
            });
            ctx.restore();
          },
        ],
      },
    };
    const data = [times, ...series.map((s) => s.values)] as uPlot.AlignedData;
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [times, series, markers, height]);

  const total = series.map((s) => `${s.label}: ${s.values.reduce<number>((a, v) => a + (v ?? 0), 0).toFixed(s.money ? 2 : 0)}`).join(", ");
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}. Totals over the window: ${total}.`} data-points={times.length} />
    </figure>
  );
}

/**
 * dense puts sparse per-minute points on a grid of every minute from `from`
 * to `to` (seconds), with zeros where there was no traffic, so a chart's
 * time axis is the window rather than whatever the few points span.
 */
export function dense<P extends { ts: string }>(points: P[], from: number, to: number): { times: number[]; at: (P | undefined)[] } {
  const start = Math.floor(from / 60) * 60;
  const end = Math.floor(to / 60) * 60;
  const byMin = new Map(points.map((p) => [Math.floor(Date.parse(p.ts) / 60000) * 60, p]));
  const times: number[] = [];
  const at: (P | undefined)[] = [];
  for (let t = start; t <= end && times.length < 2000; t += 60) {
    times.push(t);
    at.push(byMin.get(t));
  }
  return { times, at };
}
