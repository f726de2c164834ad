/**
 * The REST actions of protocol.md §6 and §11: described as data (which request each one is,
 * what the row shows while it runs, "stopping…", and when the change stream has confirmed it),
 * and run optimistically by an ActionTracker: the row shows its label at once; the engine's
 * refusal (at once, or as the failure of the operation a 202 started) rolls it back with
 * Docker's message; the change stream, or for actions it cannot show the operation's end,
 * confirms it.
 */
import type { Store } from "./createStore";
import type { OperationsTracker } from "./operations";
import type { Accepted, EngineState, ObjectKind, Operation, Problem, RunRequest } from "./types";
import { MAP_OF_KIND } from "./types";

export type ContainerVerb = "start" | "stop" | "restart" | "pause" | "unpause" | "kill";
export type ProjectVerb = "start" | "stop" | "restart" | "remove";

/** The kinds the REST API creates by name (protocol.md §6). */
export type CreatableKind = Extract<ObjectKind, "volume" | "network">;

/** What an action may act on: an object of the state, or a compose project. */
export type ActionKind = ObjectKind | "project";

export type ActionRequest =
  | { kind: "container"; action: ContainerVerb; id: string; name?: string }
  | { kind: "container"; action: "rename"; id: string; name?: string; to: string }
  /** `docker run`: create and start. ``spec.env`` holds values: see withoutSecrets. */
  | { kind: "container"; action: "run"; spec: RunRequest }
  | { kind: ObjectKind; action: "remove"; id: string; name?: string; force?: boolean }
  | { kind: CreatableKind; action: "create"; name: string }
  /** ``name``: the image reference to pull. */
  | { kind: "image"; action: "pull"; name: string }
  | { kind: ObjectKind; action: "prune" }
  | { kind: "project"; action: ProjectVerb; project: string };

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
  rename: "renaming…",
  run: "starting…",
  remove: "removing…",
  create: "creating…",
  pull: "pulling…",
  prune: "pruning…",
};

/** The label a row shows while the action runs. */
export const progressLabel = (req: ActionRequest): string =>
  req.action === "run" && req.spec.start === false ? "creating…" : PROGRESSIVE[req.action];

/** What the pending action is keyed by: the object it acts on (one action at a time each). */
export function pendingKey(req: ActionRequest): string {
  switch (req.action) {
    case "create":
      return `${req.kind}:+${req.name}`;
    case "pull":
      return `image:+pull:${req.name}`;
    case "run":
      return `container:+run:${req.spec.name || req.spec.image}`;
    case "prune":
      return `${req.kind}:*prune`;
    default:
      return req.kind === "project" ? objectKey("project", req.project) : objectKey(req.kind, req.id);
  }
}

const objectKey = (kind: ActionKind, id: string) => `${kind}:${id}`;

/** The selector of the action running on one object, if any: `useEngineState(pendingFor(kind, id))`. */
export function pendingFor(kind: ActionKind, id: string): (s: { pending: Record<string, PendingAction> }) => PendingAction | undefined {
  const key = objectKey(kind, id);
  return (s) => s.pending[key];
}

/** The objects of a kind being made (created, pulled, run: not in the state yet), in the order asked. */
export function creatingOf(s: { pending: Record<string, PendingAction> }, kind: ObjectKind): PendingAction[] {
  return Object.values(s.pending).filter(
    (p) => p.request.kind === kind && (p.request.action === "create" || p.request.action === "pull" || p.request.action === "run"),
  );
}

/** What a row names the object being made ("web", "busybox:latest"). */
export function madeName(req: ActionRequest): string {
  if (req.action === "run") return req.spec.name || req.spec.image;
  return "name" in req && req.name ? req.name : "";
}

/**
 * The request as the store keeps it while it runs (what the UI and the notices may show):
 * a run's environment reduced to its names. The values go to the server and nowhere else.
 */
export function withoutSecrets(req: ActionRequest): ActionRequest {
  if (req.action !== "run" || !req.spec.env) return req;
  return { ...req, spec: { ...req.spec, env: req.spec.env.map((item) => item.split("=", 1)[0]!) } };
}

