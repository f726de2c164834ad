import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay } from "./backoff";

// The cases of tests/client/test_client_pure.py (dockstate.backoff), in ms.
describe("backoff (the rule of dockstate.backoff)", () => {
  it("grows exponentially up to the cap", () => {
    const low = new Backoff({ initialMs: 500, maxMs: 8000 }, () => 0);
    expect(Array.from({ length: 7 }, () => low.delay())).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    const high = new Backoff({ initialMs: 500, maxMs: 8000 }, () => 1);
    expect(Array.from({ length: 7 }, () => high.delay())).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("is jittered within half to the full ceiling", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const delays = Array.from({ length: 200 }, () => backoffDelay(0, { initialMs: 100_000, maxMs: 100_000 }, random));
    expect(delays.every((d) => d >= 50_000 && d <= 100_000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(190); // clients dropped together come back apart
  });

  it("starts over on reset and survives many attempts", () => {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 }, () => 1);
    for (let i = 0; i < 10_000; i++) backoff.delay();
    expect(backoff.delay()).toBe(30_000);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.delay()).toBe(500);
  });

  it("grows by the factor given", () => {
    expect([0, 1, 2].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 10_000, factor: 3 }, () => 1))).toEqual([
      100, 300, 900,
    ]);
  });

  it("refuses nonsense", () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => backoffDelay(0, { initialMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});
