/**
 * A server of several engines (protocol.md §8): the overview of every engine (the landing
 * page, `#/`), the engine switcher, and each engine's pages under `#/e/<engine>/…`, served by
 * the same App as one engine's, with the engine's own stores. A server of one engine never
 * gets here (main.tsx renders App alone, as always).
 */
import { App, useHash } from "./App";
import { Tag } from "./components/Cells";
import { StoreContext, useEngineState } from "./react/hooks";
import { LogsContext } from "./react/logs";
import { StatsContext } from "./react/stats";
import { EngineName, engineBase, parseEngineHash, RouteBase } from "./route";
import type { LiveState, LiveStore } from "./store/live";
import type { LogsStore } from "./store/logs";
import type { StatsStore } from "./store/stats";

/** One engine of the server, with the stores that follow it. */
export interface EngineStores {
  id: string;
  host: string;
  live: LiveStore;
  stats: StatsStore;
  logs: LogsStore;
}

export type EngineLink = "connected" | "connecting" | "down";

/** How the server stands with the engine, as far as this page knows. */
export function engineLink(s: LiveState): EngineLink {
  const info = s.data?.engine_info;
  if (s.connection.status !== "live" || s.source !== "live" || !info) return "connecting";
  if (info.status === "connected") return "connected";
  return info.status === "disconnected" && info.last_error ? "down" : "connecting";
}

export function MultiApp({ engines }: { engines: EngineStores[] }) {
  const hash = useHash();
  const route = parseEngineHash(hash);
  const current = route ? engines.find((e) => e.id === route.engine) : undefined;
  const switcher = <EngineSwitcher engines={engines} current={current?.id ?? null} />;
  if (!current || !route) return <Overview engines={engines} switcher={switcher} />;
  return (
    <EngineProviders engine={current}>
      <App key={current.id} hash={route.hash} switcher={switcher} />
    </EngineProviders>
  );
}

function EngineProviders({ engine, children }: { engine: EngineStores; children: React.ReactNode }) {
  return (
    <StoreContext.Provider value={engine.live}>
      <StatsContext.Provider value={engine.stats}>
        <LogsContext.Provider value={engine.logs}>
          <RouteBase.Provider value={engineBase(engine.id)}>
            <EngineName.Provider value={engine.id}>{children}</EngineName.Provider>
          </RouteBase.Provider>
        </LogsContext.Provider>
      </StatsContext.Provider>
    </StoreContext.Provider>
  );
}

/** Which engine the pages show, or the overview of them all. */
export function EngineSwitcher({ engines, current }: { engines: EngineStores[]; current: string | null }) {
  return (
    <select
      className="engine-switcher"
      aria-label="Engine"
      value={current ?? ""}
      onChange={(e) => {
        const id = e.target.value;
        window.location.hash = id ? `${engineBase(id)}containers` : "#/";
      }}
    >
      <option value="">All engines</option>
      {engines.map((e) => (
        <option key={e.id} value={e.id}>
          {e.id}
        </option>
      ))}
    </select>
  );
}

export function Overview({ engines, switcher }: { engines: EngineStores[]; switcher?: React.ReactNode }) {
  return (
    <>
      <header className="top">
        <div className="brand">dockstate</div>
        {switcher}
      </header>
      <main className="live">
        <section className="page" aria-labelledby="engines-title">
          <h1 id="engines-title">Engines</h1>
          <table className="engines" data-testid="engines">
            <thead>
              <tr>
                <th>Engine</th>
                <th>Status</th>
                <th>Version</th>
                <th>Containers</th>
                <th>Images</th>
                <th>Volumes</th>
                <th>Networks</th>
              </tr>
            </thead>
            <tbody>
              {engines.map((e) => (
                <StoreContext.Provider key={e.id} value={e.live}>
                  <EngineRow engine={e} />
                </StoreContext.Provider>
              ))}
            </tbody>
          </table>
        </section>
      </main>
    </>
  );
}

function EngineRow({ engine }: { engine: EngineStores }) {
  const link = useEngineState(engineLink);
  const version = useEngineState((s) => s.data?.engine_info?.server_version ?? "");
  const error = useEngineState((s) => s.data?.engine_info?.last_error ?? null);
  const stats = useEngineState((s) => s.data?.system_stats ?? null);
  const known = link === "connected" && stats !== null;
  return (
    <tr data-testid="engine-row" data-engine={engine.id} data-status={link}>
      <td>
        <a className="strong" href={`${engineBase(engine.id)}containers`}>
          {engine.id}
        </a>
        <div className="muted mono">{engine.host}</div>
      </td>
      <td>
        <Tag tone={link === "connected" ? "ok" : link === "down" ? "bad" : "warn"}>{link}</Tag>
        {link === "down" && error && <div className="muted">{error}</div>}
      </td>
      <td>{version || <span className="muted">—</span>}</td>
      <td data-testid="engine-containers">
        {known ? (
          <>
            {stats.containers} <span className="muted">({stats.containers_running} running)</span>
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>{known ? stats.images : <span className="muted">—</span>}</td>
      <td>{known ? stats.volumes : <span className="muted">—</span>}</td>
      <td>{known ? stats.networks : <span className="muted">—</span>}</td>
    </tr>
  );
}
