// @vitest-environment jsdom
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreContext } from "../react/hooks";
import { StatsContext } from "../react/stats";
import { LiveStore } from "../store/live";
import { StatsStore } from "../store/stats";
import { container, engineState, FakeSocket } from "../store/testing";
import { EnginePage } from "./Engine";

beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

const stat = (cpu: number, memory: number) => ({
  cpu_percent: cpu,
  memory_bytes: memory,
  memory_limit_bytes: 0,
  net_rx_bytes: 0,
  net_tx_bytes: 0,
  block_read_bytes: 0,
  block_write_bytes: 0,
  pids: 1,
});

describe("the Engine page's usage", () => {
  it("sums every running container's latest sample, live, of the engine's CPUs and memory", () => {
    const live = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null });
    live.start();
    const ws = FakeSocket.last;
    const sub = ws.handshake();
    const state = engineState(5, [container("a"), container("b")]);
    state.engine_info!.mem_total = 4_000_000_000;
    ws.receive({ type: "snapshot", sub: sub.id, epoch: "E", version: 5, state });
    const stats = new StatsStore({ live, visibility: null });
    const view = render(
      <StoreContext.Provider value={live}>
        <StatsContext.Provider value={stats}>
          <EnginePage />
        </StatsContext.Provider>
      </StoreContext.Provider>,
    );
    expect(ws.sentOf("subscribe_stats")).toHaveLength(1);
    expect(screen.getByTestId("engine-usage").textContent).toContain("Waiting for the first sample");
    act(() =>
      ws.receive({ type: "stats", sub: "t1", engine: "local", time: "2026-01-01T00:00:01Z", containers: { a: stat(100, 1e9), b: stat(50.5, 2e8) } }),
    );
    expect(screen.getByTestId("total-cpu").textContent).toBe("151% of 200% (2 CPUs): 75.3% of the machine");
    expect(screen.getByTestId("total-memory").textContent).toBe("1.2 GB of 4.0 GB (30.0%)");
    act(() => ws.receive({ type: "stats", sub: "t1", engine: "local", time: "2026-01-01T00:00:02Z", containers: { a: stat(2, 1e9) } }));
    expect(screen.getByTestId("total-cpu").dataset.value).toBe("2");
    view.unmount();
    expect(ws.sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", id: "t1" }]);
  });
});
