// The e2e harness: a real `dockstate serve` on a free port, Debian's Chromium through
// playwright-core, and the Docker CLI (or, for many containers at once, the Engine API over
// its unix socket) for making containers.
//
// Everything the tests create is labelled `dockstate.test.ui=1` and named `dst-ui-…`: other
// test sessions may share the engine, and the tests remove only what they made.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TEST_IMAGE = "dockstate-test/busybox:latest";
export const LABEL_KEY = "dockstate.test.ui";
export const LABEL = `${LABEL_KEY}=1`;

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function unique(prefix = "dst-ui") {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export function docker(...args) {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Start a labelled test container running `sleep 300`; returns its full id. */
export function runContainer(name, ...extra) {
  return docker("run", "-d", "--label", LABEL, "--name", name, ...extra, TEST_IMAGE, "sleep", "300");
}

export function removeContainers(...names) {
  for (const name of names) {
    try {
      docker("rm", "-f", name);
    } catch {
      // already gone
    }
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * `dockstate serve --port P --token T` ($DOCKSTATE_SERVE replaces the command before the
 * options), waited for until its engine link is connected. A free port and a fresh token
 * unless given (to start a server again where a stopped one was), and its own history
 * database unless `db` names one (the stopped server's, to continue its history). ``args``
 * go to `serve` after those options (e.g. `--no-db`).
 */
export async function startServer({ port: wantedPort, token: wantedToken, db: wantedDb, args = [] } = {}) {
  const port = wantedPort ?? (await freePort());
  const token = wantedToken ?? randomBytes(12).toString("hex");
  const db = wantedDb ?? join(mkdtempSync(join(tmpdir(), "dockstate-e2e-")), "history.db");
  const command = process.env.DOCKSTATE_SERVE
    ? process.env.DOCKSTATE_SERVE.split(" ")
    : [join(root, ".venv", "bin", "dockstate"), "serve"];
  const options = ["--port", String(port), "--token", token, "--db", db, ...args];
  const child = spawn(command[0], [...command.slice(1), ...options], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dockstate serve exited with ${child.exitCode}`);
    try {
      const health = await (await fetch(`${url}/healthz`)).json();
      if (health.engine === "connected") break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const index = await fetch(`${url}/`, { headers: { authorization: `Bearer ${token}` } });
  if (index.status !== 200) {
    child.kill();
    throw new Error(`GET / answered ${index.status}: is the UI built and installed? ${await index.text()}`);
  }
  const exited = new Promise((r) => child.once("exit", r));
  return {
    url,
    port,
    token,
    db,
    pid: child.pid,
    signInUrl: `${url}/?token=${token}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      // SIGKILL if it takes over 10 s (a timer that must not outlive it: it would hold the
      // test process that long).
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
    /** SIGKILL: no goodbye to the clients, their connections just break. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * A server and a browser for the test file: started before its tests, stopped after them,
 * with the containers the tests list in ``env.names`` removed. A test may replace
 * ``env.server`` (e.g. after restarting it); the one there at the end is stopped.
 */
export function useServerAndBrowser() {
  const env = { server: undefined, browser: undefined, names: [] };
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    removeContainers(...env.names);
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/**
 * A Docker registry on a loopback port with one fresh image pushed to it (the test image and
 * two layers of random bytes) and a throttling proxy before it, so that a pull takes a few
 * seconds (``rate``: bytes a second): tests/server/registry_harness.py, the pull tests' own.
 * ``image`` is the reference
 * to pull (through the proxy). ``stop()`` ends it and removes what it made, the pulled image
 * too.
 */
export async function startRegistry({ rate = 600_000 } = {}) {
  const python = process.env.DOCKSTATE_PYTHON ?? join(root, ".venv", "bin", "python");
  const script = join(root, "tests", "server", "registry_harness.py");
  const child = spawn(python, [script, "--label", LABEL, "--rate", String(rate)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  const line = await new Promise((resolveLine, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error("the registry did not start within 180 s")), 180_000);
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end >= 0) {
        clearTimeout(timer);
        resolveLine(text.slice(0, end));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`registry_harness.py exited with ${code}`));
    });
  });
  const { image, registry } = JSON.parse(line);
  return {
    image,
    host: `127.0.0.1:${registry}`,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A page signed in to ``server``, with page errors collected. */
export async function signedInPage(browser, server) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(server.signInUrl);
  return { context, page, errors };
}

/**
 * Call ``fn`` until it returns something truthy (returned), every 200 ms for at most
 * ``timeout`` ms; then fail, saying ``what`` was awaited and what ``fn`` last returned.
 */
export async function waitFor(fn, what, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} (within ${timeout} ms; last: ${JSON.stringify(last)})`);
}

/** Wait until the connection badge says Live. */
export async function waitLive(page, timeout = 10_000) {
  await page.getByRole("banner").getByTestId("connection").getByText("Live", { exact: true }).waitFor({ timeout });
}

export function row(page, name) {
  return page.locator(`[data-testid="container-row"][data-name="${name}"]`);
}

// -- the Docker Engine API over its unix socket: for many containers, fast ---------------------

export const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith("unix://")
  ? process.env.DOCKER_HOST.slice("unix://".length)
  : "/var/run/docker.sock";

const dockerAgent = new Agent({ keepAlive: true, maxSockets: 32 });

/** One Engine API call; resolves to { status, body } (body parsed when JSON). */
export function dockerApi(method, path, body) {
  return new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        socketPath: DOCKER_SOCKET,
        agent: dockerAgent,
        method,
        path,
        headers: payload
          ? { "content-type": "application/json", "content-length": payload.length }
          : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON
          }
          resolveCall({ status: res.statusCode, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Run ``fn`` over ``items`` with at most ``limit`` calls in flight; results in order. The
 * first failure stops new calls, and is thrown once the calls in flight are over (so that a
 * clean-up after it sees everything they made).
 */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  let failed = false;
  async function worker() {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = outcomes.find((o) => o.status === "rejected");
  if (failure) throw failure.reason;
  return results;
}

/**
 * Create (not start) a labelled container per name through the API, ``concurrency`` at a
 * time; ``labels`` are added to the test label. Returns their ids.
 */
export async function createContainers(names, { labels = {}, concurrency = 16 } = {}) {
  return pool(names, concurrency, async (name) => {
    const { status, body } = await dockerApi(
      "POST",
      `/containers/create?name=${encodeURIComponent(name)}`,
      { Image: TEST_IMAGE, Cmd: ["sleep", "300"], Labels: { [LABEL_KEY]: "1", ...labels } },
    );
    if (status !== 201) throw new Error(`create ${name}: ${status} ${JSON.stringify(body)}`);
    return body.Id;
  });
}

/** Ids of the containers that carry every one of ``labels`` (``key=value`` strings). */
export async function containersLabelled(...labels) {
  const filters = encodeURIComponent(JSON.stringify({ label: [LABEL, ...labels] }));
  const { status, body } = await dockerApi("GET", `/containers/json?all=1&filters=${filters}`);
  if (status !== 200) throw new Error(`list: ${status} ${JSON.stringify(body)}`);
  return body.map((c) => c.Id);
}

/** Force-remove containers by id through the API, ``concurrency`` at a time. */
export async function removeContainerIds(ids, concurrency = 16) {
  await pool(ids, concurrency, async (id) => {
    const { status, body } = await dockerApi("DELETE", `/containers/${id}?force=1&v=1`);
    if (status !== 204 && status !== 404) throw new Error(`remove ${id}: ${status} ${JSON.stringify(body)}`);
  });
}

/** Let the process exit: the API's keep-alive sockets would hold it. */
export function closeDockerApi() {
  dockerAgent.destroy();
}
