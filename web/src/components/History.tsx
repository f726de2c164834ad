/**
 * The History panel: the durable Docker event timeline of one container, image, volume or
 * network, newest first, in a side panel opened from the object's row. It follows the object
 * live (see useTimeline) and stays open when the object is removed, showing its last events.
 */
import {
  createContext,
  memo,
  useCallback,
  useContext,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { age, shortId } from "../format";
import { useEngineState, useLiveStore, useNow } from "../react/hooks";
import { useSidePanel } from "../react/useSidePanel";
import { useTimeline } from "../react/useTimeline";
import { createStore, type Store } from "../store/createStore";
import { eventKey, revOf, type TimelineEvent, type TimelineKind, type TimelineLoader, type TimelineState } from "../store/history";
import type { LiveState } from "../store/live";
import { Tag } from "./Cells";
import { StatsPanel } from "./StatsPanel";
import { absoluteTime, describeEvent, type ExecRun, foldExecs, nanosToMs } from "./eventText";

export interface HistoryTarget {
  kind: TimelineKind;
  id: string;
  /** How the row named it (the panel keeps the name once the object is gone). */
  name: string;
}

/** The side panel shows an object's History, or a container's Stats (StatsPanel.tsx). */
export type PanelView = "history" | "stats";

interface PanelTarget extends HistoryTarget {
  view: PanelView;
}

interface Selection {
  target: PanelTarget | null;
  /** What had the focus when the panel opened: it gets it back when the panel closes. */
  opener: HTMLElement | null;
}

const HistoryContext = createContext<Store<Selection> | null>(null);

function useSelection(): Store<Selection> {
  const selection = useContext(HistoryContext);
  if (!selection) throw new Error("the History panel needs a <HistoryProvider>");
  return selection;
}

export const PANEL_ID = "history-panel";

/** Holds which object's history is open, and shows its panel. */
export function HistoryProvider({ children }: { children: ReactNode }) {
  const [selection] = useState(() => createStore<Selection>({ target: null, opener: null }));
  const target = useSyncExternalStore(selection.subscribe, () => selection.getState().target);
  const close = useCallback(() => {
    const { opener } = selection.getState();
    selection.setState({ target: null, opener: null });
    if (opener?.isConnected) opener.focus();
  }, [selection]);
  return (
    <HistoryContext.Provider value={selection}>
      {children}
      {target?.view === "stats" ? (
        <StatsPanel key={`stats:${target.id}`} id={target.id} name={target.name} onClose={close} />
      ) : (
        target && <HistoryPanel key={`${target.kind}:${target.id}`} target={target} onClose={close} />
      )}
    </HistoryContext.Provider>
  );
}

/** Whether the panel shows this object's history (only the rows concerned re-render). */
export function useHistoryOpen(kind: TimelineKind, id: string): boolean {
  return usePanelOpen(kind, id, "history");
}

/** Whether the panel shows this object (in `view`, or in either). */
export function usePanelOpen(kind: TimelineKind, id: string, view?: PanelView): boolean {
  const selection = useSelection();
  return useSyncExternalStore(selection.subscribe, () => {
    const t = selection.getState().target;
    return t !== null && t.kind === kind && t.id === id && (view === undefined || t.view === view);
  });
}

/** The row's "Stats" button: opens the panel on this container's charts (or closes it). */
export function StatsButton({ id, name }: { id: string; name: string }) {
  const selection = useSelection();
  const open = usePanelOpen("container", id, "stats");
  return (
    <button
      type="button"
      className="small"
      aria-expanded={open}
      aria-controls={open ? PANEL_ID : undefined}
      onClick={(e) =>
        selection.setState(
          open
            ? { target: null, opener: null }
            : { target: { kind: "container", id, name, view: "stats" }, opener: e.currentTarget },
        )
      }
    >
      Stats
    </button>
  );
}

/** The row's "History" button: opens the panel on this object (or closes it, when it is open). */
export function HistoryButton({ kind, id, name }: HistoryTarget) {
  const selection = useSelection();
  const open = useHistoryOpen(kind, id);
  return (
    <button
      type="button"
      className="small"
      aria-expanded={open}
      aria-controls={open ? PANEL_ID : undefined}
      onClick={(e) =>
        selection.setState(
          open ? { target: null, opener: null } : { target: { kind, id, name, view: "history" }, opener: e.currentTarget },
        )
      }
    >
      History
    </button>
  );
}

/** The object's name as the live state has it now (a container may be renamed). */
function liveName(s: LiveState, kind: TimelineKind, id: string): string | null {
  const data = s.data;
  if (!data) return null;
  switch (kind) {
    case "container":
      return data.containers[id]?.name ?? null;
    case "image": {
      const image = data.images[id];
      return image ? (image.tags[0] ?? shortId(image.id)) : null;
    }
    case "volume":
      return data.volumes[id]?.name ?? null;
    case "network":
      return data.networks[id]?.name ?? null;
  }
}

function HistoryPanel({ target, onClose }: { target: HistoryTarget; onClose: () => void }) {
  const { kind, id } = target;
  const { state, loader } = useTimeline(kind, id);
  const exists = useEngineState((s) => revOf(s, kind, id) !== null);
  const name = useEngineState((s) => liveName(s, kind, id)) ?? target.name;
  const panelRef = useSidePanel(onClose);

  return (
    <aside
      ref={panelRef}
      id={PANEL_ID}
      className="history-panel"
      role="dialog"
      aria-modal="false"
      aria-labelledby="history-title"
      aria-busy={state.loading || state.loadingOlder}
      tabIndex={-1}
      data-testid="history"
    >
      <header className="history-head">
        <h2 id="history-title">
          <span className="muted">History of {kind}</span> <span className="history-name">{name}</span>
        </h2>
        <button type="button" className="history-close" aria-label="Close history" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="history-sub">
        <span className="mono" title={id}>
          {kind === "volume" ? "" : shortId(id)}
        </span>
        {!exists && <Tag tone="off">removed</Tag>}
        <span className="spacer" />
        <TimelineCount state={state} />
      </div>
      <TimelineBody kind={kind} state={state} loader={loader} />
    </aside>
  );
}

/** How many events are shown ("12+ events, newest first"), once the first page is there. */
export function TimelineCount({ state }: { state: TimelineState }) {
  const { events, more, loaded } = state;
  if (!loaded) return null;
  return (
    <span className="muted" data-testid="history-count">
      {events.length}
      {more ? "+" : ""} event{events.length === 1 && !more ? "" : "s"}, newest first
    </span>
  );
}

/** An object's timeline (useTimeline): its events, what went wrong, "Load older". */
export function TimelineBody({ kind, state, loader }: { kind: TimelineKind; state: TimelineState; loader: TimelineLoader }) {
  const { events, more, loaded, loadingOlder, error } = state;
  return (
    <>
      {error && (
        <div className="history-error" role="alert">
          <strong>Could not load the history.</strong> {error}{" "}
          <button type="button" className="small" onClick={() => void loader.refresh()}>
            Try again
          </button>
        </div>
      )}
      {!loaded && !error && <div className="loading">Loading the history…</div>}
      {loaded && events.length === 0 && (
        <div className="empty">
          No event of this {kind} is recorded. dockstate records the engine's events from the
          moment it first ran.
        </div>
      )}
      {events.length > 0 && <EventList kind={kind} events={events} />}
      {more && (
        <div className="history-more">
          <button type="button" disabled={loadingOlder} onClick={() => void loader.loadOlder()}>
            {loadingOlder ? "Loading…" : "Load older"}
          </button>
        </div>
      )}
    </>
  );
}

const EventList = memo(function EventList({ kind, events }: { kind: TimelineKind; events: TimelineEvent[] }) {
  const now = useNow(15_000);
  const store = useLiveStore();
  const containerName = (cid: string) => store.getState().data?.containers[cid]?.name ?? shortId(cid);
  return (
    <ol className="history-list" aria-label="Events, newest first">
      {foldExecs(events).map((row) =>
        row.event ? (
          <EventItem key={eventKey(row.event)} kind={kind} event={row.event} now={now} containerName={containerName} />
        ) : (
          <ExecRunItem key={`run:${eventKey(row.run.newest)}`} run={row.run} now={now} />
        ),
      )}
    </ol>
  );
});

function When({ ns, now, until }: { ns: bigint; now: number; until?: bigint }) {
  const ms = nanosToMs(ns);
  const iso = new Date(ms).toISOString();
  return (
    <div className="history-when">
      <time dateTime={iso} title={iso}>
        {age(iso, now)} ago
      </time>
      <span className="muted">
        {until !== undefined && `${absoluteTime(nanosToMs(until)).slice(11)} – `}
        {absoluteTime(ms)}
      </span>
    </div>
  );
}

function EventItem({
  kind,
  event,
  now,
  containerName,
}: {
  kind: TimelineKind;
  event: TimelineEvent;
  now: number;
  containerName: (id: string) => string;
}) {
  const text = describeEvent(kind, event, containerName);
  return (
    <li
      className={`history-event tone-${text.tone}`}
      data-testid="history-event"
      data-action={event.action}
      data-type={event.type}
    >
      <When ns={event.time_nano} now={now} />
      <div className="history-what">
        {text.type && <Tag>{text.type}</Tag>} <span className="history-action">{text.action}</span>
        {text.facts.map(([label, value]) => (
          <span key={label} className="history-fact">
            <span className="muted">{label}</span> {value}
          </span>
        ))}
      </div>
    </li>
  );
}

/** A run of exec_* events (health checks, `docker exec`), folded: how many, how many failed. */
function ExecRunItem({ run, now }: { run: ExecRun; now: number }) {
  return (
    <li
      className={`history-event history-execs tone-${run.failed ? "warn" : "neutral"}`}
      data-testid="history-execs"
      title={`${run.size} events: exec_create, exec_start, exec_die`}
    >
      <When ns={run.newest.time_nano} now={now} until={run.oldest.time_nano} />
      <div className="history-what">
        <span className="history-action">
          {run.execs} exec{run.execs === 1 ? "" : "s"}
        </span>{" "}
        <span className="muted">(health checks, docker exec)</span>
        {run.failed > 0 && (
          <span className="history-fact">
            <span className="muted">failed</span> {run.failed}
          </span>
        )}
      </div>
    </li>
  );
}
