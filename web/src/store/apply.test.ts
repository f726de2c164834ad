import { describe, expect, it } from "vitest";
import { ApplyError, applyChanges } from "./apply";
import { container, engineState } from "./testing";

describe("applyChanges", () => {
  it("does not mutate the state it is given", () => {
    const state = engineState(1, [container("a")]);
    const frozen = JSON.stringify(state);
    const next = applyChanges(
      state,
      [
        { v: 2, kind: "container", op: "updated", id: "a", patch: [{ op: "add", path: "/labels/x", value: "1" }] },
        { v: 3, kind: "image", op: "created", id: "sha256:i", object: { id: "sha256:i" } },
      ],
      3,
      "T",
    );
    expect(JSON.stringify(state)).toBe(frozen);
    expect(next.containers.a!.labels).toEqual({ x: "1" });
    expect(next.images["sha256:i"]).toBeDefined();
    expect(next.version).toBe(3);
    expect(next.last_updated).toBe("T");
    expect(next.volumes).toBe(state.volumes); // an untouched map keeps its identity
  });

  it("ignores the removal of an object it does not hold", () => {
    const next = applyChanges(engineState(1), [{ v: 2, kind: "network", op: "removed", id: "n" }], 2);
    expect(next.networks).toEqual({});
  });

  it("raises ApplyError for an unknown engine object", () => {
    expect(() =>
      applyChanges(engineState(1), [{ v: 2, kind: "engine", op: "updated", id: "x", patch: [] }], 2),
    ).toThrow(ApplyError);
  });
});
