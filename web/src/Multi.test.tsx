// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type EngineStores, MultiApp } from "./Multi";
import { engineBase, parseEngineHash } from "./route";
import { enginePath, LiveStore, onEngine } from "./store/live";
import { LogsStore } from "./store/logs";
import { StatsStore } from "./store/stats";
import { container, engineState, FakeSocket } from "./store/testing";

beforeEach(() => {
  // The container page's charts ask for the screen's density; jsdom has no matchMedia.
  window.matchMedia ??= ((query: string) =>
    ({ matches: false, media: query, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {} }) as unknown as MediaQueryList);
  FakeSocket.reset();
  window.location.hash = "";
});
afterEach(cleanup);

describe("the addresses of several engines", () => {
  it("puts each engine's pages under #/e/<engine>/", () => {
    expect(engineBase("prod-1")).toBe("#/e/prod-1/");
    expect(parseEngineHash("#/e/prod-1/containers/abc")).toEqual({ engine: "prod-1", hash: "#/containers/abc" });
    expect(parseEngineHash("#/e/a%20b")).toEqual({ engine: "a b", hash: "#/" });
    expect(parseEngineHash("#/containers")).toBeNull();
    expect(parseEngineHash("#/")).toBeNull();
  });

  it("asks the engine's routes and subscribes on the engine", () => {
    expect(enginePath("/api/v1/containers/x/stop", "prod")).toBe("/api/v1/engines/prod/containers/x/stop");
    expect(enginePath("/api/v1/state", undefined)).toBe("/api/v1/state");
    expect(enginePath("/api/v1/engines", "prod")).toBe("/api/v1/engines"); // the server's own
    expect(onEngine({ type: "subscribe_stats", id: "t1" }, "prod")).toEqual({ type: "subscribe_stats", id: "t1", engine: "prod" });
    expect(onEngine({ type: "unsubscribe", id: "t1" }, "prod")).toEqual({ type: "unsubscribe", id: "t1" });
    expect(onEngine({ type: "subscribe", id: "s1" }, undefined)).toEqual({ type: "subscribe", id: "s1" });
  });
});

/** An engine's stores on a fake socket, welcomed and given a snapshot. */
function engine(id: string, state: ReturnType<typeof engineState>): EngineStores {
  const live = new LiveStore({ url: "ws://x/api/v1/ws", engine: id, socket: FakeSocket.factory, persistence: null, wake: null });
  live.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  expect(sub.engine).toBe(id); // the state's subscription names the engine
  act(() => ws.receive({ type: "snapshot", sub: sub.id, engine: id, epoch: "E", version: state.version, state }));
  return { id, host: `unix:///${id}.sock`, live, stats: new StatsStore({ live, visibility: null }), logs: new LogsStore({ live, visibility: null }) };
}

describe("a server of several engines", () => {
  it("lands on the overview of every engine: status, version, counts", () => {
    const upState = engineState(4, [container("a"), container("b", { state: "exited" })]);
    upState.engine_info!.server_version = "20.10.24";
    upState.system_stats = {
      containers: 2, containers_running: 1, containers_paused: 0, containers_stopped: 1, containers_unhealthy: 0,
      images: 3, images_dangling: 0, images_size: 0, networks: 4, volumes: 5, rev: 1,
    };
    const downState = engineState(1);
    downState.engine_info!.status = "disconnected";
    downState.engine_info!.last_error = "cannot reach the Docker engine";
    render(<MultiApp engines={[engine("local", upState), engine("second", downState)]} />);
    const rows = screen.getAllByTestId("engine-row");
    expect(rows.map((r) => [r.dataset.engine, r.dataset.status])).toEqual([
      ["local", "connected"],
      ["second", "down"],
    ]);
    expect(rows[0]!.textContent).toContain("20.10.24");
    expect(rows[0]!.querySelector("[data-testid=engine-containers]")!.textContent).toBe("2 (1 running)");
    expect(rows[1]!.textContent).toContain("cannot reach the Docker engine");
    expect(rows[1]!.querySelector("[data-testid=engine-containers]")!.textContent).toBe("—");
  });

  it("shows an engine's pages under its address, its container page naming it", () => {
    const local = engine("local", engineState(2, [container("a", { name: "on-local" })]));
    const second = engine("second", engineState(3, [container("b", { name: "on-second" })]));
    render(<MultiApp engines={[local, second]} />);
    act(() => {
      window.location.hash = "#/e/second/containers/b";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    expect(screen.getByRole("heading", { name: "on-second" })).toBeTruthy();
    expect(screen.getByTestId("container-engine").textContent).toBe("on engine second");
    expect(screen.getByRole("link", { name: /Images/ }).getAttribute("href")).toBe("#/e/second/images");
    expect(screen.getByRole("link", { name: "← Containers" }).getAttribute("href")).toBe("#/e/second/containers");
    // The other engine's container is not this engine's.
    act(() => {
      window.location.hash = "#/e/second/containers/a";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    expect(screen.getByTestId("container-page").textContent).toContain("The engine has no container a");
    // The switcher goes back to the overview.
    act(() => {
      fireEvent.change(screen.getByRole("combobox", { name: "Engine" }), { target: { value: "" } });
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    expect(screen.getAllByTestId("engine-row")).toHaveLength(2);
  });
});
