import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isLive, LiveStore, type LiveStoreOptions, type WakeSource } from "./live";
import { memoryPersistence } from "./persist";
import { container, engineState, FakeSocket } from "./testing";

const URL = "ws://ui.test/api/v1/ws";

function makeStore(options: Partial<LiveStoreOptions> = {}) {
  const store = new LiveStore({
    url: URL,
    socket: FakeSocket.factory,
    random: () => 0.5,
    persistence: null,
    wake: null,
    ...options,
  });
  store.start();
  return store;
}

/** A store that has taken a snapshot at version 10 with containers a and b. */
function liveStore(options: Partial<LiveStoreOptions> = {}) {
  const store = makeStore(options);
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  ws.receive({
    type: "snapshot",
    sub: sub.id,
    epoch: "E1",
    version: 10,
    state: engineState(10, [container("a"), container("b")]),
  });
  return { store, ws, sub: sub.id as string };
}

function changes(sub: string, from: number, to: number, list: object[], epoch = "E1") {
  return { type: "changes", sub, epoch, from, to, timestamp: "2026-01-01T00:00:09Z", changes: list };
}

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

describe("handshake", () => {
  it("says hello on the dockstate.v1 subprotocol, then subscribes in mode changes", () => {
    makeStore();
    const ws = FakeSocket.last;
    expect(ws.url).toBe(URL);
    expect(ws.protocols).toEqual(["dockstate.v1"]);
    ws.open();
    expect(ws.sent).toEqual([
      { type: "hello", protocol: "dockstate.v1", client: "dockstate-web/0.1" },
    ]);
    const sub = ws.handshake();
    expect(sub).toEqual({ type: "subscribe", id: "s1", mode: "changes" });
  });

  it("sends the token in hello only when it has one (a browser's cookie authenticates it)", () => {
    makeStore({ token: "T" });
    FakeSocket.last.open();
    expect(FakeSocket.last.sent[0]).toMatchObject({ type: "hello", token: "T" });
  });

  it("is connected but not live until the snapshot arrives", () => {
    const store = makeStore();
    FakeSocket.last.handshake();
    expect(store.getState().connection.status).toBe("live");
    expect(store.getState().syncing).toBe(true);
    expect(isLive(store.getState())).toBe(false);
  });
});

describe("snapshot and changes", () => {
  it("takes the snapshot", () => {
    const { store } = liveStore();
    const s = store.getState();
    expect(s.source).toBe("live");
    expect(s.epoch).toBe("E1");
    expect(s.data?.version).toBe(10);
    expect(Object.keys(s.data?.containers ?? {})).toEqual(["a", "b"]);
    expect(isLive(s)).toBe(true);
  });

  it("applies created, updated (JSON Patch) and removed, and moves to the batch's version", () => {
    const { store, ws, sub } = liveStore();
    const before = store.getState().data!;
    ws.receive(
      changes(sub, 10, 13, [
        { v: 11, kind: "container", op: "created", id: "c", object: container("c") },
        {
          v: 12,
          kind: "container",
          op: "updated",
          id: "a",
          patch: [
            { op: "replace", path: "/state", value: "exited" },
            { op: "replace", path: "/rev", value: 12 },
          ],
        },
        { v: 13, kind: "container", op: "removed", id: "b" },
      ]),
    );
    const after = store.getState().data!;
    expect(after.version).toBe(13);
    expect(Object.keys(after.containers).sort()).toEqual(["a", "c"]);
    expect(after.containers.a!.state).toBe("exited");
    // The object as it was is untouched (React still holds it), and a fresh one replaced it.
    expect(before.containers.a!.state).toBe("running");
    expect(after.engine_info).toBe(before.engine_info);
  });

  it("keeps the identity of every object a batch does not touch", () => {
    const { store, ws, sub } = liveStore();
    const b = store.getState().data!.containers.b;
    ws.receive(
      changes(sub, 10, 11, [
        {
          v: 11,
          kind: "container",
          op: "updated",
          id: "a",
          patch: [{ op: "replace", path: "/status", value: "Up (healthy)" }],
        },
      ]),
    );
    expect(store.getState().data!.containers.b).toBe(b);
  });

  it("applies engine changes to engine_info", () => {
    const { store, ws, sub } = liveStore();
    ws.receive(
      changes(sub, 10, 11, [
        {
          v: 11,
          kind: "engine",
          op: "updated",
          id: "engine_info",
          patch: [{ op: "replace", path: "/status", value: "disconnected" }],
        },
      ]),
    );
    expect(store.getState().data!.engine_info!.status).toBe("disconnected");
    expect(isLive(store.getState())).toBe(false);
  });

  it("accepts an update that carries the whole object instead of a patch", () => {
    const { store, ws, sub } = liveStore();
    ws.receive(
      changes(sub, 10, 11, [
        { v: 11, kind: "container", op: "updated", id: "a", object: container("a", { name: "x" }) },
      ]),
    );
    expect(store.getState().data!.containers.a!.name).toBe("x");
  });

  it("moves its version to a bookmark's, so the next batch chains from there", () => {
    const { store, ws, sub } = liveStore();
    ws.receive({ type: "bookmark", sub, epoch: "E1", version: 15 });
    expect(store.getState().data!.version).toBe(15);
    ws.receive(changes(sub, 15, 16, [{ v: 16, kind: "container", op: "removed", id: "a" }]));
    expect(store.getState().data!.version).toBe(16);
    expect(ws.sentOf("resync")).toEqual([]);
  });

  it("ignores messages of other subscriptions", () => {
    const { store, ws } = liveStore();
    ws.receive(changes("other", 3, 4, [{ v: 4, kind: "container", op: "removed", id: "a" }]));
    expect(store.getState().data!.containers.a).toBeDefined();
  });
});

