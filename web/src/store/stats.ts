/**
 * The stats store (protocol.md §9), beside the state store and framework-free: what every
 * running container uses, sampled, the latest sample winning.
 *
 * - It shares the live store's WebSocket (a `Channel` of live.ts): it sends `subscribe_stats`
 *   there, takes the `stats` messages of its subscription, and subscribes again on every new
 *   connection (a reconnection loses the server's subscriptions).
 * - Demand-driven: it is subscribed only while something shows stats (`demand()`, counted) and
 *   the tab is visible; otherwise it sends `unsubscribe`, and the server reads nothing for us.
 * - Latest wins: each message replaces `latest` whole (the server's own object, not copied); a
 *   sample older than the one shown, or of a subscription that is over, is dropped.
 * - History: per container a ring buffer of the last `capacity` samples (600 = 10 minutes at
 *   1 s) in typed arrays: the time as a Float64 (ms), CPU %, memory and the four byte rates
 *   (network rx/tx, block read/write, per second, from the counters' differences) as Float32.
 *   That is 8 + 6 × 4 = 32 bytes a point, 19,200 bytes (19 KB) per container at 600 points,
 *   allocated once; 1000 containers hold 19 MB. A container not sampled for as long as the
 *   buffer spans (it stopped, or was removed) is forgotten.
 *
 * Read it with getState()/subscribe() (React: useStats in ../react/stats.ts); the ring buffers
 * are read with series(id), and change in place: `seq` tells when.
 */
import { createStore, type Listener, type Store } from "./createStore";
import type { Channel } from "./live";
import type { ContainerStats, ServerMessage, StatsMessage } from "./types";

export const HISTORY_POINTS = 600;
export const DEFAULT_INTERVAL_MS = 1000;
/** Bytes one point takes in a Series: time (Float64) + 6 values (Float32). */
export const BYTES_PER_POINT = 8 + 6 * 4;

/** The values a Series keeps per point (rates in bytes per second). */
export type SeriesField = "cpu" | "memory" | "netRx" | "netTx" | "blockRead" | "blockWrite";
export const SERIES_FIELDS: readonly SeriesField[] = ["cpu", "memory", "netRx", "netTx", "blockRead", "blockWrite"];

/** One sample of the REST history (GET /api/v1/containers/{id}/stats). */
export type TimedStats = ContainerStats & { time: string };

/** The last `capacity` samples of one container, oldest first, in typed arrays (a ring). */
export class Series {
  readonly time: Float64Array;
  private readonly values: Record<SeriesField, Float32Array>;
  /** Index of the oldest point. */
  private head = 0;
  length = 0;
  /** The last sample taken (its counters give the next rates). */
  last: ContainerStats | null = null;
  lastTime = -Infinity;

  constructor(readonly capacity = HISTORY_POINTS) {
    this.time = new Float64Array(capacity);
    this.values = {
      cpu: new Float32Array(capacity),
      memory: new Float32Array(capacity),
      netRx: new Float32Array(capacity),
      netTx: new Float32Array(capacity),
      blockRead: new Float32Array(capacity),
      blockWrite: new Float32Array(capacity),
    };
  }

  /** Bytes held by the buffers. */
  get bytes(): number {
    return this.capacity * BYTES_PER_POINT;
  }

  /** Add a sample taken at `timeMs`; false (and nothing changes) unless it is newer than the last. */
  push(timeMs: number, s: ContainerStats): boolean {
    if (!(timeMs > this.lastTime)) return false;
    const prev = this.last;
    const dt = (timeMs - this.lastTime) / 1000;
    const rate = (now: number, before: number | undefined) =>
      prev && before !== undefined && dt > 0 && now >= before ? (now - before) / dt : 0;
    const i = (this.head + this.length) % this.capacity;
    if (this.length === this.capacity) this.head = (this.head + 1) % this.capacity;
    else this.length += 1;
    this.time[i] = timeMs;
    const v = this.values;
    v.cpu[i] = s.cpu_percent;
    v.memory[i] = s.memory_bytes;
    v.netRx[i] = rate(s.net_rx_bytes, prev?.net_rx_bytes);
    v.netTx[i] = rate(s.net_tx_bytes, prev?.net_tx_bytes);
    v.blockRead[i] = rate(s.block_read_bytes, prev?.block_read_bytes);
    v.blockWrite[i] = rate(s.block_write_bytes, prev?.block_write_bytes);
    this.last = s;
    this.lastTime = timeMs;
    return true;
  }

