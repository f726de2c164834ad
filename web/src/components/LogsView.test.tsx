// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { StoreContext } from "../react/hooks";
import { LogsContext } from "../react/logs";
import { LiveStore } from "../store/live";
import { LogsStore } from "../store/logs";
import { container, engineState, FakeSocket } from "../store/testing";
import { LogsView } from "./LogsView";

// jsdom has no layout: give the scroll box a size, so that the virtual rows render.
const sizes = { clientHeight: 600, clientWidth: 1200 };
const saved: PropertyDescriptor[] = [];
beforeAll(() => {
  for (const [prop, value] of Object.entries(sizes)) {
    saved.push(Object.getOwnPropertyDescriptor(Element.prototype, prop)!);
    Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => value });
  }
});
afterAll(() => {
  Object.keys(sizes).forEach((prop, i) => Object.defineProperty(HTMLElement.prototype, prop, saved[i]!));
});
beforeEach(() => FakeSocket.reset());
afterEach(cleanup);

const A = "a".repeat(64);
const B = "b".repeat(64);
const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

function setup(target: { container: string } | { project: string }) {
  const live = new LiveStore({ url: "ws://x/api/v1/ws", socket: FakeSocket.factory, persistence: null, wake: null });
  live.start();
  const ws = FakeSocket.last;
  const sub = ws.handshake();
  ws.receive({
    type: "snapshot",
    sub: sub.id,
    epoch: "E",
    version: 5,
    state: engineState(5, [
      container(A, { name: "web-1", compose_project: "shop" }),
      container(B, { name: "db-1", compose_project: "shop" }),
    ]),
  });
  let frames: (() => void)[] = [];
  const logs = new LogsStore({
    live,
    visibility: null,
    schedule: (run) => {
      frames.push(run);
      return () => (frames = frames.filter((f) => f !== run));
    },
  });
  render(
    <StoreContext.Provider value={live}>
      <LogsContext.Provider value={logs}>
        <div style={{ height: 600, display: "flex" }}>
          <LogsView {...target} />
        </div>
      </LogsContext.Provider>
    </StoreContext.Provider>,
  );
  const logsSub = String(ws.sentOf("subscribe_logs").at(-1)!.id);
  type Sent = [container: string, text: string, stream?: "stdout" | "stderr"];
  const send = (...lines: Sent[]) =>
    act(() => {
      ws.receive({
        type: "logs",
        sub: logsSub,
        engine: "local",
        lines: lines.map(([c, text, stream = "stdout"], i) => ({ container: c, stream, time: `2026-01-01T00:00:0${i}.5Z`, text })),
      });
      const run = frames;
      frames = [];
      for (const f of run) f();
    });
  return { ws, logs, send };
}

const rows = () => screen.queryAllByTestId("log-line");

