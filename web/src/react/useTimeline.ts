import { useEffect, useMemo, useSyncExternalStore } from "react";
import { TimelineLoader, type TimelineKind, type TimelineState } from "../store/history";
import { useLiveStore } from "./hooks";

/**
 * The durable history of one object, newest first, kept current by the live store: it asks
 * the server again when the object changes (or goes away), never on a timer. The loader runs
 * while the component is mounted.
 */
export function useTimeline(kind: TimelineKind, id: string): { state: TimelineState; loader: TimelineLoader } {
  const store = useLiveStore();
  const loader = useMemo(
    () => new TimelineLoader({ kind, id, request: store.request, live: store }),
    [store, kind, id],
  );
  useEffect(() => {
    loader.start();
    return () => loader.stop();
  }, [loader]);
  const state = useSyncExternalStore(loader.subscribe, loader.getState, loader.getState);
  return { state, loader };
}
