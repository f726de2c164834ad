import { Facts } from "../components/Cells";
import { ConnectionBadge } from "../components/Status";
import { bytes, clock } from "../format";
import { useEngineState } from "../react/hooks";
import { useStats, useStatsDemand } from "../react/stats";
import { type StatsState, totals } from "../store/stats";

const TOTALS = (s: StatsState) => (s.time === null ? null : { ...totals(s.latest), time: s.time });
type Totals = ReturnType<typeof TOTALS>;
const sameTotals = (a: Totals, b: Totals) =>
  a === b || (a !== null && b !== null && a.cpu === b.cpu && a.memory === b.memory && a.count === b.count && a.time === b.time);

/** What every running container uses, live (the sum of the latest sample). */
function Usage() {
  useStatsDemand();
  const t = useStats(TOTALS, sameTotals);
  const ncpu = useEngineState((s) => s.data?.engine_info?.ncpu ?? 0);
  const memTotal = useEngineState((s) => s.data?.engine_info?.mem_total ?? 0);
  return (
    <div className="card" data-testid="engine-usage">
      <h2>Usage</h2>
      {t ? (
        <Facts
          rows={[
            [
              "CPU",
              <span data-testid="total-cpu" data-value={t.cpu}>
                {t.cpu >= 100 ? Math.round(t.cpu) : t.cpu.toFixed(1)}%
                {ncpu > 0 && (
                  <span className="muted">
                    {" "}
                    of {ncpu * 100}% ({ncpu} CPU{ncpu === 1 ? "" : "s"}): {((t.cpu / ncpu)).toFixed(1)}% of the machine
                  </span>
                )}
              </span>,
            ],
            [
              "Memory",
              <span data-testid="total-memory" data-value={t.memory}>
                {bytes(t.memory)}
                {memTotal > 0 && (
                  <span className="muted">
                    {" "}
                    of {bytes(memTotal)} ({((100 * t.memory) / memTotal).toFixed(1)}%)
                  </span>
                )}
              </span>,
            ],
            ["Sampled", `${t.count} running container${t.count === 1 ? "" : "s"}`],
            ["At", clock(t.time)],
          ]}
        />
      ) : (
        <p className="muted">Waiting for the first sample…</p>
      )}
    </div>
  );
}

export function EnginePage() {
  const info = useEngineState((s) => s.data?.engine_info ?? null);
  const stats = useEngineState((s) => s.data?.system_stats ?? null);
  const connection = useEngineState((s) => s.connection);
  const epoch = useEngineState((s) => s.epoch);
  const version = useEngineState((s) => s.data?.version ?? null);
  const lastUpdated = useEngineState((s) => s.data?.last_updated ?? "");
  const source = useEngineState((s) => s.source);
  return (
    <section className="page" aria-labelledby="engine-title">
      <div className="toolbar">
        <h1 id="engine-title">Engine</h1>
      </div>
      <div className="cards">
        <div className="card">
          <h2>Docker engine</h2>
          {info ? (
            <Facts
              rows={[
                ["Link", <span data-testid="engine-status">{info.status}</span>],
                ["Last error", info.last_error ?? ""],
                ["Host", info.host],
                ["Name", info.name],
                ["Version", info.server_version],
                ["API version", info.api_version],
                ["OS", `${info.os} (${info.os_type})`],
                ["Kernel", info.kernel_version],
                ["Architecture", info.architecture],
                ["CPUs", String(info.ncpu)],
                ["Memory", bytes(info.mem_total)],
                ["Storage driver", info.storage_driver],
                ["Root dir", info.docker_root_dir],
              ]}
            />
          ) : (
            <p className="muted">Not known yet.</p>
          )}
        </div>
        <Usage />
        <div className="card">
          <h2>System</h2>
          {stats ? (
            <Facts
              rows={[
                ["Containers", String(stats.containers)],
                ["Running", String(stats.containers_running)],
                ["Paused", String(stats.containers_paused)],
                ["Stopped", String(stats.containers_stopped)],
                ["Unhealthy", String(stats.containers_unhealthy)],
                ["Images", `${stats.images} (${bytes(stats.images_size)}, ${stats.images_dangling} dangling)`],
                ["Volumes", String(stats.volumes)],
                ["Networks", String(stats.networks)],
              ]}
            />
          ) : (
            <p className="muted">Not known yet.</p>
          )}
        </div>
        <div className="card">
          <h2>Connection</h2>
          <ConnectionBadge />
          <Facts
            rows={[
              ["Status", connection.status],
              ["Data", source === "cache" ? "last known (cache)" : source],
              ["Server", connection.server ?? ""],
              ["Session", connection.session ?? ""],
              ["Epoch", epoch ?? ""],
              ["Version", version === null ? "" : String(version)],
              [
                "Last change",
                lastUpdated && (
                  <time dateTime={lastUpdated} title={lastUpdated}>
                    {new Date(lastUpdated).toLocaleString()}
                  </time>
                ),
              ],
              ["Heartbeat", connection.heartbeatMs ? `${connection.heartbeatMs / 1000} s` : ""],
              ["Reconnect attempts", String(connection.attempt)],
              [
                "Last close",
                connection.lastClose ? `${connection.lastClose.code} ${connection.lastClose.reason}` : "",
              ],
              ["Resyncs", String(connection.resyncs)],
              ["Last resync", connection.lastResync ?? ""],
              ["Next attempt", connection.retryAt ? clock(connection.retryAt) : ""],
            ]}
          />
        </div>
      </div>
    </section>
  );
}
