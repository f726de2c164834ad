/**
 * The logs store (protocol.md §10), beside the state and stats stores and framework-free: the
 * lines of a container's log, or of a compose project's containers merged, for each open view.
 *
 * - It shares the live store's WebSocket (a `Channel` of live.ts), as the stats store does: one
 *   `subscribe_logs` (follow) per open view, `unsubscribe` when the view closes or the tab
 *   hides, and a new one on every new connection and when the tab is visible again. That one
 *   resumes from the newest line held (`since` its time, the whole log since): the engine's
 *   `since` includes that instant, so the lines at it that the view holds are dropped once.
 * - Bounded: a view keeps at most `maxLines` entries (10 000) and `maxChars` characters of
 *   text (4 Mi, one line may be 64 KiB), so that a tab left on a flooding container keeps a
 *   flat heap. Following, the oldest go; paused (the user scrolled up to read), nothing the
 *   user may be reading goes: once full, newer lines are only counted (`behind`), and
 *   following again starts afresh from the last `tail` lines.
 * - Batched: lines are taken from the socket as they come but reach the view at most once an
 *   animation frame (`schedule`), all of them at once, so a flood costs one render a frame.
 * - `logs_skipped` (lines the server dropped because we did not keep up) is an entry of its
 *   own where the lines were, "N lines skipped"; `logs_end` of a followed container (removed)
 *   one too.
 * - Older lines: `loadOlder()` reads a time window just before the oldest line held (`since`,
 *   `until`, no follow, of the same container or project: never another's), sized from the
 *   rate of the lines held to bring about `page` lines, widened when it brings none, until the
 *   window reaches the log's beginning (`origin`, the container's creation).
 *
 * Read a view with getState()/subscribe() (React: useLogView in ../react/logs.ts).
 */
import { createStore, type Listener, type Store } from "./createStore";
import type { Channel } from "./live";
import { documentVisibility, type VisibilitySource } from "./stats";
import type { LogLineModel, LogsEnd, LogsMessage, LogsSkipped, ServerMessage } from "./types";

/** Entries a view keeps at most (lines and markers). */
export const MAX_LINES = 10_000;
/** Characters of text a view keeps at most (a line may be 64 KiB). */
export const MAX_CHARS = 4 * 1024 * 1024;
/** Lines shown at once when a view opens. */
export const TAIL = 200;
/** Older lines a scroll back brings, about. */
export const PAGE = 500;

const MS = 1_000_000n; // nanoseconds
const MIN_WINDOW = MS; // 1 ms
const FIRST_WINDOW = 60_000n * MS; // a minute, when the lines held tell no rate
const MAX_WINDOW = 365n * 86_400_000n * MS;

/** A container (id, id prefix or name) or a compose project. */
export type LogTarget = { container: string; project?: undefined } | { project: string; container?: undefined };

export interface LineEntry {
  kind: "line";
  /** Unique in its view: later entries have larger keys. */
  key: number;
  container: string;
  stream: "stdout" | "stderr";
  /** RFC 3339, UTC, nine digits of nanoseconds (the server writes every engine's so). */
  time: string;
  text: string;
  /** Longer than 64 KiB: cut by the server. */
  truncated: boolean;
}

export interface MarkEntry {
  /** `skipped`: `count` lines the server dropped here; `end`: the container's log ended (removed). */
  kind: "skipped" | "end";
  key: number;
  container: string | null;
  count: number;
}

export type LogEntry = LineEntry | MarkEntry;

export type LogStatus =
  | "waiting" // no connection
  | "live" // subscribed
  | "hidden" // the tab is hidden: unsubscribed until it is visible again
  | "ended" // the log ended (the container was removed)
  | "error"; // the server refused the subscription (see `error`)

export interface LogViewState {
  /** Oldest first. */
  entries: readonly LogEntry[];
  status: LogStatus;
  error: string | null;
  /** New lines are appended and the oldest let go (the view sticks to the bottom). */
  following: boolean;
  /** Paused and full: newer lines not kept (following again starts afresh). */
  behind: number;
  loadingOlder: boolean;
  /** The oldest line held is the log's first (as far as the windows read tell). */
  atStart: boolean;
  /** Lines let go off the oldest end to stay within the bounds. */
  trimmed: number;
  /** Lines the server skipped, in all. */
  skipped: number;
  /** Lines received, in all. */
  received: number;
}

