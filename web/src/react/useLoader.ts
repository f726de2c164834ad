import { useEffect, useMemo, useSyncExternalStore } from "react";
import type { LiveStore } from "../store/live";
import { useLiveStore } from "./hooks";

/** What reads something beside the live state and follows it (TimelineLoader, DetailsLoader). */
export interface Loader<S> {
  start(): void;
  stop(): void;
  getState(): S;
  subscribe(listener: () => void): () => void;
}

/**
 * A loader made by ``make`` for the live store (again when ``deps`` change), running while the
 * component is mounted; its state, and the loader (to ask again).
 */
export function useLoader<S, L extends Loader<S>>(make: (store: LiveStore) => L, deps: readonly unknown[]): { state: S; loader: L } {
  const store = useLiveStore();
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const loader = useMemo(() => make(store), [store, ...deps]);
  useEffect(() => {
    loader.start();
    return () => loader.stop();
  }, [loader]);
  const state = useSyncExternalStore(loader.subscribe, loader.getState, loader.getState);
  return { state, loader };
}
