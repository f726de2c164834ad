import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it, vi } from "vitest";
import { createStore } from "./createStore";
import { indexedDbPersistence, memoryPersistence, type Persistable, persist } from "./persist";
import { container, engineState } from "./testing";

describe("IndexedDB persistence", () => {
  it("keeps the last state across opens", async () => {
    const factory = new IDBFactory();
    const first = indexedDbPersistence(factory)!;
    expect(await first.load()).toBeNull();
    const cached = { epoch: "E", version: 7, data: engineState(7, [container("a")]), savedAt: 99 };
    await first.save(cached);
    const second = indexedDbPersistence(factory)!;
    expect(await second.load()).toEqual(cached);
    await second.clear();
    expect(await second.load()).toBeNull();
  });

  it("is absent where the browser has no IndexedDB", () => {
    expect(indexedDbPersistence(undefined)).toBeNull();
  });
});

describe("persist (a subscriber of the store)", () => {
  function fakeStore(initial: Persistable) {
    const store = createStore(initial);
    return store;
  }
  const live = (version: number): Persistable => ({
    data: engineState(version), epoch: "E", source: "live", syncing: false,
  });

  it("hydrates once, then saves what the store holds, at most once per interval", async () => {
    vi.useFakeTimers();
    try {
      const persistence = memoryPersistence({ epoch: "E", version: 3, data: engineState(3), savedAt: 1 });
      const save = vi.spyOn(persistence, "save");
      const store = fakeStore({ data: null, epoch: null, source: "none", syncing: false });
      const hydrate = vi.fn();
      const p = persist(store, persistence, { everyMs: 500, hydrate, now: () => 42 });
      await p.hydrated;
      expect(hydrate).toHaveBeenCalledWith(expect.objectContaining({ version: 3 }));
      store.setState(live(4));
      store.setState(live(5));
      expect(save).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(500);
      expect(save).toHaveBeenCalledTimes(1);
      expect(persistence.saved).toMatchObject({ epoch: "E", version: 5, savedAt: 42 });
      p.stop();
      store.setState(live(6));
      await vi.advanceTimersByTimeAsync(5000);
      expect(save).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps only a whole live state: not the cache's, not one awaiting its snapshot", async () => {
    const persistence = memoryPersistence();
    const store = fakeStore({ ...live(4), source: "cache" });
    const p = persist(store, persistence, { everyMs: 0 });
    await p.flush();
    store.setState({ source: "live", syncing: true });
    await p.flush();
    expect(persistence.saved).toBeNull();
    store.setState({ syncing: false });
    await p.flush();
    expect(persistence.saved?.version).toBe(4);
    p.stop();
  });
});
