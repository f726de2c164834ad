import { beforeEach, describe, expect, it } from "vitest";
import { LiveStore } from "./live";
import { type LineEntry, type LogEntry, LogsStore, type LogTarget, MAX_LINES, nanos, rfc3339, TAIL, timeKey } from "./logs";
import { container, engineState, FakeSocket, FakeVisibility } from "./testing";

const A = "a".repeat(64);
const B = "b".repeat(64);
const T0 = Date.parse("2026-01-01T00:00:00Z");
/** Second `s` (and `ns` nanoseconds) after T0, as Docker writes it (trailing zeros cut). */
const at = (s: number, ns = 0) => {
  const text = rfc3339(BigInt(T0 + Math.floor(s * 1000)) * 1_000_000n + BigInt(ns));
  return text.replace(/\.?0+Z$/, "Z");
};

/** Animation frames run when the test says. */
class Frames {
  queue: (() => void)[] = [];
  schedule = (run: () => void) => {
    this.queue.push(run);
    return () => {
      this.queue = this.queue.filter((r) => r !== run);
    };
  };
  run() {
    const q = this.queue;
    this.queue = [];
    for (const r of q) r();
  }
}

function setup(options: { maxLines?: number; maxChars?: number; page?: number } = {}) {
  const live = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, random: () => 0.5 });
  live.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  ws.receive({ type: "snapshot", sub: sub.id, epoch: "E1", version: 10, state: engineState(10, [container(A)]) });
  const visibility = new FakeVisibility();
  const frames = new Frames();
  const logs = new LogsStore({ live, visibility, schedule: frames.schedule, ...options });
  return { live, ws, logs, visibility, frames };
}

type Line = [container: string, time: string, text: string, stream?: "stdout" | "stderr"];
const lines = (sub: string, ...ls: Line[]) => ({
  type: "logs",
  sub,
  engine: "local",
  lines: ls.map(([c, time, text, stream = "stdout"]) => ({ container: c, stream, time, text })),
});
const texts = (entries: readonly LogEntry[]) =>
  entries.map((e) => (e.kind === "line" ? e.text : e.kind === "skipped" ? `[${e.count} skipped]` : "[end]"));
const lastSubscribe = (ws: FakeSocket) => ws.sentOf("subscribe_logs").at(-1)!;

function open(ws: FakeSocket, logs: LogsStore, target: LogTarget = { container: A }, origin?: number) {
  const view = logs.open(target, { origin: () => origin ?? null });
  const sub = String(lastSubscribe(ws).id);
  return { view, sub };
}

beforeEach(() => FakeSocket.reset());

describe("times", () => {
  it("compares Docker's times as times, not as text (its trailing zeros are cut)", () => {
    const early = "2026-01-01T00:00:17.27204336Z"; // .272043360
    const late = "2026-01-01T00:00:17.272043361Z";
    expect(early > late).toBe(true); // as text: wrong
    expect(timeKey(early) < timeKey(late)).toBe(true);
    expect(timeKey("2026-01-01T00:00:17Z")).toBe("2026-01-01T00:00:17.000000000Z");
    expect(nanos("2026-01-01T01:00:00.5+01:00")).toBe(BigInt(T0) * 1_000_000n + 500_000_000n);
    expect(nanos("yesterday")).toBeNull();
    expect(rfc3339(nanos(late)! - 1n)).toBe("2026-01-01T00:00:17.272043360Z");
  });
});

