/**
 * The live store: the client side of protocol.md, framework-free. This file is the connection;
 * the rest is done by its parts:
 *
 * - `follower.ts` (pure): snapshot and changes applied with fast-json-patch, gaps detected
 *   (a `changes` that does not chain, a change that does not apply) and answered with
 *   `resync`, `resync_required` waited out until its snapshot, bookmarks;
 * - `persist.ts`: the last state kept in IndexedDB, a subscriber of this store: shown at once,
 *   marked stale, until the live state arrives;
 * - `actions.ts`: REST actions run optimistically (the row shows "stopping…" at once, the
 *   change stream confirms it, a refusal rolls it back with Docker's message);
 * - `operations.ts`: the operations those actions start (protocol.md §11), followed through
 *   the `operation` messages of this connection (a Channel): a failure after the 202 rolls
 *   the action back, a pull's or a project's progress shows as it goes;
 * - `backoff.ts`: the reconnection delays (the rule of dockstate.backoff).
 *
 * Here: one WebSocket to /api/v1/ws (subprotocol dockstate.v1): hello, one subscription in
 * mode `changes`, every server message handed to the follower. It reconnects with jittered
 * exponential backoff, and at once when the tab becomes visible again (or the browser comes
 * back online), resuming with `since` so that only the missed changes travel; and it closes a
 * connection that has been silent for two heartbeats (bookmarks are the heartbeat).
 *
 * Read it with getState()/subscribe(); React does so through useEngineState.
 */
import {
  type ActionRequest,
  type ActOptions,
  type ActResult,
  ActionTracker,
  type Notice,
  type PendingAction,
} from "./actions";
import { backoffDelay, type BackoffOptions } from "./backoff";
import { createStore, type Listener, type Store } from "./createStore";
import { follow, type Following, initialFollowing, resumeFrom, subscribe } from "./follower";
import { OperationsTracker } from "./operations";
import { type CachedState, type Persisted, type Persistence, persist } from "./persist";
import type { ServerMessage, Welcome } from "./types";
import { PROTOCOL } from "./types";

export type { ActResult, Notice, PendingAction } from "./actions";
export { pendingFor, problemDetail } from "./actions";

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

export interface LiveState extends Following {
  /** Where ``data`` comes from: nowhere yet, the IndexedDB cache, or the server. */
  source: "none" | "cache" | "live";
  /** When the cached state was saved (for "last known at …"). */
  cachedAt: number | null;
  connection: ConnectionInfo;
  pending: Record<string, PendingAction>;
  notices: Notice[];
}

/**
 * Another store's use of this connection (stats.ts): it hears every welcome (a new connection,
 * where it subscribes again), every server message that is not the state's, and every close.
 * It sends through `LiveStore.send`.
 */
export interface Channel {
  /** The connection is welcomed: subscribe (again). */
  onOpen(): void;
  /** A server message; return true when it is this channel's (the follower never sees it). */
  onMessage(message: ServerMessage): boolean;
  /** The connection is gone: what was subscribed on it is gone too. */
  onClose(): void;
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
  /**
   * The server's engine this store follows (protocol.md §8): every subscription made on its
   * connection names it, and its REST paths are the engine's (`/api/v1/engines/<id>/…`).
   * Absent: the server's default engine, on the unprefixed paths.
   */
  engine?: string;
  /** Sent in hello; a browser leaves it out (its session cookie authenticates it). */
  token?: string;
  client?: string;
  socket?: SocketFactory;
  fetch?: typeof fetch;
  persistence?: Persistence | null;
  random?: () => number;
  wake?: WakeSource | null;
  backoff?: BackoffOptions;
  /** Save the state to the cache at most this often. */
  persistEveryMs?: number;
  /** Give up waiting for the stream to confirm a finished action after this long. */
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
    ...initialFollowing(),
    source: "none",
    cachedAt: null,
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
  private readonly actions: ActionTracker;
  /** The operations of the actions this tab ran (their progress, their outcome). */
  readonly operations: OperationsTracker;
  private persisted: Persisted | null = null;
  private ws: SocketLike | null = null;
  private subCounter = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private unwake: (() => void) | null = null;
  private started = false;
  private welcomed = false;
  private readonly channels = new Set<Channel>();

  constructor(options: LiveStoreOptions) {
    this.opts = {
      apiBase: "",
      client: "dockstate-web/0.1",
      persistEveryMs: 1000,
      actionTimeoutMs: 60_000,
      ...options,
    };
    this.operations = new OperationsTracker({ request: this.request });
    this.attach(this.operations);
    this.actions = new ActionTracker(this.store, {
      request: this.request,
      operations: this.operations,
      timeoutMs: this.opts.actionTimeoutMs,
      onUnauthorized: () => this.setConnection({ status: "unauthorized" }),
    });
  }

  // -- reading ---------------------------------------------------------------------------

  getState = (): LiveState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  /**
   * Share the connection (see Channel). When it is already welcomed, the channel's onOpen runs
   * at once. Returns the detach function.
   */
  attach(channel: Channel): () => void {
    this.channels.add(channel);
    if (this.welcomed) channel.onOpen();
    return () => {
      this.channels.delete(channel);
    };
  }

  /** Whether the connection is welcomed (a channel may send). */
  get open(): boolean {
    return this.welcomed;
  }

