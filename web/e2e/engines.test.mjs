// Several engines in one server (protocol.md §8), in the browser: the overview of every engine
// is the landing page, the switcher moves between engines, each engine's pages are its own and
// a container page names its engine. Two engines: the shared one as `local`, and `spare`,
// stopped (its socket does not exist: the server keeps trying).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  launchBrowser,
  removeContainers,
  row,
  runContainer,
  signedInPage,
  startServer,
  unique,
  waitFor,
  waitLive,
} from "./harness.mjs";

const env = { server: undefined, browser: undefined, names: [], dir: undefined };

before(async () => {
  env.dir = mkdtempSync(join(tmpdir(), "dst-ui-engines-"));
  env.server = await startServer({
    args: ["--engine", "local=unix:///var/run/docker.sock", "--engine", `spare=unix://${env.dir}/stopped.sock`],
  });
  env.browser = await launchBrowser();
});

after(async () => {
  removeContainers(...env.names);
  await env.browser?.close();
  await env.server?.stop();
  rmSync(env.dir, { recursive: true, force: true });
});

const status = (page, engine) => page.locator(`[data-testid="engine-row"][data-engine="${engine}"]`).getAttribute("data-status");

test("the overview, the switcher, and each engine's own pages", async () => {
  const n = unique();
  env.names.push(n);
  runContainer(n);
  const { context, page, errors } = await signedInPage(env.browser, env.server);

  // The landing page: every engine, the stopped one down, the live one with its counts.
  await page.getByTestId("engines").waitFor();
  await waitFor(async () => (await status(page, "local")) === "connected", "local connected");
  await waitFor(async () => (await status(page, "spare")) === "down", "spare down");
  const local = page.locator('[data-testid="engine-row"][data-engine="local"]');
  assert.match(await local.getByTestId("engine-containers").textContent(), /^\d+ \(\d+ running\)$/);

  // An engine's pages: its containers, under its own address.
  await local.getByRole("link", { name: "local" }).click();
  await waitLive(page);
  assert.equal(new URL(page.url()).hash, "#/e/local/containers");
  await page.getByLabel("Search containers").fill(n);
  await row(page, n).waitFor();
  await row(page, n).getByRole("link", { name: n, exact: true }).click();
  assert.match(new URL(page.url()).hash, /^#\/e\/local\/containers\//);
  assert.equal(await page.getByTestId("container-engine").textContent(), "on engine local");

  // The switcher: the stopped engine's pages say so, and hold none of local's containers.
  await page.getByRole("combobox", { name: "Engine" }).selectOption("spare");
  await waitFor(async () => new URL(page.url()).hash === "#/e/spare/containers", "spare's pages");
  await page.getByRole("banner").getByTestId("connection").getByText("Engine disconnected").waitFor();
  assert.equal(await row(page, n).count(), 0);

  // And back to the overview.
  await page.getByRole("combobox", { name: "Engine" }).selectOption("");
  await page.getByTestId("engines").waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
