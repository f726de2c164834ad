import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveStore } from "./live";
import { BYTES_PER_POINT, HISTORY_POINTS, Series, StatsStore, totals } from "./stats";
import { container, engineState, FakeSocket, FakeVisibility } from "./testing";
import type { ContainerStats } from "./types";

function sample(over: Partial<ContainerStats> = {}): ContainerStats {
  return {
    cpu_percent: 1,
    memory_bytes: 1000,
    memory_limit_bytes: 8000,
    net_rx_bytes: 0,
    net_tx_bytes: 0,
    block_read_bytes: 0,
    block_write_bytes: 0,
    pids: 1,
    ...over,
  };
}

const T0 = Date.parse("2026-01-01T00:00:00Z");
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

function setup(fetch?: typeof globalThis.fetch) {
  const live = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, random: () => 0.5, fetch });
  live.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  ws.receive({ type: "snapshot", sub: sub.id, epoch: "E1", version: 10, state: engineState(10, [container("a")]) });
  const visibility = new FakeVisibility();
  const stats = new StatsStore({ live, visibility });
  return { live, ws, stats, visibility };
}

function statsMessage(sub: string, s: number, containers: Record<string, ContainerStats>) {
  return { type: "stats", sub, engine: "local", time: iso(s), containers };
}

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(new Date(T0));
});
afterEach(() => vi.useRealTimers());

describe("Series (the ring buffer)", () => {
  it("keeps the last `capacity` points, oldest first, in 32 bytes a point", () => {
    const series = new Series();
    expect(series.capacity).toBe(HISTORY_POINTS);
    expect(series.bytes).toBe(600 * BYTES_PER_POINT);
    expect(series.bytes).toBe(19_200);
    for (let i = 0; i < 1000; i++) series.push(T0 + i * 1000, sample({ cpu_percent: i }));
    expect(series.length).toBe(600);
    expect(series.at("cpu", 0)).toBe(400);
    expect(series.at("cpu", 599)).toBe(999);
    expect(series.timeAt(0)).toBe(T0 + 400_000);
    expect(Array.from(series.tail("cpu", 3))).toEqual([997, 998, 999]);
    expect(series.seconds().length).toBe(600);
    expect(series.seconds()[599]).toBe((T0 + 999_000) / 1000);
  });

  it("turns byte counters into rates per second (0 for the first point and after a reset)", () => {
    const series = new Series(4);
    series.push(T0, sample({ net_rx_bytes: 1000, block_write_bytes: 50 }));
    series.push(T0 + 2000, sample({ net_rx_bytes: 5000, block_write_bytes: 50 }));
    series.push(T0 + 3000, sample({ net_rx_bytes: 10 }));
    expect(Array.from(series.tail("netRx"))).toEqual([0, 2000, 0]);
    expect(Array.from(series.tail("blockWrite"))).toEqual([0, 0, 0]);
  });

  it("takes only samples newer than its last", () => {
    const series = new Series(4);
    expect(series.push(T0 + 1000, sample())).toBe(true);
    expect(series.push(T0 + 1000, sample())).toBe(false);
    expect(series.push(T0, sample())).toBe(false);
    expect(series.length).toBe(1);
  });
});

