/**
 * Containers: a virtualized table (TanStack Table for columns, sorting and grouping; TanStack
 * Virtual so that only the visible rows exist), with search, a state filter and grouping by
 * compose project. Each row subscribes to its own container: a change re-renders that row.
 *
 * CPU and memory come from the stats store (a row reads its container's latest sample and draws
 * a sparkline of the last 5 minutes). Sorted by CPU or memory (the "top" view), the table
 * re-sorts on every sample; sorted by anything else, a sample re-renders the visible rows only.
 */
import {
  type ColumnDef,
  type ExpandedState,
  getCoreRowModel,
  getExpandedRowModel,
  getGroupedRowModel,
  getSortedRowModel,
  type SortingState,
  useReactTable,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useDeferredValue, useMemo, useRef, useState } from "react";
import { Age, Empty, Flash, Pending, Tag } from "../components/Cells";
import { ContainerActions } from "../components/ContainerActions";
import { usePanelOpen } from "../components/History";
import { Sparkline } from "../components/Sparkline";
import { RunButton } from "../components/RunDialog";
import { useAct } from "../components/useAct";
import { logsHref } from "./Logs";
import { useRouteBase } from "../route";
import { bytes, containerHref, ports, shortId } from "../format";
import { useFlashKey } from "../react/flash";
import { useEngineState, useOperation } from "../react/hooks";
import { useStats, useStatsDemand, useStatsStore } from "../react/stats";
import type { StatsState } from "../store/stats";
import { pendingFor, type ProjectVerb } from "../store/actions";
import { projectProgress } from "../store/progress";
import type { Container, ContainerState, ContainerStats } from "../store/types";

const EMPTY: Record<string, Container> = {};
const STATES: ContainerState[] = ["running", "paused", "restarting", "created", "exited", "dead", "removing"];
const ROW_HEIGHT = 38;
/** The sticky header sits inside the scroll container, above the virtual rows. */
const HEADER_HEIGHT = 34;
const NO_PROJECT = "";
const GROUP_BY_PROJECT = ["project"];
const NO_GROUPING: string[] = [];
const HIDDEN_PROJECT = { project: false };

type StateFilter = "all" | "stopped" | ContainerState;

const isStopped = (s: ContainerState) => s === "exited" || s === "created" || s === "dead";

export function ContainersPage() {
  const [query, setQuery] = useState("");
  const [stateFilter, setStateFilter] = useState<StateFilter>("all");
  const [grouped, setGrouped] = useState(false);
  const act = useAct();
  return (
    <section className="page" aria-labelledby="containers-title">
      <div className="toolbar">
        <h1 id="containers-title">Containers</h1>
        <input
          type="search"
          placeholder="Search name, image, id, project…"
          aria-label="Search containers"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <StateSelect value={stateFilter} onChange={setStateFilter} />
        <label className="check">
          <input type="checkbox" checked={grouped} onChange={(e) => setGrouped(e.target.checked)} />
          Group by compose project
        </label>
        <span className="spacer" />
        <RunButton />
        <button type="button" onClick={() => void act({ kind: "container", action: "prune" })}>
          Prune stopped…
        </button>
      </div>
      <ContainersTable query={query} stateFilter={stateFilter} grouped={grouped} />
    </section>
  );
}

function StateSelect({ value, onChange }: { value: StateFilter; onChange: (v: StateFilter) => void }) {
  // One string of counts: the select re-renders only when a count changes.
  const counts = useEngineState((s) => {
    const n: Record<string, number> = {};
    for (const c of Object.values(s.data?.containers ?? EMPTY)) n[c.state] = (n[c.state] ?? 0) + 1;
    return JSON.stringify(n);
  });
  const n = JSON.parse(counts) as Record<string, number>;
  const total = Object.values(n).reduce((a, b) => a + b, 0);
  const stopped = (n.exited ?? 0) + (n.created ?? 0) + (n.dead ?? 0);
  return (
    <select
      aria-label="Filter by state"
      value={value}
      onChange={(e) => onChange(e.target.value as StateFilter)}
    >
      <option value="all">All states ({total})</option>
      <option value="stopped">Stopped ({stopped})</option>
      {STATES.map((s) => (
        <option key={s} value={s}>
          {s} ({n[s] ?? 0})
        </option>
      ))}
    </select>
  );
}

