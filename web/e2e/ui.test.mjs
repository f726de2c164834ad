// The web UI against a real `dockstate serve` and a real Docker engine, in Debian's Chromium.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  docker,
  row,
  runContainer,
  signedInPage,
  unique,
  useServerAndBrowser,
} from "./harness.mjs";

const LIVE = 10_000; // how soon a change must show, at most

const env = useServerAndBrowser();

function name() {
  const n = unique();
  env.names.push(n);
  return n;
}

describe("sign-in", () => {
  test("the printed URL signs in, and the token leaves the address bar", async () => {
    const { context, page, errors } = await signedInPage(env.browser, env.server);
    assert.equal(page.url(), `${env.server.url}/`);
    await page.getByTestId("connection").getByText("Live").waitFor({ timeout: LIVE });
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "dockstate_session");
    assert.ok(session, "the session cookie is set");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read it");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("without the cookie, / says to open the URL that serve printed", async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${env.server.url}/`);
    assert.equal(response.status(), 401);
    await page.getByText("dockstate serve").first().waitFor();
    await context.close();
  });
});

describe("containers", () => {
  test("a container started with docker run appears without a reload; Stop stops it", async () => {
    const { context, page, errors } = await signedInPage(env.browser, env.server);
    await page.getByTestId("connection").getByText("Live").waitFor({ timeout: LIVE });
    let navigations = 0;
    page.on("framenavigated", () => navigations++);
    const n = name();
    // The engine may hold many containers: search first, so the row is in view when it comes.
    await page.getByLabel("Search containers").fill(n);
    runContainer(n);
    const r = row(page, n);
    await r.waitFor({ timeout: LIVE });
    assert.equal(await r.getAttribute("data-state"), "running");

    await r.getByRole("button", { name: "Stop" }).click();
    // Optimistic: the row says so at once (before Docker's grace period is over)...
    await r.getByTestId("pending").getByText("stopping…").waitFor({ timeout: 2000 });
    // ...and the change stream confirms it.
    await page
      .locator(`[data-testid="container-row"][data-name="${n}"][data-state="exited"]`)
      .waitFor({ timeout: 20_000 });
    await r.getByTestId("pending").waitFor({ state: "detached", timeout: LIVE });
    assert.equal(docker("inspect", "-f", "{{.State.Running}}", n), "false");
    assert.equal(navigations, 0, "no reload happened");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a refusal rolls the row back and shows Docker's message", async () => {
    const { context, page } = await signedInPage(env.browser, env.server);
    const n = name();
    await page.getByLabel("Search containers").fill(n);
    runContainer(n);
    const r = row(page, n);
    await r.waitFor({ timeout: LIVE });
    await r.getByRole("button", { name: "Remove" }).click();
    const dialog = page.getByRole("alertdialog");
    await dialog.waitFor();
    // Destructive: asked first. Without force, Docker refuses to remove a running container.
    await dialog.getByRole("checkbox").uncheck();
    await dialog.getByRole("button", { name: "Remove" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "failed" });
    await alert.waitFor({ timeout: LIVE });
    assert.match(await alert.innerText(), /running/i);
    await r.getByTestId("pending").waitFor({ state: "detached" });
    assert.equal(await r.getAttribute("data-state"), "running");
    assert.equal(docker("inspect", "-f", "{{.State.Running}}", n), "true");
    await context.close();
  });

  test("search and the state filter narrow the table", async () => {
    const { context, page } = await signedInPage(env.browser, env.server);
    const prefix = unique("dst-ui-filter");
    const running = `${prefix}-running`;
    const stopped = `${prefix}-stopped`;
    env.names.push(running, stopped);
    const search = page.getByLabel("Search containers");
    await search.fill(prefix);
    runContainer(running);
    runContainer(stopped);
    docker("stop", "-t", "0", stopped);
    await page
      .locator(`[data-testid="container-row"][data-name="${stopped}"][data-state="exited"]`)
      .waitFor({ timeout: LIVE });
    await row(page, running).waitFor();
    await search.fill(running);
    await row(page, stopped).waitFor({ state: "detached" });
    await row(page, running).waitFor();
    await search.fill(prefix);
    await page.getByLabel("Filter by state").selectOption("stopped");
    await row(page, running).waitFor({ state: "detached" });
    await row(page, stopped).waitFor();
    await context.close();
  });
});

describe("connection", () => {
  test("the last known state shows at once from IndexedDB, marked stale", async () => {
    const { context, page } = await signedInPage(env.browser, env.server);
    const n = name();
    await page.getByLabel("Search containers").fill(n);
    runContainer(n);
    await row(page, n).waitFor({ timeout: LIVE });
    await page.waitForTimeout(1500); // the store saves at most once a second
    // The WebSocket now goes nowhere: only the cache can show the container.
    await page.routeWebSocket(/\/api\/v1\/ws$/, () => {});
    await page.reload();
    await page.getByLabel("Search containers").fill(n);
    await row(page, n).waitFor({ timeout: LIVE });
    await page.getByTestId("stale").getByText("last known state").waitFor();
    await context.close();
  });

  test("a dropped connection shows reconnecting with a countdown, then live again", async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    // Every WebSocket of the page goes through this route, so the test can cut it.
    let refuse = false;
    let live = null;
    await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
      if (refuse) {
        ws.close({ code: 1011, reason: "test: refused" });
        return;
      }
      ws.connectToServer();
      live = ws;
    });
    await page.goto(env.server.signInUrl);
    const badge = page.getByTestId("connection");
    await badge.getByText("Live").waitFor({ timeout: LIVE });
    refuse = true;
    await live.close({ code: 1012, reason: "test: cut" });
    await badge.getByText(/Reconnecting in \d+ s/).waitFor({ timeout: LIVE });
    await page.getByTestId("stale").getByText("Possibly stale").waitFor();
    refuse = false;
    // The tab becoming visible again reconnects at once, whatever the backoff says.
    await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await badge.getByText("Live").waitFor({ timeout: LIVE });
    await page.getByTestId("stale").waitFor({ state: "detached" });
    await context.close();
  });
});
