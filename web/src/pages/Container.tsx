/**
 * One container's page (`#/containers/<id or name>`: a link that can be shared and reloaded),
 * live from the store: its state, health, ports, mounts, networks and labels come from the
 * state's Container and change as it does; what the state does not hold (entrypoint and
 * command apart, the restart policy, the health check's last results, the environment's
 * names) comes from GET /api/v1/containers/{id}, read again when the container changes
 * (useDetails), never on a timer. Below: its usage (the Stats panel's charts), its logs (the
 * Logs view) and its History.
 */
import { useRef } from "react";
import { Age, Facts, Pending, Tag } from "../components/Cells";
import { ContainerActions, RenameForm } from "../components/ContainerActions";
import { TimelineBody, TimelineCount } from "../components/History";
import { StatsView } from "../components/StatsPanel";
import { clock, port, shortId } from "../format";
import { useEngineState } from "../react/hooks";
import { useDetails } from "../react/useDetails";
import { useTimeline } from "../react/useTimeline";
import { pendingFor } from "../store/actions";
import { LogsView } from "../components/LogsView";
import { logsHref } from "./Logs";
import { useEngineName, useRouteBase } from "../route";
import type { Container, ContainerDetails, EngineState, HealthResult } from "../store/types";

/** The container a page's address names: a full id, a name, or a unique id prefix. */
export function resolveContainer(data: EngineState | null, ref: string): string | null {
  if (!data) return null;
  if (ref in data.containers) return ref;
  const all = Object.values(data.containers);
  const named = all.find((c) => c.name === ref);
  if (named) return named.id;
  const prefixed = ref.length >= 4 ? all.filter((c) => c.id.startsWith(ref)) : [];
  return prefixed.length === 1 ? prefixed[0]!.id : null;
}

const tone = (c: Container) =>
  c.state === "running" ? "ok" : c.state === "paused" || c.state === "restarting" ? "warn" : "off";

