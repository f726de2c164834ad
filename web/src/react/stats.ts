/**
 * React's view of the stats store, as hooks.ts is of the live store: useStats(selector) through
 * useSyncExternalStore, and useStatsDemand() for a component that shows stats (the store is
 * subscribed while one is mounted and the tab is visible). Without a <StatsContext.Provider>
 * (tests of pages that show no stats) the state is empty and nothing is asked.
 */
import { createContext, useCallback, useContext, useEffect, useRef, useSyncExternalStore } from "react";
import type { StatsState, StatsStore } from "../store/stats";

export const StatsContext = createContext<StatsStore | null>(null);

const NO_STATS: StatsState = { subscribed: false, latest: {}, time: null, seq: 0 };
const noSubscribe = () => () => {};

export function useStatsStore(): StatsStore | null {
  return useContext(StatsContext);
}

export function useStats<T>(selector: (state: StatsState) => T, equal: (a: T, b: T) => boolean = Object.is): T {
  const store = useStatsStore();
  const memo = useRef<{ state: StatsState; selector: unknown; selected: T } | null>(null);
  const getSnapshot = useCallback(() => {
    const state = store ? store.getState() : NO_STATS;
    const last = memo.current;
    if (last && last.state === state && last.selector === selector) return last.selected;
    const fresh = selector(state);
    const selected = last && equal(last.selected, fresh) ? last.selected : fresh;
    memo.current = { state, selector, selected };
    return selected;
  }, [store, selector, equal]);
  return useSyncExternalStore(store ? store.subscribe : noSubscribe, getSnapshot, getSnapshot);
}

/** This component shows stats: keep the stats subscription while it is mounted. */
export function useStatsDemand(): void {
  const store = useStatsStore();
  useEffect(() => (store ? store.demand() : undefined), [store]);
}
