/** Test doubles for the store: a scripted WebSocket, the tab's visibility, and entity factories. */
import { LiveStore, type LiveStoreOptions, type SocketFactory, type SocketLike } from "./live";
import type { VisibilitySource } from "./stats";
import type { Container, EngineState } from "./types";

export class FakeSocket implements SocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
  }

  static factory: SocketFactory = (url, protocols) => new FakeSocket(url, protocols);
  static reset(): void {
    FakeSocket.instances = [];
  }
  static get last(): FakeSocket {
    const ws = FakeSocket.instances.at(-1);
    if (!ws) throw new Error("no socket was opened");
    return ws;
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }

  // -- the server's side --
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  sentOf(type: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.type === type);
  }
  /** Open, answer hello with welcome, and return the subscribe message. */
  handshake(welcome: Partial<WelcomeFields> = {}): Record<string, unknown> {
    this.open();
    this.receive({
      type: "welcome",
      protocol: "dockstate.v1",
      server: "dockstate/test",
      session: "sess",
      epoch: "E1",
      version: 10,
      oldest: 0,
      heartbeat_ms: 15000,
      ...welcome,
    });
    const sub = this.sentOf("subscribe").at(-1);
    if (!sub) throw new Error("the store did not subscribe");
    return sub;
  }
}

/** Whether the tab is visible, as the test says (`set`). */
export class FakeVisibility implements VisibilitySource {
  shown = true;
  private listeners = new Set<() => void>();
  visible = () => this.shown;
  subscribe(listener: () => void) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  set(shown: boolean) {
    this.shown = shown;
    for (const l of this.listeners) l();
  }
}

interface WelcomeFields {
  epoch: string;
  version: number;
  oldest: number;
  heartbeat_ms: number;
}

export function container(id: string, over: Partial<Container> = {}): Container {
  return {
    id,
    name: `c-${id}`,
    image: "busybox:latest",
    image_id: "sha256:img",
    command: "sleep 300",
    created: "2026-01-01T00:00:00Z",
    state: "running",
    status: "Up",
    health: null,
    exit_code: null,
    started_at: "2026-01-01T00:00:01Z",
    finished_at: null,
    ports: [],
    labels: {},
    compose_project: null,
    compose_service: null,
    networks: {},
    mounts: [],
    restart_count: 0,
    rev: 1,
    ...over,
  };
}

export function engineState(version: number, containers: Container[] = []): EngineState {
  return {
    containers: Object.fromEntries(containers.map((c) => [c.id, c])),
    images: {},
    volumes: {},
    networks: {},
    engine_info: {
      status: "connected",
      host: "unix:///var/run/docker.sock",
      last_error: null,
      id: "E",
      name: "host",
      server_version: "26.1",
      api_version: "1.45",
      os: "Debian",
      os_type: "linux",
      kernel_version: "6",
      architecture: "x86_64",
      ncpu: 2,
      mem_total: 1,
      storage_driver: "overlay2",
      docker_root_dir: "/var/lib/docker",
      rev: 1,
    },
    system_stats: null,
    version,
    last_updated: "2026-01-01T00:00:00Z",
  };
}

// -- the history endpoint (GET /api/v1/events/{kind}/{id}) --------------------------------

export interface FakeEvent {
  time_nano: bigint;
  type?: string;
  action: string;
  detail?: string;
  actor_id?: string;
  attributes?: Record<string, string>;
}

/** JSON with bigints as bare integers, as the server writes them. */
export function exactJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `__bigint__${v}` : v)).replace(
    /"__bigint__(\d+)"/g,
    "$1",
  );
}

/**
 * A fake of the server's timeline endpoint over ``events`` (any order; the object's kind is
 * the default type): newest first, ``limit``, ``before``, ``more``, as _history.py answers.
 * ``calls`` records each path asked for; ``events`` can be changed between calls; ``fail``
 * makes the next answers a problem (a status) or a network error ("network").
 */
export function fakeHistoryServer(events: FakeEvent[] = []) {
  const server = {
    events,
    calls: [] as string[],
    fail: null as number | "network" | null,
    request: async (path: string, init?: RequestInit): Promise<Response> => {
      server.calls.push(path);
      if (init?.signal?.aborted) throw new DOMException("aborted", "AbortError");
      if (server.fail === "network") throw new TypeError("Failed to fetch");
      if (server.fail !== null) {
        const detail =
          server.fail === 503 ? "this server keeps no history (it was started with --no-db)" : "Not authenticated";
        return new Response(JSON.stringify({ title: "Error", status: server.fail, detail }), {
          status: server.fail,
          headers: { "content-type": "application/problem+json" },
        });
      }
      const url = new URL(path, "http://x");
      const [, , , , kind = "", id = ""] = url.pathname.split("/");
      const limit = Number(url.searchParams.get("limit") ?? "100");
      const before = url.searchParams.get("before");
      const matching = [...server.events]
        .sort((a, b) => (a.time_nano < b.time_nano ? 1 : a.time_nano > b.time_nano ? -1 : 0))
        .filter((e) => before === null || e.time_nano < BigInt(before));
      const page = matching.slice(0, limit).map((e) => ({
        time_nano: e.time_nano,
        type: e.type ?? kind,
        action: e.action,
        detail: e.detail ?? "",
        actor_id: e.actor_id ?? decodeURIComponent(id),
        attributes: e.attributes ?? {},
      }));
      const body = { kind, id: decodeURIComponent(id), events: page, more: matching.length > limit };
      return new Response(exactJson(body), { status: 200, headers: { "content-type": "application/json" } });
    },
  };
  return server;
}

/**
 * A LiveStore on a FakeSocket that has taken a snapshot (version 10) of ``containers``, and a
 * way to feed it changes with consecutive versions: ``update(id, rev)`` (the container's rev
 * changes), ``remove(id)``, ``bookmark()``.
 */
export function liveFeed(containers: Container[], options: Partial<LiveStoreOptions> = {}) {
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, ...options });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake().id as string;
  let version = 10;
  ws.receive({ type: "snapshot", sub, epoch: "E1", version, state: engineState(version, containers) });
  const send = (change: Record<string, unknown>) => {
    version += 1;
    ws.receive({
      type: "changes",
      sub,
      epoch: "E1",
      from: version - 1,
      to: version,
      timestamp: "2026-01-01T00:00:09Z",
      changes: [{ v: version, ...change }],
    });
  };
  return {
    store,
    ws,
    update(id: string, patch: object[] = []) {
      send({
        kind: "container",
        op: "updated",
        id,
        patch: [...patch, { op: "replace", path: "/rev", value: version + 1 }],
      });
    },
    remove(id: string) {
      send({ kind: "container", op: "removed", id });
    },
    bookmark() {
      ws.receive({ type: "bookmark", sub, epoch: "E1", version });
    },
  };
}
