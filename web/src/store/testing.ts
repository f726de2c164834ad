/** Test doubles for the store: a scripted WebSocket, and entity factories. */
import type { SocketFactory, SocketLike } from "./live";
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
