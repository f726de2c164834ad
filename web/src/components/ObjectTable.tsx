/**
 * The table of the Images, Volumes and Networks pages: a plain table of one kind's objects,
 * the rows being created first, one memoized row per object (useObjectRow), and what the page
 * shows in each row's cells. The shared cells: the users (or the running action), the actions
 * (History, Remove).
 */
import { memo, type ReactNode } from "react";
import { type ObjectRow, useObjectRow } from "../react/useObjectRow";
import type { PendingAction } from "../store/actions";
import type { EntityOf, ObjectKind } from "../store/types";
import { CreatingRows, Empty, Pending, rowClass } from "./Cells";
import { HistoryButton } from "./History";

export interface ObjectTableProps<K extends ObjectKind> {
  kind: K;
  /** The table's accessible name ("Images"). */
  label: string;
  /** The column headers; "" for the actions column. */
  headers: readonly string[];
  /** The objects' ids, in the order shown. */
  ids: readonly string[];
  /** The objects of the kind being created (shown first). */
  creating?: readonly PendingAction[];
  /** What the page says when there are none ("No images."). */
  empty: string;
  /** The containers an object lists (its users, its members); stable. */
  usersOf?: (obj: EntityOf<K>) => readonly string[];
  /** The row's data-name (what the tests and the History panel call it). */
  nameOf: (obj: EntityOf<K>) => string;
  /** The row's cells (``<td>``s), from what useObjectRow selected; stable. */
  cells: (row: ObjectRow<K> & { obj: EntityOf<K> }) => ReactNode;
}

export function ObjectTable<K extends ObjectKind>(props: ObjectTableProps<K>) {
  const { label, headers, ids, creating = [], empty } = props;
  const Row = ObjectTableRow as unknown as (p: { id: string; table: ObjectTableProps<K> }) => ReactNode;
  return (
    <>
      <table className="plain-table" aria-label={label}>
        <thead>
          <tr>
            {headers.map((h, i) => (h ? <th key={h}>{h}</th> : <th key={`_${i}`} />))}
          </tr>
        </thead>
        <tbody>
          {creating.length > 0 && <CreatingRows creating={[...creating]} columns={headers.length} />}
          {ids.map((id) => (
            <Row key={id} id={id} table={props} />
          ))}
        </tbody>
      </table>
      {ids.length === 0 && creating.length === 0 && <Empty>{empty}</Empty>}
    </>
  );
}

// Memoized on (id, table props): a page passes stable functions, so a row re-renders only when
// what it selects changes, or when the page's props do.
const ObjectTableRow = memo(function ObjectTableRow({
  id,
  table,
}: {
  id: string;
  table: ObjectTableProps<ObjectKind>;
}) {
  const row = useObjectRow(table.kind, id, table.usersOf);
  const { obj } = row;
  if (!obj) return null;
  return (
    <tr
      className={rowClass(row.pending !== undefined, row.selected)}
      data-testid={`${table.kind}-row`}
      data-name={table.nameOf(obj)}
    >
      {table.cells({ ...row, obj })}
    </tr>
  );
}, (a, b) => a.id === b.id && sameTable(a.table, b.table));

function sameTable(a: ObjectTableProps<ObjectKind>, b: ObjectTableProps<ObjectKind>): boolean {
  return a.kind === b.kind && a.usersOf === b.usersOf && a.nameOf === b.nameOf && a.cells === b.cells;
}

/** The users of an object (or the action running on it). */
export function UsersCell({ row }: { row: ObjectRow<ObjectKind> }) {
  return <td>{row.pending ? <Pending pending={row.pending} /> : row.users || <span className="muted">—</span>}</td>;
}

/** History, and Remove unless the object cannot be removed. */
export function ActionsCell({
  row,
  name,
  removable = true,
}: {
  row: ObjectRow<ObjectKind>;
  name: string;
  removable?: boolean;
}) {
  return (
    <td className="actions">
      <HistoryButton kind={row.kind} id={row.id} name={name} />
      {removable && (
        <button
          type="button"
          className="small danger-text"
          disabled={row.pending !== undefined}
          onClick={() => void row.act({ kind: row.kind, action: "remove", id: row.id, name })}
        >
          Remove
        </button>
      )}
    </td>
  );
}
