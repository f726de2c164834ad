/**
 * A container's details beyond the state's entity (GET /api/v1/containers/{id}: entrypoint
 * and command, restart policy, the health check and its last results, the environment's
 * names), framework-free. Read when asked (`start`) and again once per burst of changes of
 * the container in the live store (a RevisionFollower): no timer polls.
 */
import { createStore, type Listener, type Store } from "./createStore";
import { problemDetail } from "./live";
import { type LiveSource, RevisionFollower } from "./revision";
import type { ContainerDetails } from "./types";

export interface DetailsState {
  details: ContainerDetails | null;
  loading: boolean;
  /** Why the last read failed (the details shown are the last ones read). */
  error: string | null;
  /** The HTTP status of that failure (404: the engine has no such container). */
  status: number | null;
  /** When the details shown were read (ms since the epoch). */
  readAt: number | null;
}

export interface DetailsOptions {
  /** The container: an id (followed in the live store), or a name. */
  id: string;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  live?: LiveSource | null;
  debounceMs?: number;
  maxWaitMs?: number;
}

export const detailsPath = (id: string) => `/api/v1/containers/${encodeURIComponent(id)}`;

export class DetailsLoader {
  private readonly store: Store<DetailsState> = createStore<DetailsState>({
    details: null,
    loading: false,
    error: null,
    status: null,
    readAt: null,
  });
  private readonly revisions: RevisionFollower | null;
  private running = false;
  private seq = 0;
  private controller: AbortController | null = null;

  constructor(private readonly opts: DetailsOptions) {
    this.revisions = opts.live
      ? new RevisionFollower(opts.live, "container", opts.id, () => void this.refresh(), {
          debounceMs: opts.debounceMs ?? 150,
          maxWaitMs: opts.maxWaitMs ?? 1000,
        })
      : null;
  }

  getState = (): DetailsState => this.store.getState();
  subscribe = (listener: Listener): (() => void) => this.store.subscribe(listener);

  start(): void {
    if (this.running) return;
    this.running = true;
    this.revisions?.start();
    void this.refresh();
  }

  stop(): void {
    this.running = false;
    this.revisions?.stop();
    this.controller?.abort();
    this.controller = null;
    this.store.setState({ loading: false });
  }

  /** Read the details now (the newest read wins). */
  async refresh(): Promise<void> {
    if (!this.running) return;
    this.revisions?.cancel();
    const seq = ++this.seq;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.store.setState({ loading: true });
    let next: Partial<DetailsState>;
    try {
      const response = await this.opts.request(detailsPath(this.opts.id), {
        headers: { accept: "application/json" },
        signal: controller.signal,
      });
      next = response.ok
        ? { details: (await response.json()) as ContainerDetails, error: null, status: null, readAt: Date.now() }
        : { error: await problemDetail(response), status: response.status };
    } catch (err) {
      if (controller.signal.aborted) return;
      next = { error: `the server could not be reached (${String(err)})`, status: null };
    }
    if (!this.running || seq !== this.seq) return;
    this.store.setState({ ...next, loading: false });
  }
}
