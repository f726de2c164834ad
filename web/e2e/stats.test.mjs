// Stats in the browser against a real `dockstate serve` and the real Docker engine: the
// Containers table shows CPU and memory and re-sorts live (a container burning a core comes to
// the top), a container's charts move, the Engine page sums it all up, and an idle page's
// traffic is the stats stream only (no polling), which stops when no page shows stats.
import assert from "node:assert/strict";
import { test } from "node:test";
import { docker, row, runContainer, signedInPage, unique, useServerAndBrowser, waitFor, waitLive } from "./harness.mjs";

const LIVE = 20_000; // how soon a sample must show, at most (the engine is shared: be lenient)
// What a container burning a core must read, at least: on a shared, loaded machine it gets far
// less than a core (the load average of this 2-core machine reached 25 while other sessions ran tests; a sleeping container reads 0.0).
const BUSY = 5;
const BURN = ["sh", "-c", "while :; do :; done"];

const env = useServerAndBrowser();

/** The rows' names in the table's order (the DOM order of the virtual rows is the row order). */
async function order(page) {
  return page.getByTestId("container-row").evaluateAll((rows) => rows.map((r) => r.dataset.name));
}


async function cpuOf(page, name) {
  const v = await row(page, name).getByTestId("cpu").getAttribute("data-value");
  return v === null ? null : Number(v);
}

test("the Containers table shows CPU and memory, sorted by CPU, re-sorted live", async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const base = unique("dst-ui-st");
  const [a, b] = [`${base}-a`, `${base}-b`];
  env.names.push(a, b);
  await page.getByLabel("Search containers").fill(base);
  runContainer(a);
  runContainer(b);
  await row(page, a).waitFor({ timeout: LIVE });
  await row(page, b).waitFor({ timeout: LIVE });
  // Both get CPU and memory from the stream.
  await waitFor(async () => (await cpuOf(page, a)) !== null && (await cpuOf(page, b)) !== null, "CPU of both rows");
  const memory = await row(page, a).getByTestId("memory").innerText();
  assert.match(memory, /\d+(\.\d)? (B|kB|MB)/, `memory shows: ${memory}`);
  assert.equal(await row(page, a).getByRole("img").count(), 2, "two sparklines");

  await page.getByRole("columnheader", { name: /^CPU/ }).click();
  assert.equal(await page.getByRole("columnheader", { name: /^CPU/ }).getAttribute("aria-sort"), "descending");

  // b burns a core: it comes to the top, with no click.
  docker("exec", "-d", b, ...BURN);
  await waitFor(async () => (await cpuOf(page, b)) > BUSY, "b's CPU climbs");
  await waitFor(async () => (await order(page))[0] === b, "b on top");
  // Then a burns too and b is paused (0%): a comes to the top, again with no click.
  docker("exec", "-d", a, ...BURN);
  docker("pause", b);
  await waitFor(async () => (await order(page))[0] === a, "a on top once b is paused");
  t.diagnostic(`order ${await order(page)}, cpu a=${await cpuOf(page, a)}`);

  // Sorted by memory too.
  await page.getByRole("columnheader", { name: /^Memory/ }).click();
  assert.equal(await page.getByRole("columnheader", { name: /^Memory/ }).getAttribute("aria-sort"), "descending");
  docker("unpause", b);
  docker("rm", "-f", a, b);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a container's Stats panel: the last minutes from REST, then live charts that move; the Engine's totals", async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const n = unique("dst-ui-st");
  env.names.push(n);
  await page.getByLabel("Search containers").fill(n);
  const id = runContainer(n);
  docker("exec", "-d", n, ...BURN);
  const r = row(page, n);
  await r.waitFor({ timeout: LIVE });
  await waitFor(async () => (await cpuOf(page, n)) > BUSY, "the burner's CPU");

  const history = [];
  page.on("request", (req) => {
    if (req.url().includes("/stats")) history.push(new URL(req.url()).pathname);
  });
  await r.getByRole("button", { name: "Stats" }).click();
  const panel = page.getByRole("dialog", { name: `Stats of container ${n}` });
  await panel.waitFor();
  const cpu = panel.getByTestId("chart-cpu");
  await cpu.locator("canvas").first().waitFor({ timeout: LIVE });
  const points = async () => Number(await cpu.getAttribute("data-points"));
  const lastTime = async () => Number(await cpu.getAttribute("data-last-time"));
  const first = await waitFor(async () => ((await points()) >= 2 ? await lastTime() : 0), "the CPU chart has points");
  // It moves: a newer sample comes and is drawn.
  await waitFor(async () => (await lastTime()) > first, "the CPU chart takes a new sample");
  // A loaded machine may give the burner less than BUSY for a second: wait for a busy sample.
  await waitFor(async () => Number(await cpu.getAttribute("data-last")) > BUSY, "the chart shows the burning core");
  for (const key of ["memory", "network", "block"]) {
    assert.ok(Number(await panel.getByTestId(`chart-${key}`).getAttribute("data-points")) >= 2, `${key} chart has points`);
  }
  assert.deepEqual(history, [`/api/v1/containers/${id}/stats`], "the last minutes, asked for once");
  t.diagnostic(`${await points()} points in the CPU chart`);
  await panel.getByRole("button", { name: "Close stats" }).click();

  // The Engine page: the sum over every running container, the burner included.
  await page.getByRole("link", { name: "Engine" }).click();
  const total = page.getByTestId("total-cpu");
  await total.waitFor({ timeout: LIVE });
  await waitFor(async () => Number(await total.getAttribute("data-value")) > BUSY, "the Engine's CPU total");
  assert.match(await page.getByTestId("total-memory").innerText(), /of .*\(\d/);
  docker("rm", "-f", n);
  assert.deepEqual(errors, []);
  await context.close();
});

