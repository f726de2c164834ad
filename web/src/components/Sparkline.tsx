/**
 * A sparkline of one container's recent samples on a tiny canvas (no library: a polyline of at
 * most `points` values). It redraws when `tick` changes (the row's latest sample), reading the
 * ring buffer in place; only the rows TanStack Virtual keeps in the DOM draw at all.
 */
import { useEffect, useRef } from "react";
import type { Series, SeriesField } from "../store/stats";

const WIDTH = 48;
const HEIGHT = 18;

export function Sparkline({
  series,
  field,
  tick,
  points = 300,
  floor = 0,
  label,
}: {
  series: Series | undefined;
  field: SeriesField;
  /** Changes when the series has a new point. */
  tick: unknown;
  points?: number;
  /** The least top of the scale (1 % for CPU: an idle container draws flat, not noise). */
  floor?: number;
  label: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !series) return;
    draw(canvas, series, field, points, floor);
  }, [series, field, tick, points, floor]);
  return <canvas ref={ref} className="sparkline" width={WIDTH} height={HEIGHT} role="img" aria-label={label} />;
}

/** Each canvas's context, asked for once (getContext is not free, 88 canvases a second). */
const contexts = new WeakMap<HTMLCanvasElement, CanvasRenderingContext2D>();

function draw(canvas: HTMLCanvasElement, series: Series, field: SeriesField, points: number, floor: number) {
  const ratio = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
  if (canvas.width !== WIDTH * ratio) {
    canvas.width = WIDTH * ratio;
    canvas.height = HEIGHT * ratio;
    contexts.delete(canvas);
  }
  let ctx = contexts.get(canvas) ?? null;
  if (!ctx) {
    try {
      ctx = canvas.getContext("2d");
    } catch {
      ctx = null;
    }
    if (!ctx) return;
    contexts.set(canvas, ctx);
  }
  const n = Math.min(points, series.length);
  const first = series.length - n;
  let max = floor;
  for (let j = 0; j < n; j++) max = Math.max(max, series.at(field, first + j));
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, WIDTH, HEIGHT);
  if (n < 2 || max <= 0) return;
  const step = WIDTH / (points - 1);
  const x0 = WIDTH - (n - 1) * step;
  const y = (v: number) => HEIGHT - 1 - (v / max) * (HEIGHT - 2);
  ctx.beginPath();
  ctx.moveTo(x0, HEIGHT);
  for (let j = 0; j < n; j++) ctx.lineTo(x0 + j * step, y(series.at(field, first + j)));
  ctx.lineTo(x0 + (n - 1) * step, HEIGHT);
  ctx.closePath();
  ctx.fillStyle = "rgba(37, 99, 235, 0.15)";
  ctx.fill();
  ctx.beginPath();
  for (let j = 0; j < n; j++) {
    const px = x0 + j * step;
    const py = y(series.at(field, first + j));
    if (j === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  }
  ctx.strokeStyle = "rgb(37, 99, 235)";
  ctx.lineWidth = 1;
  ctx.stroke();
}
