import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { indexedDbPersistence } from "./persist";
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
