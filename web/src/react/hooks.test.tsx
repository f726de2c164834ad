// @vitest-environment jsdom
import { act, cleanup, render } from "@testing-library/react";
import { memo } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LiveStore } from "../store/live";
import { container, engineState, FakeSocket } from "../store/testing";
import { StoreContext, useEngineState } from "./hooks";

const renders: Record<string, number> = {};

const Row = memo(function Row({ id }: { id: string }) {
  const c = useEngineState((s) => s.data?.containers[id]);
  renders[id] = (renders[id] ?? 0) + 1;
  return <li data-testid={id}>{c?.state}</li>;
});

function Page({ ids }: { ids: string[] }) {
  renders.page = (renders.page ?? 0) + 1;
  return (
    <ul>
      {ids.map((id) => (
        <Row key={id} id={id} />
      ))}
    </ul>
  );
}

function liveStore() {
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  ws.receive({
    type: "snapshot",
    sub: sub.id,
    epoch: "E1",
    version: 10,
    state: engineState(10, [container("a"), container("b"), container("c")]),
  });
  return { store, ws, sub: sub.id as string };
}

beforeEach(() => {
  FakeSocket.reset();
  for (const k of Object.keys(renders)) delete renders[k];
});
afterEach(cleanup);

describe("useEngineState", () => {
  it("re-renders the row whose container changed, not the others, not the page", () => {
    const { store, ws, sub } = liveStore();
    const view = render(
      <StoreContext.Provider value={store}>
        <Page ids={["a", "b", "c"]} />
      </StoreContext.Provider>,
    );
    expect(renders).toEqual({ page: 1, a: 1, b: 1, c: 1 });
    act(() => {
      ws.receive({
        type: "changes",
        sub,
        epoch: "E1",
        from: 10,
        to: 11,
        timestamp: "t",
        changes: [
          { v: 11, kind: "container", op: "updated", id: "b", patch: [{ op: "replace", path: "/state", value: "exited" }] },
        ],
      });
    });
    expect(view.getByTestId("b").textContent).toBe("exited");
    expect(renders).toEqual({ page: 1, a: 1, b: 2, c: 1 });
    // Nothing the rows select changed: a bookmark re-renders nobody.
    act(() => ws.receive({ type: "bookmark", sub, epoch: "E1", version: 12 }));
    expect(renders).toEqual({ page: 1, a: 1, b: 2, c: 1 });
  });
});