describe("the stats store", () => {
  it("subscribes on the live store's connection while something demands it, and unsubscribes after", () => {
    const { ws, stats } = setup();
    expect(ws.sentOf("subscribe_stats")).toEqual([]);
    const release = stats.demand();
    expect(ws.sentOf("subscribe_stats")).toEqual([{ type: "subscribe_stats", id: "t1", interval_ms: 1000 }]);
    expect(stats.getState().subscribed).toBe(true);
    // A second demand shares the subscription.
    const release2 = stats.demand();
    expect(ws.sentOf("subscribe_stats")).toHaveLength(1);
    release();
    release(); // idempotent
    expect(ws.sentOf("unsubscribe")).toEqual([]);
    release2();
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: "t1" }]);
    expect(stats.getState().subscribed).toBe(false);
  });

  it("is unsubscribed while the tab is hidden, and subscribes again when it is visible", () => {
    const { ws, stats, visibility } = setup();
    stats.demand();
    visibility.set(false);
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: "t1" }]);
    expect(stats.getState().subscribed).toBe(false);
    visibility.set(false);
    expect(ws.sentOf("unsubscribe")).toHaveLength(1);
    visibility.set(true);
    expect(ws.sentOf("subscribe_stats").map((m) => m.id)).toEqual(["t1", "t2"]);
  });

  it("subscribes only once the tab is visible when demanded while hidden", () => {
    const { ws, stats, visibility } = setup();
    visibility.set(false);
    stats.demand();
    expect(ws.sentOf("subscribe_stats")).toEqual([]);
    visibility.set(true);
    expect(ws.sentOf("subscribe_stats")).toHaveLength(1);
  });

  it("subscribes again after a reconnection, on the new connection", () => {
    const { ws, stats } = setup();
    stats.demand();
    ws.drop(1006);
    expect(stats.getState().subscribed).toBe(false);
    vi.advanceTimersByTime(60_000);
    const ws2 = FakeSocket.last;
    expect(ws2).not.toBe(ws);
    ws2.handshake({ version: 10 });
    expect(ws2.sentOf("subscribe_stats")).toEqual([{ type: "subscribe_stats", id: "t2", interval_ms: 1000 }]);
    expect(ws2.sentOf("unsubscribe")).toEqual([]);
    expect(stats.getState().subscribed).toBe(true);
  });

  it("waits for the connection when demanded before the welcome", () => {
    const live = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null });
    live.start();
    const stats = new StatsStore({ live, visibility: null });
    stats.demand();
    const ws = FakeSocket.last;
    expect(stats.getState().subscribed).toBe(false);
    ws.handshake();
    expect(ws.sentOf("subscribe_stats")).toHaveLength(1);
    // After the state's own subscribe.
    expect(ws.sent.map((m) => m.type)).toEqual(["hello", "subscribe", "subscribe_stats"]);
  });

  it("keeps the latest sample (latest wins) and each container's history", () => {
    const { ws, stats, live } = setup();
    stats.demand();
    const before = live.getState();
    ws.receive(statsMessage("t1", 1, { a: sample({ cpu_percent: 10 }), b: sample({ cpu_percent: 20 }) }));
    ws.receive(statsMessage("t1", 2, { a: sample({ cpu_percent: 30 }) }));
    const s = stats.getState();
    expect(Object.keys(s.latest)).toEqual(["a"]); // b stopped: it has no latest sample
    expect(s.latest.a!.cpu_percent).toBe(30);
    expect(s.time).toBe(T0 + 2000);
    expect(stats.series("a")!.length).toBe(2);
    expect(stats.series("b")!.length).toBe(1);
    // An older sample never replaces a newer one (e.g. a late message after a re-subscription).
    ws.receive(statsMessage("t1", 1, { a: sample({ cpu_percent: 99 }) }));
    expect(stats.getState().latest.a!.cpu_percent).toBe(30);
    // A message of a subscription that is over is dropped; none reaches the state's follower.
    ws.receive(statsMessage("t0", 5, { a: sample({ cpu_percent: 99 }) }));
    expect(stats.getState().latest.a!.cpu_percent).toBe(30);
    expect(live.getState().data).toBe(before.data);
    expect(live.getState().connection.resyncs).toBe(0);
  });

  it("notifies once per message, and forgets a container not sampled for 10 minutes", () => {
    const { ws, stats } = setup();
    stats.demand();
    const listener = vi.fn();
    stats.subscribe(listener);
    ws.receive(statsMessage("t1", 0, { a: sample(), b: sample() }));
    expect(listener).toHaveBeenCalledTimes(1);
    for (let s = 1; s <= 601; s++) ws.receive(statsMessage("t1", s, { a: sample() }));
    expect(stats.series("b")).toBeUndefined();
    expect(stats.series("a")!.length).toBe(600);
    expect(stats.size).toBe(1);
  });

  it("loads a container's last 10 minutes from REST, under the live samples that came since", async () => {
    const fetch = vi.fn(async (url: string | URL | Request) => {
      expect(String(url)).toBe("/api/v1/containers/a/stats");
      return new Response(
        JSON.stringify({
          samples: [1, 2, 3].map((s) => ({ time: iso(s), ...sample({ cpu_percent: s, net_rx_bytes: s * 100 }) })),
        }),
        { status: 200 },
      );
    });
    const { ws, stats } = setup(fetch as unknown as typeof globalThis.fetch);
    stats.demand();
    ws.receive(statsMessage("t1", 3, { a: sample({ cpu_percent: 3, net_rx_bytes: 300 }) }));
    ws.receive(statsMessage("t1", 4, { a: sample({ cpu_percent: 40, net_rx_bytes: 700 }) }));
    const seq = stats.getState().seq;
    await expect(stats.loadHistory("a")).resolves.toBe(3);
    const series = stats.series("a")!;
    expect(Array.from(series.tail("cpu"))).toEqual([1, 2, 3, 40]);
    expect(Array.from(series.tail("netRx"))).toEqual([0, 100, 100, 400]);
    expect(stats.getState().seq).toBe(seq + 1);
    ws.receive(statsMessage("t1", 5, { a: sample({ cpu_percent: 50, net_rx_bytes: 800 }) }));
    expect(stats.series("a")).toBe(series);
    expect(Array.from(series.tail("cpu"))).toEqual([1, 2, 3, 40, 50]);
    expect(Array.from(series.tail("netRx"))).toEqual([0, 100, 100, 400, 100]);
  });

  it("sums the latest samples for the Engine page", () => {
    expect(totals({ a: sample({ cpu_percent: 50, memory_bytes: 10 }), b: sample({ cpu_percent: 25.5, memory_bytes: 5 }) })).toEqual({
      cpu: 75.5,
      memory: 15,
      count: 2,
    });
  });

  it("stops: unsubscribes and leaves the connection", () => {
    const { ws, stats } = setup();
    stats.demand();
    stats.stop();
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: "t1" }]);
    ws.receive(statsMessage("t1", 1, { a: sample() }));
    expect(stats.getState().time).toBeNull();
  });
});