describe("gaps and resync", () => {
  it("detects a gap, sends resync, ignores changes until the snapshot", () => {
    const { store, ws, sub } = liveStore();
    ws.receive(changes(sub, 11, 12, [{ v: 12, kind: "container", op: "removed", id: "a" }]));
    expect(ws.sentOf("resync")).toEqual([{ type: "resync", id: sub }]);
    expect(store.getState().syncing).toBe(true);
    expect(isLive(store.getState())).toBe(false);
    expect(store.getState().data!.containers.a).toBeDefined(); // not applied
    ws.receive(changes(sub, 12, 13, [{ v: 13, kind: "container", op: "removed", id: "b" }]));
    expect(store.getState().data!.containers.b).toBeDefined(); // still waiting
    ws.receive({
      type: "snapshot",
      sub,
      epoch: "E1",
      version: 13,
      state: engineState(13, [container("c")]),
    });
    const s = store.getState();
    expect(s.syncing).toBe(false);
    expect(Object.keys(s.data!.containers)).toEqual(["c"]);
    expect(s.connection.resyncs).toBe(1);
    ws.receive(changes(sub, 13, 14, [{ v: 14, kind: "container", op: "removed", id: "c" }]));
    expect(store.getState().data!.containers).toEqual({});
  });

  it("resyncs when a patch does not apply to the object it holds", () => {
    const { store, ws, sub } = liveStore();
    ws.receive(
      changes(sub, 10, 11, [
        {
          v: 11,
          kind: "container",
          op: "updated",
          id: "a",
          patch: [{ op: "test", path: "/state", value: "paused" }],
        },
      ]),
    );
    expect(ws.sentOf("resync")).toHaveLength(1);
    expect(store.getState().connection.lastResync).toMatch(/patch of container a failed/);
    expect(store.getState().data!.version).toBe(10); // the batch was not half applied
  });

  it("resyncs when an update names an object it does not hold", () => {
    const { ws, sub } = liveStore();
    ws.receive(
      changes(sub, 10, 11, [
        { v: 11, kind: "container", op: "updated", id: "zz", patch: [] },
      ]),
    );
    expect(ws.sentOf("resync")).toHaveLength(1);
  });

  it("after a change that did not apply, a new connection asks for a snapshot, not a resume", () => {
    const { ws, sub } = liveStore();
    ws.receive(changes(sub, 10, 11, [{ v: 11, kind: "container", op: "updated", id: "zz", patch: [] }]));
    ws.drop();
    vi.advanceTimersByTime(60_000);
    const again = FakeSocket.last.handshake();
    expect(again.since).toBeUndefined();
  });

  it("chains a batch from the version applied when a bookmark came in between", () => {
    const { store, ws, sub } = liveStore();
    ws.receive({ type: "bookmark", sub, epoch: "E1", version: 15 });
    ws.receive(changes(sub, 10, 16, [{ v: 16, kind: "container", op: "removed", id: "a" }]));
    expect(ws.sentOf("resync")).toEqual([]);
    expect(store.getState().data!.version).toBe(16);
    expect(store.getState().data!.containers.a).toBeUndefined();
  });

  it("on resync_required, waits for and takes the snapshot that follows", () => {
    const { store, ws, sub } = liveStore();
    ws.receive({ type: "resync_required", sub, code: "SLOW_CONSUMER", oldest: 20, current: 30 });
    expect(store.getState().syncing).toBe(true);
    expect(ws.sentOf("resync")).toEqual([]); // the server sends the snapshot by itself
    ws.receive({ type: "snapshot", sub, epoch: "E1", version: 30, state: engineState(30) });
    expect(store.getState().syncing).toBe(false);
    expect(store.getState().data!.version).toBe(30);
    expect(store.getState().connection.lastResync).toBe("resync_required SLOW_CONSUMER");
  });
});

