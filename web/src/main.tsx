import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { StoreContext } from "./react/hooks";
import { browserWake, defaultSocketUrl, LiveStore } from "./store/live";
import { indexedDbPersistence } from "./store/persist";
import "./styles.css";

const store = new LiveStore({
  url: defaultSocketUrl(),
  persistence: indexedDbPersistence(),
  wake: browserWake,
});
store.start();
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
      <App />
    </StoreContext.Provider>
  </StrictMode>,
);
