// The server goes away and comes back: the open page says so, reconnects by itself, and shows
// what changed on the engine meanwhile.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  docker,
  row,
  runContainer,
  signedInPage,
  startServer,
  unique,
  waitLive,
  useServerAndBrowser,
} from "./harness.mjs";

const env = useServerAndBrowser();

test("killing `dockstate serve` shows reconnecting; started again on the same port and token, the page is live with the engine's changes", async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const prefix = unique("dst-ui-restart");
  const stays = `${prefix}-stays`;
  const gone = `${prefix}-gone`;
  const born = `${prefix}-born`;
  env.names.push(stays, gone, born);
  await page.getByLabel("Search containers").fill(prefix);
  runContainer(stays);
  runContainer(gone);
  await row(page, gone).waitFor({ timeout: 10_000 });
  await row(page, stays).waitFor();
  let navigations = 0;
  page.on("framenavigated", () => navigations++);

  // Down: SIGKILL, so the server says no goodbye; the page's socket just breaks.
  const killedAt = Date.now();
  await env.server.kill();
  const badge = page.getByTestId("connection");
  await badge.getByText(/Reconnecting/).waitFor({ timeout: 10_000 });
  await page.getByTestId("stale").getByText("Possibly stale").waitFor();
  const noticed = Date.now() - killedAt;

  // While it is down, the engine changes.
  runContainer(born);
  docker("stop", "-t", "0", stays);
  docker("rm", "-f", gone);
  // The page still shows the last state it knew, marked stale.
  assert.equal(await row(page, gone).count(), 1, "the last known state stays on screen");
  assert.equal(await row(page, born).count(), 0);

  // Up again, same port and token: the session cookie of the page is still good.
  const restartedAt = Date.now();
  const { port, token, db } = env.server;
  env.server = await startServer({ port, token, db });
  const serving = Date.now() - restartedAt;
  await waitLive(page, 30_000);
  const reconnected = Date.now() - restartedAt;
  await page.getByTestId("stale").waitFor({ state: "detached" });
  await row(page, born).waitFor({ timeout: 10_000 });
  assert.equal(await row(page, born).getAttribute("data-state"), "running");
  await row(page, gone).waitFor({ state: "detached", timeout: 10_000 });
  await page
    .locator(`[data-testid="container-row"][data-name="${stays}"][data-state="exited"]`)
    .waitFor({ timeout: 10_000 });
  assert.equal(navigations, 0, "no reload happened");
  // Chromium logs each refused WebSocket attempt as a console error: those are expected here.
  assert.deepEqual(
    errors.filter((e) => !/WebSocket connection to .* failed/.test(e)),
    [],
  );
  t.diagnostic(
    `reconnecting shown ${noticed} ms after the kill; server serving ${serving} ms after the restart, page live ${reconnected} ms after it`,
  );
  await context.close();
});
