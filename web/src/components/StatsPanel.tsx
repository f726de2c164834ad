/**
 * The Stats panel of one container: charts (uPlot) of CPU, memory, network rx/tx and block
 * read/write over the last 10 minutes, live. Opened from the row (the side panel the History
 * panel uses). When it opens it loads the container's last 10 minutes from the server
 * (GET /api/v1/containers/{id}/stats) into the stats store's ring buffer, then every sample of
 * the stream appends to it; each chart redraws from the ring buffer when the store says so.
 * uPlot is loaded on first use (its own chunk), so pages that draw no chart never load it.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { bytes, shortId } from "../format";
import { useEngineState } from "../react/hooks";
import { useStats, useStatsDemand, useStatsStore } from "../react/stats";
import { useSidePanel } from "../react/useSidePanel";
import type { SeriesField, StatsState, StatsStore } from "../store/stats";
import { Tag } from "./Cells";

const PANEL_ID = "history-panel";
const WINDOW_S = 600;
const WIDTH = 420;
const HEIGHT = 120;

interface Line {
  field: SeriesField;
  label: string;
  color: string;
}

interface ChartDef {
  key: string;
  title: string;
  lines: Line[];
  format: (n: number) => string;
  /** The least top of the y scale (a flat line at 0 still gets readable ticks). */
  floor: number;
}

const CHARTS: ChartDef[] = [
  {
    key: "cpu",
    title: "CPU",
    lines: [{ field: "cpu", label: "CPU", color: "#1f6feb" }],
    format: (n) => `${round(n)}%`,
    floor: 1,
  },
  {
    key: "memory",
    title: "Memory",
    lines: [{ field: "memory", label: "used", color: "#8250df" }],
    format: (n) => bytes(n),
    floor: 1000,
  },
  {
    key: "network",
    title: "Network",
    lines: [
      { field: "netRx", label: "rx", color: "#1a7f37" },
      { field: "netTx", label: "tx", color: "#bf8700" },
    ],
    format: (n) => `${bytes(n)}/s`,
    floor: 1000,
  },
  {
    key: "block",
    title: "Block I/O",
    lines: [
      { field: "blockRead", label: "read", color: "#0969da" },
      { field: "blockWrite", label: "write", color: "#cf222e" },
    ],
    format: (n) => `${bytes(n)}/s`,
    floor: 1000,
  },
];

