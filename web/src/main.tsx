import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { type EngineStores, MultiApp } from "./Multi";
import { StoreContext } from "./react/hooks";
import { LogsContext } from "./react/logs";
import { StatsContext } from "./react/stats";
import { fetchEngines } from "./store/engines";
import { browserWake, defaultSocketUrl, LiveStore } from "./store/live";
import { LogsStore } from "./store/logs";
import { indexedDbPersistence } from "./store/persist";
import { StatsStore } from "./store/stats";
import "./styles.css";

/** The stores that follow one engine (``engine`` undefined: the server's only one). */
function storesOf(engine?: string) {
  const live = new LiveStore({
    url: defaultSocketUrl(),
    engine,
    // Each engine's last state is kept apart from the others'.
    persistence: indexedDbPersistence(undefined, engine === undefined ? undefined : `dockstate-engine-${engine}`),
    wake: browserWake,
  });
  live.start();
  // CPU, memory and I/O of the containers, on the same connection, while a page shows them.
  const stats = new StatsStore({ live });
  // Logs, on the same connection, one subscription per open Logs view.
  const logs = new LogsStore({ live });
  // Keep the freshest state for the next visit when the page goes away or to the background.
  window.addEventListener("pagehide", () => void live.persistNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") void live.persistNow();
  });
  return { live, stats, logs };
}

async function main() {
  const root = document.getElementById("root");
  if (!root) throw new Error("no #root element");
  // One engine (or the list cannot be read: the store will say why): the pages as always.
  const listing = await fetchEngines((path, init) => fetch(path, { credentials: "same-origin", ...init }));
  if (listing === null || listing.engines.length < 2) {
    const { live, stats, logs } = storesOf();
    createRoot(root).render(
      <StrictMode>
        <StoreContext.Provider value={live}>
          <StatsContext.Provider value={stats}>
            <LogsContext.Provider value={logs}>
              <App />
            </LogsContext.Provider>
          </StatsContext.Provider>
        </StoreContext.Provider>
      </StrictMode>,
    );
    return;
  }
  const engines: EngineStores[] = listing.engines.map((e) => ({ id: e.id, host: e.host, ...storesOf(e.id) }));
  createRoot(root).render(
    <StrictMode>
      <MultiApp engines={engines} />
    </StrictMode>,
  );
}

void main();