test("an idle page's traffic is the stats stream only, and it stops on a page without stats", async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  await page.getByLabel("Search containers").fill(unique("dst-ui-none"));
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const requests = [];
  const sockets = [];
  const received = [];
  const sent = [];
  page.on("request", (req) => requests.push(`${req.method()} ${req.url()}`));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  cdp.on("Network.webSocketFrameReceived", (e) => received.push(JSON.parse(e.response.payloadData).type));
  cdp.on("Network.webSocketFrameSent", (e) => sent.push(JSON.parse(e.response.payloadData).type));

  // The stream may take a moment to start after the page opened: wait for its first sample.
  await waitFor(async () => received.includes("stats"), "a first stats message");
  received.length = 0;
  const IDLE_MS = 5_000;
  await page.waitForTimeout(IDLE_MS);
  const stats = received.filter((type) => type === "stats").length;
  const others = received.filter((type) => type !== "stats");
  t.diagnostic(`${IDLE_MS} ms idle: ${stats} stats frames, others ${JSON.stringify(others)}, sent ${JSON.stringify(sent)}`);
  assert.deepEqual(requests, [], "no HTTP request");
  assert.deepEqual(sockets, [], "no new WebSocket");
  assert.deepEqual(sent, [], "the page asks for nothing");
  assert.ok(stats >= 3 && stats <= 7, `one stats message a second: ${stats}`);
  // Only what is pushed: the state's changes (the engine is shared) and its heartbeat.
  assert.ok(others.every((type) => type === "changes" || type === "bookmark"), `other frames: ${others}`);

  // The Images page shows no stats: the page unsubscribes and the server stops sending them.
  await page.getByRole("link", { name: /^Images/ }).click();
  await waitFor(async () => sent.includes("unsubscribe"), "unsubscribe sent");
  await page.waitForTimeout(1500); // a sample already on its way may still arrive
  received.length = 0;
  await page.waitForTimeout(3000);
  assert.equal(received.filter((type) => type === "stats").length, 0, "no stats while no page shows them");
  // Back on Containers: subscribed again.
  await page.getByRole("link", { name: /^Containers/ }).click();
  await waitFor(async () => received.includes("stats"), "stats again on the Containers page");
  assert.equal(sent.filter((type) => type === "subscribe_stats").length, 1);
  assert.deepEqual(requests, []);
  assert.deepEqual(errors, []);
  await context.close();
});
