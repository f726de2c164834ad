/**
 * The live store: the client side of protocol.md, framework-free.
 *
 * One WebSocket to /api/v1/ws (subprotocol dockstate.v1): hello, one subscription in mode
 * `changes`, then the snapshot and the changes after it, applied with fast-json-patch. It
 *
 * - detects a gap (a `changes` whose `from` is not the version it holds, or a change that does
 *   not apply) and sends `resync`; on `resync_required` it waits for the snapshot that follows;
 * - reconnects with jittered exponential backoff, and at once when the tab becomes visible
 *   again (or the browser comes back online), resuming with `since` so that only the missed
 *   changes travel;
 * - closes a connection that has been silent for two heartbeats (bookmarks are the heartbeat);
 * - shows the last state kept in IndexedDB at once, marked stale, until the live state arrives;
 * - runs REST actions optimistically: the row shows "stopping…" at once, the change stream
 *   confirms it, and a refusal rolls it back with Docker's message.
 *
 * Read it with getState()/subscribe(); React does so through useEngineState.
 */
import { applyChanges, ApplyError } from "./apply";
import {
  type ActionRequest,
  type Baseline,
  baselineOf,
  confirmed,
  httpRequest,
  pendingKey,
  progressLabel,
} from "./actions";
import { createStore, type Listener, type Store } from "./createStore";
import type { CachedState, Persistence } from "./persist";
import type {
  Accepted,
  ChangesMessage,
  EngineState,
  Problem,
  ServerMessage,
  Snapshot,
  Welcome,
} from "./types";
import { PROTOCOL } from "./types";

export type ConnectionStatus =
  | "idle" // not started
  | "connecting" // socket opening, hello sent
  | "live" // welcomed and subscribed
  | "reconnecting" // waiting for the next attempt (see retryAt)
  | "unauthorized" // the server refused our credentials (close 4401)
  | "stopped";

export interface ConnectionInfo {
  status: ConnectionStatus;
  /** Failed attempts in a row; 0 once the state flows. */
  attempt: number;
  /** When the next attempt starts (ms since the epoch), while reconnecting. */
  retryAt: number | null;
  lastClose: { code: number; reason: string } | null;
  server: string | null;
  session: string | null;
  heartbeatMs: number | null;
  /** Snapshots taken after a gap or a resync_required, since the store started. */
  resyncs: number;
  /** Why the last resync happened. */
  lastResync: string | null;
}

export interface PendingAction {
  key: string;
  request: ActionRequest;
  label: string;
  startedAt: number;
  /** The engine accepted it (202); now waiting for the change stream to show its effect. */
  accepted: boolean;
  baseline: Baseline;
}

export interface Notice {
  id: number;
  level: "error" | "info";
  title: string;
  message: string;
  at: number;
}

export interface LiveState {
  /** The state as last known; null before anything (cached or live) arrived. */
  data: EngineState | null;
  epoch: string | null;
  /** Where ``data`` comes from: nowhere yet, the IndexedDB cache, or the server. */
  source: "none" | "cache" | "live";
  /** When the cached state was saved (for "last known at …"). */
  cachedAt: number | null;
  /** A snapshot is awaited (after a gap, a resync_required, or a resume that cannot be). */
  syncing: boolean;
  connection: ConnectionInfo;
  pending: Record<string, PendingAction>;
  notices: Notice[];
}

/** The parts of the browser's WebSocket the store uses (a fake one in tests). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

/** Tells the store when to try again at once: the tab became visible, the network is back. */
export type WakeSource = (wake: () => void) => () => void;

