// The e2e harness: a real `dockstate serve` on a free port, Debian's Chromium through
// playwright-core, and the Docker CLI for making containers.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TEST_IMAGE = "dockstate-test/busybox:latest";
export const LABEL = "dockstate.test=1";

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
 * options), waited for until its engine link is connected.
 */
export async function startServer() {
  const port = await freePort();
  const token = randomBytes(12).toString("hex");
  const command = process.env.DOCKSTATE_SERVE
    ? process.env.DOCKSTATE_SERVE.split(" ")
    : [join(root, ".venv", "bin", "dockstate"), "serve"];
  const child = spawn(command[0], [...command.slice(1), "--port", String(port), "--token", token], {
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
  return {
    url,
    token,
    signInUrl: `${url}/?token=${token}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
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

export function row(page, name) {
  return page.locator(`[data-testid="container-row"][data-name="${name}"]`);
}
