// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreContext } from "../react/hooks";
import { container, FakeSocket, fakeHistoryServer, type FakeEvent, liveFeed } from "../store/testing";
import { describeEvent, foldExecs } from "./eventText";
import { HistoryButton, HistoryProvider } from "./History";

const T0 = 1795319025957295378n;
const at = (ms: number) => T0 + BigInt(ms) * 1_000_000n;
const A = "a".repeat(64);
const NOISE = { "com.docker.compose.project": "shop", "dockstate.test.ui": "1" };

/** A container's life as Docker 20.10 tells it, oldest first. */
const LIFE: FakeEvent[] = [
  { time_nano: at(0), action: "create", attributes: { image: "busybox:latest", name: "web", ...NOISE } },
  { time_nano: at(5), type: "network", action: "connect", actor_id: "n".repeat(64), attributes: { container: A, name: "bridge", type: "bridge" } },
  { time_nano: at(9), action: "start", attributes: { image: "busybox:latest", name: "web", ...NOISE } },
  { time_nano: at(2000), action: "health_status", detail: "healthy", attributes: { image: "busybox:latest", name: "web" } },
  { time_nano: at(9000), action: "kill", attributes: { image: "busybox:latest", name: "web", signal: "15", ...NOISE } },
  { time_nano: at(9100), action: "die", attributes: { exitCode: "137", image: "busybox:latest", name: "web", ...NOISE } },
];

function setup(events: FakeEvent[] = LIFE) {
  const server = fakeHistoryServer([...events]);
  const feed = liveFeed([container(A, { name: "web", rev: 3 }), container("b", { name: "other" })], {
    fetch: (input, init) => server.request(String(input), init),
  });
  render(
    <StoreContext.Provider value={feed.store}>
      <HistoryProvider>
        <HistoryButton kind="container" id={A} name="web" />
        <HistoryButton kind="container" id="b" name="other" />
      </HistoryProvider>
    </StoreContext.Provider>,
  );
  return { server, feed };
}

const buttons = () => screen.getAllByRole("button", { name: "History" });
const panel = () => screen.getByRole("dialog", { name: /History of container/ });
const items = () => within(panel()).queryAllByTestId("history-event");
const settle = (ms = 0) => act(async () => void (await vi.advanceTimersByTimeAsync(ms)));