function matches(c: Container, needle: string): boolean {
  if (!needle) return true;
  return [c.name, c.image, c.id, c.compose_project ?? "", c.compose_service ?? "", c.status, ports(c)]
    .some((field) => field.toLowerCase().includes(needle));
}

/** The columns sorted by the latest sample: the table re-sorts when a sample comes. */
export const STATS_COLUMNS = new Set(["cpu", "memory"]);

/** What a stats column sorts by: undefined (always last) for a container with no sample. */
export function statsSortValue(
  latest: Record<string, ContainerStats>,
  id: string,
  column: "cpu" | "memory",
): number | undefined {
  const s = latest[id];
  if (!s) return undefined;
  return column === "cpu" ? s.cpu_percent : s.memory_bytes;
}

function makeColumns(latest: { current: Record<string, ContainerStats> }): ColumnDef<Container>[] {
  return [
    { id: "name", header: "Name", accessorFn: (c) => c.name },
    { id: "state", header: "Status", accessorFn: (c) => `${c.state} ${c.status}` },
    {
      id: "cpu",
      header: "CPU",
      accessorFn: (c) => statsSortValue(latest.current, c.id, "cpu"),
      sortDescFirst: true,
      sortUndefined: "last",
    },
    {
      id: "memory",
      header: "Memory",
      accessorFn: (c) => statsSortValue(latest.current, c.id, "memory"),
      sortDescFirst: true,
      sortUndefined: "last",
    },
    ...BASE_COLUMNS,
  ];
}

const BASE_COLUMNS: ColumnDef<Container>[] = [
  { id: "health", header: "Health", accessorFn: (c) => c.health ?? "" },
  { id: "ports", header: "Ports", accessorFn: (c) => ports(c), enableSorting: false },
  { id: "image", header: "Image", accessorFn: (c) => c.image },
  { id: "age", header: "Age", accessorFn: (c) => c.created, sortDescFirst: false },
  { id: "project", header: "Project", accessorFn: (c) => c.compose_project ?? NO_PROJECT },
  { id: "actions", header: "", enableSorting: false },
];

const NO_LATEST = (_: StatsState) => null;
const LATEST = (s: StatsState) => s.latest;

function ContainersTable({
  query,
  stateFilter,
  grouped,
}: {
  query: string;
  stateFilter: StateFilter;
  grouped: boolean;
}) {
  useStatsDemand();
  const containers = useEngineState((s) => s.data?.containers ?? EMPTY);
  const needle = useDeferredValue(query.trim().toLowerCase());
  const [sorting, setSorting] = useState<SortingState>([{ id: "name", desc: false }]);
  // The latest samples matter to the table only when it sorts by them.
  const byStats = sorting.some((s) => STATS_COLUMNS.has(s.id));
  // Deferred: a re-sort is rendered at a lower priority than scrolling and typing.
  const latest = useDeferredValue(useStats(byStats ? LATEST : NO_LATEST));
  const statsStore = useStatsStore();
  const latestRef = useRef<Record<string, ContainerStats>>({});
  latestRef.current = latest ?? statsStore?.getState().latest ?? {};
  const columns = useMemo(() => makeColumns(latestRef), []);
  const data = useMemo(
    () =>
      Object.values(containers).filter(
        (c) =>
          (stateFilter === "all" ||
            (stateFilter === "stopped" ? isStopped(c.state) : c.state === stateFilter)) &&
          matches(c, needle),
      ),
    // A new sample, when sorted by stats: new rows, read again by the accessors, sorted again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [containers, stateFilter, needle, latest],
  );
  const [expanded, setExpanded] = useState<ExpandedState>(true);
  // Every array and object in `state` must keep its identity between renders: TanStack Table
  // recomputes its row models when they change, and each recomputation schedules a state
  // update (an endless render loop with inline literals).
  const tableState = useMemo(
    () => ({
      sorting: grouped ? [{ id: "project", desc: false }, ...sorting.filter((s) => s.id !== "project")] : sorting,
      grouping: grouped ? GROUP_BY_PROJECT : NO_GROUPING,
      expanded,
      columnVisibility: HIDDEN_PROJECT,
    }),
    [grouped, sorting, expanded],
  );
  const table = useReactTable({
    data,
    columns,
    state: tableState,
    onSortingChange: setSorting,
    onExpandedChange: setExpanded,
    getRowId: (c) => c.id,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getGroupedRowModel: getGroupedRowModel(),
    getExpandedRowModel: getExpandedRowModel(),
    autoResetAll: false,
    autoResetExpanded: false,
    autoResetPageIndex: false,
    groupedColumnMode: false,
  });
  const rows = table.getRowModel().rows;
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    scrollMargin: HEADER_HEIGHT,
    getItemKey: (i) => rows[i]?.id ?? i,
  });
  const headers = table.getHeaderGroups()[0]?.headers ?? [];
  const total = Object.keys(containers).length;
  return (
    <div className="grid-table containers-table" role="table" aria-label="Containers" aria-rowcount={rows.length + 1}>
      <div ref={scrollRef} className="grid-body" data-testid="containers-scroll">
        <div className="grid-row header" role="row" style={{ height: HEADER_HEIGHT }}>
          {headers.map((h) => {
            const sorted = h.column.getIsSorted();
            return (
              <div
                key={h.id}
                role="columnheader"
                aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                className={h.column.getCanSort() ? "sortable" : undefined}
                onClick={h.column.getToggleSortingHandler()}
              >
                {String(h.column.columnDef.header ?? "")}
                {sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
              </div>
            );
          })}
        </div>
        {rows.length === 0 ? (
          <Empty>{total === 0 ? "No containers." : "No container matches."}</Empty>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((item) => {
              const row = rows[item.index];
              if (!row) return null;
              if (row.getIsGrouped()) {
                return (
                  <GroupRow
                    key={row.id}
                    start={item.start - HEADER_HEIGHT}
                    project={String(row.groupingValue ?? "")}
                    count={row.subRows.length}
                    expanded={row.getIsExpanded()}
                    onToggle={row.getToggleExpandedHandler()}
                  />
                );
              }
              return <ContainerRow key={row.id} id={row.original.id} start={item.start - HEADER_HEIGHT} />;
            })}
          </div>
        )}
      </div>
      <div className="table-foot">
        {data.length === total ? `${total} containers` : `${data.length} of ${total} containers`}
      </div>
    </div>
  );
}

