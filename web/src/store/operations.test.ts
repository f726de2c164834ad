// Actions whose engine work outlives the answer (protocol.md §11): the 202 names an operation,
// its outcome and progress arrive as `operation` messages on the live connection.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { creatingOf } from "./actions";
import { KEEP_HEARD } from "./operations";
import { container, FakeSocket, liveFeed } from "./testing";

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": status < 300 ? "application/json" : "application/problem+json" },
  });

/** A fetch answering ``answers`` by path (each a Response or a function making one), in order of calls. */
function fakeFetch(answers: Record<string, (() => Response | Promise<Response>)[]>) {
  return vi.fn(async (input: RequestInfo | URL, _init?: RequestInit) => {
    const path = String(input);
    const next = answers[path.split("?")[0]!]?.shift();
    if (!next) throw new Error(`unexpected request ${path}`);
    return next();
  });
}

const pending = (operation = "op1", extra: object = {}) => () =>
  json(202, { operation, accepted_at_version: 10, status: "pending", ...extra });

function operation(op: string, status: "pending" | "done" | "failed", over: object = {}) {
  return { type: "operation", engine: "local", operation: op, action: "stop", target: "a", status, error: null, progress: null, ...over };
}

const exited = [{ op: "replace", path: "/state", value: "exited" }];

describe("operations", () => {
  it("a stop answered `pending` keeps its label until the stream shows the effect, and resolves when the operation ends", async () => {
    const fetch = fakeFetch({ "/api/v1/containers/a/stop": [pending()] });
    const feed = liveFeed([container("a")], { fetch });
    let result: unknown = null;
    void feed.store.act({ kind: "container", action: "stop", id: "a" }).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.store.getState().pending["container:a"]).toMatchObject({
      label: "stopping…",
      accepted: true,
      operation: "op1",
      finished: false,
    });
    feed.ws.receive(operation("op1", "pending"));
    feed.update("a", exited);
    expect(feed.store.getState().pending).toEqual({});
    expect(result).toBeNull(); // the engine is not done yet
    feed.ws.receive(operation("op1", "done"));
    await vi.advanceTimersByTimeAsync(0);
    expect(result).toMatchObject({ ok: true, operation: { operation: "op1", status: "done" } });
    expect(feed.store.getState().notices).toEqual([]);
  });

  it("a done operation still waits for the stream, then times out from its end, not from the 202", async () => {
    const fetch = fakeFetch({ "/api/v1/containers/a/stop": [pending()] });
    const feed = liveFeed([container("a")], { fetch, actionTimeoutMs: 5000 });
    const done = feed.store.act({ kind: "container", action: "stop", id: "a" });
    await vi.advanceTimersByTimeAsync(30_000); // a long grace period: no timeout while it runs
    expect(feed.store.getState().pending["container:a"]).toBeDefined();
    feed.ws.receive(operation("op1", "done"));
    expect((await done).ok).toBe(true);
    expect(feed.store.getState().pending["container:a"]?.finished).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(feed.store.getState().pending).toEqual({});
    expect(feed.store.getState().notices[0]!.title).toMatch(/no change seen yet/);
  });

  it("a failed operation after the 202 rolls the row back and shows Docker's message", async () => {
    const fetch = fakeFetch({ "/api/v1/containers/a/stop": [pending()] });
    const feed = liveFeed([container("a")], { fetch });
    const before = feed.store.getState().data!.containers.a;
    const done = feed.store.act({ kind: "container", action: "stop", id: "a", name: "web" });
    await vi.advanceTimersByTimeAsync(0);
    const detail = "cannot stop container: web: tried to kill container, but did not receive an exit event";
    feed.ws.receive(operation("op1", "failed", { error: { type: "about:blank", title: "Conflict", status: 409, detail } }));
    expect(await done).toEqual({ ok: false, status: 409, detail });
    const s = feed.store.getState();
    expect(s.pending).toEqual({});
    expect(s.data!.containers.a).toBe(before);
    expect(s.notices).toMatchObject([{ level: "error", title: "Stop container web failed", message: detail }]);
  });

  it("an operation message that overtakes its 202 is not lost", async () => {
    let answer: (r: Response) => void = () => {};
    const fetch = vi.fn((_input: RequestInfo | URL, _init?: RequestInit) => new Promise<Response>((r) => (answer = r)));
    const feed = liveFeed([container("a")], { fetch });
    const done = feed.store.act({ kind: "container", action: "restart", id: "a" });
    // The server announces a pending operation before it writes the answer; here it even ended.
    feed.ws.receive(operation("op1", "pending", { action: "restart" }));
    feed.ws.receive(operation("op1", "failed", { action: "restart", error: { status: 500, detail: "boom" } }));
    answer(pending()());
    expect(await done).toMatchObject({ ok: false, detail: "boom" });
    expect(feed.store.getState().pending).toEqual({});
  });

  it("keeps only the operations it follows (the others' for a moment only)", () => {
    const feed = liveFeed([container("a")]);
    for (let i = 0; i < KEEP_HEARD + 50; i++) feed.ws.receive(operation(`other${i}`, "done"));
    expect(feed.store.operations.getState().byId).toEqual({});
    // The follower never saw them either: the state is as it was.
    expect(feed.store.getState().data!.version).toBe(10);
  });

  it("asks once, after a reconnection, for each operation still pending (no polling)", async () => {
    const fetch = fakeFetch({
      "/api/v1/containers/a/stop": [pending("op1")],
      "/api/v1/containers/b/stop": [pending("op2")],
      "/api/v1/operations/op1": [() => json(200, { operation: "op1", action: "stop", target: "a", status: "done", error: null, progress: null })],
      "/api/v1/operations/op2": [() => json(404, { title: "Not Found", status: 404, detail: "no operation op2" })],
    });
    const feed = liveFeed([container("a"), container("b")], { fetch, actionTimeoutMs: 5000 });
    const first = feed.store.act({ kind: "container", action: "stop", id: "a" });
    const second = feed.store.act({ kind: "container", action: "stop", id: "b" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(2); // nothing asked while the connection is up
    feed.ws.drop();
    await vi.advanceTimersByTimeAsync(2000);
    FakeSocket.last.handshake();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.mock.calls.map((c) => c[0])).toEqual([
      "/api/v1/containers/a/stop",
      "/api/v1/containers/b/stop",
      "/api/v1/operations/op1",
      "/api/v1/operations/op2",
    ]);
    expect(await first).toMatchObject({ ok: true, operation: { status: "done" } });
    // Forgotten by the server: the change stream (or the timeout) decides.
    expect(await second).toMatchObject({ ok: true, operation: null });
    expect(feed.store.getState().pending["container:b"]?.finished).toBe(true);
  });
});

