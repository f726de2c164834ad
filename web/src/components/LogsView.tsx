/**
 * The Logs view: a container's log, or a compose project's containers merged, live. Give it a
 * height (it fills its parent: a flex column). `<LogsView container={id} />` or
 * `<LogsView project={name} />`; the page at `#/logs/…` (pages/Logs.tsx) and the container
 * page embed it.
 *
 * - The last 200 lines at once, then live (the logs store: ../store/logs.ts); scrolling to the
 *   top reads older lines by time window, of the same container or project only.
 * - A virtualized list (TanStack Virtual): only the rows on screen exist, measured (a pretty
 *   JSON line is several lines high); the store keeps at most 10 000 entries and hands new
 *   lines over once an animation frame.
 * - Follow: the list sticks to the bottom; a scroll up by the user (wheel, keys, the scroll
 *   bar) pauses it, coming back to the bottom (or the Follow button) resumes it.
 * - stdout and stderr told apart (stderr's rows are marked and tinted) and shown alone if
 *   asked, ANSI colours (logText.ts, by ansi_up, rendered as text: a line can never inject
 *   markup), JSON lines as key=value or pretty (one line expanded by its own button),
 *   timestamps on or off, search that marks matches and can filter, the container of each line
 *   in a project's view, and a download (the REST route).
 */
import { useVirtualizer, type Virtualizer } from "@tanstack/react-virtual";
import {
  Fragment,
  memo,
  useCallback,
  useDeferredValue,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type ReactNode,
} from "react";
import { shortId } from "../format";
import { shallowArrayEqual, useEngineState } from "../react/hooks";
import { useLogView } from "../react/logs";
import type { LiveState } from "../store/live";
import { type LineEntry, type LogEntry, type LogTarget, type LogViewState, MAX_LINES } from "../store/logs";
import type { Container } from "../store/types";
import { ansiSegments, displayText, formatTime, type JsonMode, markMatches, plainText, type Segment } from "./logText";

/** A row's height (one line of text); rows of several lines are measured. */
const ROW = 20;
/** The bar above the rows (load older / start of the log). */
const TOP = 30;
/** Within this of the bottom counts as at the bottom. */
const BOTTOM_SLACK = 4;
/** A scroll this soon after the user's gesture is the user's. */
const GESTURE_MS = 600;
const SCROLL_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " "]);
const SOURCE_COLOURS = 8;
const count = new Intl.NumberFormat("en").format; // toLocaleString is slow, and runs every frame

export type LogsViewProps = LogTarget;

/** Which streams' lines are shown. */
type Streams = "both" | LineEntry["stream"];

