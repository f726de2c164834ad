import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mergeNewest, parseTimeline, TimelineLoader, timelinePath } from "./history";
import { container, exactJson, fakeHistoryServer, type FakeEvent, liveFeed, FakeSocket } from "./testing";

/** 2026-11-22, in ns: far beyond 2^53, where a JSON number loses the last digits. */
const T0 = 1795319025957295378n;
const at = (i: number) => T0 + BigInt(i) * 1_000_000n;
/** ``n`` events, one a millisecond: start, then die, start, die... */
const history = (n: number): FakeEvent[] =>
  Array.from({ length: n }, (_, i) => ({ time_nano: at(i), action: i % 2 ? "die" : "start" }));

/** Let the fake server's answers (promises) arrive. */
const settle = () => vi.advanceTimersByTimeAsync(0);

function loader(server: ReturnType<typeof fakeHistoryServer>, more: Partial<ConstructorParameters<typeof TimelineLoader>[0]> = {}) {
  return new TimelineLoader({ kind: "container", id: "a", request: server.request, pageSize: 3, ...more });
}

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("reading a timeline", () => {
  it("keeps time_nano exact, where JSON.parse would round it", () => {
    const text = exactJson({ kind: "container", id: "a", more: false, events: [{ time_nano: T0, type: "container", action: "start", detail: "", actor_id: "a", attributes: { name: "web" } }] });
    expect(String((JSON.parse(text) as { events: { time_nano: number }[] }).events[0]!.time_nano)).not.toBe(String(T0));
    const page = parseTimeline(text);
    expect(page.events[0]!.time_nano).toBe(T0);
    expect(page.events[0]!.attributes).toEqual({ name: "web" });
  });

  it("leaves alone an attribute that looks like a time", () => {
    const text = exactJson({ kind: "container", id: "a", more: false, events: [{ time_nano: T0, type: "container", action: "x", detail: "", actor_id: "a", attributes: { time_nano: "12", note: '"time_nano":34' } }] });
    expect(parseTimeline(text).events[0]!.attributes).toEqual({ time_nano: "12", note: '"time_nano":34' });
  });

  it("asks the path of the kind and id, before = an exact time", () => {
    expect(timelinePath("container", "abc")).toBe("/api/v1/events/container/abc?limit=100");
    expect(timelinePath("image", "sha256:ff", { limit: 3, before: T0 })).toBe(
      `/api/v1/events/image/sha256%3Aff?limit=3&before=${T0}`,
    );
  });
});

describe("paging", () => {
  it("shows the newest page, then asks for older ones with before = the last time_nano until more is false", async () => {
    const server = fakeHistoryServer(history(7));
    const t = loader(server);
    t.start();
    expect(t.getState()).toMatchObject({ loading: true, loaded: false });
    await settle();
    expect(t.getState()).toMatchObject({ loading: false, loaded: true, more: true, error: null });
    expect(t.getState().events.map((e) => e.time_nano)).toEqual([at(6), at(5), at(4)]);
    expect(server.calls).toEqual(["/api/v1/events/container/a?limit=3"]);

    await t.loadOlder();
    expect(server.calls[1]).toBe(`/api/v1/events/container/a?limit=3&before=${at(4)}`);
    expect(t.getState().events.map((e) => e.time_nano)).toEqual([at(6), at(5), at(4), at(3), at(2), at(1)]);
    expect(t.getState().more).toBe(true);

    await t.loadOlder();
    expect(server.calls[2]).toBe(`/api/v1/events/container/a?limit=3&before=${at(1)}`);
    expect(t.getState().events.map((e) => e.time_nano)).toEqual([6, 5, 4, 3, 2, 1, 0].map(at));
    expect(t.getState().more).toBe(false);

    await t.loadOlder(); // nothing older: no request
    expect(server.calls).toHaveLength(3);
    t.stop();
  });

  it("a refresh puts the newest page over the older pages loaded, which stay", async () => {
    const server = fakeHistoryServer(history(7));
    const t = loader(server);
    t.start();
    await settle();
    await t.loadOlder();
    server.events.push({ time_nano: at(7), action: "destroy" });
    await t.refresh();
    expect(t.getState().events.map((e) => e.action)).toEqual(["destroy", "start", "die", "start", "die", "start", "die"]);
    expect(t.getState().more).toBe(true); // at(0) is still to load
    t.stop();
  });

  it("merges: a whole timeline replaces; a partial one keeps what is older than its end", () => {
    const e = (i: number) => ({ time_nano: at(i), type: "container", action: "a", detail: "", actor_id: "a", attributes: {} });
    const shown = { events: [e(4), e(3), e(2), e(1)], more: true };
    expect(mergeNewest(shown, { events: [e(5), e(4)], more: false })).toEqual({ events: [e(5), e(4)], more: false });
    expect(mergeNewest(shown, { events: [e(5), e(4), e(3)], more: true })).toEqual({
      events: [e(5), e(4), e(3), e(2), e(1)],
      more: true,
    });
    // No overlap: e(5)..e(4) may hold events never seen, so what was shown goes.
    expect(mergeNewest({ events: [e(3), e(2)], more: true }, { events: [e(6), e(5)], more: true })).toEqual({
      events: [e(6), e(5)],
      more: true,
    });
  });
});

