// 1000 containers: the table renders them and scrolls top to bottom without a main-thread task
// over 200 ms. The containers are created (not started) through the Engine API, many at a time.
//
// DOCKSTATE_E2E_SCALE=0 leaves this file out (it spends most of its time creating and removing
// the containers); DOCKSTATE_E2E_SCALE=N makes N containers instead of 1000.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import {
  closeDockerApi,
  containersLabelled,
  createContainers,
  launchBrowser,
  removeContainerIds,
  startServer,
  waitLive,
} from "./harness.mjs";

const COUNT = Number(process.env.DOCKSTATE_E2E_SCALE ?? 1000);
const LONG_TASK_LIMIT_MS = 200;
const STEP_PX = 400;

const run = randomBytes(4).toString("hex");
const RUN_LABEL = "dockstate.test.ui.run";
const prefix = `dst-ui-bulk-${run}`;
const names = Array.from({ length: COUNT }, (_, i) => `${prefix}-${String(i).padStart(4, "0")}`);

let server;
let browser;

async function cleanUp() {
  // Everything of this run, whether or not its create call answered.
  await removeContainerIds(await containersLabelled(`${RUN_LABEL}=${run}`));
}

before(async () => {
  if (COUNT === 0) return;
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  try {
    if (COUNT > 0) await cleanUp();
  } finally {
    closeDockerApi();
    await browser?.close();
    await server?.stop();
  }
});

/** How many containers of this run the server's state holds. */
async function countInState() {
  const response = await fetch(`${server.url}/api/v1/state`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const { state } = await response.json();
  return Object.values(state.containers).filter((c) => c.labels?.[RUN_LABEL] === run).length;
}

// Injected before the app loads: every long task of the page, from its first one on.
function observeLongTasks() {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: "longtask", buffered: true });
}

const nextFrames = () =>
  new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));