export function LogsView(props: LogsViewProps) {
  const target = useMemo<LogTarget>(
    () => (props.project !== undefined ? { project: props.project } : { container: props.container }),
    [props.project, props.container],
  );
  const members = useMembers(target);
  const membersRef = useRef(members);
  membersRef.current = members;
  // The log cannot begin before its oldest container was created (older windows stop there).
  const origin = useCallback(() => {
    const times = membersRef.current.map((m) => Date.parse(m.created)).filter((t) => !Number.isNaN(t));
    return times.length ? Math.min(...times) : null;
  }, []);
  const { view, state } = useLogView(target, origin);
  const [query, setQuery] = useState("");
  const needle = useDeferredValue(query.trim().toLowerCase());
  const [onlyMatching, setOnlyMatching] = useState(false);
  const [timestamps, setTimestamps] = useState(true);
  const [json, setJson] = useState<JsonMode>("fields");
  const [streams, setStreams] = useState<Streams>("both");
  // The JSON lines expanded one by one (by key), shown pretty whatever the view's mode.
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(() => new Set());
  const toggle = useCallback(
    (key: number) =>
      setExpanded((was) => {
        const next = new Set(was);
        if (!next.delete(key)) next.add(key);
        return next;
      }),
    [],
  );
  const entries = state.entries;
  const search = needle !== "" && onlyMatching;
  const shown = useMemo(
    () =>
      search || streams !== "both"
        ? entries.filter(
            (e) =>
              e.kind !== "line" || ((streams === "both" || e.stream === streams) && (!search || searchText(e).includes(needle))),
          )
        : entries,
    [entries, needle, search, streams],
  );
  // In a project's view the project's name is on every container's: leave it out ("web-1").
  const names = useMemo(
    () => new Map(members.map((m) => [m.id, m.name.startsWith(`${props.project}-`) ? m.name.slice(`${props.project}-`.length) : m.name])),
    [members, props.project],
  );
  const project = target.project !== undefined;
  const what = project ? `compose project ${target.project}` : `container ${members[0]?.name ?? target.container}`;
  return (
    <section className="logs" aria-label={`Logs of ${what}`} data-testid="logs">
      <div className="toolbar logs-toolbar">
        <input
          type="search"
          placeholder="Search the lines…"
          aria-label="Search the log"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label className="check">
          <input type="checkbox" checked={onlyMatching} onChange={(e) => setOnlyMatching(e.target.checked)} />
          Only matching lines
        </label>
        <label className="check">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} />
          Timestamps
        </label>
        <select aria-label="Streams" value={streams} onChange={(e) => setStreams(e.target.value as Streams)}>
          <option value="both">stdout and stderr</option>
          <option value="stdout">stdout only</option>
          <option value="stderr">stderr only</option>
        </select>
        <select aria-label="JSON lines" value={json} onChange={(e) => setJson(e.target.value as JsonMode)}>
          <option value="fields">JSON as key=value</option>
          <option value="pretty">JSON pretty</option>
          <option value="raw">JSON as written</option>
        </select>
        <span className="spacer" />
        <button
          type="button"
          aria-pressed={state.following}
          title={state.following ? "Following the newest lines" : "Paused: back to the newest lines"}
          onClick={() => view?.setFollowing(true)}
        >
          {state.following ? "Following" : "Follow"}
        </button>
        <Download target={target} members={members} timestamps={timestamps} />
      </div>
      <LogList
        key={project ? `p:${target.project}` : `c:${target.container}`}
        state={state}
        shown={shown}
        needle={needle}
        json={json}
        expanded={expanded}
        onToggle={toggle}
        timestamps={timestamps}
        names={project ? names : null}
        onFollowing={(on) => view?.setFollowing(on)}
        onOlder={() => view?.loadOlder() ?? false}
      />
      <LogsFoot state={state} shown={shown} filtered={search || streams !== "both"} onFollow={() => view?.setFollowing(true)} />
    </section>
  );
}

// -- the list --------------------------------------------------------------------------------

