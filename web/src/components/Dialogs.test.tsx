// @vitest-environment jsdom
// The Run form and the Pull dialog on a store whose server is a fake fetch and a FakeSocket.
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreContext } from "../react/hooks";
import { LiveStore } from "../store/live";
import { container, engineState, FakeSocket } from "../store/testing";
import type { Image, Network } from "../store/types";
import { PullButton } from "./PullDialog";
import { RunButton } from "./RunDialog";

beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

const problem = (status: number, detail: string) =>
  new Response(JSON.stringify({ type: "about:blank", title: "Error", status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
const accepted = (body: object) => new Response(JSON.stringify({ accepted_at_version: 5, ...body }), { status: 202 });

function setup(ui: React.ReactNode, answers: (() => Response)[]) {
  const fetch = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => answers.shift()!());
  const store = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null, fetch });
  store.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake().id as string;
  const state = engineState(5, [container("a", { name: "web" })]);
  state.images = { "sha256:1": { id: "sha256:1", tags: ["busybox:latest", "app:1"] } as unknown as Image };
  state.networks = { n1: { id: "n1", name: "shop" } as unknown as Network, n0: { id: "n0", name: "bridge" } as unknown as Network };
  ws.receive({ type: "snapshot", sub, epoch: "E", version: 5, state });
  render(<StoreContext.Provider value={store}>{ui}</StoreContext.Provider>);
  return { store, ws, fetch };
}

const typeInto = (label: RegExp | string, value: string) =>
  fireEvent.change(within(screen.getByRole("dialog")).getByLabelText(label), { target: { value } });
const click = (name: string | RegExp) => act(async () => fireEvent.click(screen.getByRole("button", { name })));

describe("the Run form", () => {
  it("offers the engine's images and networks, sends the environment once, and keeps no value", async () => {
    const { store, fetch } = setup(<RunButton />, [() => accepted({ operation: "r1", status: "done", id: "c9" })]);
    await click("Run…");
    const dialog = screen.getByRole("dialog", { name: "Run a container" });
    expect([...dialog.querySelectorAll("datalist option")].map((o) => o.getAttribute("value"))).toEqual(["app:1", "busybox:latest"]);
    expect(within(dialog).getByRole("option", { name: "shop" })).toBeTruthy();
    typeInto(/^Image/, "busybox:latest");
    typeInto(/^Name/, "api");
    typeInto(/^Ports/, "8080:80");
    await click("Add variable");
    typeInto("Variable 1 name", "TOKEN");
    typeInto("Variable 1 value", "s3cr3t");
    expect(within(dialog).getByLabelText("Variable 1 value").getAttribute("type")).toBe("password");
    await click(/^Run$/);
    expect(JSON.parse(String(fetch.mock.calls[0]![1]!.body))).toEqual({
      image: "busybox:latest",
      name: "api",
      ports: ["8080:80"],
      env: ["TOKEN=s3cr3t"],
    });
    expect(screen.queryByRole("dialog")).toBeNull(); // done: the form and its values are gone
    expect(JSON.stringify(store.getState())).not.toContain("s3cr3t");
    expect(JSON.stringify(store.operations.getState())).not.toContain("s3cr3t");
  });

  it("shows a refusal as one line, its field marked, and makes nothing; a fixed form goes through", async () => {
    const { fetch } = setup(<RunButton />, [
      () => problem(409, 'Conflict. The container name "/web" is already in use by container "a".'),
      () => problem(422, "body.ports: Value error, port spec '99999:80': the host port must be a number from 1 to 65535"),
      () => accepted({ operation: "r1", status: "pending" }),
    ]);
    await click("Run…");
    typeInto(/^Image/, "busybox:latest");
    typeInto(/^Name/, "web");
    await click(/^Run$/);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain('The container name "/web" is already in use');
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-describedby")).toBe("run-error");

    typeInto(/^Name/, "web2");
    typeInto(/^Ports/, "99999:80");
    await click(/^Run$/);
    expect(screen.getByRole("alert").textContent).toBe("ports: port spec '99999:80': the host port must be a number from 1 to 65535");
    expect(screen.getByLabelText(/^Ports/).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-invalid")).toBeNull();

    // What the form itself cannot make a request of is said without asking the server.
    typeInto(/^Command/, "echo 'oops");
    await click(/^Run$/);
    expect(screen.getByRole("alert").textContent).toBe("The command: a single quote is not closed.");
    expect(fetch).toHaveBeenCalledTimes(2);

    typeInto(/^Command/, "");
    typeInto(/^Ports/, "8080:80");
    await click(/^Run$/);
    expect(screen.getByRole("button", { name: "Starting…" })).toBeTruthy(); // its operation runs on
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("a run that fails after its 202 (a port already bound) says so in the form", async () => {
    const { ws } = setup(<RunButton />, [() => accepted({ operation: "r1", status: "pending" })]);
    await click("Run…");
    typeInto(/^Image/, "busybox:latest");
    typeInto(/^Ports/, "127.0.0.1:8080:80");
    await click(/^Run$/);
    const detail = "driver failed programming external connectivity: Bind for 127.0.0.1:8080 failed: port is already allocated";
    await act(async () =>
      ws.receive({ type: "operation", engine: "local", operation: "r1", action: "run", target: "busybox:latest",
        status: "failed", error: { status: 409, detail }, progress: null }),
    );
    expect(screen.getByRole("alert").textContent).toBe(detail);
    expect(screen.getByLabelText(/^Ports/).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByRole("button", { name: /^Run$/ })).toBeTruthy();
  });
});

describe("the Pull dialog", () => {
  it("moves its bar with the operation's progress, then says done", async () => {
    const { ws } = setup(<PullButton />, [() => accepted({ operation: "p1", status: "pending" })]);
    await click("Pull…");
    typeInto("Image", "127.0.0.1:5000/app:1");
    await click(/^Pull$/);
    const bar = () => screen.getByRole("progressbar");
    expect(bar().getAttribute("aria-valuenow")).toBe("0");
    const message = (status: string, fraction: number, layer: string) => ({
      type: "operation", engine: "local", operation: "p1", action: "pull", target: "127.0.0.1:5000/app:1", status, error: null,
      progress: { image: "127.0.0.1:5000/app:1", status: "Pulling from app", fraction,
        layers: { a3ed95caeb02: { status: layer, current: 600_000, total: 1_500_000, fraction } } },
    });
    await act(async () => ws.receive(message("pending", 0.2, "Downloading")));
    expect(bar().getAttribute("aria-valuenow")).toBe("20");
    expect(screen.getByRole("list", { name: "Layers" }).textContent).toContain("a3ed95caeb02 Downloading 600 kB of 1.5 MB");
    await act(async () => ws.receive(message("pending", 0.65, "Extracting")));
    expect(bar().getAttribute("aria-valuenow")).toBe("65");
    await act(async () => ws.receive(message("done", 1, "Pull complete")));
    expect(bar().getAttribute("aria-valuenow")).toBe("100");
    expect(screen.getByText("Pulled 127.0.0.1:5000/app:1.")).toBeTruthy();
  });

  it("shows the engine's refusal, the reference marked", async () => {
    setup(<PullButton />, [() => problem(404, "manifest for nope:1 not found: manifest unknown")]);
    await click("Pull…");
    typeInto("Image", "nope:1");
    await click(/^Pull$/);
    expect(screen.getByRole("alert").textContent).toBe("manifest for nope:1 not found: manifest unknown");
    expect(screen.getByLabelText("Image").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByRole("progressbar")).toBeNull();
  });
});