function round(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

export function StatsPanel({ id, name, onClose }: { id: string; name: string; onClose: () => void }) {
  const running = useEngineState((s) => s.data?.containers[id]?.state ?? null);
  const liveName = useEngineState((s) => s.data?.containers[id]?.name) ?? name;
  const panelRef = useSidePanel(onClose);

  return (
    <aside
      ref={panelRef}
      id={PANEL_ID}
      className="history-panel stats-panel"
      role="dialog"
      aria-modal="false"
      aria-labelledby="stats-title"
      tabIndex={-1}
      data-testid="stats-panel"
    >
      <header className="history-head">
        <h2 id="stats-title">
          <span className="muted">Stats of container</span> <span className="history-name">{liveName}</span>
        </h2>
        <button type="button" className="history-close" aria-label="Close stats" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="history-sub">
        <span className="mono" title={id}>
          {shortId(id)}
        </span>
        {running && running !== "running" && <Tag tone="off">{running}</Tag>}
        {running === null && <Tag tone="off">removed</Tag>}
      </div>
      <StatsView id={id} />
    </aside>
  );
}

/**
 * A container's usage: its latest numbers and the charts of its last 10 minutes (loaded from
 * the server when shown, then live). The Stats panel's body, and a section of the container page.
 */
export function StatsView({ id }: { id: string }) {
  useStatsDemand();
  const store = useStatsStore();
  const select = useCallback((s: StatsState) => s.latest[id], [id]);
  const sample = useStats(select);
  const running = useEngineState((s) => s.data?.containers[id]?.state ?? null);
  const [history, setHistory] = useState<{ loaded: boolean; error: string | null; count: number }>({
    loaded: false,
    error: null,
    count: 0,
  });
  useEffect(() => {
    if (!store) return;
    const abort = new AbortController();
    store
      .loadHistory(id, abort.signal)
      .then((count) => setHistory({ loaded: true, error: null, count }))
      .catch((err: unknown) => {
        if (!abort.signal.aborted) setHistory({ loaded: true, error: String(err instanceof Error ? err.message : err), count: 0 });
      });
    return () => abort.abort();
  }, [store, id]);

  return (
    <>
      <div className="history-sub">
        <span className="muted">last 10 minutes{history.loaded && !history.error ? `, ${history.count} samples kept by the server` : ""}</span>
      </div>
      {history.error && (
        <div className="history-error" role="alert">
          <strong>Could not load the last 10 minutes.</strong> {history.error} The charts show what arrives from now on.
        </div>
      )}
      {sample ? (
        <dl className="facts stats-now" data-testid="stats-now">
          <div>
            <dt>CPU</dt>
            <dd>{round(sample.cpu_percent)}%</dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>
              {bytes(sample.memory_bytes)}
              {sample.memory_limit_bytes > 0 && <span className="muted"> of {bytes(sample.memory_limit_bytes)}</span>}
            </dd>
          </div>
          <div>
            <dt>Network (total)</dt>
            <dd>
              rx {bytes(sample.net_rx_bytes)}, tx {bytes(sample.net_tx_bytes)}
            </dd>
          </div>
          <div>
            <dt>Block I/O (total)</dt>
            <dd>
              read {bytes(sample.block_read_bytes)}, write {bytes(sample.block_write_bytes)}
            </dd>
          </div>
          <div>
            <dt>Processes</dt>
            <dd>{sample.pids}</dd>
          </div>
        </dl>
      ) : (
        <p className="muted stats-none">{running === "running" ? "Waiting for the first sample…" : "Not running: no new samples."}</p>
      )}
      <div className="charts">
        {store &&
          CHARTS.map((c) => (
            <Chart key={c.key} chartKey={c.key} store={store} id={id} title={c.title} lines={c.lines} format={c.format} floor={c.floor} />
          ))}
      </div>
    </>
  );
}

/** The data of one chart, oldest first: seconds, then one column per line (copies of the ring). */
function columns(store: StatsStore, id: string, lines: Line[]): uPlot.AlignedData {
  const series = store.series(id);
  if (!series) return [new Float64Array(0), ...lines.map(() => new Float32Array(0))];
  return [series.seconds(), ...lines.map((l) => series.tail(l.field))];
}

function Chart({
  store,
  id,
  title,
  lines,
  format,
  floor,
  chartKey,
}: {
  store: StatsStore;
  id: string;
  title: string;
  lines: Line[];
  format: (n: number) => string;
  floor: number;
  chartKey: string;
}) {
  const holder = useRef<HTMLDivElement>(null);
  const figure = useRef<HTMLElement>(null);
  useEffect(() => {
    let plot: uPlot | null = null;
    let cancelled = false;
    let unsubscribe = () => {};
    const mark = () => {
      // What the e2e tests read: how many points the chart has, and the newest value.
      const series = store.series(id);
      const el = figure.current;
      if (!el) return;
      el.dataset.points = String(series?.length ?? 0);
      el.dataset.last = series && series.length > 0 ? String(series.at(lines[0]!.field, series.length - 1)) : "";
      el.dataset.lastTime = series && series.length > 0 ? String(series.lastTime) : "";
    };
    void import("uplot").then(({ default: UPlot }) => {
      if (cancelled || !holder.current) return;
      const options: uPlot.Options = {
        width: WIDTH,
        height: HEIGHT,
        cursor: { y: false },
        legend: { live: true },
        scales: {
          x: { time: true, range: (_u, _min, max) => [max - WINDOW_S, max] },
          y: { range: (_u, _min, max) => [0, Math.max(floor, max * 1.1)] },
        },
        axes: [
          { size: 28 },
          { size: 64, values: (_u, splits) => splits.map((v) => format(v)) },
        ],
        series: [
          {},
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.color,
            width: 1.5,
            fill: `${l.color}22`,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "—" : format(v)),
          })),
        ],
      };
      plot = new UPlot(options, columns(store, id, lines), holder.current);
      mark();
      let seen = store.getState().seq;
      unsubscribe = store.subscribe(() => {
        const { seq } = store.getState();
        if (seq === seen) return;
        seen = seq;
        plot?.setData(columns(store, id, lines));
        mark();
      });
    });
    return () => {
      cancelled = true;
      unsubscribe();
      plot?.destroy();
    };
    // `lines` and `format` are constants of CHARTS.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, id]);
  return (
    <figure ref={figure} className="chart" data-testid={`chart-${chartKey}`} data-points="0">
      <figcaption>{title}</figcaption>
      <div ref={holder} />
    </figure>
  );
}
