/**
 * The last known state, kept in IndexedDB so that a reload shows it at once (marked stale)
 * until the live snapshot arrives, and so that the store can resume from it with ``since``.
 *
 * In the manner of zustand's ``persist`` middleware, persistence is a subscriber of the store
 * (``persist``): it hydrates the store from the cache once, then saves what the store holds
 * when it changes, at most once per interval. The store itself knows nothing of it.
 */
import type { Listener } from "./createStore";
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

/** What persistence reads of the store's state. */
export interface Persistable {
  data: EngineState | null;
  epoch: string | null;
  source: "none" | "cache" | "live";
  syncing: boolean;
}

export interface PersistOptions {
  /** Save at most this often (ms); the first save comes this long after the first change. */
  everyMs?: number;
  /** Show a cached state (called once, if the cache holds one). */
  hydrate?: (cached: CachedState) => void;
  now?: () => number;
}

export interface Persisted {
  /** Resolves once the cache has been read (and handed to ``hydrate``). */
  hydrated: Promise<void>;
  /** Save the live state now (the page is being hidden); a no-op unless it is live and whole. */
  flush(): Promise<void>;
  /** Stop listening and drop the pending save. */
  stop(): void;
}

/** Only a state that came whole from the server is worth keeping. */
const saveable = (s: Persistable): s is Persistable & { data: EngineState; epoch: string } =>
  s.source === "live" && !s.syncing && s.data !== null && s.epoch !== null;

/** Keep ``store``'s state in ``persistence``: hydrate it once, then save it as it changes. */
export function persist(
  store: { getState(): Persistable; subscribe(listener: Listener): () => void },
  persistence: Persistence,
  { everyMs = 1000, hydrate, now = Date.now }: PersistOptions = {},
): Persisted {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let saved: EngineState | null = null;
  const flush = async () => {
    const s = store.getState();
    if (!saveable(s)) return;
    saved = s.data;
    try {
      await persistence.save({ epoch: s.epoch, version: s.data.version, data: s.data, savedAt: now() });
    } catch (err) {
      console.warn("dockstate: could not save the state", err);
    }
  };
  const unsubscribe = store.subscribe(() => {
    const s = store.getState();
    if (timer || !saveable(s) || s.data === saved) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, everyMs);
  });
  const hydrated = persistence.load().then((cached) => {
    if (cached) hydrate?.(cached);
  });
  return {
    hydrated,
    flush,
    stop() {
      unsubscribe();
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