export function ContainerPage({ target: wanted }: { target: string }) {
  const base = useRouteBase();
  const engine = useEngineName();
  const resolved = useEngineState((s) => resolveContainer(s.data, wanted));
  // Once known, the page stays on that container (a rename, a removal): by its id.
  const idRef = useRef<string | null>(null);
  if (resolved) idRef.current = resolved;
  const id = idRef.current ?? wanted;
  const live = useEngineState((s) => s.data?.containers[id]);
  const lastSeen = useRef<Container | undefined>(undefined);
  if (live) lastSeen.current = live;
  const c = live ?? lastSeen.current;
  const pending = useEngineState(pendingFor("container", id));
  const { state: details, loader } = useDetails(id);

  if (!c) {
    return (
      <section className="page container-page" aria-labelledby="container-title" data-testid="container-page">
        <Back />
        <h1 id="container-title">Container {wanted}</h1>
        <div className="empty">
          The engine has no container {wanted} (it may have been removed).
          {details.details === null && details.error && <div className="muted">{details.error}</div>}
        </div>
        <HistorySection id={wanted} />
      </section>
    );
  }
  const removed = live === undefined;
  const d = details.details;
  return (
    <section
      className="page container-page"
      aria-labelledby="container-title"
      data-testid="container-page"
      data-state={removed ? "removed" : c.state}
    >
      <Back />
      <div className="toolbar">
        <h1 id="container-title">{c.name}</h1>
        {engine !== null && (
          <span className="muted" data-testid="container-engine">
            on engine <a href={`${base}containers`}>{engine}</a>
          </span>
        )}
        <span data-testid="container-state">
          {pending ? (
            <Pending pending={pending} />
          ) : (
            <>
              <Tag tone={removed ? "off" : tone(c)}>{removed ? "removed" : c.state}</Tag>{" "}
              <span className="muted">{c.status}</span>
            </>
          )}
        </span>
        {c.health && !removed && <Tag tone={c.health}>{c.health}</Tag>}
        <span className="spacer" />
        {!removed && (
          <span className="actions">
            <ContainerActions c={c} busy={pending !== undefined} />
            <RenameForm c={c} busy={pending !== undefined} />
          </span>
        )}
      </div>
      {details.error && !removed && (
        <div className="history-error" role="alert">
          <strong>Could not read the container's details.</strong> {details.error}
        </div>
      )}
      <div className="cards">
        <div className="card" data-testid="container-overview">
          <h2>Overview</h2>
          <Facts
            rows={[
              ["State", <StateFact key="state" c={c} removed={removed} />],
              ["Image", <span key="image">{c.image} <span className="mono muted">{shortId(c.image_id)}</span></span>],
              ["Runs", <code key="runs">{c.command}</code>],
              ["Entrypoint", d ? (d.entrypoint ? <code>{argv(d.entrypoint)}</code> : "none") : ""],
              ["Command", d?.cmd ? <code>{argv(d.cmd)}</code> : ""],
              ["Working directory", d?.working_dir],
              ["User", d?.user],
              ["Restart policy", d ? restartPolicy(d) : ""],
              ["Restarts", String(c.restart_count)],
              ["Created", <Age key="created" since={c.created} suffix=" ago" />],
              ["Compose", c.compose_project ? `${c.compose_project} · ${c.compose_service ?? ""}` : ""],
              ["Id", <span key="id" className="mono">{c.id}</span>],
            ]}
          />
        </div>
        <HealthCard c={c} details={d} readAt={details.readAt} onRefresh={() => void loader.refresh()} />
        <div className="card">
          <h2>Ports</h2>
          {c.ports.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ul className="plain-list" data-testid="container-ports">
              {c.ports.map((p, i) => (
                <li key={i} className="mono">
                  {p.host_port === null ? `${port(p)} (not published)` : `${p.host_ip || "0.0.0.0"}:${p.host_port} → ${p.private_port}/${p.protocol}`}
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="card">
          <h2>Mounts</h2>
          {c.mounts.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <table className="plain-table" aria-label="Mounts">
              <tbody>
                {c.mounts.map((m) => (
                  <tr key={m.destination}>
                    <td className="mono">{m.destination}</td>
                    <td>
                      <Tag>{m.type}</Tag> <span className="mono">{m.name ?? m.source}</span>
                    </td>
                    <td>{m.rw ? "read-write" : "read-only"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div className="card">
          <h2>Networks</h2>
          {Object.keys(c.networks).length === 0 ? (
            <p className="muted">None{d?.network_mode ? ` (network mode ${d.network_mode})` : ""}.</p>
          ) : (
            <table className="plain-table" aria-label="Networks">
              <tbody>
                {Object.entries(c.networks).map(([name, n]) => (
                  <tr key={name}>
                    <td className="strong">{name}</td>
                    <td className="mono" title={n.mac_address ? `MAC ${n.mac_address}` : undefined}>
                      {n.ip_address || "—"}
                    </td>
                    <td>{n.aliases.join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div className="card">
          <h2>Labels</h2>
          {Object.keys(c.labels).length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <dl className="facts labels">
              {Object.entries(c.labels)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => (
                  <div key={k}>
                    <dt className="mono">{k}</dt>
                    <dd className="mono">{v}</dd>
                  </div>
                ))}
            </dl>
          )}
        </div>
        <div className="card" data-testid="container-env">
          <h2>Environment</h2>
          <p className="muted">Names only: dockstate never shows a value.</p>
          {d && (d.env_names.length === 0 ? <p className="muted">None.</p> : <p className="mono env-names">{d.env_names.join(" ")}</p>)}
        </div>
      </div>
      {!removed && (
        <section className="page-section" aria-labelledby="stats-title">
          <h2 id="stats-title">Usage</h2>
          <StatsView id={c.id} />
        </section>
      )}
      <section className="page-section logs-slot" aria-labelledby="logs-title" data-testid="logs-slot">
        <h2 id="logs-title">
          Logs{" "}
          <a className="button small" href={logsHref({ container: c.id }, base)}>
            Full page
          </a>
        </h2>
        {/* The Logs view fills its parent (a flex column): the box gives it its height. */}
        <div className="logs-box">
          <LogsView container={c.id} />
        </div>
      </section>
      <HistorySection id={c.id} />
    </section>
  );
}

function Back() {
  return (
    <a className="back" href={`${useRouteBase()}containers`}>
      ← Containers
    </a>
  );
}

function StateFact({ c, removed }: { c: Container; removed: boolean }) {
  if (removed) return <span>removed (last seen {c.state})</span>;
  const up = c.state === "running" || c.state === "paused";
  const since = up ? c.started_at : c.finished_at;
  return (
    <span data-testid="state-fact">
      {c.state}
      {c.exit_code !== null && ` (exit code ${c.exit_code})`}
      {since && c.state !== "created" && (
        <span className="muted">
          {" "}
          · {up ? "up " : ""}
          <Age since={since} suffix={up ? "" : " ago"} />
        </span>
      )}
    </span>
  );
}

function restartPolicy(d: ContainerDetails): string {
  const { name, maximum_retry_count: max } = d.restart_policy;
  if (!name || name === "no") return "no";
  return name === "on-failure" && max > 0 ? `on-failure, at most ${max} times` : name;
}

/** Arguments as a shell would take them back: quoted where they hold spaces or quotes. */
function argv(args: string[]): string {
  return args.map((a) => (a === "" || /[\s'"\\]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a)).join(" ");
}

function HealthCard({
  c,
  details,
  readAt,
  onRefresh,
}: {
  c: Container;
  details: ContainerDetails | null;
  readAt: number | null;
  onRefresh: () => void;
}) {
  const check = details?.healthcheck;
  const health = details?.health;
  return (
    <div className="card" data-testid="container-health">
      <h2>Health</h2>
      {!c.health && !check ? (
        <p className="muted">No health check.</p>
      ) : (
        <>
          <Facts
            rows={[
              ["Status", c.health ? <Tag tone={c.health}>{c.health}</Tag> : ""],
              ["Failing streak", health ? String(health.failing_streak) : ""],
              ["Check", check ? <code>{check.test.join(" ")}</code> : ""],
              ["Every", check?.interval ? `${check.interval} s` : check ? "30 s (Docker's default)" : ""],
            ]}
          />
          {health && health.log.length > 0 && (
            <table className="plain-table health-log" aria-label="Last health checks">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Exit</th>
                  <th>Output</th>
                </tr>
              </thead>
              <tbody>
                {[...health.log].reverse().map((r, i) => (
                  <HealthRow key={`${r.start}-${i}`} r={r} />
                ))}
              </tbody>
            </table>
          )}
          {readAt !== null && (
            <p className="muted small-print">
              Last results as read at {clock(readAt)} (again whenever the container changes){" "}
              <button type="button" className="small" onClick={onRefresh}>
                Read now
              </button>
            </p>
          )}
        </>
      )}
    </div>
  );
}

function HealthRow({ r }: { r: HealthResult }) {
  const start = r.start ? Date.parse(r.start) : NaN;
  const end = r.end ? Date.parse(r.end) : NaN;
  const took = Number.isFinite(start) && Number.isFinite(end) ? `${Math.max(0, end - start)} ms` : "";
  return (
    <tr className={r.exit_code === 0 ? undefined : "bad"}>
      <td className="nowrap" title={r.start ?? undefined}>
        {Number.isFinite(start) ? clock(start) : "—"} <span className="muted">{took}</span>
      </td>
      <td>{r.exit_code}</td>
      <td className="mono output">{r.output.trim()}</td>
    </tr>
  );
}

function HistorySection({ id }: { id: string }) {
  const { state, loader } = useTimeline("container", id);
  return (
    <section className="page-section" aria-labelledby="history-title" data-testid="container-history">
      <h2 id="history-title">
        History <TimelineCount state={state} />
      </h2>
      <TimelineBody kind="container" state={state} loader={loader} />
    </section>
  );
}
