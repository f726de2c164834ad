/**
 * The durable history of one object (GET /api/v1/events/{kind}/{id}), framework-free: its
 * Docker events newest first, a page at a time, kept current without polling.
 *
 * - `time_nano` is read exactly, as a bigint: nanoseconds since the epoch are beyond a JSON
 *   number's 53 bits of precision, and `before` (the last event's `time_nano`) must be exact
 *   or the next page repeats or skips events.
 * - The loader follows the live store (a RevisionFollower): when the object's `rev` changes,
 *   or the object goes away, it asks for the newest page again, once per burst of changes
 *   (`debounceMs` after the last one, at most `maxWaitMs` after the first). Nothing else makes
 *   it ask: no timer polls.
 * - The server records an event before the state change it causes is committed, so the page
 *   asked for after a change holds the event behind it.
 */
import { createStore, type Listener, type Store } from "./createStore";
import { problemDetail } from "./live";
import { type LiveSource, RevisionFollower } from "./revision";
import type { DockerEventRecord, Timeline } from "./types";

export { revOf } from "./revision";

export type TimelineKind = Timeline["kind"];

/** One event as the server sends it, its time exact. */
export type TimelineEvent = Omit<DockerEventRecord, "time_nano"> & { time_nano: bigint };

/** One page of a timeline as the server sends it, its times exact. */
export type TimelinePage = Omit<Timeline, "events"> & { events: TimelineEvent[] };

export interface TimelineState {
  /** Newest first: the newest page and the older pages asked for since. */
  events: TimelineEvent[];
  /** Older events exist than the last one here. */
  more: boolean;
  /** A first page has arrived. */
  loaded: boolean;
  /** The newest page is being asked for. */
  loading: boolean;
  loadingOlder: boolean;
  /** Why the last request failed (the events shown are the last ones that arrived). */
  error: string | null;
}

export interface TimelineOptions {
  kind: TimelineKind;
  id: string;
  /** A REST request to the server (LiveStore.request: same origin, with the session cookie). */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** The live store to follow; without it the timeline refreshes only when told. */
  live?: LiveSource | null;
  pageSize?: number;
  debounceMs?: number;
  maxWaitMs?: number;
}

export class TimelineError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "TimelineError";
  }
}

export function timelinePath(
  kind: TimelineKind,
  id: string,
  { limit = 100, before }: { limit?: number; before?: bigint } = {},
): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined) query.set("before", before.toString());
  return `/api/v1/events/${kind}/${encodeURIComponent(id)}?${query}`;
}

/** `"time_nano": 1795319025957295378`, as a string: the key never occurs inside a JSON string
 * unescaped, and the attributes (the only free text) are strings, never digits. */
const TIME_NANO = /"time_nano"\s*:\s*(\d+)/g;

type WireTimeline = Omit<Timeline, "events"> & {
  events: (Omit<DockerEventRecord, "time_nano"> & { time_nano: string })[];
};

/** A Timeline from the server's JSON text, with exact times. */
export function parseTimeline(text: string): TimelinePage {
  const raw = JSON.parse(text.replace(TIME_NANO, '"time_nano":"$1"')) as WireTimeline;
  if (!raw || !Array.isArray(raw.events) || typeof raw.more !== "boolean") {
    throw new TimelineError("the server's answer is not a timeline");
  }
  return { ...raw, events: raw.events.map((e) => ({ ...e, time_nano: BigInt(e.time_nano) })) };
}

