// No polling: an idle page makes no HTTP request; what changes reaches it over the WebSocket.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  row,
  runContainer,
  signedInPage,
  unique,
  waitLive,
  useServerAndBrowser,
} from "./harness.mjs";

const IDLE_MS = 10_000;

const env = useServerAndBrowser();

test(`a live page makes no HTTP request in ${IDLE_MS / 1000} s, even while the engine changes`, async (t) => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const n = unique();
  env.names.push(n);
  await page.getByLabel("Search containers").fill(n);

  const requests = [];
  const sockets = [];
  let frames = 0;
  page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  // The page's one WebSocket was opened before: count what it receives from now on.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketFrameReceived", () => frames++);

  const start = Date.now();
  await page.waitForTimeout(IDLE_MS / 2);
  // Halfway, the engine changes: the page shows it without asking.
  runContainer(n);
  await row(page, n).waitFor({ timeout: IDLE_MS / 2 });
  await page.waitForTimeout(Math.max(0, IDLE_MS - (Date.now() - start)));

  assert.deepEqual(requests, [], "HTTP requests while idle");
  assert.deepEqual(sockets, [], "no new WebSocket (no reconnection)");
  assert.ok(frames > 0, "the change came over the WebSocket");
  await waitLive(page, 1000);
  assert.deepEqual(errors, []);
  t.diagnostic(`${requests.length} HTTP requests, ${frames} WebSocket frames received in ${Date.now() - start} ms`);
  await context.close();
});
