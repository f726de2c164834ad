/**
 * React's view of the live store: useEngineState(selector) subscribes a component to the part
 * of the state it selects, through useSyncExternalStore. A component re-renders only when its
 * selection changes (by Object.is, or the equality given): a row that selects one container
 * re-renders when that container changes, not when another one does.
 */
import { createContext, useCallback, useContext, useRef, useSyncExternalStore } from "react";
import type { LiveState, LiveStore } from "../store/live";
import type { Operation } from "../store/types";

export const StoreContext = createContext<LiveStore | null>(null);

export function useLiveStore(): LiveStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error("useLiveStore needs a <StoreContext.Provider>");
  return store;
}

export function useEngineState<T>(
  selector: (state: LiveState) => T,
  equal: (a: T, b: T) => boolean = Object.is,
): T {
  const store = useLiveStore();
  // Memoize on the state object: getSnapshot must return the same value until it changes.
  // (state, selector) -> selection, and an equal selection keeps the previous identity.
  const memo = useRef<{ state: LiveState; selector: unknown; selected: T } | null>(null);
  const getSnapshot = useCallback(() => {
    const state = store.getState();
    const last = memo.current;
    if (last && last.state === state && last.selector === selector) return last.selected;
    const fresh = selector(state);
    const selected = last && equal(last.selected, fresh) ? last.selected : fresh;
    memo.current = { state, selector, selected };
    return selected;
  }, [store, selector, equal]);
  return useSyncExternalStore(store.subscribe, getSnapshot, getSnapshot);
}

/** Equal arrays of equal (Object.is) items: for selectors that build a list. */
export function shallowArrayEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

// -- a clock for relative times ("3 min ago") and countdowns; it is no poll of the server --

const clockListeners = new Set<() => void>();
let clockNow = Date.now();
let clockTimer: ReturnType<typeof setInterval> | null = null;
let clockPeriod = 0;

function subscribeClock(period: number, listener: () => void): () => void {
  clockListeners.add(listener);
  if (!clockTimer || period < clockPeriod) {
    if (clockTimer) clearInterval(clockTimer);
    // The time went on while no one listened: a first listener must not read the old one.
    clockNow = Date.now();
    clockPeriod = period;
    clockTimer = setInterval(() => {
      clockNow = Date.now();
      for (const l of [...clockListeners]) l();
    }, period);
  }
  return () => {
    clockListeners.delete(listener);
    if (clockListeners.size === 0 && clockTimer) {
      clearInterval(clockTimer);
      clockTimer = null;
      clockPeriod = 0;
    }
  };
}

/** The current time, updated every ``period`` ms (every subscriber shares one timer). */
export function useNow(period = 30_000): number {
  const subscribe = useCallback((l: () => void) => subscribeClock(period, l), [period]);
  return useSyncExternalStore(subscribe, () => clockNow, () => clockNow);
}

/** An operation this tab follows (its status, progress, error), live; undefined for none. */
export function useOperation(id: string | null | undefined): Operation | undefined {
  const store = useLiveStore();
  const ops = store.operations;
  const get = useCallback(() => (id ? ops.getState().byId[id] : undefined), [ops, id]);
  return useSyncExternalStore(ops.subscribe, get, get);
}