export const EMPTY_VIEW: LogViewState = {
  entries: [],
  status: "waiting",
  error: null,
  following: true,
  behind: 0,
  loadingOlder: false,
  atStart: false,
  trimmed: 0,
  skipped: 0,
  received: 0,
};

/** What the logs store needs of the live store. */
export interface LogsConnection {
  attach(channel: Channel): () => void;
  send(message: object): boolean;
}

/** Runs `run` soon (once); returns a cancel function. */
export type Scheduler = (run: () => void) => () => void;

/** The next animation frame (a timer where there are no frames). */
export const animationFrame: Scheduler = (run) => {
  if (typeof requestAnimationFrame === "function") {
    const id = requestAnimationFrame(run);
    return () => cancelAnimationFrame(id);
  }
  const id = setTimeout(run, 16);
  return () => clearTimeout(id);
};

export interface LogsStoreOptions {
  live: LogsConnection;
  visibility?: VisibilitySource | null;
  schedule?: Scheduler;
  maxLines?: number;
  maxChars?: number;
  tail?: number;
  page?: number;
}

export interface OpenOptions {
  /** When the log can begin at the earliest (ms since the epoch: the container's creation). */
  origin?: () => number | null;
}

// -- times -----------------------------------------------------------------------------------

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** An RFC 3339 time (any number of fraction digits) in nanoseconds since the epoch; null if it is none. */
export function nanos(time: string): bigint | null {
  const m = RFC3339.exec(time);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * MS + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Nanoseconds since the epoch as RFC 3339 in UTC with all nine digits (so that it sorts as text). */
export function rfc3339(ns: bigint): string {
  const fraction = String(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).padStart(9, "0");
  const seconds = (ns - BigInt(fraction)) / 1_000_000_000n;
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * A key that sorts as the time does. Docker writes RFC 3339 with its fraction's trailing zeros
 * cut ("…17.27204336Z" is before "…17.272043361Z", not after): never compare its times as text.
 */
export function timeKey(time: string): string {
  const ns = nanos(time);
  return ns === null ? "" : rfc3339(ns);
}

/** A line's identity among the lines of one instant (two lines may share a time). */
const identity = (line: { container: string; stream: string; text: string }) =>
  `${line.container}\n${line.stream}\n${line.text}`;

// -- the store -------------------------------------------------------------------------------

/** What a view needs of its store. */
interface Host {
  connected(): boolean;
  visible(): boolean;
  send(message: object): boolean;
  /** Route subscription `id`'s messages to `view` (null: forget `id`). */
  route(id: string, view: LogView | null): void;
  newId(): string;
  closed(view: LogView): void;
  readonly schedule: Scheduler;
  readonly limits: { maxLines: number; maxChars: number; tail: number; page: number };
}

export class LogsStore {
  private readonly live: LogsConnection;
  private readonly visibility: VisibilitySource | null;
  private readonly views = new Set<LogView>();
  private readonly subs = new Map<string, LogView>();
  private readonly host: Host;
  private counter = 0;
  private connected = false;
  private detach: (() => void) | null = null;
  private unvisible: (() => void) | null = null;

  constructor(options: LogsStoreOptions) {
    this.live = options.live;
    this.visibility = options.visibility === undefined ? documentVisibility : options.visibility;
    this.host = {
      connected: () => this.connected,
      visible: () => this.visibility?.visible() ?? true,
      send: (message) => this.live.send(message),
      route: (id, view) => {
        if (view) this.subs.set(id, view);
        else this.subs.delete(id);
      },
      newId: () => `l${++this.counter}`,
      closed: (view) => {
        this.views.delete(view);
      },
      schedule: options.schedule ?? animationFrame,
      limits: {
        maxLines: options.maxLines ?? MAX_LINES,
        maxChars: options.maxChars ?? MAX_CHARS,
        tail: options.tail ?? TAIL,
        page: options.page ?? PAGE,
      },
    };
  }

  /** Open a view of `target`'s log: subscribed while the connection is open and the tab visible. */
  open(target: LogTarget, options: OpenOptions = {}): LogView {
    this.ensureAttached();
    const view = new LogView(this.host, target, options);
    this.views.add(view);
    view.update();
    return view;
  }

  /** Views open (tests, diagnostics). */
  get size(): number {
    return this.views.size;
  }

  /** Close every view and leave the connection. */
  stop(): void {
    for (const view of [...this.views]) view.close();
    this.detach?.();
    this.detach = null;
    this.unvisible?.();
    this.unvisible = null;
    this.connected = false;
  }

  private ensureAttached(): void {
    if (this.detach) return;
    this.unvisible =
      this.visibility?.subscribe(() => {
        for (const view of this.views) view.update();
      }) ?? null;
    this.detach = this.live.attach({
      onOpen: () => {
        this.connected = true;
        for (const view of this.views) view.update();
      },
      onClose: () => {
        this.connected = false;
        this.subs.clear(); // the connection's subscriptions are gone with it
        for (const view of this.views) view.disconnected();
      },
      onMessage: (message) => this.onMessage(message),
    });
  }

  private onMessage(message: ServerMessage): boolean {
    switch (message.type) {
      case "logs":
      case "logs_skipped":
      case "logs_end":
        // Never the follower's; one of a subscription already let go is dropped.
        this.subs.get(message.sub)?.take(message);
        return true;
      case "error":
        if (typeof message.id === "string" && /^l\d+$/.test(message.id)) {
          this.subs.get(message.id)?.refused(message.id, `${message.code}: ${message.message}`);
          return true;
        }
        return false;
      default:
        return false;
    }
  }
}

interface Older {
  id: string;
  /** The oldest line held when the read began: the window ends at its time. */
  anchor: LineEntry;
  anchorNs: bigint;
  window: bigint;
  since: bigint;
  items: LogEntry[];
  /** Lines of the window were let go (it brought more than a page). */
  cut: boolean;
}

interface Resume {
  /** The timeKey of the newest line held: lines before it are held already... */
  after: string;
  /** ...and so are these of its instant (identity → how many). */
  seen: Map<string, number>;
}

/** One open view of a log: its subscription, its bounded lines, its reads of older windows. */
export class LogView {
  private readonly store: Store<LogViewState> = createStore<LogViewState>({ ...EMPTY_VIEW });
  private sub: string | null = null;
  private older: Older | null = null;
  /** Entries received since the last frame, in order. */
  private pending: LogEntry[] = [];
  private pendingChars = 0;
  /** Characters of text in `entries`. */
  private chars = 0;
  /** The counters of the state, published with the next frame. */
  private readonly tally = { received: 0, skipped: 0, behind: 0, trimmed: 0 };
  private cancelFrame: (() => void) | null = null;
  private resume: Resume | null = null;
  /** The container's full id, once a line told it (a container view). */
  private containerId: string | null = null;
  private lastKey = 0;
  private firstKey = 0;
  private isClosed = false;

  constructor(
    private readonly host: Host,
    readonly target: LogTarget,
    private readonly options: OpenOptions,
  ) {}

  getState = (): LogViewState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  /** The live subscription's id (tests, diagnostics). */
  get subscription(): string | null {
    return this.sub;
  }

  /** Unsubscribe and forget everything. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopLive();
    this.stopOlder();
    this.cancelFrame?.();
    this.cancelFrame = null;
    this.pending = [];
    this.host.closed(this);
  }

  /**
   * The user is at the bottom (true) or scrolled up (false). Following again after falling
   * behind starts afresh: the view's newest end was let go, what it keeps would not join the
   * live lines.
   */
  setFollowing(following: boolean): void {
    const s = this.getState();
    if (!following) {
      if (s.following) this.store.setState({ following });
      return;
    }
    this.stopOlder(); // its window would join a front about to move
    if (this.tally.behind > 0) {
      this.stopLive();
      this.pending = [];
      this.pendingChars = 0;
      this.chars = 0;
      this.resume = null;
      this.tally.behind = 0;
      this.store.setState({ entries: [], following, behind: 0, atStart: false });
      this.update();
      return;
    }
    if (!s.following) {
      this.store.setState({ following });
      this.flush();
    }
  }

  /** Subscribe or unsubscribe as the connection, the tab and the view's state want. */
  update(): void {
    const { status } = this.getState();
    const wanted =
      !this.isClosed && this.host.connected() && this.host.visible() && status !== "ended" && status !== "error";
    if (wanted && !this.sub) this.subscribeLive();
    else if (!wanted && this.sub) {
      this.stopLive();
      this.stopOlder();
      if (!this.isClosed && this.host.connected()) this.store.setState({ status: "hidden" });
    }
  }

  /** The connection is gone, and every subscription on it (a refused one is asked again on the next). */
  disconnected(): void {
    this.sub = null;
    this.older = null;
    const { status } = this.getState();
    this.store.setState({ status: status === "ended" ? status : "waiting", loadingOlder: false });
  }

  /**
   * Read the window of time just before the oldest line held. False when there is nothing to
   * read from (no line yet, the log's beginning reached, a read already running, no connection).
   */
  loadOlder(): boolean {
    const s = this.getState();
    if (this.older || s.atStart || !this.sub) return false;
    let first: LineEntry | undefined;
    let last: LineEntry | undefined;
    let lines = 0;
    for (const e of s.entries) {
      if (e.kind !== "line") continue;
      first ??= e;
      last = e;
      lines += 1;
    }
    const anchorNs = first ? nanos(first.time) : null;
    if (!first || !last || anchorNs === null) return false;
    // About `page` lines at the rate of the lines held.
    let window = FIRST_WINDOW;
    const lastNs = nanos(last.time);
    if (lastNs !== null && lastNs > anchorNs && lines > 1) {
      window = ((lastNs - anchorNs) * BigInt(this.host.limits.page)) / BigInt(lines - 1);
    }
    if (s.following) this.store.setState({ following: false });
    return this.readOlder(first, anchorNs, clamp(window, MIN_WINDOW, MAX_WINDOW));
  }

  private readOlder(anchor: LineEntry, anchorNs: bigint, window: bigint): boolean {
    const id = this.host.newId();
    const since = anchorNs - window;
    const sent = this.host.send({
      type: "subscribe_logs",
      id,
      ...this.targetFields(),
      since: rfc3339(since),
      until: anchor.time,
      tail: null,
      follow: false,
    });
    if (!sent) return false;
    this.older = { id, anchor, anchorNs, window, since, items: [], cut: false };
    this.host.route(id, this);
    this.store.setState({ loadingOlder: true });
    return true;
  }

  // -- the server's messages -------------------------------------------------------------

  /** A message of one of this view's subscriptions. */
  take(message: LogsMessage | LogsSkipped | LogsEnd): void {
    if (this.older && message.sub === this.older.id) this.takeOlder(message, this.older);
    else if (message.sub === this.sub) this.takeLive(message);
  }

  /** The server refused subscription `id` (an `error` message). */
  refused(id: string, error: string): void {
    this.host.route(id, null);
    if (this.older?.id === id) {
      this.older = null;
      this.store.setState({ loadingOlder: false, error });
    } else if (this.sub === id) {
      this.sub = null;
      this.store.setState({ status: "error", error });
    }
  }

  private takeLive(message: LogsMessage | LogsSkipped | LogsEnd): void {
    if (message.type === "logs") {
      for (const line of message.lines) {
        if (!this.ours(line)) continue;
        if (this.resume && this.heldAlready(line, this.resume)) continue;
        this.tally.received += 1;
        this.append(this.lineEntry(line, ++this.lastKey));
      }
    } else if (message.type === "logs_skipped") {
      this.tally.skipped += message.count;
      this.append({ kind: "skipped", key: ++this.lastKey, container: message.container, count: message.count });
    } else if (message.final) {
      this.host.route(message.sub, null);
      this.sub = null;
      this.flush();
      this.store.setState({ status: "ended" });
    } else if (message.container) {
      this.append({ kind: "end", key: ++this.lastKey, container: message.container, count: 0 });
    }
    this.frame();
  }

  /** A container view takes the lines of its container only, whatever comes (never mixed). */
  private ours(line: LogLineModel): boolean {
    if (this.target.container === undefined) return true;
    this.containerId ??= line.container;
    return line.container === this.containerId;
  }

  /** Whether a line of a resumed subscription is one the view holds already. */
  private heldAlready(line: LogLineModel, resume: Resume): boolean {
    const key = timeKey(line.time);
    if (key < resume.after) return true;
    if (key > resume.after) {
      this.resume = null; // past the instant resumed from: nothing more to compare
      return false;
    }
    return take(resume.seen, identity(line));
  }

  /** A live entry: kept for the next frame, or (paused and full) only counted. */
  private append(entry: LogEntry): void {
    const { maxLines, maxChars } = this.host.limits;
    const size = sizeOf(entry);
    const { following, entries } = this.getState();
    if (!following) {
      const full =
        entries.length + this.pending.length >= maxLines || this.chars + this.pendingChars + size > maxChars;
      if (this.tally.behind > 0 || full) {
        this.tally.behind += entry.kind === "skipped" ? entry.count : entry.kind === "line" ? 1 : 0;
        return;
      }
    }
    this.pending.push(entry);
    this.pendingChars += size;
    // Following, only the newest `maxLines` can stay: let go of the rest before the frame.
    if (following && this.pending.length > 2 * maxLines) {
      const gone = this.pending.splice(0, this.pending.length - maxLines);
      this.pendingChars -= textOf(gone);
      this.tally.trimmed += linesIn(gone);
    }
  }

  /** Publish what came at the next frame (once, however many messages come before it). */
  private frame(): void {
    if (this.cancelFrame || this.isClosed) return;
    this.cancelFrame = this.host.schedule(() => {
      this.cancelFrame = null;
      this.flush();
    });
  }

  /** The frame: what came since the last one joins the view at once, with the counters. */
  flush(): void {
    this.cancelFrame?.();
    this.cancelFrame = null;
    const s = this.getState();
    const patch: Partial<LogViewState> = {};
    if (this.pending.length > 0) {
      let entries = s.entries.concat(this.pending);
      this.chars += this.pendingChars;
      this.pending = [];
      this.pendingChars = 0;
      if (s.following) {
        const cut = this.overflow(entries, "oldest");
        if (cut > 0) {
          const gone = entries.slice(0, cut);
          entries = entries.slice(cut);
          this.chars -= textOf(gone);
          this.tally.trimmed += linesIn(gone);
          patch.atStart = false;
        }
      }
      patch.entries = entries;
    }
    const t = this.tally;
    if (t.received !== s.received || t.skipped !== s.skipped || t.behind !== s.behind || t.trimmed !== s.trimmed) {
      Object.assign(patch, t);
    }
    this.store.setState(patch);
  }

  /** How many entries to let go from one end of `entries` (holding `this.chars`) to fit the bounds. */
  private overflow(entries: readonly LogEntry[], from: "oldest" | "newest"): number {
    const { maxLines, maxChars } = this.host.limits;
    const at = (i: number) => entries[from === "oldest" ? i : entries.length - 1 - i]!;
    let cut = Math.max(0, entries.length - maxLines);
    let chars = this.chars;
    for (let i = 0; i < cut; i++) chars -= sizeOf(at(i));
    while (chars > maxChars && cut < entries.length - 1) chars -= sizeOf(at(cut++));
    return cut;
  }

  private takeOlder(message: LogsMessage | LogsSkipped | LogsEnd, older: Older): void {
    if (message.type === "logs") {
      for (const line of message.lines) if (this.ours(line)) older.items.push(this.lineEntry(line, 0));
      // Only the newest lines of a window join (the nearest to what is shown): a window that
      // brings far more than a page is cut, and the next read goes on from its oldest kept.
      const keep = 2 * this.host.limits.page;
      if (older.items.length > 2 * keep) {
        older.items.splice(0, older.items.length - keep);
        older.cut = true;
      }
    } else if (message.type === "logs_skipped") {
      older.items.push({ kind: "skipped", key: 0, container: message.container, count: message.count });
    } else if (message.final) {
      this.host.route(older.id, null);
      this.older = null;
      this.endOlder(older);
    }
  }

  private endOlder(older: Older): void {
    // The window ends at the anchor's instant, whose lines the view holds: drop those.
    const after = timeKey(older.anchor.time);
    const seen = new Map<string, number>();
    for (const e of this.getState().entries) {
      if (e.kind !== "line") continue;
      if (timeKey(e.time) !== after) break;
      seen.set(identity(e), (seen.get(identity(e)) ?? 0) + 1);
    }
    let items = older.items.filter((e) => {
      if (e.kind !== "line") return true;
      const key = timeKey(e.time);
      return key < after || (key === after && !take(seen, identity(e)));
    });
    const keep = 2 * this.host.limits.page;
    const cut = older.cut || items.length > keep;
    if (items.length > keep) items = items.slice(items.length - keep);
    const origin = this.options.origin?.();
    const reachedOrigin = origin !== null && origin !== undefined && older.since <= BigInt(Math.floor(origin)) * MS;
    if (items.length === 0) {
      // Nothing in that window: a wider one, unless it reached the log's beginning.
      if (reachedOrigin || older.window >= MAX_WINDOW) {
        this.store.setState({ loadingOlder: false, atStart: true });
      } else if (!this.readOlder(older.anchor, older.anchorNs, clamp(older.window * 8n, MIN_WINDOW, MAX_WINDOW))) {
        this.store.setState({ loadingOlder: false });
      }
      return;
    }
    for (let i = items.length - 1; i >= 0; i--) items[i]!.key = --this.firstKey;
    let entries = items.concat(this.getState().entries);
    this.chars += textOf(items);
    const patch: Partial<LogViewState> = { loadingOlder: false, atStart: reachedOrigin && !cut };
    // Too many now: the newest go (the user is reading the oldest), and the view is behind.
    const over = this.overflow(entries, "newest");
    if (over > 0) {
      const gone = entries.slice(entries.length - over);
      entries = entries.slice(0, entries.length - over);
      this.chars -= textOf(gone);
      this.tally.behind += linesIn(gone);
      patch.behind = this.tally.behind;
    }
    this.store.setState({ ...patch, entries });
  }

  // -- subscriptions ---------------------------------------------------------------------

  private targetFields(): { container: string } | { project: string } {
    return this.target.project !== undefined ? { project: this.target.project } : { container: this.target.container };
  }

  private subscribeLive(): void {
    const id = this.host.newId();
    const message: Record<string, unknown> = { type: "subscribe_logs", id, ...this.targetFields(), follow: true };
    const newest = this.newestLine();
    if (newest) {
      // Resume: every line since the newest held; it and those of its instant held are dropped.
      const after = timeKey(newest.time);
      const seen = new Map<string, number>();
      const all = [...this.getState().entries, ...this.pending];
      for (let i = all.length - 1; i >= 0; i--) {
        const e = all[i]!;
        if (e.kind !== "line") continue;
        if (timeKey(e.time) !== after) break;
        seen.set(identity(e), (seen.get(identity(e)) ?? 0) + 1);
      }
      message.since = newest.time;
      message.tail = null;
      this.resume = { after, seen };
    } else {
      message.tail = this.host.limits.tail;
      this.resume = null;
    }
    if (!this.host.send(message)) return;
    this.sub = id;
    this.host.route(id, this);
    // Lines counted while behind come again, from the newest held on.
    this.tally.behind = 0;
    this.store.setState({ status: "live", error: null, behind: 0 });
  }

  private newestLine(): LineEntry | undefined {
    for (const list of [this.pending, this.getState().entries]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i]!;
        if (e.kind === "line" && e.time) return e;
      }
    }
    return undefined;
  }

  private stopLive(): void {
    if (!this.sub) return;
    this.host.route(this.sub, null);
    if (this.host.connected()) this.host.send({ type: "unsubscribe", id: this.sub });
    this.sub = null;
  }

  private stopOlder(): void {
    if (!this.older) return;
    this.host.route(this.older.id, null);
    if (this.host.connected()) this.host.send({ type: "unsubscribe", id: this.older.id });
    this.older = null;
    this.store.setState({ loadingOlder: false });
  }

  private lineEntry(line: LogLineModel, key: number): LineEntry {
    return {
      kind: "line",
      key,
      container: intern(line.container),
      stream: line.stream,
      time: line.time,
      text: line.text,
      truncated: line.truncated === true,
    };
  }
}

/** Take one of `key` from the multiset `seen`; false when there is none left. */
function take(seen: Map<string, number>, key: string): boolean {
  const n = seen.get(key) ?? 0;
  if (n === 0) return false;
  seen.set(key, n - 1);
  return true;
}

function clamp(n: bigint, lo: bigint, hi: bigint): bigint {
  return n < lo ? lo : n > hi ? hi : n;
}

function sizeOf(e: LogEntry): number {
  return e.kind === "line" ? e.text.length : 0;
}

function textOf(entries: readonly LogEntry[]): number {
  let n = 0;
  for (const e of entries) n += sizeOf(e);
  return n;
}

function linesIn(entries: readonly LogEntry[]): number {
  let n = 0;
  for (const e of entries) n += e.kind === "line" ? 1 : 0;
  return n;
}

// Every line repeats its container's 64-character id: one string per container, not per line.
const ids = new Map<string, string>();
function intern(id: string): string {
  const known = ids.get(id);
  if (known !== undefined) return known;
  if (ids.size > 10_000) ids.clear();
  ids.set(id, id);
  return id;
}
