import { describe, expect, it } from "vitest";
import { confirmed, creatingOf, httpRequest, isDestructive, pendingFor, pendingKey, type PendingAction } from "./actions";
import { container, engineState } from "./testing";

describe("actions", () => {
  it("map to the REST routes of protocol.md §6", () => {
    expect(httpRequest({ kind: "container", action: "kill", id: "abc" })).toEqual({
      method: "POST",
      path: "/api/v1/containers/abc/kill",
    });
    expect(httpRequest({ kind: "image", action: "remove", id: "sha256:ff", force: true })).toEqual({
      method: "DELETE",
      path: "/api/v1/images/sha256%3Aff?force=true",
    });
    expect(httpRequest({ kind: "network", action: "create", name: "n1" })).toEqual({
      method: "POST",
      path: "/api/v1/networks",
      body: { name: "n1" },
    });
    expect(httpRequest({ kind: "volume", action: "prune" })).toEqual({
      method: "POST",
      path: "/api/v1/volumes/prune",
    });
  });

  it("ask before the destructive ones", () => {
    expect(isDestructive({ kind: "container", action: "remove", id: "a" })).toBe(true);
    expect(isDestructive({ kind: "image", action: "prune" })).toBe(true);
    expect(isDestructive({ kind: "container", action: "kill", id: "a" })).toBe(true);
    expect(isDestructive({ kind: "container", action: "stop", id: "a" })).toBe(false);
  });

  it("are keyed by the object they act on", () => {
    expect(pendingKey({ kind: "container", action: "stop", id: "a" })).toBe("container:a");
    expect(pendingKey({ kind: "volume", action: "create", name: "v" })).toBe("volume:+v");
  });

  it("are confirmed by the state they lead to", () => {
    const running = engineState(1, [container("a", { state: "running" })]);
    const paused = engineState(2, [container("a", { state: "paused" })]);
    expect(confirmed(running, { kind: "container", action: "start", id: "a" }, { rev: 1 })).toBe(true);
    expect(confirmed(running, { kind: "container", action: "pause", id: "a" }, { rev: 1 })).toBe(false);
    expect(confirmed(paused, { kind: "container", action: "pause", id: "a" }, { rev: 1 })).toBe(true);
    expect(confirmed(running, { kind: "container", action: "remove", id: "a" }, { rev: 1 })).toBe(false);
    expect(confirmed(engineState(3), { kind: "container", action: "remove", id: "a" }, { rev: 1 })).toBe(true);
  });

  it("are selected per object with pendingFor, the same key as the one they run under", () => {
    const stop = { kind: "container", action: "stop", id: "a" } as const;
    const create = { kind: "volume", action: "create", name: "v" } as const;
    const p = (request: PendingAction["request"]) =>
      ({ key: pendingKey(request), request, label: "", startedAt: 0, accepted: false, baseline: { rev: null } }) as PendingAction;
    const s = { pending: { [pendingKey(stop)]: p(stop), [pendingKey(create)]: p(create) } };
    expect(pendingFor("container", "a")(s)?.request).toBe(stop);
    expect(pendingFor("container", "b")(s)).toBeUndefined();
    expect(pendingFor("image", "a")(s)).toBeUndefined();
    expect(creatingOf(s, "volume").map((x) => x.request)).toEqual([create]);
    expect(creatingOf(s, "network")).toEqual([]);
  });
});