  /** The `i`-th point's value, 0 = the oldest kept. */
  at(field: SeriesField, i: number): number {
    return this.values[field][(this.head + i) % this.capacity]!;
  }

  timeAt(i: number): number {
    return this.time[(this.head + i) % this.capacity]!;
  }

  /** The last `n` values of `field` (all by default), oldest first: a copy. */
  tail(field: SeriesField, n = this.length): Float32Array {
    const k = Math.min(n, this.length);
    const out = new Float32Array(k);
    for (let j = 0; j < k; j++) out[j] = this.at(field, this.length - k + j);
    return out;
  }

  /** Times in seconds (uPlot's x), oldest first: a copy. */
  seconds(): Float64Array {
    const out = new Float64Array(this.length);
    for (let j = 0; j < this.length; j++) out[j] = this.timeAt(j) / 1000;
    return out;
  }
}

export interface StatsState {
  /** A stats subscription is on the connection. */
  subscribed: boolean;
  /** The latest message's samples by container id (only running containers). */
  latest: Record<string, ContainerStats>;
  /** When the latest sample was taken (ms since the epoch). */
  time: number | null;
  /** +1 for every change of the histories (a sample taken, a history loaded). */
  seq: number;
}

/** What the stats store needs of the live store. */
export interface StatsConnection {
  attach(channel: Channel): () => void;
  send(message: object): boolean;
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Whether the page is visible, and when that changes. */
export interface VisibilitySource {
  visible(): boolean;
  subscribe(listener: () => void): () => void;
}

export const documentVisibility: VisibilitySource = {
  visible: () => typeof document === "undefined" || document.visibilityState !== "hidden",
  subscribe(listener) {
    if (typeof document === "undefined") return () => {};
    document.addEventListener("visibilitychange", listener);
    return () => document.removeEventListener("visibilitychange", listener);
  },
};

export interface StatsStoreOptions {
  live: StatsConnection;
  intervalMs?: number;
  capacity?: number;
  visibility?: VisibilitySource | null;
}

const EMPTY: Record<string, ContainerStats> = {};

export class StatsStore {
  private readonly store: Store<StatsState> = createStore<StatsState>({
    subscribed: false,
    latest: EMPTY,
    time: null,
    seq: 0,
  });
  private readonly live: StatsConnection;
  private readonly intervalMs: number;
  readonly capacity: number;
  private readonly visibility: VisibilitySource | null;
  private readonly histories = new Map<string, Series>();
  private demanded = 0;
  private open = false;
  private sub: string | null = null;
  private counter = 0;
  private detach: (() => void) | null = null;
  private unvisible: (() => void) | null = null;

  constructor(options: StatsStoreOptions) {
    this.live = options.live;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.capacity = options.capacity ?? HISTORY_POINTS;
    this.visibility = options.visibility === undefined ? documentVisibility : options.visibility;
  }

  getState = (): StatsState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  /** The ring buffer of a container (undefined when it has no sample). */
  series(id: string): Series | undefined {
    return this.histories.get(id);
  }

  /** Containers with a history. */
  get size(): number {
    return this.histories.size;
  }

  /** The current subscription's id, if any (tests, diagnostics). */
  get subscription(): string | null {
    return this.sub;
  }

  /**
   * Something shows stats: subscribed while at least one demand is held (and the tab is
   * visible). Returns the release function (idempotent).
   */
  demand(): () => void {
    this.demanded += 1;
    this.ensureAttached();
    this.update();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.demanded -= 1;
      this.update();
    };
  }

  /** Stop for good: unsubscribe and leave the connection. */
  stop(): void {
    this.demanded = 0;
    this.update();
    this.detach?.();
    this.detach = null;
    this.unvisible?.();
    this.unvisible = null;
    this.open = false;
  }

  private ensureAttached(): void {
    if (this.detach) return;
    this.unvisible = this.visibility?.subscribe(() => this.update()) ?? null;
    this.detach = this.live.attach({
      onOpen: () => {
        this.open = true;
        this.sub = null; // a new connection holds none of the old one's subscriptions
        this.update();
      },
      onClose: () => {
        this.open = false;
        this.sub = null;
        if (this.getState().subscribed) this.store.setState({ subscribed: false });
      },
      onMessage: (message) => this.onMessage(message),
    });
  }

  private wanted(): boolean {
    return this.demanded > 0 && this.open && (this.visibility?.visible() ?? true);
  }

