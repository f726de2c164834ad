// @vitest-environment jsdom
// The Containers table's stats columns: CPU and memory from the stats store, the "top" view
// (sorted by CPU or memory, re-sorted on every sample), and the demand-driven subscription.
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfirmProvider } from "../components/Confirm";
import { HistoryProvider } from "../components/History";
import { StoreContext } from "../react/hooks";
import { StatsContext } from "../react/stats";
import { LiveStore } from "../store/live";
import { StatsStore } from "../store/stats";
import { container, engineState, FakeSocket } from "../store/testing";
import type { ContainerStats } from "../store/types";
import { ContainersPage, statsSortValue } from "./Containers";

const sizes = { clientHeight: 700, clientWidth: 1200, offsetHeight: 700, offsetWidth: 1200 };
const saved: PropertyDescriptor[] = [];
let savedGetContext: PropertyDescriptor | undefined;
beforeAll(() => {
  for (const [prop, value] of Object.entries(sizes)) {
    saved.push(Object.getOwnPropertyDescriptor(HTMLElement.prototype, prop) ?? Object.getOwnPropertyDescriptor(Element.prototype, prop)!);
    Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => value });
  }
  // jsdom draws nothing (and says so on the console): the sparklines get no context.
  savedGetContext = Object.getOwnPropertyDescriptor(HTMLCanvasElement.prototype, "getContext");
  Object.defineProperty(HTMLCanvasElement.prototype, "getContext", { configurable: true, value: () => null });
});
afterAll(() => {
  Object.keys(sizes).forEach((prop, i) => Object.defineProperty(HTMLElement.prototype, prop, saved[i]!));
  if (savedGetContext) Object.defineProperty(HTMLCanvasElement.prototype, "getContext", savedGetContext);
});
beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

function sample(cpu: number, memory: number): ContainerStats {
  return {
    cpu_percent: cpu,
    memory_bytes: memory,
    memory_limit_bytes: 0,
    net_rx_bytes: 0,
    net_tx_bytes: 0,
    block_read_bytes: 0,
    block_write_bytes: 0,
    pids: 1,
  };
}

function setup(n = 1000) {
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  const many = Array.from({ length: n }, (_, i) =>
    container(`id${String(i).padStart(4, "0")}`, {
      name: `svc-${String(i).padStart(4, "0")}`,
      state: i % 10 === 9 ? "exited" : "running",
    }),
  );
  ws.receive({ type: "snapshot", sub: sub.id, epoch: "E", version: 5, state: engineState(5, many) });
  const stats = new StatsStore({ live: store, visibility: null });
  const view = render(
    <StoreContext.Provider value={store}>
      <StatsContext.Provider value={stats}>
        <ConfirmProvider>
          <HistoryProvider>
            <ContainersPage />
          </HistoryProvider>
        </ConfirmProvider>
      </StatsContext.Provider>
    </StoreContext.Provider>,
  );
  let second = 0;
  /** One stats message: every running container, `cpu(i)` and `mem(i)` for container i. */
  const tick = (cpu: (i: number) => number, mem: (i: number) => number = () => 1000) => {
    second += 1;
    const containers: Record<string, ContainerStats> = {};
    many.forEach((c, i) => {
      if (c.state === "running") containers[c.id] = sample(cpu(i), mem(i));
    });
    act(() =>
      ws.receive({
        type: "stats",
        sub: stats.subscription,
        engine: "local",
        time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
        containers,
      }),
    );
  };
  return { ws, stats, tick, view };
}

const names = () => screen.queryAllByTestId("container-row").map((r) => r.dataset.name);
const header = (name: string) => screen.getByRole("columnheader", { name: new RegExp(`^${name}`) });

describe("the Containers table's stats", () => {
  it("subscribes while the page is shown, and unsubscribes when it goes", () => {
    const { ws, view } = setup(10);
    expect(ws.sentOf("subscribe_stats")).toEqual([{ type: "subscribe_stats", id: "t1", interval_ms: 1000 }]);
    view.unmount();
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: "t1" }]);
  });

  it("shows each row's CPU and memory, blank for a stopped container", () => {
    const { tick } = setup(20);
    tick((i) => i * 1.5, (i) => (i + 1) * 1_000_000);
    const row = (name: string) => screen.getAllByTestId("container-row").find((r) => r.dataset.name === name)!;
    expect(within(row("svc-0002")).getByTestId("cpu").textContent).toBe("3.0%");
    expect(within(row("svc-0002")).getByTestId("memory").textContent).toBe("3.0 MB");
    expect(within(row("svc-0009")).getByTestId("cpu").textContent).toBe("");
    expect(within(row("svc-0002")).getAllByRole("img")).toHaveLength(2); // the sparklines
  });

  it("sorts by CPU, highest first, and re-sorts on every sample (1000 rows)", () => {
    const { tick } = setup(1000);
    tick((i) => i % 7);
    fireEvent.click(header("CPU"));
    expect(header("CPU").getAttribute("aria-sort")).toBe("descending");
    const first = names().slice(0, 3);
    // The busiest are those with i % 7 == 6.
    expect(first.every((n) => Number(n!.slice(4)) % 7 === 6)).toBe(true);
    // A new sample: container 500 burns a core; it comes to the top without a click.
    tick((i) => (i === 500 ? 100 : i % 7));
    expect(names()[0]).toBe("svc-0500");
    tick((i) => (i === 501 ? 200 : i % 7));
    expect(names()[0]).toBe("svc-0501");
    // Ascending: the least busy first; stopped containers (no sample) stay last either way.
    fireEvent.click(header("CPU"));
    expect(header("CPU").getAttribute("aria-sort")).toBe("ascending");
    expect(Number(names()[0]!.slice(4)) % 7).toBe(0);
  });

  it("sorts by memory, and puts containers without a sample last", () => {
    const { tick } = setup(30);
    tick(() => 1, (i) => (i === 3 ? 5e9 : i * 1000));
    fireEvent.click(header("Memory"));
    const order = names();
    expect(order[0]).toBe("svc-0003");
    expect(order[1]).toBe("svc-0028");
    // svc-0009, -0019, -0029 are exited: last.
    expect(order.slice(-3).sort()).toEqual(["svc-0009", "svc-0019", "svc-0029"]);
  });

  it("sorts by name without re-rendering the table on a sample", () => {
    const { tick } = setup(50);
    tick((i) => 50 - i);
    const before = names();
    tick((i) => i);
    expect(names()).toEqual(before);
  });

  it("statsSortValue reads the latest sample, undefined without one", () => {
    const latest = { a: sample(12.5, 99) };
    expect(statsSortValue(latest, "a", "cpu")).toBe(12.5);
    expect(statsSortValue(latest, "a", "memory")).toBe(99);
    expect(statsSortValue(latest, "b", "cpu")).toBeUndefined();
  });
});