async function open(i = 0) {
  await act(async () => fireEvent.click(buttons()[i]!));
  await settle();
}

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  vi.setSystemTime(new Date(Number(at(60_000) / 1_000_000n)));
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("the History panel", () => {
  it("opens from the row's button, labelled, with the events newest first and readable", async () => {
    const { server } = setup();
    expect(screen.queryByRole("dialog")).toBeNull();
    await open();
    expect(buttons()[0]!.getAttribute("aria-expanded")).toBe("true");
    expect(panel().getAttribute("aria-labelledby")).toBe("history-title");
    expect(document.activeElement).toBe(panel());
    expect(server.calls).toEqual([`/api/v1/events/container/${A}?limit=100`]);
    expect(items().map((li) => li.dataset.action)).toEqual(["die", "kill", "health_status", "start", "connect", "create"]);
    const text = items().map((li) => li.textContent);
    expect(text[0]).toContain("die");
    expect(text[0]).toContain("exit code 137");
    expect(text[1]).toContain("signal 15 (SIGTERM)");
    expect(text[2]).toContain("health_status: healthy");
    expect(text[4]).toContain("network connectnetwork bridge"); // the type tag, the action, the network
    expect(items()[4]!.querySelector(".tag")?.textContent).toBe("network");
    expect(items()[3]!.querySelector(".tag")).toBeNull(); // its own type goes without saying
    expect(text[5]).toContain("image busybox:latest");
    expect(text[5]).toContain("name web");
    // Docker copies every label into every container event: none of them shows.
    expect(panel().textContent).not.toContain("com.docker.compose");
    // Relative and absolute time: the die was 50.9 s before "now".
    expect(text[0]).toContain("51 s ago");
    const time = items()[0]!.querySelector("time")!;
    expect(time.getAttribute("dateTime")).toBe(new Date(Number(at(9100) / 1_000_000n)).toISOString());
    expect(text[0]).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/);
    expect(within(panel()).getByTestId("history-count").textContent).toBe("6 events, newest first");
  });

  it("loads older pages on demand, and says when there are none left", async () => {
    const many = Array.from({ length: 150 }, (_, i) => ({ time_nano: at(i), action: i % 2 ? "stop" : "start" }));
    const { server } = setup(many);
    await open();
    expect(items()).toHaveLength(100);
    expect(within(panel()).getByTestId("history-count").textContent).toBe("100+ events, newest first");
    await act(async () => fireEvent.click(within(panel()).getByRole("button", { name: "Load older" })));
    await settle();
    expect(server.calls[1]).toBe(`/api/v1/events/container/${A}?limit=100&before=${at(50)}`);
    expect(items()).toHaveLength(150);
    expect(items().at(-1)!.dataset.action).toBe("start");
    expect(within(panel()).queryByRole("button", { name: "Load older" })).toBeNull();
  });

  it("follows the object: a change brings its new events, a removal its last ones; the panel stays", async () => {
    const { server, feed } = setup();
    await open();
    server.events.push({ time_nano: at(9200), action: "stop", attributes: { name: "web" } });
    act(() => feed.update(A, [{ op: "replace", path: "/state", value: "exited" }]));
    await settle(150);
    expect(items()[0]!.dataset.action).toBe("stop");

    server.events.push({ time_nano: at(9300), action: "destroy", attributes: { name: "web" } });
    act(() => feed.remove(A));
    await settle(150);
    expect(items()[0]!.dataset.action).toBe("destroy");
    expect(within(panel()).getByText("removed")).toBeTruthy();
    expect(panel().textContent).toContain("web"); // the name it had
    expect(server.calls).toHaveLength(3);
  });

  it("makes no request while its object does not change (the clock for '5 s ago' is no poll)", async () => {
    const { server, feed } = setup();
    await open();
    act(() => feed.update("b"));
    act(() => feed.bookmark());
    await settle(120_000);
    expect(server.calls).toHaveLength(1);
  });

  it("shows a 503 (no database) and a network error as a message, and can try again", async () => {
    const { server } = setup();
    server.fail = 503;
    await open();
    const alert = within(panel()).getByRole("alert");
    expect(alert.textContent).toContain("Could not load the history.");
    expect(alert.textContent).toContain("this server keeps no history (it was started with --no-db)");
    expect(items()).toHaveLength(0);

    server.fail = "network";
    await act(async () => fireEvent.click(within(alert).getByRole("button", { name: "Try again" })));
    await settle();
    expect(within(panel()).getByRole("alert").textContent).toMatch(/could not be reached/);

    server.fail = null;
    await act(async () => fireEvent.click(within(panel()).getByRole("button", { name: "Try again" })));
    await settle();
    expect(within(panel()).queryByRole("alert")).toBeNull();
    expect(items()).toHaveLength(6);
  });

  it("closes with Escape (not while a modal has it) and with its button; the focus goes back", async () => {
    setup();
    buttons()[0]!.focus();
    await open();
    const modal = document.body.appendChild(Object.assign(document.createElement("div"), {}));
    modal.setAttribute("aria-modal", "true");
    fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByRole("dialog")).not.toBeNull();
    modal.remove();
    act(() => void fireEvent.keyDown(window, { key: "Escape" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(buttons()[0]);
    expect(buttons()[0]!.getAttribute("aria-expanded")).toBe("false");

    await open(1);
    expect(panel().textContent).toContain("other");
    act(() => void fireEvent.click(screen.getByRole("button", { name: "Close history" })));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("folds the exec_* events of health checks into one line per run", async () => {
    const checks: FakeEvent[] = Array.from({ length: 30 }, (_, i) => ({
      time_nano: at(10 + i),
      action: ["exec_create", "exec_start", "exec_die"][i % 3]!,
      attributes: (i === 29 ? { exitCode: "1" } : i % 3 === 2 ? { exitCode: "0" } : {}) as Record<string, string>,
    }));
    setup([...LIFE.slice(0, 3), ...checks, { time_nano: at(100), action: "health_status", detail: "unhealthy" }]);
    await open();
    expect(items().map((li) => li.dataset.action)).toEqual(["health_status", "start", "connect", "create"]);
    const runs = within(panel()).getAllByTestId("history-execs");
    expect(runs).toHaveLength(1);
    expect(runs[0]!.textContent).toContain("10 execs (health checks, docker exec)failed 1");
    // In its place: between the health status and the start.
    expect(runs[0]!.previousElementSibling?.getAttribute("data-action")).toBe("health_status");
  });

  it("one panel at a time: another row's button shows that object instead", async () => {
    const { server } = setup();
    await open(0);
    await open(1);
    expect(screen.getAllByRole("dialog")).toHaveLength(1);
    expect(panel().textContent).toContain("other");
    expect(buttons().map((b) => b.getAttribute("aria-expanded"))).toEqual(["false", "true"]);
    expect(server.calls.at(-1)).toBe("/api/v1/events/container/b?limit=100");
  });
});

describe("an event's text", () => {
  const ev = (over: Partial<Parameters<typeof describeEvent>[1]>) => ({
    time_nano: T0,
    type: "container",
    action: "start",
    detail: "",
    actor_id: A,
    attributes: {},
    ...over,
  });

  it("names the containers of a network's and a volume's events, and mount points", () => {
    const names = (id: string) => (id === A ? "web" : id);
    expect(describeEvent("network", ev({ type: "network", action: "connect", attributes: { container: A, name: "bridge", type: "bridge" } }), names)).toEqual({
      action: "connect",
      type: null,
      facts: [["container", "web"]],
      tone: "ok",
    });
    expect(
      describeEvent("container", ev({ type: "volume", action: "mount", actor_id: "data", attributes: { container: A, destination: "/var/lib/data", driver: "local" } })),
    ).toMatchObject({ type: "volume", facts: [["volume", "data"], ["at", "/var/lib/data"]] });
    expect(describeEvent("volume", ev({ type: "volume", action: "create", actor_id: "data", attributes: { driver: "local" } }))).toMatchObject({
      facts: [["driver", "local"]],
    });
  });

  it("folds runs of two or more exec_* events, and leaves a lone one", () => {
    const e = (action: string, i: number) => ev({ action, time_nano: T0 - BigInt(i) });
    const rows = foldExecs([e("die", 0), e("exec_die", 1), e("exec_start", 2), e("exec_create", 3), e("start", 4), e("exec_create", 5), e("create", 6)]);
    expect(rows.map((r) => (r.event ? r.event.action : `run of ${r.run.execs}`))).toEqual(["die", "run of 1", "start", "exec_create", "create"]);
  });

  it("says what a rename, an image tag and an exit mean, and colours them", () => {
    expect(describeEvent("container", ev({ action: "rename", attributes: { name: "new", oldName: "/old" } })).facts).toEqual([
      ["name", "new"],
      ["was", "old"],
    ]);
    expect(describeEvent("image", ev({ type: "image", action: "tag", attributes: { name: "app:2" } })).facts).toEqual([["name", "app:2"]]);
    expect(describeEvent("container", ev({ action: "die", attributes: { exitCode: "0" } })).tone).toBe("neutral");
    expect(describeEvent("container", ev({ action: "die", attributes: { exitCode: "1" } })).tone).toBe("bad");
    expect(describeEvent("container", ev({ action: "health_status", detail: "unhealthy" })).action).toBe("health_status: unhealthy");
  });
});
