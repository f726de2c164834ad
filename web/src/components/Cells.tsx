/** Small pieces the tables share. */
import type { ReactNode } from "react";
import { age } from "../format";
import { useNow, useOperation } from "../react/hooks";
import { madeName, type PendingAction } from "../store/actions";
import { progressText } from "../store/progress";

export function Age({ since, suffix = "" }: { since: string | null | undefined; suffix?: string }) {
  const now = useNow(15_000);
  const text = age(since, now);
  if (!text) return null;
  return (
    <time dateTime={since ?? undefined} title={since ?? undefined}>
      {text}
      {suffix}
    </time>
  );
}

/** The action running on a row ("stopping…"), with its operation's progress ("42%", "2 of 3"). */
export function Pending({ pending }: { pending: PendingAction }) {
  const progress = progressText(useOperation(pending.operation));
  return (
    <span className="pending" data-testid="pending">
      <span className="spinner" aria-hidden="true" />
      {pending.label}
      {progress && <span className="pending-progress"> {progress}</span>}
    </span>
  );
}

export function Flash({ flashKey }: { flashKey: number }) {
  return flashKey > 0 ? <span key={flashKey} className="flash" aria-hidden="true" /> : null;
}

export function Tag({ children, tone = "neutral" }: { children: ReactNode; tone?: string }) {
  return <span className={`tag tag-${tone}`}>{children}</span>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** Rows for the objects of a kind that are being created: their name and the pending label. */
export function CreatingRows({ creating, columns }: { creating: PendingAction[]; columns: number }) {
  return (
    <>
      {creating.map((p) => (
        <tr key={p.key} className="is-pending">
          <td className="strong">{madeName(p.request)}</td>
          <td colSpan={columns - 1}>
            <Pending pending={p} />
          </td>
        </tr>
      ))}
    </>
  );
}

/** The class of a table row: an action is running on it, its History is open. */
export function rowClass(pending: boolean, selected: boolean): string | undefined {
  const classes = [pending && "is-pending", selected && "is-selected"].filter(Boolean);
  return classes.length ? classes.join(" ") : undefined;
}

/** Facts as a definition list: a label and its value a line ("—" for none). */
export function Facts({ rows, testId }: { rows: [string, ReactNode][]; testId?: string }) {
  return (
    <dl className="facts" data-testid={testId}>
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === "" || v === null || v === undefined ? <span className="muted">—</span> : v}</dd>
        </div>
      ))}
    </dl>
  );
}