test(`${COUNT} containers render and scroll without a main-thread task over ${LONG_TASK_LIMIT_MS} ms`, { skip: COUNT === 0 && "DOCKSTATE_E2E_SCALE=0" }, async (t) => {
  let started = Date.now();
  await createContainers(names, {
    labels: { [RUN_LABEL]: run },
    concurrency: 16,
  });
  const created = Date.now() - started;
  started = Date.now();
  while ((await countInState()) < COUNT) {
    assert.ok(Date.now() - started < 60_000, "the server's state did not show every container within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  const reflected = Date.now() - started;

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.addInitScript(observeLongTasks);
  started = Date.now();
  await page.goto(server.signInUrl);
  await waitLive(page, 30_000);
  const foot = page.locator(".table-foot");
  await page.waitForFunction(
    (n) => Number(/(\d+) containers/.exec(document.querySelector(".table-foot")?.textContent ?? "")?.[1]) >= n,
    COUNT,
  );
  const firstRow = page.locator('[data-testid="container-row"]').first();
  await firstRow.waitFor();
  const loaded = Date.now() - started;
  const total = Number(/(\d+) containers/.exec(await foot.innerText())[1]);

  // Settle, then the measurement starts: everything after the initial load.
  await page.evaluate(nextFrames);
  await page.waitForTimeout(500);
  const t0 = await page.evaluate(() => performance.now());

  const scroller = page.getByTestId("containers-scroll");
  const box = await scroller.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const seen = new Set();
  let steps = 0;
  let maxRowsInDom = 0;
  started = Date.now();
  for (;;) {
    const view = await scroller.evaluate((el) => ({
      top: el.scrollTop,
      bottom: el.scrollHeight - el.clientHeight,
      names: [...el.querySelectorAll('[data-testid="container-row"]')].map((r) => r.dataset.name),
    }));
    for (const n of view.names) seen.add(n);
    maxRowsInDom = Math.max(maxRowsInDom, view.names.length);
    if (view.top >= view.bottom - 1) break;
    assert.ok(steps < 10 * Math.ceil((total * 38) / STEP_PX), "the table does not scroll to its end");
    await page.mouse.wheel(0, STEP_PX);
    await page.evaluate(nextFrames);
    steps++;
  }
  const scrolled = Date.now() - started;
  // A long task ending now is reported a little later.
  await page.waitForTimeout(300);
  const tasks = await page.evaluate(() => window.__longTasks);
  const during = tasks.filter((x) => x.start >= t0);
  const loading = tasks.filter((x) => x.start < t0);
  const longest = (list) => list.reduce((m, x) => Math.max(m, x.duration), 0);
  t.diagnostic(
    `${COUNT} containers created in ${created} ms, in the server's state ${reflected} ms later; ` +
      `page live with ${total} rows in ${loaded} ms (longest task while loading: ${Math.round(longest(loading))} ms, ${loading.length} over 50 ms); ` +
      `scrolled to the end in ${steps} steps of ${STEP_PX} px in ${scrolled} ms: longest task ${Math.round(longest(during))} ms, ${during.length} over 50 ms; ` +
      `at most ${maxRowsInDom} rows in the DOM`,
  );
  const missing = names.filter((n) => !seen.has(n));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of the containers never showed while scrolling`);
  assert.ok(maxRowsInDom < 100, `the table is virtualized (${maxRowsInDom} rows in the DOM)`);
  const slow = during.filter((x) => x.duration > LONG_TASK_LIMIT_MS).map((x) => Math.round(x.duration));
  assert.deepEqual(slow, [], `main-thread tasks over ${LONG_TASK_LIMIT_MS} ms while scrolling`);
  assert.deepEqual(errors, []);
  await context.close();
});

// The same containers with stats for every one of them, every second, the table sorted by CPU
// (so re-sorted on every sample) while it scrolls: no task over the limit. The engine's
// containers are created, not running (1000 running containers would take the shared machine),
// so the samples are made here and given to the page on its own WebSocket (Playwright's
// routeWebSocket: the server's frames pass through, its own stats are left out).
test(`${COUNT} containers with stats every second, sorted by CPU, scroll without a task over ${2 * LONG_TASK_LIMIT_MS} ms`, { skip: COUNT === 0 && "DOCKSTATE_E2E_SCALE=0" }, async (t) => {
  const response = await fetch(`${server.url}/api/v1/state`, { headers: { authorization: `Bearer ${server.token}` } });
  const { state } = await response.json();
  const ids = Object.values(state.containers).filter((c) => c.labels?.[RUN_LABEL] === run).map((c) => c.id);
  assert.equal(ids.length, COUNT, "the first test's containers are there");

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.addInitScript(observeLongTasks);
  let sub = null;
  let sent = 0;
  let timer = null;
  let tick = 0;
  const sample = (i) => ({
    cpu_percent: ((i * 7919 + tick * 104729) % 2000) / 10, // a new order every second
    memory_bytes: ((i * 31 + tick) % 997) * 1_000_000,
    memory_limit_bytes: 0,
    net_rx_bytes: tick * 1000 * (i % 5),
    net_tx_bytes: tick * 500,
    block_read_bytes: 0,
    block_write_bytes: tick * 4096,
    pids: 1,
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((message) => {
      const m = JSON.parse(String(message));
      if (m.type === "subscribe_stats") sub = m.id;
      if (m.type === "unsubscribe" && m.id === sub) sub = null;
      upstream.send(message);
    });
    upstream.onMessage((message) => {
      if (JSON.parse(String(message)).type === "stats") return;
      ws.send(message);
    });
    timer = setInterval(() => {
      if (!sub) return;
      tick += 1;
      const containers = Object.fromEntries(ids.map((id, i) => [id, sample(i)]));
      ws.send(JSON.stringify({ type: "stats", sub, engine: "local", time: new Date().toISOString(), containers }));
      sent += 1;
    }, 1000);
  });
  try {
    await page.goto(server.signInUrl);
    await waitLive(page, 30_000);
    await page.locator('[data-testid="container-row"]').first().waitFor();
    await page.getByRole("columnheader", { name: /^CPU/ }).click();
    // The first samples: every visible row shows a CPU value, the top one the highest.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-testid="container-row"] [data-testid="cpu"]')];
      return cells.length > 0 && cells.every((c) => c.dataset.value !== undefined);
    }, undefined, { timeout: 15_000 });
    await page.evaluate(nextFrames);
    const t0 = await page.evaluate(() => performance.now());
    const sentAtStart = sent;
    const scroller = page.getByTestId("containers-scroll");
    const box = await scroller.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    // 10 s: down by steps, then back up, while the samples come and the table re-sorts.
    const started = Date.now();
    let steps = 0;
    let sortedChecks = 0;
    while (Date.now() - started < 10_000) {
      await page.mouse.wheel(0, (Math.floor(steps / 15) % 2 === 0 ? 1 : -1) * STEP_PX);
      await page.evaluate(nextFrames);
      steps++;
      if (steps % 10 === 0) {
        // The rows in view are in CPU order, highest first.
        const values = await scroller.evaluate((el) =>
          [...el.querySelectorAll('[data-testid="container-row"]')]
            .map((r) => ({ y: new DOMMatrix(getComputedStyle(r).transform).m42, v: Number(r.querySelector('[data-testid="cpu"]')?.dataset.value) }))
            .sort((a, b) => a.y - b.y)
            .map((x) => x.v),
        );
        const ordered = values.every((v, i) => i === 0 || values[i - 1] >= v || Number.isNaN(v));
        if (ordered) sortedChecks++;
      }
    }
    await page.waitForTimeout(300);
    const tasks = (await page.evaluate(() => window.__longTasks)).filter((x) => x.start >= t0);
    const longest = tasks.reduce((m, x) => Math.max(m, x.duration), 0);
    const samples = sent - sentAtStart;
    t.diagnostic(
      `${samples} samples of ${COUNT} containers in 10 s while scrolling ${steps} steps, sorted by CPU: ` +
        `longest task ${Math.round(longest)} ms, ${tasks.length} over 50 ms; rows in CPU order at ${sortedChecks} of ${Math.floor(steps / 10)} checks`,
    );
    assert.ok(samples >= 8, `the samples came (${samples})`);
    // Twice the limit of the test above: this one renders a re-sort of every row and draws 88
    // sparklines every second while it scrolls. On this project's shared 2-core machine the
    // longest task measured 89-140 ms at a load average near 2, 230-294 ms near 9 (other
    // sessions' tests running).
    const limit = 2 * LONG_TASK_LIMIT_MS;
    const slow = tasks.filter((x) => x.duration > limit).map((x) => Math.round(x.duration));
    assert.deepEqual(slow, [], `main-thread tasks over ${limit} ms with stats`);
    assert.ok(sortedChecks >= Math.floor(steps / 10) - 1, "the rows in view are sorted by CPU");
    assert.deepEqual(errors, []);
  } finally {
    if (timer) clearInterval(timer);
    await context.close();
  }
});
