// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfirmProvider } from "../components/Confirm";
import { HistoryProvider } from "../components/History";
import { StoreContext } from "../react/hooks";
import { LiveStore } from "../store/live";
import { container, engineState, FakeSocket } from "../store/testing";
import type { Image, Network, Volume } from "../store/types";
import { ImagesPage } from "./Images";
import { NetworksPage } from "./Networks";
import { VolumesPage } from "./Volumes";

beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

const image = (id: string, tags: string[], containers: string[] = []): Image => ({
  id, tags, size: 5_000_000, created: "2026-01-01T00:00:00Z", labels: {}, containers,
  dangling: tags.length === 0, rev: 1,
} as unknown as Image);
const volume = (name: string, used_by: string[] = []): Volume => ({
  name, driver: "local", mountpoint: `/v/${name}`, created: null, labels: {}, scope: "local", used_by, rev: 1,
});
const network = (id: string, name: string, containers: string[] = []): Network => ({
  id, name, driver: "bridge", scope: "local", internal: false, attachable: false, subnets: ["172.18.0.0/16"],
  created: "2026-01-01T00:00:00Z", labels: {}, containers, rev: 1,
} as unknown as Network);

function setup(page: "images" | "volumes" | "networks") {
  const fetch = vi.fn(async () => new Response('{"operation":"o","accepted_at_version":5}', { status: 202 }));
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, fetch });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake().id as string;
  const state = engineState(5, [container("a", { name: "web" }), container("b", { name: "db" })]);
  state.images = { "sha256:1": image("sha256:1", ["app:1"], ["b", "a"]), "sha256:2": image("sha256:2", []) };
  state.volumes = { data: volume("data", ["a"]), spare: volume("spare") };
  state.networks = { n1: network("n1", "front", ["a", "b"]), n0: network("n0", "bridge") };
  ws.receive({ type: "snapshot", sub, epoch: "E", version: 5, state });
  const Page = { images: ImagesPage, volumes: VolumesPage, networks: NetworksPage }[page];
  render(
    <StoreContext.Provider value={store}>
      <ConfirmProvider>
        <HistoryProvider>
          <Page />
        </HistoryProvider>
      </ConfirmProvider>
    </StoreContext.Provider>,
  );
  const rows = (kind: string) => screen.queryAllByTestId(`${kind}-row`);
  const row = (kind: string, name: string) => rows(kind).find((r) => r.dataset.name === name)!;
  return { store, ws, sub, fetch, rows, row };
}

const cells = (row: HTMLElement) => [...row.querySelectorAll("td")].map((td) => td.textContent);

describe("the object pages (one table, one row hook)", () => {
  it("Images: tags, id, size, the containers using each, dangling last", () => {
    const { rows } = setup("images");
    expect(screen.getByRole("table", { name: "Images" })).toBeTruthy();
    expect(rows("image").map((r) => r.dataset.name)).toEqual(["app:1", "2"]);
    const [first, second] = rows("image");
    expect(cells(first!).slice(0, 3)).toEqual(["app:1", "1", "5.0 MB"]);
    expect(cells(first!)[4]).toBe("db, web");
    expect(within(second!).getByText("dangling")).toBeTruthy();
    expect(screen.getByText(/2 images/)).toBeTruthy();
  });

  it("Volumes: live users, and 'removing…' once confirmed", async () => {
    const { row, ws, sub, fetch } = setup("volumes");
    expect(cells(row("volume", "data")).slice(0, 3)).toEqual(["data", "local", "local"]);
    expect(cells(row("volume", "data"))[4]).toBe("web");
    act(() =>
      ws.receive({ type: "changes", sub, epoch: "E", from: 5, to: 6, timestamp: "t",
        changes: [{ v: 6, kind: "container", op: "updated", id: "a", patch: [{ op: "replace", path: "/name", value: "www" }] }] }),
    );
    expect(cells(row("volume", "data"))[4]).toBe("www");
    fireEvent.click(within(row("volume", "spare")).getByRole("button", { name: "Remove" }));
    const dialog = screen.getByRole("alertdialog");
    await act(async () => fireEvent.click(within(dialog).getAllByRole("button").at(-1)!));
    expect(fetch).toHaveBeenCalledWith("/api/v1/volumes/spare", expect.objectContaining({ method: "DELETE" }));
    expect(within(row("volume", "spare")).getByTestId("pending").textContent).toContain("removing…");
    act(() =>
      ws.receive({ type: "changes", sub, epoch: "E", from: 6, to: 7, timestamp: "t",
        changes: [{ v: 7, kind: "volume", op: "removed", id: "spare" }] }),
    );
    expect(row("volume", "spare")).toBeUndefined();
  });

  it("Volumes and Networks: the objects being created show first", async () => {
    const { store } = setup("volumes");
    await act(async () => {
      void store.act({ kind: "volume", action: "create", name: "fresh" });
    });
    const body = screen.getByRole("table", { name: "Volumes" }).querySelector("tbody")!;
    expect(body.querySelector("tr.is-pending")!.textContent).toContain("fresh");
  });

  it("Networks: subnets, members, and no Remove for Docker's own", () => {
    const { row } = setup("networks");
    expect(cells(row("network", "front")).slice(0, 5)).toEqual(["front ", "bridge", "local", "172.18.0.0/16", "db, web"]);
    expect(within(row("network", "front")).queryByRole("button", { name: "Remove" })).not.toBeNull();
    expect(within(row("network", "bridge")).queryByRole("button", { name: "Remove" })).toBeNull();
    expect(within(row("network", "bridge")).getByRole("button", { name: /History/ })).toBeTruthy();
  });
});
