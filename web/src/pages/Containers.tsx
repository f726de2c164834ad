/**
 * Containers: a virtualized table (TanStack Table for columns, sorting and grouping; TanStack
 * Virtual so that only the visible rows exist), with search, a state filter and grouping by
 * compose project. Each row subscribes to its own container: a change re-renders that row.
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
import { memo, useDeferredValue, useMemo, useRef, useState } from "react";
import { Age, Empty, Flash, Pending, Tag } from "../components/Cells";
import { HistoryButton, useHistoryOpen } from "../components/History";
import { useAct } from "../components/useAct";
import { ports, shortId } from "../format";
import { useFlashKey } from "../react/flash";
import { useEngineState } from "../react/hooks";
import type { ContainerVerb } from "../store/actions";
import type { Container, ContainerState } from "../store/types";

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

const columns: ColumnDef<Container>[] = [
  { id: "name", header: "Name", accessorFn: (c) => c.name },
  { id: "state", header: "Status", accessorFn: (c) => `${c.state} ${c.status}` },
  { id: "health", header: "Health", accessorFn: (c) => c.health ?? "" },
  { id: "ports", header: "Ports", accessorFn: (c) => ports(c), enableSorting: false },
  { id: "image", header: "Image", accessorFn: (c) => c.image },
  { id: "age", header: "Age", accessorFn: (c) => c.created, sortDescFirst: false },
  { id: "project", header: "Project", accessorFn: (c) => c.compose_project ?? NO_PROJECT },
  { id: "actions", header: "", enableSorting: false },
];

function ContainersTable({
  query,
  stateFilter,
  grouped,
}: {
  query: string;
  stateFilter: StateFilter;
  grouped: boolean;
}) {
  const containers = useEngineState((s) => s.data?.containers ?? EMPTY);
  const needle = useDeferredValue(query.trim().toLowerCase());
  const data = useMemo(
    () =>
      Object.values(containers).filter(
        (c) =>
          (stateFilter === "all" ||
            (stateFilter === "stopped" ? isStopped(c.state) : c.state === stateFilter)) &&
          matches(c, needle),
      ),
    [containers, stateFilter, needle],
  );
  const [sorting, setSorting] = useState<SortingState>([{ id: "name", desc: false }]);
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
  return (
    <div
      role="row"
      className="grid-row group-row"
      style={{ transform: `translateY(${props.start}px)`, height: ROW_HEIGHT }}
    >
      <div role="cell" className="group-cell">
        <button type="button" className="link" aria-expanded={props.expanded} onClick={props.onToggle}>
          {props.expanded ? "▾" : "▸"} {props.project || "(no compose project)"}
        </button>{" "}
        <span className="muted">{props.count}</span>
      </div>
    </div>
  );
}

const ContainerRow = memo(function ContainerRow({ id, start }: { id: string; start: number }) {
  const c = useEngineState((s) => s.data?.containers[id]);
  const pending = useEngineState((s) => s.pending[`container:${id}`]);
  const flashKey = useFlashKey(c?.rev);
  const selected = useHistoryOpen("container", id);
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
      <div role="cell" className="name" title={c.id}>
        <span className="strong">{c.name}</span>
        {c.compose_service && <span className="muted"> · {c.compose_service}</span>}
      </div>
      <div role="cell" data-testid="status">
        {pending ? <Pending pending={pending} /> : <StateCell c={c} />}
      </div>
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
        <ContainerActions c={c} busy={pending !== undefined} />
      </div>
    </div>
  );
});

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

const VERBS: Record<ContainerState, ContainerVerb[]> = {
  running: ["stop", "restart", "pause", "kill"],
  paused: ["unpause", "stop", "kill"],
  restarting: ["stop", "kill"],
  created: ["start"],
  exited: ["start"],
  dead: [],
  removing: [],
};

function ContainerActions({ c, busy }: { c: Container; busy: boolean }) {
  const act = useAct();
  return (
    <>
      {VERBS[c.state].map((verb) => (
        <button
          key={verb}
          type="button"
          className={`small${verb === "kill" ? " danger-text" : ""}`}
          disabled={busy}
          onClick={() => void act({ kind: "container", action: verb, id: c.id, name: c.name })}
        >
          {verb.charAt(0).toUpperCase() + verb.slice(1)}
        </button>
      ))}
      <HistoryButton kind="container" id={c.id} name={c.name} />
      <button
        type="button"
        className="small danger-text"
        disabled={busy || c.state === "removing"}
        onClick={() =>
          void act(
            { kind: "container", action: "remove", id: c.id, name: c.name },
            { running: c.state === "running" || c.state === "paused" || c.state === "restarting" },
          )
        }
      >
        Remove
      </button>
    </>
  );
}