describe("a pull", () => {
  const progress = (fraction: number, status = "Downloading") => ({
    image: "127.0.0.1:5000/app:1",
    status: "Pulling from app",
    layers: { l1: { status, current: fraction * 100, total: 100, fraction: fraction / 2 } },
    fraction: fraction / 2,
  });

  it("follows the operation's progress, and ends when the operation does", async () => {
    const fetch = fakeFetch({ "/api/v1/images/pull": [pending("p1")] });
    const feed = liveFeed([], { fetch });
    const done = feed.store.act({ kind: "image", action: "pull", name: "127.0.0.1:5000/app:1" });
    expect(fetch).toHaveBeenCalledWith("/api/v1/images/pull", expect.objectContaining({ body: JSON.stringify({ image: "127.0.0.1:5000/app:1" }) }));
    await vi.advanceTimersByTimeAsync(0);
    const [row] = creatingOf(feed.store.getState(), "image");
    expect(row).toMatchObject({ label: "pulling…", operation: "p1" });
    const pull = { action: "pull", target: "127.0.0.1:5000/app:1" };
    for (const f of [0.2, 0.6]) feed.ws.receive(operation("p1", "pending", { ...pull, progress: progress(f) }));
    expect(feed.store.operations.get("p1")!.progress).toEqual(progress(0.6));
    feed.ws.receive(operation("p1", "done", { ...pull, progress: { ...progress(1, "Pull complete"), fraction: 1 } }));
    expect(await done).toMatchObject({ ok: true, operation: { status: "done", progress: { fraction: 1 } } });
    expect(feed.store.getState().pending).toEqual({}); // the state cannot show a pull: its end confirms it
  });

  it("a pull that fails shows the engine's message", async () => {
    const fetch = fakeFetch({ "/api/v1/images/pull": [pending("p1")] });
    const feed = liveFeed([], { fetch });
    const done = feed.store.act({ kind: "image", action: "pull", name: "x:1" }, { quiet: true });
    await vi.advanceTimersByTimeAsync(0);
    feed.ws.receive(operation("p1", "failed", { action: "pull", target: "x:1", error: { status: 502, detail: "unknown blob" } }));
    expect(await done).toEqual({ ok: false, status: 502, detail: "unknown blob" });
    expect(feed.store.getState().notices).toEqual([]); // quiet: the dialog shows it
  });
});