/** One page of ``kind``/``id``'s events, newest first, older than ``before`` if given. */
export async function fetchTimeline(
  request: TimelineOptions["request"],
  kind: TimelineKind,
  id: string,
  { limit, before, signal }: { limit?: number; before?: bigint; signal?: AbortSignal } = {},
): Promise<TimelinePage> {
  let response: Response;
  try {
    response = await request(timelinePath(kind, id, { limit, before }), {
      headers: { accept: "application/json" },
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TimelineError(`the server could not be reached (${String(err)})`);
  }
  if (!response.ok) throw new TimelineError(await problemDetail(response), response.status);
  try {
    return parseTimeline(await response.text());
  } catch (err) {
    if (signal?.aborted) throw err;
    throw err instanceof TimelineError ? err : new TimelineError("the server's answer is not a timeline");
  }
}

/** What identifies an event (as the server's DockerEvent.key does). */
export function eventKey(e: TimelineEvent): string {
  return `${e.time_nano}|${e.type}|${e.action}|${e.actor_id}`;
}

/**
 * The newest page over what was shown: when the page is the whole timeline it is all there is;
 * otherwise, if it reaches back into what was shown (no event can be missing in between), the
 * older events already loaded past its end stay, and with them whether more exist beyond.
 */
export function mergeNewest(
  shown: Pick<TimelineState, "events" | "more">,
  page: Pick<TimelinePage, "events" | "more">,
): Pick<TimelineState, "events" | "more"> {
  const oldest = page.events.at(-1);
  const newestShown = shown.events[0];
  if (!page.more || oldest === undefined || newestShown === undefined || newestShown.time_nano < oldest.time_nano) {
    return { events: page.events, more: page.more };
  }
  const older = shown.events.filter((e) => e.time_nano < oldest.time_nano);
  if (older.length === 0) return { events: page.events, more: page.more };
  return { events: [...page.events, ...older], more: shown.more };
}

/** An older page after what is shown (repeats dropped). */
export function appendOlder(
  shown: Pick<TimelineState, "events" | "more">,
  page: Pick<TimelinePage, "events" | "more">,
): Pick<TimelineState, "events" | "more"> {
  const seen = new Set(shown.events.map(eventKey));
  return { events: [...shown.events, ...page.events.filter((e) => !seen.has(eventKey(e)))], more: page.more };
}

const INITIAL: TimelineState = {
  events: [],
  more: false,
  loaded: false,
  loading: false,
  loadingOlder: false,
  error: null,
};

export class TimelineLoader {
  readonly kind: TimelineKind;
  readonly id: string;
  private readonly store: Store<TimelineState> = createStore({ ...INITIAL });
  private readonly opts: Required<Pick<TimelineOptions, "pageSize" | "debounceMs" | "maxWaitMs">> &
    TimelineOptions;
  private running = false;
  private readonly revisions: RevisionFollower | null;
  private seq = 0;
  private inFlight = new Set<AbortController>();

  constructor(options: TimelineOptions) {
    this.opts = { pageSize: 100, debounceMs: 150, maxWaitMs: 1000, ...options };
    this.kind = options.kind;
    this.id = options.id;
    this.revisions = options.live
      ? new RevisionFollower(options.live, this.kind, this.id, () => void this.refresh(), this.opts)
      : null;
  }

  getState = (): TimelineState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  /** Load the newest page and follow the live store (again, after a stop). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.revisions?.start();
    void this.refresh();
  }

  /** Stop following, cancel what is on its way; the state stays. */
  stop(): void {
    this.running = false;
    this.revisions?.stop();
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
    this.store.setState({ loading: false, loadingOlder: false });
  }

  /** Ask for the newest page now. */
  async refresh(): Promise<void> {
    if (!this.running) return;
    this.revisions?.cancel();
    const seq = ++this.seq;
    this.store.setState({ loading: true });
    const page = await this.fetch();
    if (!this.running || seq !== this.seq) return;
    if (page instanceof TimelineError) {
      this.store.setState({ loading: false, error: page.message });
      return;
    }
    this.store.setState((s) => ({ ...mergeNewest(s, page), loaded: true, loading: false, error: null }));
  }

  /** Ask for the page after the last event shown (``before`` = its time). */
  async loadOlder(): Promise<void> {
    const s = this.getState();
    const last = s.events.at(-1);
    if (!this.running || !s.more || s.loadingOlder || last === undefined) return;
    this.store.setState({ loadingOlder: true });
    const page = await this.fetch(last.time_nano);
    if (!this.running) return;
    if (page instanceof TimelineError) {
      this.store.setState({ loadingOlder: false, error: page.message });
      return;
    }
    this.store.setState((now) => {
      // A refresh in between may have shortened the list: add the page only where it fits.
      const tail = now.events.at(-1);
      if (tail === undefined || eventKey(tail) !== eventKey(last)) return { loadingOlder: false };
      return { ...appendOlder(now, page), loadingOlder: false, error: null };
    });
  }

  private async fetch(before?: bigint): Promise<TimelinePage | TimelineError> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      return await fetchTimeline(this.opts.request, this.kind, this.id, {
        limit: this.opts.pageSize,
        before,
        signal: controller.signal,
      });
    } catch (err) {
      return err instanceof TimelineError ? err : new TimelineError(String(err));
    } finally {
      this.inFlight.delete(controller);
    }
  }
}
