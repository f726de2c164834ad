// The History panel against a real `dockstate serve` (with its SQLite history) and the real
// Docker engine: it shows what the engine did to a container, live, and after the container
// is gone.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  docker,
  LABEL,
  row,
  runContainer,
  signedInPage,
  startServer,
  unique,
  useServerAndBrowser,
  waitLive,
} from "./harness.mjs";

const LIVE = 10_000; // how soon a change must show, at most
const IDLE_MS = 5_000;

const env = useServerAndBrowser();

/** The actions the panel lists, top (newest) first. */
async function actions(panel) {
  return panel.getByTestId("history-event").evaluateAll((items) => items.map((li) => li.dataset.action));
}

/** Wait until the panel's newest events include ``action`` (no sleeping: the DOM is polled). */
async function shows(panel, action, timeout = LIVE) {
  await panel.locator(`[data-testid="history-event"][data-action="${action}"]`).first().waitFor({ timeout });
}

test("a container's History: create and start, then stop and remove with the CLI show up live", async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  const n = unique();
  env.names.push(n);
  // The engine may hold many containers: search first, so the row is in view when it comes.
  await page.getByLabel("Search containers").fill(n);
  const id = runContainer(n);
  const r = row(page, n);
  await r.waitFor({ timeout: LIVE });

  const requests = [];
  page.on("request", (req) => {
    if (req.url().includes("/api/v1/events/")) requests.push(new URL(req.url()).pathname + new URL(req.url()).search);
  });
  await r.getByRole("button", { name: "History" }).click();
  const panel = page.getByRole("dialog", { name: `History of container ${n}` });
  await panel.waitFor();
  await shows(panel, "start");
  assert.equal(await r.getByRole("button", { name: "History" }).getAttribute("aria-expanded"), "true");
  const first = await actions(panel);
  // Newest first: start after create (the network connect comes between them).
  assert.ok(first.indexOf("start") < first.indexOf("create"), `newest first: ${first}`);
  assert.ok(first.includes("connect"), `the network connect is in the container's history: ${first}`);
  await panel.locator('[data-testid="history-event"][data-type="network"]').getByText("network bridge").waitFor();
  assert.match(await panel.locator('[data-action="create"]').innerText(), /image dockstate-test\/busybox:latest/);
  assert.deepEqual(requests, [`/api/v1/events/container/${id}?limit=100`]);

  // An idle open panel asks nothing.
  await page.waitForTimeout(IDLE_MS);
  assert.equal(requests.length, 1, `requests while idle: ${requests.slice(1)}`);

  // Stopped with the CLI: the open panel shows it, without a reload.
  docker("stop", "-t", "1", n); // returns once the container has stopped
  const stopped = Date.now();
  const [rowMs, dieMs] = await Promise.all([
    page
      .locator(`[data-testid="container-row"][data-name="${n}"][data-state="exited"]`)
      .waitFor({ timeout: LIVE })
      .then(() => Date.now() - stopped),
    shows(panel, "die").then(() => Date.now() - stopped),
  ]);
  await panel.locator('[data-action="die"]').getByText(/exit code \d+/).waitFor();
  await shows(panel, "stop");
  const afterStop = await actions(panel);
  assert.ok(afterStop.indexOf("stop") < afterStop.indexOf("die"), `stop after die: ${afterStop}`);
  assert.ok(afterStop.indexOf("die") < afterStop.indexOf("start"), `die after start: ${afterStop}`);
  const stopRequests = requests.length - 1;

  // Removed: the panel stays open and shows the end.
  docker("rm", n);
  await shows(panel, "destroy");
  await r.waitFor({ state: "detached", timeout: LIVE });
  await panel.getByText("removed", { exact: true }).waitFor();
  assert.equal((await actions(panel))[0], "destroy");
  assert.equal(navigations, 0, "no reload happened");

  // Escape closes it.
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });
  assert.deepEqual(errors, []);
  t.diagnostic(
    `after \`docker stop\` returned: the row exited in ${rowMs} ms, the panel's die in ${dieMs} ms; ${stopRequests} timeline request(s) for the stop, ` +
      `${requests.length} in all; after the stop: ${afterStop.join(", ")}`,
  );
  await context.close();
});

test("a volume's History: created and removed with the CLI, on the Volumes page", async () => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await page.goto(`${env.server.url}/#/volumes`);
  await waitLive(page);
  const v = unique();
  try {
    docker("volume", "create", "--label", LABEL, v);
    const r = page.locator(`[data-testid="volume-row"][data-name="${v}"]`);
    await r.waitFor({ timeout: LIVE });
    await r.getByRole("button", { name: "History" }).click();
    const panel = page.getByRole("dialog", { name: `History of volume ${v}` });
    await shows(panel, "create");
    assert.match(await panel.locator('[data-action="create"]').innerText(), /driver local/);
    docker("volume", "rm", v);
    await shows(panel, "destroy");
    await panel.getByText("removed", { exact: true }).waitFor();
    assert.deepEqual(await actions(panel), ["destroy", "create"]);
    assert.deepEqual(errors, []);
  } finally {
    try {
      docker("volume", "rm", "-f", v);
    } catch {
      // already gone
    }
    await context.close();
  }
});

test("a server without a history database: the panel says so, and the page goes on", async () => {
  const server = await startServer({ args: ["--no-db"] });
  try {
    const { context, page, errors } = await signedInPage(env.browser, server);
    await waitLive(page);
    const n = unique();
    env.names.push(n);
    await page.getByLabel("Search containers").fill(n);
    runContainer(n);
    const r = row(page, n);
    await r.waitFor({ timeout: LIVE });
    await r.getByRole("button", { name: "History" }).click();
    const panel = page.getByRole("dialog", { name: `History of container ${n}` });
    const alert = panel.getByRole("alert");
    await alert.waitFor({ timeout: LIVE });
    assert.match(await alert.innerText(), /Could not load the history\.[\s\S]*--no-db/);
    await panel.getByRole("button", { name: "Close history" }).click();
    await panel.waitFor({ state: "detached" });
    // The browser logs the 503 of the request itself; nothing else went wrong.
    assert.deepEqual(errors.filter((e) => !/status of 503/.test(e)), []);
    await context.close();
  } finally {
    await server.stop();
  }
});
