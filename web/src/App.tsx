import { type ReactNode, useEffect, useMemo, useSyncExternalStore } from "react";
import { ConfirmProvider } from "./components/Confirm";
import { HistoryProvider } from "./components/History";
import { ConnectionBadge, healthOf, Notices, StaleBanner } from "./components/Status";
import { ContainerPage } from "./pages/Container";
import { ContainersPage } from "./pages/Containers";
import { EnginePage } from "./pages/Engine";
import { ImagesPage } from "./pages/Images";
import { LogsPage, parseLogsHash } from "./pages/Logs";
import { NetworksPage } from "./pages/Networks";
import { VolumesPage } from "./pages/Volumes";
import { useEngineState } from "./react/hooks";
import { useRouteBase } from "./route";
import { isLive } from "./store/live";

const PAGES = {
  containers: { title: "Containers", Page: ContainersPage },
  images: { title: "Images", Page: ImagesPage },
  volumes: { title: "Volumes", Page: VolumesPage },
  networks: { title: "Networks", Page: NetworksPage },
  engine: { title: "Engine", Page: EnginePage },
} as const;
type PageName = keyof typeof PAGES;

function pageOf(hash: string): PageName {
  const name = hash.replace(/^#\/?/, "");
  return name in PAGES ? (name as PageName) : "containers";
}

/** The container of a `#/containers/<id or name>` address (its page), or null. */
function containerOf(hash: string): string | null {
  const m = /^#\/containers\/(.+)$/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

export const currentHash = () => window.location.hash;

export function subscribeHash(listener: () => void) {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

/** The address bar's hash, live. */
export function useHash(): string {
  return useSyncExternalStore(subscribeHash, currentHash, currentHash);
}

/** Counts for the navigation, from system_stats (one small object). */
function NavCount({ page }: { page: PageName }) {
  const n = useEngineState((s) => {
    const stats = s.data?.system_stats;
    if (!stats) return null;
    switch (page) {
      case "containers":
        return stats.containers;
      case "images":
        return stats.images;
      case "volumes":
        return stats.volumes;
      case "networks":
        return stats.networks;
      default:
        return null;
    }
  });
  return n === null ? null : <span className="nav-count">{n}</span>;
}

function Title() {
  const health = useEngineState(healthOf);
  useEffect(() => {
    document.title = health === "live" ? "dockstate" : `dockstate (${health.replace("-", " ")})`;
  }, [health]);
  return null;
}

/**
 * One engine's pages. With one engine (no props) they follow the address bar; with several,
 * MultiApp gives the page's address as one engine would have it (``hash``), the engine's
 * RouteBase, and the engine switcher for the header.
 */
export function App({ hash: given, switcher }: { hash?: string; switcher?: ReactNode } = {}) {
  const windowHash = useHash();
  const hash = given ?? windowHash;
  const base = useRouteBase();
  // `#/logs/…` and `#/containers/<id>` are pages of their own, under Containers in the navigation.
  const logs = useMemo(() => parseLogsHash(hash), [hash]);
  const container = logs ? null : containerOf(hash);
  const page = logs || container !== null ? "containers" : pageOf(hash);
  const live = useEngineState(isLive);
  const hasData = useEngineState((s) => s.data !== null);
  const { Page } = PAGES[page];
  return (
    <ConfirmProvider>
      <Title />
      <header className="top">
        <div className="brand">dockstate</div>
        {switcher}
        <nav aria-label="Pages">
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <a key={name} href={`${base}${name}`} aria-current={name === page ? "page" : undefined}>
              {PAGES[name].title}
              <NavCount page={name} />
            </a>
          ))}
        </nav>
        <ConnectionBadge />
      </header>
      <StaleBanner />
      <Notices />
      <main className={live ? "live" : "stale"} aria-busy={!hasData}>
        {/* One History panel at a time, closed when the page changes. */}
        <HistoryProvider key={logs ? "logs" : container !== null ? `container:${container}` : page}>
          {logs ? (
            <LogsPage target={logs} />
          ) : hasData || page === "engine" ? (
            container !== null ? (
              <ContainerPage key={container} target={container} />
            ) : (
              <Page />
            )
          ) : (
            <div className="loading">Loading the engine's state…</div>
          )}
        </HistoryProvider>
      </main>
    </ConfirmProvider>
  );
}
