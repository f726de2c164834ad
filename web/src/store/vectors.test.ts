/**
 * The follower test vectors (../../../tests/vectors/*.json, see its README.md) run through
 * follower.ts; the Python client's Follower runs the same ones (tests/client/test_vectors.py).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { follow, type Following, initialFollowing, sinceOf, subscribe } from "./follower";
import type { EngineState, ServerMessage } from "./types";

const DIR = fileURLToPath(new URL("../../../tests/vectors/", import.meta.url));

interface Expect {
  step?: "nothing" | "state" | "resync";
  answer?: object | null;
  state?: EngineState;
  applied?: number | null;
  version?: number | null;
  since?: { epoch: string; version: number } | null;
  awaiting_snapshot?: boolean;
}
interface Vector {
  name: string;
  description: string;
  sub: string;
  steps: ({ note?: string; expect: Expect } & ({ subscribe: object } | { receive: ServerMessage }))[];
}

const vectors: Vector[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as Vector);

const withoutVersion = (s: EngineState | null) => {
  if (!s) return null;
  const { version: _, ...rest } = s;
  return rest;
};

describe("the follower test vectors", () => {
  it("are there", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
  });

  for (const vector of vectors) {
    it(`${vector.name}: ${vector.description}`, () => {
      let f: Following = initialFollowing();
      let expected: EngineState | null = null;
      vector.steps.forEach((step, number) => {
        const where = `${vector.name} step ${number} (${step.note ?? ""})`;
        const e = step.expect;
        if ("subscribe" in step) {
          const { state, message } = subscribe(f, vector.sub);
          expect(message.since ?? null, where).toEqual(e.since);
          f = state;
        } else {
          const before = f.data;
          const frozen = JSON.stringify(before);
          const out = follow(f, step.receive);
          expect(out.step, where).toBe(e.step);
          expect(out.answer, where).toEqual(e.answer);
          f = out.state;
          if (e.state) expected = e.state;
          expect(withoutVersion(f.data), where).toEqual(withoutVersion(expected));
          // The state handed out before is never mutated.
          expect(JSON.stringify(before), where).toBe(frozen);
          expect(f.applied, where).toBe(e.applied);
          expect(f.data?.version ?? null, where).toBe(e.version);
          if ("since" in e) expect(sinceOf(f), where).toEqual(e.since);
        }
        if (e.awaiting_snapshot !== undefined) expect(f.syncing, where).toBe(e.awaiting_snapshot);
      });
    });
  }
});
