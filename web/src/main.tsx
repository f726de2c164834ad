import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { StoreContext } from "./react/hooks";
import { LogsContext } from "./react/logs";
import { StatsContext } from "./react/stats";
import { browserWake, defaultSocketUrl, LiveStore } from "./store/live";
import { LogsStore } from "./store/logs";
import { indexedDbPersistence } from "./store/persist";
import { StatsStore } from "./store/stats";
import "./styles.css";

const store = new LiveStore({
  url: defaultSocketUrl(),
  persistence: indexedDbPersistence(),
  wake: browserWake,
});
store.start();
// CPU, memory and I/O of the containers, on the same connection, while a page shows them.
const stats = new StatsStore({ live: store });
// Logs, on the same connection, one subscription per open Logs view.
const logs = new LogsStore({ live: store });
// Keep the freshest state for the next visit when the page goes away or to the background.
window.addEventListener("pagehide", () => void store.persistNow());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") void store.persistNow();
});

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <StoreContext.Provider value={store}>
      <StatsContext.Provider value={stats}>
        <LogsContext.Provider value={logs}>
          <App />
        </LogsContext.Provider>
      </StatsContext.Provider>
    </StoreContext.Provider>
  </StrictMode>,
);