describe("a view's subscription", () => {
  it("asks for the last 200 lines and then the live ones, and unsubscribes when closed", () => {
    const { ws, logs } = setup();
    const { view, sub } = open(ws, logs);
    expect(lastSubscribe(ws)).toEqual({ type: "subscribe_logs", id: sub, container: A, follow: true, tail: TAIL });
    expect(view.getState().status).toBe("live");
    view.close();
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: sub }]);
    expect(logs.size).toBe(0);
    // A project's view: one subscription for the whole project.
    open(ws, logs, { project: "shop" });
    expect(lastSubscribe(ws)).toMatchObject({ project: "shop", follow: true, tail: TAIL });
    expect(lastSubscribe(ws).container).toBeUndefined();
  });

  it("hands the lines over once a frame, however many messages came", () => {
    const { ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    let renders = 0;
    view.subscribe(() => renders++);
    for (let i = 0; i < 50; i++) ws.receive(lines(sub, [A, at(i), `line ${i}`]));
    expect(view.getState().entries).toEqual([]);
    expect(renders).toBe(0);
    expect(frames.queue.length).toBe(1);
    frames.run();
    expect(renders).toBe(1);
    expect(texts(view.getState().entries)).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
    expect(view.getState().received).toBe(50);
  });

  it("tells stdout from stderr, and keeps one string for a container's id", () => {
    const { ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "out"], [A, at(2), "err", "stderr"]));
    frames.run();
    const [out, err] = view.getState().entries as LineEntry[];
    expect([out!.stream, err!.stream]).toEqual(["stdout", "stderr"]);
    expect(out!.time).toBe(at(1));
  });

  it("shows logs_skipped in place, and the end of a followed container", () => {
    const { live, ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "before"]));
    ws.receive({ type: "logs_skipped", sub, engine: "local", container: A, count: 1234 });
    ws.receive(lines(sub, [A, at(3), "after"]));
    ws.receive({ type: "logs_end", sub, engine: "local", container: A });
    ws.receive({ type: "logs_end", sub, engine: "local", container: null, final: true });
    frames.run();
    const s = view.getState();
    expect(texts(s.entries)).toEqual(["before", "[1234 skipped]", "after", "[end]"]);
    expect(s.skipped).toBe(1234);
    expect(s.status).toBe("ended");
    // Ended: a new connection does not subscribe again.
    const before = ws.sentOf("subscribe_logs").length;
    ws.drop();
    live.wakeUp();
    FakeSocket.last.handshake();
    expect(FakeSocket.last).not.toBe(ws);
    expect(FakeSocket.last.sentOf("subscribe_logs").length + ws.sentOf("subscribe_logs").length).toBe(before);
  });

  it("shows the server's refusal and does not ask again on this connection", () => {
    const { ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs, { container: "nope" });
    ws.receive({ type: "error", id: sub, code: "UNKNOWN_CONTAINER", message: "no such container: nope" });
    frames.run();
    expect(view.getState()).toMatchObject({ status: "error", error: "UNKNOWN_CONTAINER: no such container: nope" });
    expect(view.subscription).toBeNull();
    expect(ws.sentOf("subscribe_logs").length).toBe(1);
  });

  it("drops the messages of a subscription it let go (the latest subscription wins)", () => {
    const { ws, logs, frames, visibility } = setup();
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "one"]));
    frames.run();
    visibility.set(false); // unsubscribed...
    ws.receive(lines(sub, [A, at(2), "in flight"])); // ...but this was on its way
    visibility.set(true);
    frames.run();
    expect(texts(view.getState().entries)).toEqual(["one"]);
    expect(view.subscription).not.toBe(sub);
  });

  it("never mixes containers in a container's view", () => {
    const { ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "mine"], [B, at(2), "another's"]));
    frames.run();
    expect(texts(view.getState().entries)).toEqual(["mine"]);
  });
});