  // -- lifecycle -------------------------------------------------------------------------

  /** Show the cached state (if any) and connect. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { persistence, wake } = this.opts;
    this.actions.start();
    if (persistence) {
      this.persisted?.stop();
      this.persisted = persist(this.store, persistence, {
        everyMs: this.opts.persistEveryMs,
        hydrate: (cached) => this.showCached(cached),
      });
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
    this.persisted?.stop();
    this.actions.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "bye");
    }
    this.closeChannels();
    this.setConnection({ status: "stopped", retryAt: null });
  }

  /** Try now, rather than when the backoff says (the tab is visible again, or online). */
  wakeUp(): void {
    if (!this.started) return;
    const { status } = this.getState().connection;
    if (status === "reconnecting" || status === "unauthorized") this.connect();
  }

  /** Save the live state now (also called when the page is hidden). */
  async persistNow(): Promise<void> {
    await this.persisted?.flush();
  }

  private showCached(cached: CachedState): void {
    if (this.getState().source !== "none") return;
    this.store.setState({
      ...resumeFrom(cached.epoch, cached.data),
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
    this.closeChannels();
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
    this.store.setState({ sub: null });
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
    this.closeChannels();
    this.store.setState({ sub: null });
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

  /** The delay before failed attempt ``attempt`` (from 1): see backoff.ts. */
  backoff(attempt: number): number {
    return backoffDelay(attempt - 1, this.opts.backoff, this.opts.random);
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

  /**
   * Send one client message on the connection; false when there is no open connection. A
   * subscription (the state's, stats', logs') is made on this store's engine.
   */
  send(message: object): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(onEngine(message, this.opts.engine)));
    return true;
  }

  private closeChannels(): void {
    if (!this.welcomed) return;
    this.welcomed = false;
    for (const channel of [...this.channels]) channel.onClose();
  }

  // -- the protocol: the follower decides, the connection does -----------------------------

  private onMessage(message: ServerMessage): void {
    if (message.type === "welcome") {
      this.onWelcome(message);
      return;
    }
    for (const channel of [...this.channels]) if (channel.onMessage(message)) return;
    if (message.type === "error") console.warn(`dockstate: ${message.code}: ${message.message}`);
    const s = this.getState();
    const { state, step, answer, resync } = follow(s, message);
    if (state === s) return;
    const connection = { ...s.connection };
    if (resync) {
      connection.resyncs += 1;
      connection.lastResync = resync;
    }
    const live: Partial<LiveState> = {};
    if (step === "state") {
      live.source = "live";
      connection.attempt = 0;
      if (message.type === "snapshot") live.cachedAt = null;
    }
    this.store.setState({ ...state, ...live, connection });
    if (answer) this.send(answer);
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
    const { state, message } = subscribe(this.getState(), `s${++this.subCounter}`, welcome);
    // Resumable: the missed changes come next, no snapshot. Otherwise the server answers
    // resync_required and a snapshot; until then what we show is stale.
    const resumed = message.since && !state.syncing;
    this.store.setState(resumed ? { ...state, source: "live" } : state);
    if (resumed) this.setConnection({ attempt: 0 });
    this.send(message);
    this.welcomed = true;
    for (const channel of [...this.channels]) channel.onOpen();
  }

  private setConnection(patch: Partial<ConnectionInfo>): void {
    this.store.setState((s) => ({ connection: { ...s.connection, ...patch } }));
  }

  // -- actions (actions.ts) ----------------------------------------------------------------

  /** A REST request to the server (``path`` from /api/…), with the session cookie. */
  request = (path: string, init: RequestInit = {}): Promise<Response> => {
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    const url = `${this.opts.apiBase}${enginePath(path, this.opts.engine)}`;
    return doFetch(url, { credentials: "same-origin", ...init });
  };

  /**
   * Run a REST action optimistically (see ActionTracker.act): resolves once the engine is done
   * with it, or refused it (the refusal is a notice unless ``options.quiet``).
   */
  act(request: ActionRequest, options?: ActOptions): Promise<ActResult> {
    return this.actions.act(request, options);
  }

  notify(level: Notice["level"], title: string, message: string): void {
    this.actions.notify(level, title, message);
  }

  dismiss(id: number): void {
    this.actions.dismiss(id);
  }
}

/** ``message`` naming ``engine`` when it is a subscription (and an engine is given). */
export function onEngine(message: object, engine: string | undefined): object {
  const type = (message as { type?: unknown }).type;
  if (engine === undefined || typeof type !== "string" || !type.startsWith("subscribe")) {
    return message;
  }
  return { ...message, engine };
}

/** The REST path ``path`` (from /api/v1/…) on ``engine``: every route about an engine is also
 * under /api/v1/engines/<id>/ (protocol.md §8); the server's own ones are not. */
export function enginePath(path: string, engine: string | undefined): string {
  if (engine === undefined || !path.startsWith("/api/v1/") || SERVER_ROUTES.test(path)) {
    return path;
  }
  return `/api/v1/engines/${encodeURIComponent(engine)}/${path.slice("/api/v1/".length)}`;
}
const SERVER_ROUTES = /^\/api\/v1\/(engines|schema|ws)(\/|$|\?)/;

function detach(ws: SocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
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
