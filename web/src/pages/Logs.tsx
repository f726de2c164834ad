/**
 * The Logs page (`#/logs/container/<id>`, `#/logs/project/<name>`): one container's log, or a
 * compose project's merged, in the whole page. Shareable and reloadable: the address says it all.
 */
import { LogsView } from "../components/LogsView";
import { shortId } from "../format";
import { useEngineState } from "../react/hooks";
import type { LogTarget } from "../store/logs";
import { useRouteBase } from "../route";

/** The page's address for a target. */
export function logsHref(target: LogTarget, base = "#/"): string {
  return target.project !== undefined
    ? `${base}logs/project/${encodeURIComponent(target.project)}`
    : `${base}logs/container/${encodeURIComponent(target.container)}`;
}

/** The target of a `#/logs/…` address, or null. */
export function parseLogsHash(hash: string): LogTarget | null {
  const m = /^#\/logs\/(container|project)\/(.+)$/.exec(hash);
  if (!m) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[2]!);
  } catch {
    return null;
  }
  return m[1] === "project" ? { project: name } : { container: name };
}

export function LogsPage({ target }: { target: LogTarget }) {
  const base = useRouteBase();
  const ref = target.container;
  const name = useEngineState((s) =>
    ref === undefined ? null : (Object.values(s.data?.containers ?? {}).find((c) => c.id === ref || c.name === ref)?.name ?? null),
  );
  const title =
    target.project !== undefined ? (
      <>
        Logs of compose project <span className="strong">{target.project}</span>
      </>
    ) : (
      <>
        Logs of <span className="strong">{name ?? shortId(target.container)}</span>
      </>
    );
  return (
    <section className="page logs-page" aria-labelledby="logs-title">
      <div className="toolbar">
        <a href={`${base}containers`}>← Containers</a>
        <h1 id="logs-title">{title}</h1>
      </div>
      <LogsView {...target} />
    </section>
  );
}
