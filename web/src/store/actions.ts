/**
 * The REST actions of protocol.md §6, described as data: which request each one is, what the
 * row shows while it runs ("stopping…"), and when the change stream has confirmed it.
 */
import type { EngineState, ObjectKind } from "./types";
import { MAP_OF_KIND } from "./types";

export type ContainerVerb = "start" | "stop" | "restart" | "pause" | "unpause" | "kill";

export type ActionRequest =
  | { kind: "container"; action: ContainerVerb; id: string; name?: string }
  | { kind: ObjectKind; action: "remove"; id: string; name?: string; force?: boolean }
  | { kind: "volume" | "network"; action: "create"; name: string }
  | { kind: ObjectKind; action: "prune" };

/** Actions that lose something: the UI asks before running them. */
export function isDestructive(req: ActionRequest): boolean {
  return req.action === "remove" || req.action === "prune" || req.action === "kill";
}

const PROGRESSIVE: Record<ActionRequest["action"], string> = {
  start: "starting…",
  stop: "stopping…",
  restart: "restarting…",
  pause: "pausing…",
  unpause: "unpausing…",
  kill: "killing…",
  remove: "removing…",
  create: "creating…",
  prune: "pruning…",
};

/** The label a row shows while the action runs. */
export const progressLabel = (req: ActionRequest): string => PROGRESSIVE[req.action];

/** What the pending action is keyed by: the object it acts on (one action at a time each). */
export function pendingKey(req: ActionRequest): string {
  switch (req.action) {
    case "create":
      return `${req.kind}:+${req.name}`;
    case "prune":
      return `${req.kind}:*prune`;
    default:
      return `${req.kind}:${req.id}`;
  }
}

export interface HttpRequest {
  method: "POST" | "DELETE";
  path: string;
  body?: unknown;
}

export function httpRequest(req: ActionRequest): HttpRequest {
  const plural = MAP_OF_KIND[req.kind];
  switch (req.action) {
    case "create":
      return { method: "POST", path: `/api/v1/${plural}`, body: { name: req.name } };
    case "prune":
      return { method: "POST", path: `/api/v1/${plural}/prune` };
    case "remove": {
      const force = req.force ? "?force=true" : "";
      return { method: "DELETE", path: `/api/v1/${plural}/${encodeURIComponent(req.id)}${force}` };
    }
    default:
      return {
        method: "POST",
        path: `/api/v1/containers/${encodeURIComponent(req.id)}/${req.action}`,
      };
  }
}

/** What an action needs to remember to tell when the stream has confirmed it. */
export interface Baseline {
  /** The object's rev when the action started (restart confirms on a newer running one). */
  rev: number | null;
  /** The key of the object created, when the server named it (a network's id). */
  createdId?: string | null;
}

export function baselineOf(state: EngineState | null, req: ActionRequest): Baseline {
  if (!state || !("id" in req)) return { rev: null };
  const obj = (state[MAP_OF_KIND[req.kind]] as Record<string, { rev: number }>)[req.id];
  return { rev: obj ? obj.rev : null };
}

const STOPPED = new Set(["exited", "created", "dead"]);

/**
 * Whether ``state`` shows the effect of ``req`` (accepted by the engine), so that the row can
 * drop its "stopping…" label. Prunes confirm on acceptance: their effect is many changes.
 */
export function confirmed(state: EngineState | null, req: ActionRequest, base: Baseline): boolean {
  if (!state) return false;
  if (req.action === "prune") return true;
  if (req.action === "create") {
    if (req.kind === "volume") return req.name in state.volumes;
    if (base.createdId && base.createdId in state.networks) return true;
    return Object.values(state.networks).some((n) => n.name === req.name);
  }
  const obj = (state[MAP_OF_KIND[req.kind]] as Record<string, unknown>)[req.id];
  if (req.action === "remove") return obj === undefined;
  if (req.kind !== "container") return false;
  const c = state.containers[req.id];
  if (!c) return true; // gone: nothing left to wait for
  switch (req.action) {
    case "start":
    case "unpause":
      return c.state === "running";
    case "restart":
      return c.state === "running" && (base.rev === null || c.rev > base.rev);
    case "stop":
    case "kill":
      return STOPPED.has(c.state);
    case "pause":
      return c.state === "paused";
  }
}