describe("the bound", () => {
  it(`keeps ${MAX_LINES} lines by default, the newest, when following`, () => {
    const { ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    // A flood between two frames: 60 000 lines in 120 messages.
    const time = (n: number) => `2026-01-01T00:00:00.${String(n).padStart(9, "0")}Z`;
    for (let m = 0; m < 120; m++) {
      ws.receive(lines(sub, ...Array.from({ length: 500 }, (_, i): Line => [A, time(m * 500 + i), `${m * 500 + i}`])));
    }
    frames.run();
    const s = view.getState();
    expect(s.entries.length).toBe(MAX_LINES);
    expect(texts(s.entries).at(0)).toBe("50000");
    expect(texts(s.entries).at(-1)).toBe("59999");
    expect(s.trimmed).toBe(50_000);
    expect(s.received).toBe(60_000);
    // Frame after frame it stays there.
    ws.receive(lines(sub, [A, at(200), "newest"]));
    frames.run();
    expect(view.getState().entries.length).toBe(MAX_LINES);
    expect(texts(view.getState().entries).at(-1)).toBe("newest");
  });

  it("keeps to a budget of characters as well (a line may be 64 KiB)", () => {
    const { ws, logs, frames } = setup({ maxChars: 10_000 });
    const { view, sub } = open(ws, logs);
    for (let i = 0; i < 10; i++) ws.receive(lines(sub, [A, at(i), String(i).repeat(3000)]));
    frames.run();
    const held = view.getState().entries as LineEntry[];
    expect(held.map((e) => e.text[0])).toEqual(["7", "8", "9"]);
    expect(held.reduce((n, e) => n + e.text.length, 0)).toBeLessThanOrEqual(10_000);
  });

  it("paused, keeps what the user reads: once full, newer lines are only counted; following again starts afresh", () => {
    const { ws, logs, frames } = setup({ maxLines: 5 });
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "1"], [A, at(2), "2"], [A, at(3), "3"]));
    frames.run();
    view.setFollowing(false);
    ws.receive(lines(sub, [A, at(4), "4"], [A, at(5), "5"], [A, at(6), "6"], [A, at(7), "7"]));
    ws.receive({ type: "logs_skipped", sub, engine: "local", container: A, count: 10 });
    frames.run();
    expect(texts(view.getState().entries)).toEqual(["1", "2", "3", "4", "5"]);
    expect(view.getState().behind).toBe(12);
    view.setFollowing(true);
    expect(ws.sentOf("unsubscribe").map((m) => m.id)).toEqual([sub]);
    expect(lastSubscribe(ws)).toMatchObject({ tail: TAIL, follow: true });
    expect(lastSubscribe(ws).since).toBeUndefined();
    expect(view.getState()).toMatchObject({ entries: [], behind: 0, following: true });
  });

  it("paused with room left, goes on appending (nothing scrolls away)", () => {
    const { ws, logs, frames } = setup({ maxLines: 5 });
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(1), "1"]));
    frames.run();
    view.setFollowing(false);
    ws.receive(lines(sub, [A, at(2), "2"]));
    frames.run();
    expect(texts(view.getState().entries)).toEqual(["1", "2"]);
    view.setFollowing(true); // not behind: the same subscription goes on
    expect(ws.sentOf("unsubscribe")).toEqual([]);
  });
});

describe("resuming", () => {
  it("after a reconnection, from the newest line's time, without a line twice", () => {
    const { live, ws, logs, frames } = setup();
    const { view, sub } = open(ws, logs);
    // Two lines share the newest instant (.5 s, written "…00.5Z").
    ws.receive(lines(sub, [A, at(1), "one"], [A, at(2.5), "two a"], [A, at(2.5), "two b", "stderr"]));
    frames.run();
    ws.drop();
    expect(view.getState().status).toBe("waiting");
    live.wakeUp(); // the next attempt, without its backoff
    const next = FakeSocket.last;
    expect(next).not.toBe(ws);
    next.handshake();
    const again = lastSubscribe(next);
    expect(again).toMatchObject({ container: A, follow: true, tail: null, since: at(2.5) });
    expect(again.id).not.toBe(sub);
    // The engine's since includes its instant: the two lines of 2.5 come again, then new ones.
    next.receive(lines(String(again.id), [A, at(2.5), "two a"], [A, at(2.5), "two b", "stderr"], [A, at(3), "three"]));
    frames.run();
    expect(texts(view.getState().entries)).toEqual(["one", "two a", "two b", "three"]);
    expect(view.getState().status).toBe("live");
  });

  it("keeps a new line of the same instant that it did not hold", () => {
    const { ws, logs, frames, visibility } = setup();
    const { view, sub } = open(ws, logs);
    ws.receive(lines(sub, [A, at(2), "x"]));
    frames.run();
    visibility.set(false);
    expect(ws.sentOf("unsubscribe").map((m) => m.id)).toEqual([sub]);
    expect(view.getState().status).toBe("hidden");
    visibility.set(true);
    const again = lastSubscribe(ws);
    expect(again).toMatchObject({ since: at(2), tail: null });
    ws.receive(lines(String(again.id), [A, at(2), "x"], [A, at(2), "x"], [A, at(2), "y"]));
    frames.run();
    // One "x" was held: the second is a new line written at the same instant.
    expect(texts(view.getState().entries)).toEqual(["x", "x", "y"]);
  });
});