describe("a run", () => {
  it("sends the environment's values to the server and keeps none of them", async () => {
    const fetch = fakeFetch({ "/api/v1/containers": [() => json(202, { operation: "r1", accepted_at_version: 10, status: "done", id: "c9" })] });
    const feed = liveFeed([], { fetch });
    const spec = { image: "busybox:latest", name: "web", env: ["TOKEN=s3cr3t", "EMPTY="] };
    const done = feed.store.act({ kind: "container", action: "run", spec });
    const seen = JSON.stringify(feed.store.getState());
    expect(seen).not.toContain("s3cr3t");
    expect(feed.store.getState().pending["container:+run:web"]!.request).toMatchObject({ spec: { env: ["TOKEN", "EMPTY"] } });
    expect(fetch.mock.calls[0]![1]).toMatchObject({ method: "POST", body: JSON.stringify(spec) });
    expect(await done).toMatchObject({ ok: true, id: "c9" });
    // Confirmed when the container it made has started.
    feed.ws.receive({
      type: "changes", sub: "s1", epoch: "E1", from: 10, to: 11, timestamp: "2026-01-01T00:00:09Z",
      changes: [{ v: 11, kind: "container", op: "created", id: "c9", object: container("c9", { state: "running", rev: 11 }) }],
    });
    expect(feed.store.getState().pending).toEqual({});
    expect(JSON.stringify(feed.store.getState())).not.toContain("s3cr3t");
  });

  it("learns the container's id from its operation when the 202 came first", async () => {
    const fetch = fakeFetch({ "/api/v1/containers": [pending("r1")] });
    const feed = liveFeed([], { fetch });
    const done = feed.store.act({ kind: "container", action: "run", spec: { image: "busybox:latest", name: "web" } });
    await vi.advanceTimersByTimeAsync(0);
    feed.ws.receive(operation("r1", "done", { action: "run", target: "c9" }));
    expect(await done).toMatchObject({ ok: true, id: "c9" });
    expect(feed.store.getState().pending["container:+run:web"]?.baseline.createdId).toBe("c9");
  });
});

describe("a compose project", () => {
  it("runs as one operation, its per-container outcomes followed; a failure names each", async () => {
    const fetch = fakeFetch({ "/api/v1/projects/shop/stop": [pending("j1")] });
    const feed = liveFeed([container("a", { compose_project: "shop" })], { fetch });
    const done = feed.store.act({ kind: "project", action: "stop", project: "shop" });
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.store.getState().pending["project:shop"]).toMatchObject({ label: "stopping…", operation: "j1" });
    const outcomes = {
      project: "shop",
      total: 2,
      done: 1,
      failed: 1,
      containers: {
        a: { name: "shop-web-1", status: "done", error: null },
        b: { name: "shop-db-1", status: "failed", error: { status: 409, detail: "boom" } },
      },
    };
    feed.ws.receive(operation("j1", "pending", { action: "stop", target: "projects/shop", progress: outcomes }));
    expect(feed.store.operations.get("j1")!.progress).toEqual(outcomes);
    const detail = "1 of 2 containers of project shop failed to stop: shop-db-1: boom";
    feed.ws.receive(operation("j1", "failed", { action: "stop", target: "projects/shop", progress: outcomes, error: { status: 409, detail } }));
    expect(await done).toMatchObject({ ok: false, detail });
    expect(feed.store.getState().notices).toMatchObject([{ title: "Stop project shop failed", message: detail }]);
  });

  it("maps to the project routes", async () => {
    const fetch = fakeFetch({ "/api/v1/projects/my%20app": [() => json(202, { operation: "j2", accepted_at_version: 10, status: "done" })] });
    const feed = liveFeed([], { fetch });
    expect(await feed.store.act({ kind: "project", action: "remove", project: "my app" })).toMatchObject({ ok: true });
    expect(fetch.mock.calls[0]![1]).toMatchObject({ method: "DELETE" });
    expect(feed.store.getState().pending).toEqual({});
  });
});