function LogList(props: {
  state: LogViewState;
  shown: readonly LogEntry[];
  needle: string;
  json: JsonMode;
  expanded: ReadonlySet<number>;
  onToggle: (key: number) => void;
  timestamps: boolean;
  names: Map<string, string> | null;
  onFollowing: (following: boolean) => void;
  onOlder: () => boolean;
}) {
  const { state, shown, onFollowing, onOlder } = props;
  const following = state.following;
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW,
    overscan: 10,
    scrollMargin: TOP,
    getItemKey: (i) => shown[i]?.key ?? i,
    measureElement: measureRow,
  });
  const total = virtualizer.getTotalSize();

  // Following: stick to the bottom whenever rows come or are measured.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [following, total, shown]);

  // Older rows put above the ones on screen: move down by their height, so that what the user
  // reads stays where it is (rows measured taller later are adjusted by the virtualizer).
  const firstKey = useRef<number | undefined>(undefined);
  useLayoutEffect(() => {
    const before = firstKey.current;
    firstKey.current = shown[0]?.key;
    const el = scrollRef.current;
    if (!el || following || before === undefined || shown[0] === undefined || shown[0].key >= before) return;
    const added = shown.findIndex((e) => e.key === before);
    if (added > 0) el.scrollTop += added * ROW;
  }, [shown, following]);

  // A scroll is the user's when it follows a gesture of theirs (the list scrolls itself too).
  const gesture = useRef(-Infinity);
  const dragging = useRef(false);
  const byUser = () => dragging.current || performance.now() - gesture.current < GESTURE_MS;
  const onScroll = () => {
    const el = scrollRef.current;
    if (!el || !byUser()) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK;
    onFollowing(atBottom);
    if (el.scrollTop < TOP + 5 * ROW && !atBottom) onOlder();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (SCROLL_KEYS.has(e.key)) gesture.current = performance.now();
  };

  const items = virtualizer.getVirtualItems();
  return (
    <div
      ref={scrollRef}
      className="logs-body"
      role="log"
      aria-live="off"
      tabIndex={0}
      data-testid="logs-scroll"
      onScroll={onScroll}
      onWheel={(e) => {
        gesture.current = performance.now();
        if (e.deltaY < 0) onFollowing(false);
      }}
      onTouchMove={() => {
        gesture.current = performance.now();
      }}
      onPointerDown={() => {
        dragging.current = true;
      }}
      onPointerUp={() => {
        dragging.current = false;
        gesture.current = performance.now();
      }}
      onKeyDown={onKeyDown}
    >
      <div className="logs-top" style={{ height: TOP }}>
        <OlderBar state={state} onOlder={onOlder} />
      </div>
      {shown.length === 0 ? (
        <Nothing state={state} filtered={state.entries.length > 0} />
      ) : (
        <div className="logs-rows" style={{ height: total }}>
          {items.map((item) => {
            const entry = shown[item.index];
            if (!entry) return null;
            return (
              <div
                key={item.key}
                ref={virtualizer.measureElement}
                data-index={item.index}
                className="logs-row"
                style={{ transform: `translateY(${item.start - TOP}px)` }}
              >
                {entry.kind === "line" ? (
                  <LogLine
                    line={entry}
                    needle={props.needle}
                    json={props.expanded.has(entry.key) ? "pretty" : props.json}
                    expanded={props.expanded.has(entry.key)}
                    onToggle={props.json === "pretty" ? undefined : props.onToggle}
                    timestamps={props.timestamps}
                    source={props.names ? (props.names.get(entry.container) ?? shortId(entry.container)) : null}
                  />
                ) : (
                  <LogMark entry={entry} names={props.names} />
                )}
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}

function OlderBar({ state, onOlder }: { state: LogViewState; onOlder: () => boolean }) {
  if (state.loadingOlder) return <span className="muted">Loading older lines…</span>;
  if (state.atStart) return <span className="muted">The beginning of the log</span>;
  if (!state.entries.some((e) => e.kind === "line")) return null;
  return (
    <button type="button" className="small" onClick={() => onOlder()}>
      Load older lines
    </button>
  );
}

function Nothing({ state, filtered }: { state: LogViewState; filtered: boolean }) {
  let text: ReactNode;
  if (filtered) text = "No line matches.";
  else if (state.status === "error") text = <span className="danger-text">{state.error}</span>;
  else if (state.status === "waiting") text = "Connecting…";
  else if (state.status === "ended") text = "The log ended.";
  else text = "No lines yet.";
  return <div className="empty">{text}</div>;
}

/**
 * A row's height from its ResizeObserver entry (read after layout), never from offsetHeight:
 * reading that when a row mounts forces a layout, and a flood mounts rows every frame. Until
 * its entry comes a row is taken for what it was measured before, or one line.
 */
function measureRow(element: Element, entry: ResizeObserverEntry | undefined, instance: Virtualizer<HTMLDivElement, Element>): number {
  const box = entry?.borderBoxSize?.[0];
  if (box) return Math.round(box.blockSize);
  const index = instance.indexFromElement(element);
  return instance.measurementsCache[index]?.size ?? ROW;
}

// -- one line --------------------------------------------------------------------------------

// What a line shows, worked out once per line (a row re-renders when it scrolls back into view).
const segmentsCache = new WeakMap<LineEntry, { json: JsonMode; segments: Segment[]; isJson: boolean }>();
const searchCache = new WeakMap<LineEntry, string>();

function lineSegments(line: LineEntry, json: JsonMode): { segments: Segment[]; isJson: boolean } {
  const cached = segmentsCache.get(line);
  if (cached && cached.json === json) return cached;
  const display = displayText(line.text, json);
  const fresh = {
    json,
    isJson: display.json,
    segments: display.json ? [{ text: display.text }] : ansiSegments(line.text),
  };
  segmentsCache.set(line, fresh);
  return fresh;
}

/** The line's text without escape sequences, lower case: what search looks in. */
export function searchText(line: LineEntry): string {
  let text = searchCache.get(line);
  if (text === undefined) {
    text = plainText(ansiSegments(line.text)).toLowerCase();
    searchCache.set(line, text);
  }
  return text;
}

export const LogLine = memo(function LogLine({
  line,
  needle,
  json,
  expanded = false,
  onToggle,
  timestamps,
  source,
}: {
  line: LineEntry;
  needle: string;
  json: JsonMode;
  /** Shown pretty by its own button (json is then "pretty"). */
  expanded?: boolean;
  /** Expands or folds this JSON line; without it (every JSON line pretty), no button. */
  onToggle?: (key: number) => void;
  timestamps: boolean;
  source: string | null;
}) {
  const { segments, isJson } = lineSegments(line, json);
  const marked = needle ? markMatches(segments, needle) : segments;
  return (
    <div
      className={`log-line log-${line.stream}${isJson && json === "pretty" ? " log-pretty" : ""}`}
      data-testid="log-line"
      data-stream={line.stream}
      data-container={line.container}
      data-time={line.time}
    >
      <span className="log-stream" title={line.stream}>
        {line.stream === "stderr" ? "err" : ""}
      </span>
      {timestamps && (
        <time className="log-time" dateTime={line.time} title={line.time}>
          {formatTime(line.time)}
        </time>
      )}
      {source !== null && (
        <span className={`log-source log-source-${colourOf(line.container)}`} title={line.container}>
          {source}
        </span>
      )}
      <span className="log-expand">
        {onToggle && isJson && (
          <button
            type="button"
            className="link"
            aria-expanded={expanded}
            aria-label={expanded ? "Fold this JSON line" : "Expand this JSON line"}
            title={expanded ? "Fold" : "Expand"}
            onClick={() => onToggle(line.key)}
          >
            {expanded ? "▾" : "▸"}
          </button>
        )}
      </span>
      <span className="log-text">
        <Segments segments={marked} />
        {line.truncated && <span className="log-cut"> [cut at 64 KiB]</span>}
      </span>
    </div>
  );
});

/** Segments as React text: never markup, whatever the line holds. */
export function Segments({ segments }: { segments: readonly Segment[] }) {
  return (
    <>
      {segments.map((s, i) => {
        const content = s.mark ? <mark>{s.text}</mark> : s.text;
        if (s.href) {
          return (
            <a key={i} href={s.href} className={s.className} style={s.style} target="_blank" rel="noopener noreferrer">
              {content}
            </a>
          );
        }
        if (!s.className && !s.style) return <Fragment key={i}>{content}</Fragment>;
        return (
          <span key={i} className={s.className} style={s.style}>
            {content}
          </span>
        );
      })}
    </>
  );
}

function LogMark({ entry, names }: { entry: Exclude<LogEntry, LineEntry>; names: Map<string, string> | null }) {
  const of = entry.container && names ? ` of ${names.get(entry.container) ?? shortId(entry.container)}` : "";
  return (
    <div className={`log-marker log-marker-${entry.kind}`} data-testid={`log-${entry.kind}`} data-count={entry.count}>
      {entry.kind === "skipped"
        ? `${count(entry.count)} lines skipped${of} (the page did not keep up)`
        : `The log${of} ended (the container was removed)`}
    </div>
  );
}

/** One of the source colours, the same for a container every time. */
function colourOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % SOURCE_COLOURS;
}

// -- around the list -------------------------------------------------------------------------

function LogsFoot(props: { state: LogViewState; shown: readonly LogEntry[]; filtered: boolean; onFollow: () => void }) {
  const { state } = props;
  const lines = state.entries.length;
  // Filtered, the lines are counted (markers of skipped lines are kept, and are no line).
  const parts = [
    STATUS_TEXT[state.status],
    props.filtered ? `${count(linesIn(props.shown))} of ${count(linesIn(state.entries))} lines` : `${count(lines)} lines`,
  ];
  if (state.skipped) parts.push(`${count(state.skipped)} skipped`);
  if (state.trimmed) parts.push(`older lines let go past ${count(MAX_LINES)}`);
  return (
    <div
      className="table-foot logs-foot"
      data-testid="logs-foot"
      data-status={state.status}
      data-lines={lines}
      data-received={state.received}
      data-skipped={state.skipped}
    >
      {parts.join(" · ")}
      {state.behind > 0 && (
        <span className="logs-behind">
          {" "}
          · paused: {count(state.behind)} newer lines not kept.{" "}
          <button type="button" className="link" onClick={props.onFollow}>
            Jump to the newest
          </button>
        </span>
      )}
    </div>
  );
}

function linesIn(entries: readonly LogEntry[]): number {
  let n = 0;
  for (const e of entries) if (e.kind === "line") n++;
  return n;
}

const STATUS_TEXT: Record<LogViewState["status"], string> = {
  waiting: "Connecting",
  live: "Live",
  hidden: "Paused while the tab is hidden",
  ended: "Ended",
  error: "Refused",
};

function Download({ target, members, timestamps }: { target: LogTarget; members: Member[]; timestamps: boolean }) {
  const href = (id: string) =>
    `/api/v1/containers/${encodeURIComponent(id)}/logs${timestamps ? "?timestamps=true" : ""}`;
  if (target.container !== undefined) {
    return (
      <a className="button" href={href(members[0]?.id ?? target.container)} download>
        Download
      </a>
    );
  }
  return (
    <details className="menu">
      <summary className="button">Download</summary>
      <ul>
        {members.map((m) => (
          <li key={m.id}>
            <a href={href(m.id)} download>
              {m.name}
            </a>
          </li>
        ))}
        {members.length === 0 && <li className="muted">No container</li>}
      </ul>
    </details>
  );
}

// -- the containers of a view ------------------------------------------------------------------

interface Member {
  id: string;
  name: string;
  created: string;
}

const NO_CONTAINERS: Record<string, Container> = {};

/** The containers a view shows (from the live state): the one, or every one of the project. */
function useMembers(target: LogTarget): Member[] {
  const select = useCallback(
    (s: LiveState): Member[] => {
      const all = Object.values(s.data?.containers ?? NO_CONTAINERS);
      const ref = target.container;
      const found =
        ref !== undefined
          ? all.filter((c) => c.id === ref || c.name === ref || (ref.length >= 12 && c.id.startsWith(ref))).slice(0, 1)
          : all.filter((c) => c.compose_project === target.project);
      return found
        .map((c) => ({ id: c.id, name: c.name, created: c.created }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    [target],
  );
  return useEngineState(select, membersEqual);
}

function membersEqual(a: Member[], b: Member[]): boolean {
  return shallowArrayEqual(
    a.map((m) => `${m.id} ${m.name} ${m.created}`),
    b.map((m) => `${m.id} ${m.name} ${m.created}`),
  );
}
