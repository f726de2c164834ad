/**
 * Operations (protocol.md §11) as the UI follows them, framework-free: an action answered
 * `202 {"operation", "status": "pending"}` goes on in the engine, and its outcome (and, for a
 * pull or a compose project, its progress) arrives in `operation` messages on the live
 * connection. This is a `Channel` of live.ts, as the stats store is: it takes those messages,
 * and the state's follower never sees them.
 *
 * - It keeps the operations this tab follows (`follow`, from the 202), updated by every message
 *   about them. The server sends every operation to every connection: the others' are kept
 *   only briefly (the last `KEEP_HEARD`), because a message may overtake the 202 it follows
 *   (the server announces a pending operation before its answer is written).
 * - A reconnection may have missed the end of one: on every new connection, the ones still
 *   pending are asked for once (`GET /api/v1/operations/{id}`); one the server forgot (404)
 *   is `lost`. No timer polls.
 * - `finished(id)` resolves when one is over (`done` or `failed`), or `null` when it is lost.
 */
import { createStore, type Listener, type Store } from "./createStore";
import type { Channel } from "./live";
import type { Accepted, Operation, ServerMessage } from "./types";

/** Operations of other tabs and clients remembered, at most (see above). */
export const KEEP_HEARD = 100;
/** Finished operations this tab followed that are kept, at most (for the dialogs that show them). */
export const KEEP_FOLLOWED = 200;

export interface OperationsState {
  /** The followed operations by id, as last heard of. */
  byId: Record<string, Operation>;
}

/** What the operations tracker needs of the live store. */
export interface OperationsConnection {
  request(path: string, init?: RequestInit): Promise<Response>;
}

type Waiter = (operation: Operation | null) => void;

const isOver = (op: Operation) => op.status !== "pending";

export class OperationsTracker implements Channel {
  private readonly store: Store<OperationsState> = createStore<OperationsState>({ byId: {} });
  /** Messages about operations not followed (yet), oldest first. */
  private readonly heard = new Map<string, Operation>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(private readonly conn: OperationsConnection) {}

  getState = (): OperationsState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  get(id: string): Operation | undefined {
    return this.store.getState().byId[id];
  }

  /**
   * Follow the operation a 202 answered with (what it does: ``action`` on ``target``).
   * Returns it as known now: the 202's status, or a message that came first.
   */
  follow(accepted: Accepted, action: string, target: string): Operation {
    const id = accepted.operation;
    const known = this.get(id) ?? this.heard.get(id);
    this.heard.delete(id);
    const op: Operation = known ?? {
      operation: id,
      action,
      target: accepted.id ?? target,
      // A server of before §11 sends no status: its 202 meant done.
      status: accepted.status ?? "done",
      error: null,
      progress: null,
    };
    this.put(op);
    return op;
  }

  /** Resolves once the operation is over, with its last state; null if the server lost it. */
  finished(id: string): Promise<Operation | null> {
    const op = this.get(id);
    if (!op) return Promise.resolve(null);
    if (isOver(op)) return Promise.resolve(op);
    return new Promise((resolve) => {
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]);
    });
  }

  // -- Channel ----------------------------------------------------------------------------

  onMessage(message: ServerMessage): boolean {
    if (message.type !== "operation") return false;
    const { type: _type, engine: _engine, ...op } = message;
    if (this.get(op.operation)) {
      this.put(op);
    } else {
      this.heard.delete(op.operation);
      this.heard.set(op.operation, op);
      if (this.heard.size > KEEP_HEARD) this.heard.delete(this.heard.keys().next().value!);
    }
    return true;
  }

  onOpen(): void {
    // What ended while the connection was down arrived in no message: ask once.
    for (const op of Object.values(this.getState().byId)) {
      if (!isOver(op)) void this.refetch(op.operation);
    }
  }

  onClose(): void {}

  private async refetch(id: string): Promise<void> {
    let response: Response;
    try {
      response = await this.conn.request(`/api/v1/operations/${encodeURIComponent(id)}`, {
        headers: { accept: "application/json" },
      });
    } catch {
      return; // the connection is down again: the next welcome asks again
    }
    if (response.status === 404) {
      this.lose(id);
      return;
    }
    if (!response.ok) return;
    const op = (await response.json().catch(() => null)) as Operation | null;
    if (op && op.operation === id && this.get(id)) this.put(op);
  }

  private put(op: Operation): void {
    this.store.setState((s) => ({ byId: bounded({ ...s.byId, [op.operation]: op }) }));
    if (isOver(op)) this.wake(op.operation, op);
  }

  /** The server no longer knows it: stop following it. */
  private lose(id: string): void {
    this.store.setState((s) => {
      const byId = { ...s.byId };
      delete byId[id];
      return { byId };
    });
    this.wake(id, null);
  }

  private wake(id: string, op: Operation | null): void {
    const waiters = this.waiters.get(id);
    this.waiters.delete(id);
    for (const resolve of waiters ?? []) resolve(op);
  }
}

/** At most KEEP_FOLLOWED operations: the oldest finished ones go first. */
function bounded(byId: Record<string, Operation>): Record<string, Operation> {
  const ids = Object.keys(byId);
  if (ids.length <= KEEP_FOLLOWED) return byId;
  const out = { ...byId };
  for (const id of ids) {
    if (Object.keys(out).length <= KEEP_FOLLOWED) break;
    if (isOver(out[id]!)) delete out[id];
  }
  return out;
}
