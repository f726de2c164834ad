/**
 * Applying protocol.md §4 changes to an EngineState, without mutating it: the objects a batch
 * does not touch keep their identity, so a React row that selects one object re-renders only
 * when that object changed.
 */
import { applyPatch, type Operation } from "fast-json-patch";
import type { ChangeMessage, EngineState, MapName, ObjectKind } from "./types";
import { MAP_OF_KIND } from "./types";

/** A change could not be applied to the state as the client holds it: resync. */
export class ApplyError extends Error {
  override name = "ApplyError";
}

type Maps = Pick<EngineState, MapName>;

/**
 * The state after ``changes``, at version ``to`` (``timestamp`` becomes ``last_updated``).
 * Throws ApplyError when a change does not fit (an update of an unknown object, a patch that
 * fails): the caller has lost track and must take a fresh snapshot.
 */
export function applyChanges(
  state: EngineState,
  changes: readonly ChangeMessage[],
  to: number,
  timestamp?: string,
): EngineState {
  const next: EngineState = { ...state };
  const copied = new Set<keyof Maps>();
  const mapFor = (kind: ObjectKind): Record<string, unknown> => {
    const key = MAP_OF_KIND[kind];
    if (!copied.has(key)) {
      (next as unknown as Record<string, unknown>)[key] = { ...state[key] };
      copied.add(key);
    }
    return next[key] as Record<string, unknown>;
  };
  for (const change of changes) {
    if (change.kind === "engine") {
      if (change.id !== "engine_info" && change.id !== "system_stats") {
        throw new ApplyError(`unknown engine object ${change.id}`);
      }
      const current = next[change.id];
      if (change.op === "removed") {
        next[change.id] = null;
      } else {
        next[change.id] = updated(current, change) as never;
      }
      continue;
    }
    const map = mapFor(change.kind);
    if (change.op === "removed") {
      delete map[change.id];
    } else if (change.op === "created") {
      if (!change.object) throw new ApplyError(`created ${change.kind} ${change.id} has no object`);
      map[change.id] = change.object;
    } else {
      map[change.id] = updated(map[change.id], change);
    }
  }
  next.version = to;
  if (timestamp !== undefined) next.last_updated = timestamp;
  return next;
}

function updated(current: unknown, change: ChangeMessage): unknown {
  if (change.object) return change.object; // the server may send the whole object
  if (current === undefined || current === null) {
    throw new ApplyError(`update of unknown ${change.kind} ${change.id}`);
  }
  if (!change.patch) throw new ApplyError(`update of ${change.kind} ${change.id} has no patch`);
  try {
    // mutateDocument=false: fast-json-patch clones the object, so the previous one (and every
    // reference React holds to it) stays as it was.
    return applyPatch(current, change.patch as unknown as Operation[], true, false).newDocument;
  } catch (err) {
    throw new ApplyError(
      `patch of ${change.kind} ${change.id} failed: ${err instanceof Error ? err.message : err}`,
    );
  }
}

/** An empty state, as the UI shows before anything is known. */
export function emptyState(): EngineState {
  return {
    containers: {},
    images: {},
    volumes: {},
    networks: {},
    engine_info: null,
    system_stats: null,
    version: 0,
    last_updated: "",
  };
}