export interface HttpRequest {
  method: "POST" | "DELETE";
  path: string;
  body?: unknown;
}

export function httpRequest(req: ActionRequest): HttpRequest {
  if (req.kind === "project") {
    const project = `/api/v1/projects/${encodeURIComponent(req.project)}`;
    return req.action === "remove" ? { method: "DELETE", path: project } : { method: "POST", path: `${project}/${req.action}` };
  }
  const plural = MAP_OF_KIND[req.kind];
  switch (req.action) {
    case "create":
      return { method: "POST", path: `/api/v1/${plural}`, body: { name: req.name } };
    case "pull":
      return { method: "POST", path: "/api/v1/images/pull", body: { image: req.name } };
    case "run":
      return { method: "POST", path: "/api/v1/containers", body: req.spec };
    case "prune":
      return { method: "POST", path: `/api/v1/${plural}/prune` };
    case "remove": {
      const force = req.force ? "?force=true" : "";
      return { method: "DELETE", path: `/api/v1/${plural}/${encodeURIComponent(req.id)}${force}` };
    }
    case "rename":
      return {
        method: "POST",
        path: `/api/v1/containers/${encodeURIComponent(req.id)}/rename`,
        body: { name: req.to },
      };
    default:
      return {
        method: "POST",
        path: `/api/v1/containers/${encodeURIComponent(req.id)}/${req.action}`,
      };
  }
}

/** What the operation of an action acts on, as the server names it (its `target`). */
function targetOf(req: ActionRequest): string {
  switch (req.action) {
    case "run":
      return req.spec.name || req.spec.image;
    case "prune":
      return MAP_OF_KIND[req.kind];
    case "create":
    case "pull":
      return req.name;
    default:
      return req.kind === "project" ? `projects/${req.project}` : req.id;
  }
}