export interface LiveStoreOptions {
  /** The WebSocket URL, e.g. ws://127.0.0.1:8765/api/v1/ws. */
  url: string;
  /** Prefix of the REST paths ("" = same origin). */
  apiBase?: string;
  /** Sent in hello; a browser leaves it out (its session cookie authenticates it). */
  token?: string;
  client?: string;
  socket?: SocketFactory;
  fetch?: typeof fetch;
  persistence?: Persistence | null;
  random?: () => number;
  wake?: WakeSource | null;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Save the state to the cache at most this often. */
  persistEveryMs?: number;
  /** Give up waiting for the stream to confirm an accepted action after this long. */
  actionTimeoutMs?: number;
  /** Heartbeats that may be missed before the connection is taken for dead. */
  missedHeartbeats?: number;
}

/** Visible-again and online events of the browser. */
export const browserWake: WakeSource = (wake) => {
  const onVisible = () => {
    if (document.visibilityState === "visible") wake();
  };
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("online", wake);
  return () => {
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("online", wake);
  };
};

/** The store's own WebSocket URL for a page served by dockstate. */
export function defaultSocketUrl(loc: Location = window.location): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/api/v1/ws`;
}

const OPEN = 1;
const UNAUTHORIZED = 4401;

function initialState(): LiveState {
  return {
    data: null,
    epoch: null,
    source: "none",
    cachedAt: null,
    syncing: false,
    connection: {
      status: "idle",
      attempt: 0,
      retryAt: null,
      lastClose: null,
      server: null,
      session: null,
      heartbeatMs: null,
      resyncs: 0,
      lastResync: null,
    },
    pending: {},
    notices: [],
  };
}

export class LiveStore {
  private readonly store: Store<LiveState> = createStore(initialState());
  private readonly opts: Required<
    Pick<LiveStoreOptions, "apiBase" | "client" | "persistEveryMs" | "actionTimeoutMs">
  > &
    LiveStoreOptions;
  private ws: SocketLike | null = null;
  private subId: string | null = null;
  private subCounter = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private actionTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private unwake: (() => void) | null = null;
  private noticeCounter = 0;
  private started = false;

  constructor(options: LiveStoreOptions) {
    this.opts = {
      apiBase: "",
      client: "dockstate-web/0.1",
      persistEveryMs: 1000,
      actionTimeoutMs: 60_000,
      ...options,
    };
  }

  // -- reading ---------------------------------------------------------------------------

  getState = (): LiveState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  // -- lifecycle -------------------------------------------------------------------------

  /** Show the cached state (if any) and connect. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { persistence, wake } = this.opts;
    if (persistence) {
      void persistence.load().then((cached) => this.showCached(cached));
    }
    if (wake) this.unwake = wake(() => this.wakeUp());
    this.connect();
  }

  /** Close the connection and stop every timer; the store keeps its state. */
  stop(): void {
    this.started = false;
    this.unwake?.();
    this.unwake = null;
    this.clearRetry();
    this.clearWatchdog();
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    for (const timer of this.actionTimers.values()) clearTimeout(timer);
    this.actionTimers.clear();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "bye");
    }
    this.setConnection({ status: "stopped", retryAt: null });
  }

  /** Try now, rather than when the backoff says (the tab is visible again, or online). */
  wakeUp(): void {
    if (!this.started) return;
    const { status } = this.getState().connection;
    if (status === "reconnecting" || status === "unauthorized") this.connect();
  }

  private showCached(cached: CachedState | null): void {
    if (!cached || this.getState().source !== "none") return;
    this.store.setState({
      data: cached.data,
      epoch: cached.epoch,
      source: "cache",
      cachedAt: cached.savedAt,
    });
  }

  // -- the connection --------------------------------------------------------------------

  private connect(): void {
    this.clearRetry();
    const old = this.ws;
    if (old) {
      detach(old);
      old.close(1000, "reconnecting");
    }
    const factory =
      this.opts.socket ??
      ((url: string, protocols: string[]) => new WebSocket(url, protocols) as SocketLike);
    let ws: SocketLike;
    try {
      ws = factory(this.opts.url, [PROTOCOL]);
    } catch (err) {
      this.ws = null;
      this.onClose(1006, err instanceof Error ? err.message : String(err));
      return;
    }
    this.ws = ws;
    this.subId = null;
    this.setConnection({ status: "connecting", retryAt: null });
    ws.onopen = () => {
      const hello: Record<string, string> = {
        type: "hello",
        protocol: PROTOCOL,
        client: this.opts.client,
      };
      if (this.opts.token) hello.token = this.opts.token;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let message: ServerMessage;
      try {
        message = JSON.parse(String(ev.data)) as ServerMessage;
      } catch {
        return;
      }
      this.armWatchdog();
      this.onMessage(message);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event follows; it carries what there is to know.
    };
  }

  private onClose(code: number, reason: string): void {
    this.clearWatchdog();
    this.subId = null;
    if (!this.started) return;
    const connection = this.getState().connection;
    if (code === UNAUTHORIZED) {
      this.setConnection({ status: "unauthorized", lastClose: { code, reason }, retryAt: null });
      return;
    }
    const attempt = connection.attempt + 1;
    const delay = this.backoff(attempt);
    this.setConnection({
      status: "reconnecting",
      attempt,
      retryAt: Date.now() + delay,
      lastClose: { code, reason },
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** "Equal jitter": half the capped exponential delay, plus a random share of the other half. */
  backoff(attempt: number): number {
    const initial = this.opts.backoff?.initialMs ?? 500;
    const max = this.opts.backoff?.maxMs ?? 15_000;
    const cap = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
    const random = this.opts.random ?? Math.random;
    return Math.round(cap / 2 + (random() * cap) / 2);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private armWatchdog(): void {
    this.clearWatchdog();
    const heartbeat = this.getState().connection.heartbeatMs;
    if (!heartbeat) return;
    const ws = this.ws;
    this.watchdog = setTimeout(
      () => {
        if (!ws || ws !== this.ws) return;
        // A dead TCP connection may take minutes to report its close: don't wait for it.
        detach(ws);
        ws.close(4000, "no heartbeat");
        this.ws = null;
        this.onClose(4000, "no message for two heartbeats");
      },
      heartbeat * (this.opts.missedHeartbeats ?? 2) + 1000,
    );
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private send(message: object): void {
    if (this.ws && this.ws.readyState === OPEN) this.ws.send(JSON.stringify(message));
  }

  // -- the protocol ----------------------------------------------------------------------

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case "welcome":
        this.onWelcome(message);
        return;
      case "snapshot":
        if (message.sub === this.subId) this.onSnapshot(message);
        return;
      case "changes":
        if (message.sub === this.subId) this.onChanges(message);
        return;
      case "bookmark": {
        const s = this.getState();
        if (message.sub !== this.subId || s.syncing || !s.data) return;
        if (message.epoch !== s.epoch) {
          this.resync("bookmark of another epoch");
        } else if (message.version > s.data.version) {
          // Every change up to it was delivered: the next batch starts there.
          this.store.setState({ data: { ...s.data, version: message.version } });
        }
        return;
      }
      case "resync_required":
        if (message.sub === this.subId) {
          this.store.setState({ syncing: true });
          this.noteResync(`resync_required ${message.code}`);
        }
        return;
      case "error":
        console.warn(`dockstate: ${message.code}: ${message.message}`);
        return;
      default:
        return;
    }
  }

  private onWelcome(welcome: Welcome): void {
    this.setConnection({
      status: "live",
      server: welcome.server,
      session: welcome.session,
      heartbeatMs: welcome.heartbeat_ms,
      retryAt: null,
    });
    this.armWatchdog();
    this.subId = `s${++this.subCounter}`;
    const s = this.getState();
    const subscribe: Record<string, unknown> = {
      type: "subscribe",
      id: this.subId,
      mode: "changes",
    };
    if (s.data && s.epoch) {
      const since = { epoch: s.epoch, version: s.data.version };
      subscribe.since = since;
      const resumable =
        since.epoch === welcome.epoch &&
        welcome.oldest <= since.version &&
        since.version <= welcome.version;
      // Resumable: the missed changes come next, no snapshot. Otherwise the server answers
      // resync_required and a snapshot; until then what we show is stale.
      this.store.setState(
        resumable ? { syncing: false, source: "live" } : { syncing: true },
      );
      if (resumable) this.setConnection({ attempt: 0 });
    } else {
      this.store.setState({ syncing: true });
    }
    this.send(subscribe);
  }

  private onSnapshot(message: Snapshot): void {
    const data: EngineState = { ...message.state, version: message.version };
    this.store.setState({
      data,
      epoch: message.epoch,
      source: "live",
      syncing: false,
      cachedAt: null,
    });
    this.setConnection({ attempt: 0 });
    this.afterStateChange();
  }

  private onChanges(message: ChangesMessage): void {
    const s = this.getState();
    if (s.syncing) return; // a snapshot is on its way; it covers these
    if (!s.data || message.epoch !== s.epoch) {
      this.resync("changes of another epoch");
      return;
    }
    if (message.from !== s.data.version) {
      this.resync(`gap: holding ${s.data.version}, changes from ${message.from}`);
      return;
    }
    try {
      const data = applyChanges(s.data, message.changes, message.to, message.timestamp);
      this.store.setState({ data, source: "live" });
    } catch (err) {
      if (!(err instanceof ApplyError)) throw err;
      this.resync(err.message);
      return;
    }
    if (this.getState().connection.attempt !== 0) this.setConnection({ attempt: 0 });
    this.afterStateChange();
  }

  /** Ask for a fresh snapshot: we have lost track. */
  private resync(why: string): void {
    this.store.setState({ syncing: true });
    this.noteResync(why);
    if (this.subId) this.send({ type: "resync", id: this.subId });
  }

  private noteResync(why: string): void {
    const c = this.getState().connection;
    this.setConnection({ resyncs: c.resyncs + 1, lastResync: why });
  }

  private afterStateChange(): void {
    this.settlePending();
    this.schedulePersist();
  }

  private setConnection(patch: Partial<ConnectionInfo>): void {
    this.store.setState((s) => ({ connection: { ...s.connection, ...patch } }));
  }

  // -- the cache -------------------------------------------------------------------------

  private schedulePersist(): void {
    const persistence = this.opts.persistence;
    if (!persistence || this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      void this.persistNow();
    }, this.opts.persistEveryMs);
  }

  /** Save the live state now (also called when the page is hidden). */
  async persistNow(): Promise<void> {
    const s = this.getState();
    const persistence = this.opts.persistence;
    if (!persistence || s.source !== "live" || s.syncing || !s.data || !s.epoch) return;
    try {
      await persistence.save({
        epoch: s.epoch,
        version: s.data.version,
        data: s.data,
        savedAt: Date.now(),
      });
    } catch (err) {
      console.warn("dockstate: could not save the state", err);
    }
  }

  // -- actions ---------------------------------------------------------------------------

  /** A REST request to the server (``path`` from /api/…), with the session cookie. */
  request = (path: string, init: RequestInit = {}): Promise<Response> => {
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    return doFetch(`${this.opts.apiBase}${path}`, { credentials: "same-origin", ...init });
  };

  /**
   * Run a REST action optimistically. Resolves to true once the engine accepted it (its effect
   * follows through the change stream), false when it was refused (the refusal is a notice).
   */
  async act(request: ActionRequest): Promise<boolean> {
    const key = pendingKey(request);
    if (this.getState().pending[key]) return false; // one action at a time per object
    const pending: PendingAction = {
      key,
      request,
      label: progressLabel(request),
      startedAt: Date.now(),
      accepted: false,
      baseline: baselineOf(this.getState().data, request),
    };
    this.store.setState((s) => ({ pending: { ...s.pending, [key]: pending } }));
    const http = httpRequest(request);
    let response: Response;
    try {
      response = await this.request(http.path, {
        method: http.method,
        headers: http.body === undefined ? {} : { "content-type": "application/json" },
        body: http.body === undefined ? undefined : JSON.stringify(http.body),
      });
    } catch (err) {
      this.rollback(key, request, `the server could not be reached (${String(err)})`);
      return false;
    }
    if (!response.ok) {
      this.rollback(key, request, await problemDetail(response));
      if (response.status === 401) this.setConnection({ status: "unauthorized" });
      return false;
    }
    let accepted: Partial<Accepted> = {};
    try {
      accepted = (await response.json()) as Accepted;
    } catch {
      // 202 without a body: still accepted
    }
    const current = this.getState().pending[key];
    if (!current) return true;
    const baseline = { ...current.baseline, createdId: accepted.id ?? null };
    this.store.setState((s) => ({
      pending: { ...s.pending, [key]: { ...current, accepted: true, baseline } },
    }));
    if (request.action === "prune" && accepted.report) {
      this.notify("info", `Pruned ${request.kind}s`, describePrune(accepted.report));
    }
    this.settlePending();
    if (this.getState().pending[key]) {
      this.actionTimers.set(
        key,
        setTimeout(() => {
          this.actionTimers.delete(key);
          if (!this.getState().pending[key]) return;
          this.dropPending(key);
          this.notify(
            "info",
            `${titleOf(request)}: no change seen yet`,
            "The engine accepted it, but its effect has not reached the state.",
          );
        }, this.opts.actionTimeoutMs),
      );
    }
    return true;
  }

  private rollback(key: string, request: ActionRequest, detail: string): void {
    this.dropPending(key);
    this.notify("error", `${titleOf(request)} failed`, detail);
  }

  private dropPending(key: string): void {
    const timer = this.actionTimers.get(key);
    if (timer) clearTimeout(timer);
    this.actionTimers.delete(key);
    this.store.setState((s) => {
      if (!(key in s.pending)) return {};
      const pending = { ...s.pending };
      delete pending[key];
      return { pending };
    });
  }

  private settlePending(): void {
    const s = this.getState();
    for (const p of Object.values(s.pending)) {
      if (p.accepted && confirmed(s.data, p.request, p.baseline)) this.dropPending(p.key);
    }
  }

  notify(level: Notice["level"], title: string, message: string): void {
    const notice: Notice = { id: ++this.noticeCounter, level, title, message, at: Date.now() };
    this.store.setState((s) => ({ notices: [...s.notices.slice(-9), notice] }));
  }

  dismiss(id: number): void {
    this.store.setState((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
  }
}

function detach(ws: SocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

/** Docker's own message from an RFC 9457 problem (or what else the answer says). */
export async function problemDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const problem = JSON.parse(text) as Partial<Problem>;
    if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  } catch {
    // not JSON
  }
  return text.trim() || `HTTP ${response.status} ${response.statusText}`.trim();
}

function titleOf(req: ActionRequest): string {
  const verb = req.action.charAt(0).toUpperCase() + req.action.slice(1);
  if (req.action === "prune") return `${verb} ${req.kind}s`;
  if (req.action === "create") return `${verb} ${req.kind} ${req.name}`;
  return `${verb} ${req.kind} ${req.name ?? shortId(req.id)}`;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

function describePrune(report: Record<string, unknown>): string {
  const deleted = Object.entries(report).find(
    ([k, v]) => Array.isArray(v) && /deleted/i.test(k),
  )?.[1] as unknown[] | undefined;
  const freed = typeof report.SpaceReclaimed === "number" ? report.SpaceReclaimed : null;
  const parts = [`${deleted?.length ?? 0} removed`];
  if (freed !== null) parts.push(`${(freed / 1e6).toFixed(1)} MB freed`);
  return parts.join(", ");
}

/** Derived: the data is known to be current (live connection, engine connected, synced). */
export function isLive(s: LiveState): boolean {
  return (
    s.connection.status === "live" &&
    s.source === "live" &&
    !s.syncing &&
    s.data?.engine_info?.status === "connected"
  );
}
