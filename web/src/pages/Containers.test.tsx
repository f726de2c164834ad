// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfirmProvider } from "../components/Confirm";
import { HistoryProvider } from "../components/History";
import { StoreContext } from "../react/hooks";
import { LiveStore } from "../store/live";
import { container, engineState, FakeSocket } from "../store/testing";
import { ContainersPage } from "./Containers";

// jsdom has no layout: give the virtualized table's scroll box a size, so that rows render.
const sizes = { clientHeight: 700, clientWidth: 1200, offsetHeight: 700, offsetWidth: 1200 };
const saved: PropertyDescriptor[] = [];
beforeAll(() => {
  for (const [prop, value] of Object.entries(sizes)) {
    saved.push(Object.getOwnPropertyDescriptor(HTMLElement.prototype, prop) ?? Object.getOwnPropertyDescriptor(Element.prototype, prop)!);
    Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => value });
  }
});
afterAll(() => {
  Object.keys(sizes).forEach((prop, i) => Object.defineProperty(HTMLElement.prototype, prop, saved[i]!));
});
beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

function setup(fetch = vi.fn(async () => new Response('{"operation":"o","accepted_at_version":1}', { status: 202 }))) {
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, fetch });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  const many = Array.from({ length: 1500 }, (_, i) =>
    container(`id${String(i).padStart(4, "0")}`, {
      name: `svc-${String(i).padStart(4, "0")}`,
      state: i % 3 === 0 ? "exited" : "running",
      compose_project: i % 2 === 0 ? "shop" : null,
    }),
  );
  ws.receive({ type: "snapshot", sub: sub.id, epoch: "E", version: 5, state: engineState(5, many) });
  render(
    <StoreContext.Provider value={store}>
      <ConfirmProvider>
        <HistoryProvider>
          <ContainersPage />
        </HistoryProvider>
      </ConfirmProvider>
    </StoreContext.Provider>,
  );
  return { store, ws, sub: sub.id as string, fetch };
}

const rows = () => screen.queryAllByTestId("container-row");

describe("the containers page", () => {
  it("renders only the visible rows of 1500", () => {
    setup();
    expect(rows().length).toBeGreaterThan(10);
    expect(rows().length).toBeLessThan(60);
    expect(screen.getByText("1500 containers")).toBeTruthy();
  });

  it("searches, filters by state and groups by compose project", () => {
    setup();
    fireEvent.change(screen.getByLabelText("Search containers"), { target: { value: "svc-0003" } });
    expect(rows().map((r) => r.dataset.name)).toEqual(["svc-0003"]);
    fireEvent.change(screen.getByLabelText("Search containers"), { target: { value: "" } });
    fireEvent.change(screen.getByLabelText("Filter by state"), { target: { value: "exited" } });
    expect(rows().every((r) => r.dataset.state === "exited")).toBe(true);
    expect(screen.getByText("500 of 1500 containers")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Group by compose project"));
    // Groups sort by project name: the unnamed one first, then "shop", each with its rows.
    const groups = screen.getAllByRole("button", { expanded: true });
    expect(groups[0]!.textContent).toContain("(no compose project)");
    fireEvent.click(groups[0]!); // collapse it: the next group comes into view
    expect(screen.getAllByRole("button", { expanded: true })[0]!.textContent).toContain("shop");
    fireEvent.click(screen.getByRole("columnheader", { name: /Name/ }));
    expect(screen.getByRole("columnheader", { name: /Name/ }).getAttribute("aria-sort")).toBe("descending");
  });

  it("updates a row live and shows 'stopping…' at once on Stop", async () => {
    const { ws, sub, fetch } = setup();
    const first = () => rows().find((r) => r.dataset.name === "svc-0001")!;
    expect(first().dataset.state).toBe("running");
    await act(async () => {
      fireEvent.click(within(first()).getByRole("button", { name: "Stop" }));
    });
    expect(within(first()).getByTestId("pending").textContent).toContain("stopping…");
    expect(fetch).toHaveBeenCalledWith("/api/v1/containers/id0001/stop", expect.objectContaining({ method: "POST" }));
    act(() =>
      ws.receive({
        type: "changes", sub, epoch: "E", from: 5, to: 6, timestamp: "t",
        changes: [{ v: 6, kind: "container", op: "updated", id: "id0001",
          patch: [{ op: "replace", path: "/state", value: "exited" }, { op: "replace", path: "/rev", value: 6 }] }],
      }),
    );
    expect(first().dataset.state).toBe("exited");
    expect(within(first()).queryByTestId("pending")).toBeNull();
    expect(first().querySelector(".flash")).not.toBeNull();
  });

  it("asks before removing, and sends nothing when cancelled", async () => {
    const { fetch } = setup();
    const r = rows().find((x) => x.dataset.name === "svc-0001")!;
    fireEvent.click(within(r).getByRole("button", { name: "Remove" }));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog.textContent).toContain("Remove container svc-0001?");
    await act(async () => fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" })));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(fetch).not.toHaveBeenCalled();
  });
});