describe("following the live store", () => {
  function followed(events = history(2)) {
    const feed = liveFeed([container("a", { rev: 1 }), container("b", { rev: 1 })]);
    const server = fakeHistoryServer(events);
    const t = new TimelineLoader({ kind: "container", id: "a", request: server.request, live: feed.store });
    t.start();
    return { feed, server, t };
  }

  it("asks again 150 ms after the object's rev changes, and for nothing else", async () => {
    const { feed, server, t } = followed();
    await settle();
    expect(server.calls).toHaveLength(1);

    feed.update("b", [{ op: "replace", path: "/state", value: "exited" }]); // another container
    feed.bookmark();
    feed.store.notify("info", "x", "y"); // the store changes, the container does not
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.calls).toHaveLength(1);

    server.events.push({ time_nano: at(2), action: "die", attributes: { exitCode: "137" } });
    feed.update("a", [{ op: "replace", path: "/state", value: "exited" }]);
    await vi.advanceTimersByTimeAsync(149);
    expect(server.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.calls).toHaveLength(2);
    expect(t.getState().events[0]).toMatchObject({ action: "die", attributes: { exitCode: "137" } });
    t.stop();
  });

  it("asks once for a burst of changes, and at most about once a second for a long one", async () => {
    const { feed, server, t } = followed();
    await settle();
    for (let i = 0; i < 3; i++) {
      feed.update("a");
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.calls).toHaveLength(2);

    // A change every 100 ms for 3 s: never 150 ms of quiet, still current within a second.
    for (let i = 0; i < 30; i++) {
      feed.update("a");
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.calls.length - 2).toBeGreaterThanOrEqual(3);
    expect(server.calls.length - 2).toBeLessThanOrEqual(4);
    t.stop();
  });

  it("asks again when the object is removed, and keeps what it had", async () => {
    const { feed, server, t } = followed();
    await settle();
    server.events.push({ time_nano: at(2), action: "destroy" });
    feed.remove("a");
    await vi.advanceTimersByTimeAsync(150);
    expect(server.calls).toHaveLength(2);
    expect(t.getState().events.map((e) => e.action)).toEqual(["destroy", "die", "start"]);
    t.stop();
  });

  it("stops following when stopped, and drops an answer that comes after", async () => {
    const { feed, server, t } = followed();
    t.stop(); // the first request is on its way
    await settle();
    expect(t.getState().loaded).toBe(false);
    feed.update("a");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.calls).toHaveLength(1);
    t.start(); // again (React's StrictMode mounts twice)
    await settle();
    expect(t.getState().loaded).toBe(true);
    t.stop();
  });
});

describe("errors", () => {
  it("503 (no database) and 401 are messages, not crashes", async () => {
    const server = fakeHistoryServer(history(2));
    server.fail = 503;
    const t = loader(server);
    t.start();
    await settle();
    expect(t.getState()).toMatchObject({
      loaded: false,
      loading: false,
      error: "this server keeps no history (it was started with --no-db)",
    });
    server.fail = 401;
    await t.refresh();
    expect(t.getState().error).toBe("Not authenticated");
    t.stop();
  });

  it("a network error keeps the events shown; the next success clears it", async () => {
    const server = fakeHistoryServer(history(5));
    const t = loader(server);
    t.start();
    await settle();
    server.fail = "network";
    await t.loadOlder();
    expect(t.getState().error).toMatch(/could not be reached .*Failed to fetch/);
    expect(t.getState().events).toHaveLength(3);
    expect(t.getState().loadingOlder).toBe(false);
    server.fail = null;
    await t.loadOlder();
    expect(t.getState()).toMatchObject({ error: null, more: false });
    expect(t.getState().events).toHaveLength(5);
    t.stop();
  });

  it("an answer that is not a timeline is an error", async () => {
    const t = new TimelineLoader({
      kind: "volume",
      id: "v",
      request: async () => new Response("<html>proxy error</html>", { status: 200 }),
    });
    t.start();
    await settle();
    expect(t.getState().error).toBe("the server's answer is not a timeline");
    t.stop();
  });
});
