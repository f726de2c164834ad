/**
 * React's view of the logs store: useLogView(target) opens a view of a log while the component
 * is mounted (one subscription), closes it when it unmounts, and reads its state through
 * useSyncExternalStore. Without a <LogsContext.Provider> nothing is asked and the view is empty.
 */
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { EMPTY_VIEW, type LogsStore, type LogTarget, type LogView, type LogViewState } from "../store/logs";

export const LogsContext = createContext<LogsStore | null>(null);

const noSubscribe = () => () => {};
const emptyState = () => EMPTY_VIEW;

/** "container:<id>" or "project:<name>": one view per key. */
export function targetKey(target: LogTarget): string {
  return target.project !== undefined ? `project:${target.project}` : `container:${target.container}`;
}

/**
 * The view of `target`'s log, open while the component is mounted. `origin` tells when the log
 * can begin at the earliest (ms since the epoch; read when an older window comes back empty).
 */
export function useLogView(target: LogTarget, origin?: () => number | null): { view: LogView | null; state: LogViewState } {
  const store = useContext(LogsContext);
  const key = targetKey(target);
  const originRef = useRef(origin);
  originRef.current = origin;
  const [view, setView] = useState<LogView | null>(null);
  useEffect(() => {
    if (!store) return undefined;
    const opened = store.open(target, { origin: () => originRef.current?.() ?? null });
    setView(opened);
    return () => {
      opened.close();
      setView(null);
    };
    // The key says all of the target.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, key]);
  const state = useSyncExternalStore(
    view ? view.subscribe : noSubscribe,
    view ? view.getState : emptyState,
    view ? view.getState : emptyState,
  );
  return { view, state };
}