describe("older lines, by time window", () => {
  function withLines(n: number, origin?: number) {
    const env = setup({ page: 10 });
    const { view, sub } = open(env.ws, env.logs, { container: A }, origin);
    // n lines a second apart, from second 1000 on.
    env.ws.receive(lines(sub, ...Array.from({ length: n }, (_, i): Line => [A, at(1000 + i), `L${1000 + i}`])));
    env.frames.run();
    return { ...env, view, sub };
  }

  it("reads the window just before the oldest line, of the same container, and puts it before", () => {
    const { ws, view, frames, sub } = withLines(20);
    expect(view.loadOlder()).toBe(true);
    expect(view.loadOlder()).toBe(false); // one at a time
    const read = lastSubscribe(ws);
    // 20 lines over 19 s: 10 lines (the page) take 10 s.
    expect(read).toMatchObject({ container: A, follow: false, tail: null, until: at(1000) });
    expect(timeKey(String(read.since))).toBe(timeKey(at(990)));
    expect(view.getState()).toMatchObject({ loadingOlder: true, following: false });
    // Live lines keep coming meanwhile: they go after.
    ws.receive(lines(sub, [A, at(2000), "live"]));
    const id = String(read.id);
    ws.receive(lines(id, ...Array.from({ length: 11 }, (_, i): Line => [A, at(990 + i), `L${990 + i}`]), [B, at(995), "another's"]));
    ws.receive({ type: "logs_end", sub: id, engine: "local", container: A });
    ws.receive({ type: "logs_end", sub: id, engine: "local", container: null, final: true });
    frames.run();
    const s = view.getState();
    // L1000 (the anchor, at `until`) was held already: once.
    expect(texts(s.entries).slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => `L${990 + i}`));
    expect(texts(s.entries).at(-1)).toBe("live");
    expect(s.entries.every((e) => e.kind !== "line" || e.container === A)).toBe(true);
    expect(s.loadingOlder).toBe(false);
    // Keys keep the order (the list's keys): older ones are smaller.
    const keys = s.entries.map((e) => e.key);
    expect([...keys].sort((a, b) => a - b)).toEqual(keys);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("widens an empty window until it reaches the container's creation", () => {
    const origin = T0 + 900_000; // created 100 s before the first line
    const { ws, view } = withLines(20, origin);
    view.loadOlder();
    const windows: string[] = [];
    for (;;) {
      const read = lastSubscribe(ws);
      windows.push(String(read.since));
      ws.receive({ type: "logs_end", sub: read.id, engine: "local", container: null, final: true });
      if (!view.getState().loadingOlder) break;
    }
    // 10 s, then 80 s, then 640 s: past the creation, so that was the beginning.
    expect(windows.map((t) => (Number(nanos(at(1000))! - nanos(t)!) / 1e9))).toEqual([10, 80, 640]);
    expect(view.getState().atStart).toBe(true);
    expect(view.loadOlder()).toBe(false);
  });

  it("paused with a full view, older lines push the newest out: the view is then behind", () => {
    const env = setup({ maxLines: 15, page: 10 });
    const { view, sub } = open(env.ws, env.logs);
    env.ws.receive(lines(sub, ...Array.from({ length: 15 }, (_, i): Line => [A, at(100 + i), `N${i}`])));
    env.frames.run();
    view.loadOlder();
    const read = lastSubscribe(env.ws);
    env.ws.receive(lines(String(read.id), ...Array.from({ length: 5 }, (_, i): Line => [A, at(90 + i), `O${i}`])));
    env.ws.receive({ type: "logs_end", sub: read.id, engine: "local", container: null, final: true });
    const s = view.getState();
    expect(texts(s.entries)).toEqual([...["O0", "O1", "O2", "O3", "O4"], ...Array.from({ length: 10 }, (_, i) => `N${i}`)]);
    expect(s.behind).toBe(5);
    // New live lines are only counted now, until the user follows again (afresh).
    env.ws.receive(lines(sub, [A, at(300), "live"]));
    env.frames.run();
    expect(view.getState().behind).toBe(6);
  });

  it("an older read in flight is dropped when the user follows again", () => {
    const { ws, view, frames } = withLines(20);
    view.loadOlder();
    const read = lastSubscribe(ws);
    view.setFollowing(true);
    expect(ws.sentOf("unsubscribe").map((m) => m.id)).toEqual([read.id]);
    ws.receive(lines(String(read.id), [A, at(995), "late"]));
    ws.receive({ type: "logs_end", sub: read.id, engine: "local", container: null, final: true });
    frames.run();
    expect(texts(view.getState().entries)).not.toContain("late");
    expect(view.getState().loadingOlder).toBe(false);
  });
});