  private update(): void {
    const wanted = this.wanted();
    if (wanted && !this.sub) {
      const id = `t${++this.counter}`;
      if (this.live.send({ type: "subscribe_stats", id, interval_ms: this.intervalMs })) {
        this.sub = id;
        this.store.setState({ subscribed: true });
      }
    } else if (!wanted && this.sub) {
      const id = this.sub;
      this.sub = null;
      if (this.open) this.live.send({ type: "unsubscribe", id });
      this.store.setState({ subscribed: false });
    }
  }

  private onMessage(message: ServerMessage): boolean {
    if (message.type === "stats") {
      if (message.sub === this.sub) this.take(message);
      return true; // a stats message is never the follower's, even of an old subscription
    }
    if (message.type === "error" && message.id !== undefined && message.id !== null && /^t\d+$/.test(String(message.id))) {
      console.warn(`dockstate: stats: ${message.code}: ${message.message}`);
      return true;
    }
    return false;
  }

  /** Take one `stats` message (exposed for tests and for the REST sample). */
  take(message: Pick<StatsMessage, "time" | "containers">): boolean {
    const t = Date.parse(message.time);
    const { time, seq } = this.getState();
    if (Number.isNaN(t) || (time !== null && t <= time)) return false; // latest wins
    for (const [id, sample] of Object.entries(message.containers)) {
      let series = this.histories.get(id);
      if (!series) {
        series = new Series(this.capacity);
        this.histories.set(id, series);
      }
      series.push(t, sample);
    }
    // Forget who has not been sampled for as long as a buffer spans (memory stays bounded).
    const horizon = t - this.capacity * this.intervalMs;
    for (const [id, series] of this.histories) if (series.lastTime < horizon) this.histories.delete(id);
    this.store.setState({ latest: message.containers, time: t, seq: seq + 1 });
    return true;
  }

  /**
   * A container's samples of the last minutes from the server (the REST history), merged
   * under what the stream brought since: the history first, then the newer live points.
   */
  backfill(id: string, samples: readonly TimedStats[]): void {
    const fresh = new Series(this.capacity);
    const sorted = samples
      .map((s) => ({ t: Date.parse(s.time), s }))
      .filter((p) => !Number.isNaN(p.t))
      .sort((a, b) => a.t - b.t);
    for (const { t, s } of sorted) fresh.push(t, s);
    const old = this.histories.get(id);
    if (old) {
      for (let i = 0; i < old.length; i++) {
        const t = old.timeAt(i);
        if (t <= fresh.lastTime) continue;
        // Rebuild the raw sample's counters from what the point keeps: the last one is exact.
        const s = i === old.length - 1 && old.last ? old.last : pointSample(old, i, fresh);
        fresh.push(t, s);
      }
    }
    if (fresh.length === 0) return;
    this.histories.set(id, fresh);
    this.store.setState((s) => ({ seq: s.seq + 1 }));
  }

  /** Load a container's last 10 minutes (GET /api/v1/containers/{id}/stats) into its series. */
  async loadHistory(id: string, signal?: AbortSignal): Promise<number> {
    const response = await this.live.request(`/api/v1/containers/${encodeURIComponent(id)}/stats`, {
      headers: { accept: "application/json" },
      signal,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { samples?: TimedStats[] };
    const samples = Array.isArray(body.samples) ? body.samples : [];
    if (!signal?.aborted) this.backfill(id, samples);
    return samples.length;
  }
}

/** A sample whose counters continue `into`'s last one by `old`'s rates at point `i`. */
function pointSample(old: Series, i: number, into: Series): ContainerStats {
  const prev = into.last;
  const dt = (old.timeAt(i) - into.lastTime) / 1000;
  const next = (field: SeriesField, before: number | undefined) =>
    (before ?? 0) + (dt > 0 && Number.isFinite(dt) ? old.at(field, i) * dt : 0);
  return {
    cpu_percent: old.at("cpu", i),
    memory_bytes: old.at("memory", i),
    memory_limit_bytes: prev?.memory_limit_bytes ?? 0,
    net_rx_bytes: next("netRx", prev?.net_rx_bytes),
    net_tx_bytes: next("netTx", prev?.net_tx_bytes),
    block_read_bytes: next("blockRead", prev?.block_read_bytes),
    block_write_bytes: next("blockWrite", prev?.block_write_bytes),
    pids: prev?.pids ?? 0,
  };
}

/** Totals over a set of samples: the Engine page's numbers. */
export function totals(latest: Record<string, ContainerStats>): { cpu: number; memory: number; count: number } {
  let cpu = 0;
  let memory = 0;
  let count = 0;
  for (const s of Object.values(latest)) {
    cpu += s.cpu_percent;
    memory += s.memory_bytes;
    count += 1;
  }
  return { cpu, memory, count };
}