/** What an action needs to remember to tell when the stream has confirmed it. */
export interface Baseline {
  /** The object's rev when the action started (restart confirms on a newer running one). */
  rev: number | null;
  /** The key of the object created, when the server named it (a network's id, a run's container). */
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
 * drop its "stopping…" label; ``null`` for the actions the state cannot tell of (a prune, a
 * pull, a compose project's many containers): the end of their operation confirms them.
 */
export function confirmed(state: EngineState | null, req: ActionRequest, base: Baseline): boolean | null {
  if (req.action === "prune" || req.action === "pull" || req.kind === "project") return null;
  if (!state) return false;
  if (req.action === "create") {
    if (req.kind === "volume") return req.name in state.volumes;
    if (base.createdId && base.createdId in state.networks) return true;
    return Object.values(state.networks).some((n) => n.name === req.name);
  }
  if (req.action === "run") {
    const made = base.createdId ? state.containers[base.createdId] : undefined;
    // Started: it left `created` (it may have exited already, or be restarting).
    return made !== undefined && (req.spec.start === false || made.state !== "created");
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
    case "rename":
      return c.name === req.to;
  }
}

// -- running them -----------------------------------------------------------------------------

export interface PendingAction {
  key: string;
  /** The request (a run's environment without its values: withoutSecrets). */
  request: ActionRequest;
  label: string;
  startedAt: number;
  /** The engine accepted it (202); now waiting for the change stream to show its effect. */
  accepted: boolean;
  /** The operation the 202 started (its progress: OperationsTracker), if the server named one. */
  operation: string | null;
  /** The engine is done with it (the 202 said done, or its operation ended). */
  finished: boolean;
  baseline: Baseline;
}

export interface Notice {
  id: number;
  level: "error" | "info";
  title: string;
  message: string;
  at: number;
}

/** The part of the store's state that actions keep. */
export interface ActionsState {
  data: EngineState | null;
  pending: Record<string, PendingAction>;
  notices: Notice[];
}

/** How an action ended for the one who asked (the row shows it through the store). */
export type ActResult =
  | {
      ok: true;
      /** Its operation as it ended (null: none, or the server forgot it). */
      operation: Operation | null;
      /** The key of what it made (a run's container id, a network's id), when known. */
      id: string | null;
    }
  | {
      ok: false;
      /** What to tell the user: Docker's message, the server's, or why it was not sent. */
      detail: string;
      /** The HTTP status of the refusal (or of the failed operation's problem); null: not sent. */
      status: number | null;
      /** The user said no (a confirmation), or another action on the object is running. */
      skipped?: boolean;
    };

export interface ActOptions {
  /** The caller shows a refusal itself (a form's error line): no notice for it. */
  quiet?: boolean;
}

export interface ActionTrackerOptions {
  /** A REST request to the server (``path`` from /api/…). */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** The operations the 202s start (their outcome settles or rolls back the action). */
  operations: OperationsTracker;
  /** Give up waiting for the stream to confirm a finished action after this long (ms). */
  timeoutMs?: number;
  /** The server answered 401: the session is gone. */
  onUnauthorized?: () => void;
}

/**
 * Runs actions optimistically on ``store``'s ``pending`` and ``notices``. A subscriber of the
 * store: each new state may confirm an accepted action, which then leaves ``pending``.
 */
export class ActionTracker {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private unsubscribe: (() => void) | null = null;
  private lastData: EngineState | null = null;
  private noticeCounter = 0;

  constructor(
    private readonly store: Store<ActionsState>,
    private readonly opts: ActionTrackerOptions,
  ) {}

  /** Follow the store (settle accepted actions as the state changes). */
  start(): void {
    if (this.unsubscribe) return;
    this.lastData = this.store.getState().data;
    this.unsubscribe = this.store.subscribe(() => {
      const data = this.store.getState().data;
      if (data === this.lastData) return;
      this.lastData = data;
      this.settle();
    });
  }

  /** Stop following, and stop waiting for any action. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * Run a REST action optimistically. Resolves once the engine is done with it: at once when
   * it refused or answered `done`, else when its operation ends (the row's label stays until
   * the change stream shows the effect). A refusal, or a failed operation, rolls the row back
   * and becomes a notice (unless ``quiet``).
   */
  async act(request: ActionRequest, options: ActOptions = {}): Promise<ActResult> {
    const key = pendingKey(request);
    if (this.store.getState().pending[key]) {
      return { ok: false, status: null, detail: "An action on it is already running.", skipped: true };
    }
    const pending: PendingAction = {
      key,
      request: withoutSecrets(request),
      label: progressLabel(request),
      startedAt: Date.now(),
      accepted: false,
      operation: null,
      finished: false,
      baseline: baselineOf(this.store.getState().data, request),
    };
    this.store.setState((s) => ({ pending: { ...s.pending, [key]: pending } }));
    const http = httpRequest(request);
    let response: Response;
    try {
      response = await this.opts.request(http.path, {
        method: http.method,
        headers: http.body === undefined ? {} : { "content-type": "application/json" },
        body: http.body === undefined ? undefined : JSON.stringify(http.body),
      });
    } catch (err) {
      return this.rollback(key, request, options, null, `the server could not be reached (${String(err)})`);
    }
    if (!response.ok) {
      const detail = await problemDetail(response);
      if (response.status === 401) this.opts.onUnauthorized?.();
      return this.rollback(key, request, options, response.status, detail);
    }
    let accepted: Accepted | null = null;
    try {
      accepted = (await response.json()) as Accepted;
    } catch {
      // 202 without a body: still accepted
    }
    const op = accepted?.operation ? this.opts.operations.follow(accepted, request.action, targetOf(request)) : null;
    if (request.action === "prune" && accepted?.report) {
      this.notify("info", `Pruned ${request.kind}s`, describePrune(accepted.report));
    }
    this.update(key, {
      accepted: true,
      operation: op?.operation ?? null,
      baseline: { ...pending.baseline, createdId: accepted?.id ?? null },
    });
    const final = op && op.status === "pending" ? await this.opts.operations.finished(op.operation) : op;
    return this.ended(key, request, options, final, accepted?.id ?? null);
  }

  /** The engine is done with an accepted action: its operation ended (or there was none). */
  private ended(key: string, request: ActionRequest, options: ActOptions, op: Operation | null, id: string | null): ActResult {
    if (op?.status === "failed") {
      const problem = (op.error ?? {}) as Partial<Problem>;
      const detail = typeof problem.detail === "string" && problem.detail ? problem.detail : "the engine failed to do it";
      return this.rollback(key, request, options, typeof problem.status === "number" ? problem.status : null, detail);
    }
    // A run's operation names the container it made once it is made.
    const made = id ?? (request.action === "run" && op && op.target !== targetOf(request) ? op.target : null);
    const current = this.store.getState().pending[key];
    if (current) {
      this.update(key, { finished: true, baseline: { ...current.baseline, createdId: made ?? current.baseline.createdId ?? null } });
      this.settle();
      if (this.store.getState().pending[key]) this.wait(key, request);
    }
    return { ok: true, operation: op, id: made };
  }

  /** Give up waiting for the stream to show a finished action after the timeout. */
  private wait(key: string, request: ActionRequest): void {
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!this.store.getState().pending[key]) return;
        this.drop(key);
        this.notify(
          "info",
          `${titleOf(request)}: no change seen yet`,
          "The engine did it, but its effect has not reached the state.",
        );
      }, this.opts.timeoutMs ?? 60_000),
    );
  }

  notify(level: Notice["level"], title: string, message: string): void {
    const notice: Notice = { id: ++this.noticeCounter, level, title, message, at: Date.now() };
    this.store.setState((s) => ({ notices: [...s.notices.slice(-9), notice] }));
  }

  dismiss(id: number): void {
    this.store.setState((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
  }

  private rollback(
    key: string,
    request: ActionRequest,
    options: ActOptions,
    status: number | null,
    detail: string,
  ): ActResult {
    this.drop(key);
    if (!options.quiet) this.notify("error", `${titleOf(request)} failed`, detail);
    return { ok: false, status, detail };
  }

  private update(key: string, patch: Partial<PendingAction>): void {
    this.store.setState((s) => {
      const current = s.pending[key];
      return current ? { pending: { ...s.pending, [key]: { ...current, ...patch } } } : {};
    });
  }

  private drop(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    this.store.setState((s) => {
      if (!(key in s.pending)) return {};
      const pending = { ...s.pending };
      delete pending[key];
      return { pending };
    });
  }

  /**
   * Drop every accepted action whose effect the state shows, and every finished one whose
   * effect the state cannot show.
   */
  private settle(): void {
    const s = this.store.getState();
    for (const p of Object.values(s.pending)) {
      if (!p.accepted) continue;
      const seen = confirmed(s.data, p.request, p.baseline);
      if (seen === true || (seen === null && p.finished)) this.drop(p.key);
    }
  }
}

/** Docker's own message from an RFC 9457 problem (or what else the answer says). */
export async function problemDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const problem = JSON.parse(text) as Partial<Problem>;
    if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  } catch {
    // not JSON
  }
  return text.trim() || `HTTP ${response.status} ${response.statusText}`.trim();
}

export function titleOf(req: ActionRequest): string {
  const verb = req.action.charAt(0).toUpperCase() + req.action.slice(1);
  switch (req.action) {
    case "prune":
      return `${verb} ${req.kind}s`;
    case "create":
      return `${verb} ${req.kind} ${req.name}`;
    case "pull":
    case "run":
      return `${verb} ${madeName(req)}`;
    default:
      return req.kind === "project"
        ? `${verb} project ${req.project}`
        : `${verb} ${req.kind} ${req.name ?? shortId(req.id)}`;
  }
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

function describePrune(report: Record<string, unknown>): string {
  const deleted = Object.entries(report).find(
    ([k, v]) => Array.isArray(v) && /deleted/i.test(k),
  )?.[1] as unknown[] | undefined;
  const freed = typeof report.SpaceReclaimed === "number" ? report.SpaceReclaimed : null;
  const parts = [`${deleted?.length ?? 0} removed`];
  if (freed !== null) parts.push(`${(freed / 1e6).toFixed(1)} MB freed`);
  return parts.join(", ");
}
