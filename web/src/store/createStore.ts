/**
 * A minimal framework-free store, after zustand's vanilla store: state is replaced, never
 * mutated, and every listener hears about each replacement. React reads it through
 * useSyncExternalStore (see ../react/hooks.ts).
 */
export type Listener = () => void;

export interface Store<T> {
  getState(): T;
  /** Merge ``partial`` (or what ``update`` returns) into a new state object and notify. */
  setState(update: Partial<T> | ((state: T) => Partial<T>)): void;
  /** Call ``listener`` after every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void;
}

export function createStore<T extends object>(initial: T): Store<T> {
  let state = initial;
  const listeners = new Set<Listener>();
  return {
    getState: () => state,
    setState(update) {
      const partial = typeof update === "function" ? update(state) : update;
      if (Object.keys(partial).length === 0) return;
      state = { ...state, ...partial };
      for (const listener of [...listeners]) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