describe("the Logs view", () => {
  it("shows a container's lines: stderr marked, colours as classes, JSON readable, hostile HTML as text", () => {
    const { ws, send } = setup({ container: A });
    expect(ws.sentOf("subscribe_logs").at(-1)).toMatchObject({ container: A, tail: 200, follow: true });
    send([A, "plain"], [A, "\x1b[31mred\x1b[0m", "stderr"], [A, '{"level":"info","msg":"hi there"}'], [A, HOSTILE]);
    const [plain, red, json, hostile] = rows();
    expect(rows().length).toBe(4);
    expect(plain!.dataset.stream).toBe("stdout");
    expect(red!.dataset.stream).toBe("stderr");
    expect(red!.className).toContain("log-stderr");
    expect(red!.querySelector(".ansi-red-fg")!.textContent).toBe("red");
    expect(json!.querySelector(".log-text")!.textContent).toBe('level=info msg="hi there"');
    // The hostile line: its text, and no element of it.
    expect(hostile!.querySelector(".log-text")!.textContent).toBe(HOSTILE);
    expect(document.querySelector("img, script")).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
    // A container's view names no container on its lines; the download is its log.
    expect(document.querySelector(".log-source")).toBeNull();
    expect(screen.getByRole("link", { name: "Download" }).getAttribute("href")).toBe(`/api/v1/containers/${A}/logs?timestamps=true`);
  });

  it("searches: marks the matches, and shows only matching lines when asked", () => {
    const { send } = setup({ container: A });
    send([A, "GET /health 200"], [A, "POST /login 500"], [A, "GET /login 200"]);
    fireEvent.change(screen.getByLabelText("Search the log"), { target: { value: "login" } });
    expect([...document.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["login", "login"]);
    expect(rows().length).toBe(3);
    fireEvent.click(screen.getByLabelText("Only matching lines"));
    expect(rows().map((r) => r.querySelector(".log-text")!.textContent)).toEqual(["POST /login 500", "GET /login 200"]);
    expect(screen.getByTestId("logs-foot").textContent).toContain("2 of 3 lines");
  });

  it("turns timestamps off and JSON to pretty or as written", () => {
    const { send } = setup({ container: A });
    send([A, '{"a":1}']);
    expect(rows()[0]!.querySelector("time")!.getAttribute("datetime")).toBe("2026-01-01T00:00:00.5Z");
    fireEvent.click(screen.getByLabelText("Timestamps"));
    expect(rows()[0]!.querySelector("time")).toBeNull();
    fireEvent.change(screen.getByLabelText("JSON lines"), { target: { value: "pretty" } });
    expect(rows()[0]!.querySelector(".log-text")!.textContent).toBe('{\n  "a": 1\n}');
    fireEvent.change(screen.getByLabelText("JSON lines"), { target: { value: "raw" } });
    expect(rows()[0]!.querySelector(".log-text")!.textContent).toBe('{"a":1}');
  });

  it("expands one JSON line by its own button, and folds it back", () => {
    const { send } = setup({ container: A });
    send([A, '{"a":1}'], [A, '{"b":2}'], [A, "not json"]);
    const text = () => rows().map((r) => r.querySelector(".log-text")!.textContent);
    expect(text()).toEqual(["a=1", "b=2", "not json"]);
    expect(screen.getAllByRole("button", { name: "Expand this JSON line" }).length).toBe(2); // none on plain text
    fireEvent.click(screen.getAllByRole("button", { name: "Expand this JSON line" })[1]!);
    expect(text()).toEqual(["a=1", '{\n  "b": 2\n}', "not json"]);
    fireEvent.click(screen.getByRole("button", { name: "Fold this JSON line" }));
    expect(text()).toEqual(["a=1", "b=2", "not json"]);
  });

  it("shows stdout or stderr alone when asked, markers kept", () => {
    const { ws, send } = setup({ container: A });
    send([A, "out 1"], [A, "err 1", "stderr"]);
    act(() => ws.receive({ type: "logs_skipped", sub: String(ws.sentOf("subscribe_logs").at(-1)!.id), engine: "local", container: A, count: 7 }));
    send([A, "out 2"], [A, "err 2", "stderr"]);
    const text = () => rows().map((r) => r.querySelector(".log-text")!.textContent);
    fireEvent.change(screen.getByLabelText("Streams"), { target: { value: "stderr" } });
    expect(text()).toEqual(["err 1", "err 2"]);
    expect(screen.getByTestId("log-skipped")).toBeTruthy();
    expect(screen.getByTestId("logs-foot").textContent).toContain("2 of 4 lines");
    fireEvent.change(screen.getByLabelText("Streams"), { target: { value: "stdout" } });
    expect(text()).toEqual(["out 1", "out 2"]);
    fireEvent.change(screen.getByLabelText("Streams"), { target: { value: "both" } });
    expect(text()).toEqual(["out 1", "err 1", "out 2", "err 2"]);
  });

  it("in a project's view, names the container of each line, and offers each one's download", () => {
    const { ws, send } = setup({ project: "shop" });
    expect(ws.sentOf("subscribe_logs").at(-1)).toMatchObject({ project: "shop", tail: 200, follow: true });
    send([A, "from web"], [B, "from db"]);
    expect(rows().map((r) => r.querySelector(".log-source")!.textContent)).toEqual(["web-1", "db-1"]);
    const links = [...document.querySelectorAll("details.menu a")].map((a) => [a.textContent, a.getAttribute("href")]);
    expect(links).toEqual([
      ["db-1", `/api/v1/containers/${B}/logs?timestamps=true`],
      ["web-1", `/api/v1/containers/${A}/logs?timestamps=true`],
    ]);
  });

  it("shows skipped lines in place", () => {
    const { ws, send } = setup({ container: A });
    send([A, "one"]);
    act(() => ws.receive({ type: "logs_skipped", sub: String(ws.sentOf("subscribe_logs").at(-1)!.id), engine: "local", container: A, count: 4321 }));
    send([A, "two"]);
    expect(screen.getByTestId("log-skipped").textContent).toContain("4,321 lines skipped");
    const order = [...document.querySelectorAll('[data-testid="log-line"], [data-testid="log-skipped"]')].map(
      (e) => e.querySelector(".log-text")?.textContent ?? "skipped",
    );
    expect(order).toEqual(["one", "skipped", "two"]);
  });

  it("unsubscribes when it goes", () => {
    const { ws, logs } = setup({ container: A });
    const id = ws.sentOf("subscribe_logs").at(-1)!.id;
    cleanup();
    expect(ws.sentOf("unsubscribe").map((m) => m.id)).toContain(id);
    expect(logs.size).toBe(0);
  });
});