describe("reconnecting", () => {
  it("reconnects after a jittered, growing, capped delay", () => {
    const draws = [0, 1, 0.5];
    const store = makeStore({
      random: () => draws.shift() ?? 0,
      backoff: { initialMs: 1000, maxMs: 3000 },
    });
    FakeSocket.last.drop();
    let c = store.getState().connection;
    expect(c.status).toBe("reconnecting");
    expect(c.retryAt).toBe(Date.now() + 500); // attempt 1: cap 1000, random 0 -> half
    vi.advanceTimersByTime(499);
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.last.drop();
    c = store.getState().connection;
    expect(c.attempt).toBe(2);
    expect(c.retryAt).toBe(Date.now() + 2000); // cap 2000, random 1 -> all of it
    vi.advanceTimersByTime(2000);
    FakeSocket.last.drop();
    expect(store.getState().connection.retryAt).toBe(Date.now() + 2250); // cap 3000 (max)
  });

  it("resumes with since and goes live without a snapshot when the server can replay", () => {
    const { store, ws } = liveStore();
    ws.drop(1001, "server shutting down");
    expect(isLive(store.getState())).toBe(false);
    vi.advanceTimersByTime(60_000);
    const ws2 = FakeSocket.last;
    expect(ws2).not.toBe(ws);
    const sub = ws2.handshake({ epoch: "E1", version: 12, oldest: 5 });
    expect(sub.since).toEqual({ epoch: "E1", version: 10 });
    expect(isLive(store.getState())).toBe(true);
    expect(store.getState().connection.attempt).toBe(0);
    ws2.receive(changes(sub.id as string, 10, 12, [
      { v: 12, kind: "container", op: "removed", id: "a" },
    ]));
    expect(store.getState().data!.version).toBe(12);
    expect(ws2.sentOf("resync")).toEqual([]);
  });

  it("stays stale until the snapshot when the server cannot replay from since", () => {
    const { store, ws } = liveStore();
    ws.drop();
    vi.advanceTimersByTime(60_000);
    const ws2 = FakeSocket.last;
    const sub = ws2.handshake({ epoch: "E2", version: 3, oldest: 0 });
    expect(sub.since).toEqual({ epoch: "E1", version: 10 });
    expect(store.getState().syncing).toBe(true);
    ws2.receive({ type: "resync_required", sub: sub.id, code: "EPOCH_MISMATCH", oldest: 0, current: 3 });
    ws2.receive({ type: "snapshot", sub: sub.id, epoch: "E2", version: 3, state: engineState(3) });
    expect(store.getState().epoch).toBe("E2");
    expect(isLive(store.getState())).toBe(true);
  });

  it("reconnects at once when the tab becomes visible again", () => {
    let wake: () => void = () => {};
    const source: WakeSource = (cb) => {
      wake = cb;
      return () => {};
    };
    const store = makeStore({ wake: source, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    FakeSocket.last.drop();
    expect(store.getState().connection.status).toBe("reconnecting");
    wake();
    expect(FakeSocket.instances).toHaveLength(2);
    expect(store.getState().connection.status).toBe("connecting");
    vi.advanceTimersByTime(60_000); // the backoff timer was cancelled
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("does not reconnect by itself after 4401, but does when woken (signed in again)", () => {
    let wake: () => void = () => {};
    const store = makeStore({ wake: (cb) => ((wake = cb), () => {}) });
    FakeSocket.last.drop(4401, "wrong or missing token");
    expect(store.getState().connection.status).toBe("unauthorized");
    vi.advanceTimersByTime(600_000);
    expect(FakeSocket.instances).toHaveLength(1);
    wake();
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("takes a connection silent for two heartbeats for dead and reconnects", () => {
    const { store, ws } = liveStore();
    vi.advanceTimersByTime(2 * 15000 + 999);
    expect(ws.closed).toBeNull();
    vi.advanceTimersByTime(1);
    expect(ws.closed?.code).toBe(4000);
    expect(store.getState().connection.status).toBe("reconnecting");
  });

  it("a bookmark keeps the connection alive", () => {
    const { ws, sub } = liveStore();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(15000);
      ws.receive({ type: "bookmark", sub, epoch: "E1", version: 10 });
    }
    expect(ws.closed).toBeNull();
  });

  it("stop() closes and never reconnects", () => {
    const { store, ws } = liveStore();
    store.stop();
    expect(ws.closed?.code).toBe(1000);
    vi.advanceTimersByTime(600_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(store.getState().connection.status).toBe("stopped");
  });
});

describe("the last known state (cache)", () => {
  it("shows the cached state at once, marked stale, and resumes from it", async () => {
    const persistence = memoryPersistence({
      epoch: "E1",
      version: 8,
      data: engineState(8, [container("old")]),
      savedAt: 1234,
    });
    const store = makeStore({ persistence });
    await vi.advanceTimersByTimeAsync(0);
    let s = store.getState();
    expect(s.source).toBe("cache");
    expect(s.cachedAt).toBe(1234);
    expect(Object.keys(s.data!.containers)).toEqual(["old"]);
    expect(isLive(s)).toBe(false);
    const sub = FakeSocket.last.handshake({ epoch: "E1", version: 10, oldest: 0 });
    expect(sub.since).toEqual({ epoch: "E1", version: 8 });
    s = store.getState();
    expect(s.source).toBe("live");
  });

  it("saves the live state, at most once per interval", async () => {
    const persistence = memoryPersistence();
    const save = vi.spyOn(persistence, "save");
    const { ws, sub } = liveStore({ persistence, persistEveryMs: 1000 });
    ws.receive(changes(sub, 10, 11, [{ v: 11, kind: "container", op: "removed", id: "a" }]));
    ws.receive(changes(sub, 11, 12, [{ v: 12, kind: "container", op: "removed", id: "b" }]));
    expect(save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1000);
    expect(save).toHaveBeenCalledTimes(1);
    expect(persistence.saved?.version).toBe(12);
    expect(persistence.saved?.epoch).toBe("E1");
  });

  it("does not let a late cache replace the live state", async () => {
    let resolve: (v: null | object) => void = () => {};
    const persistence = {
      ...memoryPersistence(),
      load: () => new Promise((r) => (resolve = r as never)),
    } as never;
    const { store } = liveStore({ persistence });
    resolve({ epoch: "E0", version: 1, data: engineState(1), savedAt: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().source).toBe("live");
    expect(store.getState().epoch).toBe("E1");
  });
});

describe("optimistic actions", () => {
  function respond(status: number, body: unknown) {
    return vi.fn(async () =>
      new Response(JSON.stringify(body), {
        status,
        headers: {
          "content-type": status < 300 ? "application/json" : "application/problem+json",
        },
      }),
    );
  }

  it("shows 'stopping…' at once, keeps it until the change stream confirms", async () => {
    const fetch = respond(202, { operation: "op1", accepted_at_version: 10 });
    const { store, ws, sub } = liveStore({ fetch });
    const done = store.act({ kind: "container", action: "stop", id: "a" });
    expect(store.getState().pending["container:a"]?.label).toBe("stopping…");
    expect((await done).ok).toBe(true);
    expect(fetch).toHaveBeenCalledWith("/api/v1/containers/a/stop", {
      method: "POST",
      credentials: "same-origin",
      headers: {},
      body: undefined,
    });
    expect(store.getState().pending["container:a"]?.accepted).toBe(true);
    ws.receive(
      changes(sub, 10, 11, [
        { v: 11, kind: "container", op: "updated", id: "a",
          patch: [{ op: "replace", path: "/state", value: "exited" }] },
      ]),
    );
    expect(store.getState().pending["container:a"]).toBeUndefined();
    expect(store.getState().notices).toEqual([]);
  });

  it("rolls back on a refusal and shows Docker's message", async () => {
    const fetch = respond(409, {
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "cannot remove container: container is running: stop the container before removing",
    });
    const { store } = liveStore({ fetch });
    const before = store.getState().data!.containers.a;
    const done = store.act({ kind: "container", action: "remove", id: "a", name: "web" });
    expect(store.getState().pending["container:a"]?.label).toBe("removing…");
    expect(await done).toMatchObject({ ok: false, status: 409 });
    const s = store.getState();
    expect(s.pending).toEqual({});
    expect(s.data!.containers.a).toBe(before);
    expect(s.notices).toHaveLength(1);
    expect(s.notices[0]).toMatchObject({
      level: "error",
      title: "Remove container web failed",
      message: "cannot remove container: container is running: stop the container before removing",
    });
    expect(fetch).toHaveBeenCalledWith("/api/v1/containers/a", expect.objectContaining({ method: "DELETE" }));
  });

  it("rolls back when the server cannot be reached", async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    const { store } = liveStore({ fetch });
    expect((await store.act({ kind: "container", action: "start", id: "a" })).ok).toBe(false);
    expect(store.getState().pending).toEqual({});
    expect(store.getState().notices[0]!.message).toMatch(/could not be reached/);
  });

  it("confirms when the stream showed the effect before the 202 arrived", async () => {
    const fetch = respond(202, { operation: "op", accepted_at_version: 11 });
    const { store, ws, sub } = liveStore({ fetch });
    const done = store.act({ kind: "container", action: "remove", id: "b" });
    ws.receive(changes(sub, 10, 11, [{ v: 11, kind: "container", op: "removed", id: "b" }]));
    expect(store.getState().pending["container:b"]).toBeDefined(); // not ours to judge yet
    await done;
    expect(store.getState().pending).toEqual({});
  });

  it("restart confirms on a newer running container, not on the one it started from", async () => {
    const fetch = respond(202, { operation: "op", accepted_at_version: 10 });
    const { store, ws, sub } = liveStore({ fetch });
    await store.act({ kind: "container", action: "restart", id: "a" });
    expect(store.getState().pending["container:a"]).toBeDefined();
    ws.receive(changes(sub, 10, 11, [{ v: 11, kind: "container", op: "updated", id: "a",
      patch: [{ op: "replace", path: "/state", value: "exited" }, { op: "replace", path: "/rev", value: 11 }] }]));
    expect(store.getState().pending["container:a"]).toBeDefined();
    ws.receive(changes(sub, 11, 12, [{ v: 12, kind: "container", op: "updated", id: "a",
      patch: [{ op: "replace", path: "/state", value: "running" }, { op: "replace", path: "/rev", value: 12 }] }]));
    expect(store.getState().pending["container:a"]).toBeUndefined();
  });

  it("refuses a second action on the same object while one runs", async () => {
    const fetch = respond(202, { operation: "op", accepted_at_version: 10 });
    const { store } = liveStore({ fetch });
    void store.act({ kind: "container", action: "stop", id: "a" });
    expect(await store.act({ kind: "container", action: "kill", id: "a" })).toMatchObject({ ok: false, skipped: true });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("gives up waiting for the stream after the action timeout", async () => {
    const fetch = respond(202, { operation: "op", accepted_at_version: 10 });
    const { store } = liveStore({ fetch, actionTimeoutMs: 5000 });
    await store.act({ kind: "container", action: "pause", id: "a" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(store.getState().pending).toEqual({});
    expect(store.getState().notices[0]!.title).toMatch(/no change seen yet/);
  });

  it("creates a volume with a JSON body and confirms when it appears", async () => {
    const fetch = respond(202, { operation: "op", accepted_at_version: 10, id: "data" });
    const { store, ws, sub } = liveStore({ fetch });
    await store.act({ kind: "volume", action: "create", name: "data" });
    expect(fetch).toHaveBeenCalledWith("/api/v1/volumes", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "data" }),
    });
    expect(store.getState().pending["volume:+data"]?.label).toBe("creating…");
    ws.receive(changes(sub, 10, 11, [{ v: 11, kind: "volume", op: "created", id: "data",
      object: { name: "data", driver: "local", mountpoint: "/x", created: null, labels: {}, scope: "local", used_by: [], rev: 11 } }]));
    expect(store.getState().pending).toEqual({});
  });
});
