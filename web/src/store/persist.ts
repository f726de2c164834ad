/**
 * The last known state, kept in IndexedDB so that a reload shows it at once (marked stale)
 * until the live snapshot arrives, and so that the store can resume from it with ``since``.
 */
import type { EngineState } from "./types";

export interface CachedState {
  epoch: string;
  version: number;
  data: EngineState;
  /** When it was saved (ms since the epoch). */
  savedAt: number;
}

export interface Persistence {
  load(): Promise<CachedState | null>;
  save(cached: CachedState): Promise<void>;
  clear(): Promise<void>;
}

const DB = "dockstate";
const STORE = "state";
const KEY = "last";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** IndexedDB persistence; ``null`` where the browser has none (or refuses it). */
export function indexedDbPersistence(
  factory: IDBFactory | undefined = globalThis.indexedDB,
  name = DB,
): Persistence | null {
  if (!factory) return null;
  let opened: Promise<IDBDatabase> | null = null;
  const open = () => {
    opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("IndexedDB is blocked"));
    });
    return opened;
  };
  const tx = async (mode: IDBTransactionMode) =>
    (await open()).transaction(STORE, mode).objectStore(STORE);
  return {
    async load() {
      try {
        const value = (await request((await tx("readonly")).get(KEY))) as CachedState | undefined;
        return value && typeof value.epoch === "string" && value.data ? value : null;
      } catch {
        return null; // a cache that cannot be read is no cache
      }
    },
    async save(cached) {
      await request((await tx("readwrite")).put(cached, KEY));
    },
    async clear() {
      await request((await tx("readwrite")).delete(KEY));
    },
  };
}

/** In memory, for tests and for browsers without IndexedDB. */
export function memoryPersistence(initial: CachedState | null = null): Persistence & {
  saved: CachedState | null;
} {
  const p = {
    saved: initial,
    async load() {
      return p.saved;
    },
    async save(cached: CachedState) {
      p.saved = cached;
    },
    async clear() {
      p.saved = null;
    },
  };
  return p;
}