function GroupRow(props: {
  start: number;
  project: string;
  count: number;
  expanded: boolean;
  onToggle: () => void;
}) {
  const base = useRouteBase();
  return (
    <div
      role="row"
      className="grid-row group-row"
      style={{ transform: `translateY(${props.start}px)`, height: ROW_HEIGHT }}
      data-testid="project-row"
      data-project={props.project}
    >
      <div role="cell" className="group-cell">
        <button type="button" className="link" aria-expanded={props.expanded} onClick={props.onToggle}>
          {props.expanded ? "▾" : "▸"} {props.project || "(no compose project)"}
        </button>{" "}
        <span className="muted">{props.count}</span>
        {props.project && (
          <a className="button small group-logs" href={logsHref({ project: props.project }, base)} aria-label={`Logs of compose project ${props.project}`}>
            Logs
          </a>
        )}
        {props.project && <ProjectActions project={props.project} />}
      </div>
    </div>
  );
}

const PROJECT_VERBS: ProjectVerb[] = ["start", "stop", "restart"];

/** A compose project's header: its whole-project actions, and while one runs its containers' outcomes. */
function ProjectActions({ project }: { project: string }) {
  const act = useAct();
  const pending = useEngineState(useMemo(() => pendingFor("project", project), [project]));
  const progress = projectProgress(useOperation(pending?.operation));
  return (
    <span className="group-actions">
      {pending && <Pending pending={pending} />}
      {progress && (
        <span className="outcomes" aria-label="Each container" data-testid="project-outcomes">
          {Object.entries(progress.containers).map(([id, o]) => (
            <span key={id} className={`outcome outcome-${o.status}`} title={o.error ? String(o.error.detail ?? "") : o.status}>
              {o.name} {o.status === "done" ? "✓" : o.status === "failed" ? "✗" : "…"}
            </span>
          ))}
        </span>
      )}
      {PROJECT_VERBS.map((verb) => (
        <button
          key={verb}
          type="button"
          className="small"
          disabled={pending !== undefined}
          aria-label={`${capitalize(verb)} project ${project}`}
          onClick={() => void act({ kind: "project", action: verb, project })}
        >
          {capitalize(verb)}
        </button>
      ))}
      <button
        type="button"
        className="small danger-text"
        disabled={pending !== undefined}
        aria-label={`Remove project ${project}`}
        onClick={() => void act({ kind: "project", action: "remove", project })}
      >
        Remove
      </button>
    </span>
  );
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const ContainerRow = memo(function ContainerRow({ id, start }: { id: string; start: number }) {
  const c = useEngineState((s) => s.data?.containers[id]);
  const pending = useEngineState(useMemo(() => pendingFor("container", id), [id]));
  const flashKey = useFlashKey(c?.rev);
  const selected = usePanelOpen("container", id);
  if (!c) return null;
  return (
    <div
      role="row"
      className={`grid-row${pending ? " is-pending" : ""}${selected ? " is-selected" : ""}`}
      style={{ transform: `translateY(${start}px)`, height: ROW_HEIGHT }}
      data-testid="container-row"
      data-name={c.name}
      data-state={c.state}
    >
      <Flash flashKey={flashKey} />
      <RowCells c={c} pending={pending} />
    </div>
  );
});

/** The cells of a row: memoized, so that a row moved by a re-sort (a new `start`) re-renders none. */
const RowCells = memo(function RowCells({ c, pending }: { c: Container; pending: ReturnType<ReturnType<typeof pendingFor>> }) {
  const base = useRouteBase();
  return (
    <>
      <div role="cell" className="name" title={c.id}>
        <a className="strong" href={containerHref(c.id, base)}>
          {c.name}
        </a>
        {c.compose_service && <span className="muted"> · {c.compose_service}</span>}
      </div>
      <div role="cell" data-testid="status">
        {pending ? <Pending pending={pending} /> : <StateCell c={c} />}
      </div>
      <StatsCells id={c.id} name={c.name} />
      <div role="cell">{c.health && <Tag tone={c.health}>{c.health}</Tag>}</div>
      <div role="cell" className="ellipsis" title={ports(c)}>
        {ports(c)}
      </div>
      <div role="cell" className="ellipsis" title={`${c.image} (${shortId(c.image_id)})`}>
        {c.image}
      </div>
      <div role="cell">
        <Age since={c.created} />
      </div>
      <div role="cell" className="actions">
        <ContainerActions c={c} busy={pending !== undefined} panels />
      </div>
    </>
  );
});

/** CPU and memory of one row: its latest sample and sparklines (a sample re-renders only these). */
const StatsCells = memo(function StatsCells({ id, name }: { id: string; name: string }) {
  const select = useCallback((s: StatsState) => s.latest[id], [id]);
  const sample = useStats(select);
  const series = useStatsStore()?.series(id);
  if (!sample) {
    return (
      <>
        <div role="cell" className="stat" data-testid="cpu" />
        <div role="cell" className="stat" data-testid="memory" />
      </>
    );
  }
  const limit = sample.memory_limit_bytes;
  return (
    <>
      <div role="cell" className="stat" data-testid="cpu" data-value={sample.cpu_percent}>
        <span className="stat-value">{percent(sample.cpu_percent)}</span>
        <Sparkline series={series} field="cpu" tick={sample} floor={1} label={`CPU of ${name}, last 5 minutes`} />
      </div>
      <div
        role="cell"
        className="stat"
        data-testid="memory"
        data-value={sample.memory_bytes}
        title={limit > 0 ? `${bytes(sample.memory_bytes)} of ${bytes(limit)}` : undefined}
      >
        <span className="stat-value">{bytes(sample.memory_bytes)}</span>
        <Sparkline series={series} field="memory" tick={sample} label={`Memory of ${name}, last 5 minutes`} />
      </div>
    </>
  );
});

export function percent(n: number): string {
  return `${n >= 100 ? Math.round(n) : n.toFixed(1)}%`;
}

function StateCell({ c }: { c: Container }) {
  const tone = c.state === "running" ? "ok" : c.state === "paused" || c.state === "restarting" ? "warn" : "off";
  const since = c.state === "running" || c.state === "paused" ? c.started_at : c.finished_at;
  return (
    <span className="state" title={c.status}>
      <Tag tone={tone}>{c.state}</Tag>{" "}
      {c.state === "exited" && c.exit_code !== null ? <span className="muted">({c.exit_code}) </span> : null}
      {since && c.state !== "created" ? (
        <span className="muted">
          {c.state === "running" || c.state === "paused" ? "up " : ""}
          <Age since={since} suffix={c.state === "running" || c.state === "paused" ? "" : " ago"} />
        </span>
      ) : null}
    </span>
  );
}
