// Screenshots of every page for the README, not a test: docs/screenshots/<page>.png, 1280x800.
//
//   cd web && npm run build && node e2e/screenshots.mjs [--keep] [NAME...]
//
// NAMEs (containers, containers-grouped, images, volumes, networks, engine, history) take only
// those pictures; without, all of them.
//
// It makes a small, plausible state on the engine ($DOCKER_HOST, else /var/run/docker.sock):
// two compose projects (by their labels), a standalone container, some running, one paused,
// one exited, images of different sizes, volumes and networks. Then it starts `dockstate serve`
// on it (see harness.mjs), takes the pictures in Debian's Chromium, and removes all it made
// (everything labelled `dockstate.test.ui=1` and `dockstate.test.ui.shots=1`; --keep leaves it).
// Whatever else the engine holds shows too: for clean pictures, give it an engine of its own.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LABEL, TEST_IMAGE, launchBrowser, startServer, waitLive } from "./harness.mjs";

const out = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");
const keep = process.argv.includes("--keep");
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const wanted = (name) => only.length === 0 || only.includes(name);
/** On all this script makes; what a run left (--keep) goes at the start of the next one. */
const RUN = "dockstate.test.ui.shots=1";

function docker(args, input) {
  return execFileSync("docker", args, {
    encoding: "utf8",
    input,
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
  }).trim();
}

const labelArgs = (...labels) => [LABEL, RUN, ...labels].flatMap((l) => ["--label", l]);
const compose = (project, service, number = 1) => [
  `com.docker.compose.project=${project}`,
  `com.docker.compose.service=${service}`,
  `com.docker.compose.container-number=${number}`,
  "com.docker.compose.oneoff=False",
];

/** An image of its own (its own id and size) built on the test image. */
function image(tag, megabytes) {
  const dockerfile = [
    `FROM ${TEST_IMAGE}`,
    `RUN ["/bin/busybox", "dd", "if=/dev/urandom", "of=/blob", "bs=1000000", "count=${megabytes}"]`,
    `LABEL org.opencontainers.image.title="${tag.split(":")[0]}"`,
  ].join("\n");
  docker(["build", "-q", "--rm", "--force-rm", ...labelArgs(), "-t", tag, "-"], dockerfile);
}

function container(name, img, labels, extra = [], command = ["sleep", "86400"]) {
  docker(["run", "-d", "--name", name, ...labelArgs(...labels), ...extra, img, ...command]);
}

function setUp() {
  const shop = "dst-ui-shop";
  const mon = "dst-ui-monitoring";
  image("dst-ui/shop-web:1.4.2", 6);
  image("dst-ui/shop-api:1.4.2", 21);
  image("dst-ui/postgres:16", 38);
  image("dst-ui/prometheus:2.53", 29);
  image("dst-ui/grafana:11.1", 47);
  for (const [project, name] of [
    [shop, `${shop}_default`],
    [mon, `${mon}_default`],
  ]) {
    docker([
      "network", "create", ...labelArgs(`com.docker.compose.project=${project}`, "com.docker.compose.network=default"), name,
    ]);
  }
  for (const [project, volume] of [
    [shop, "db-data"],
    [mon, "prometheus-data"],
  ]) {
    docker([
      "volume", "create", ...labelArgs(`com.docker.compose.project=${project}`, `com.docker.compose.volume=${volume}`),
      `${project}_${volume}`,
    ]);
  }
  const healthy = ["--health-cmd", "true", "--health-interval", "2s", "--health-start-period", "1s"];
  const net = (project) => ["--network", `${project}_default`];
  container(`${shop}-db-1`, "dst-ui/postgres:16", compose(shop, "db"), [
    ...net(shop), ...healthy, "-v", `${shop}_db-data:/var/lib/postgresql/data`,
  ]);
  container(`${shop}-api-1`, "dst-ui/shop-api:1.4.2", compose(shop, "api", 1), [...net(shop), ...healthy]);
  container(`${shop}-api-2`, "dst-ui/shop-api:1.4.2", compose(shop, "api", 2), [...net(shop), ...healthy]);
  container(`${shop}-web-1`, "dst-ui/shop-web:1.4.2", compose(shop, "web"), [
    ...net(shop), "-p", "127.0.0.1::80", "-p", "127.0.0.1::443",
  ]);
  container(`${shop}-worker-1`, "dst-ui/shop-api:1.4.2", compose(shop, "worker"), net(shop));
  docker(["pause", `${shop}-worker-1`]);
  container(`${shop}-migrate-1`, "dst-ui/shop-api:1.4.2", compose(shop, "migrate"), net(shop), ["true"]);
  container(`${mon}-prometheus-1`, "dst-ui/prometheus:2.53", compose(mon, "prometheus"), [
    ...net(mon), "-v", `${mon}_prometheus-data:/prometheus`, "-p", "127.0.0.1::9090",
  ]);
  container(`${mon}-grafana-1`, "dst-ui/grafana:11.1", compose(mon, "grafana"), [
    ...net(mon), "-p", "127.0.0.1::3000",
  ]);
  container("dst-ui-scratch", TEST_IMAGE, [], [], ["sleep", "3600"]);
  // Settled: the exited one has exited, the health checks have passed.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = docker([
      "ps", "-a", "--filter", `label=${RUN}`, "--format", "{{.Names}} {{.State}} {{.Status}}",
    ]);
    if (!/starting|created|restarting/.test(states)) break;
    if (Date.now() > deadline) throw new Error(`the containers did not settle:\n${states}`);
    execFileSync("sleep", ["0.5"]);
  }
}

function tearDown() {
  const ids = (args) => docker(args).split("\n").filter(Boolean);
  const containers = ids(["ps", "-aq", "--filter", `label=${RUN}`]);
  if (containers.length) docker(["rm", "-f", "-v", ...containers]);
  const volumes = ids(["volume", "ls", "-q", "--filter", `label=${RUN}`]);
  if (volumes.length) docker(["volume", "rm", "-f", ...volumes]);
  const networks = ids(["network", "ls", "-q", "--filter", `label=${RUN}`]);
  if (networks.length) docker(["network", "rm", ...networks]);
  const images = ids(["images", "-q", "--filter", `label=${RUN}`]);
  if (images.length) docker(["rmi", "-f", ...new Set(images)]);
}

const PAGES = [
  ["containers", async (page) => page.locator('[data-testid="container-row"]').first().waitFor()],
  ["images", async (page) => page.locator('[data-testid="image-row"]').first().waitFor()],
  ["volumes", async (page) => page.locator('[data-testid="volume-row"]').first().waitFor()],
  ["networks", async (page) => page.getByRole("table", { name: "Networks" }).waitFor()],
  ["engine", async (page) => page.getByTestId("engine-status").getByText("connected").waitFor()],
];

async function main() {
  mkdirSync(out, { recursive: true });
  let server;
  let browser;
  try {
    console.log("making the state…");
    tearDown();
    // Serving before the state is made: its history (the History panel) holds how it was made.
    server = await startServer();
    setUp();
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      colorScheme: "light",
    });
    const page = await context.newPage();
    await page.goto(server.signInUrl);
    await waitLive(page, 30_000);
    for (const [name, ready] of PAGES) {
      if (!wanted(name)) continue;
      await page.goto(`${server.url}/#/${name}`);
      await ready(page);
      await waitLive(page);
      await page.waitForTimeout(1500); // past the highlight of fresh changes
      await page.mouse.move(0, 799); // no hover
      const file = join(out, `${name}.png`);
      await page.screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
    if (wanted("containers-grouped")) {
      // The same page, grouped by compose project.
      await page.goto(`${server.url}/#/containers`);
      await page.getByText("Group by compose project").click();
      await page.getByRole("button", { name: /dst-ui-shop/ }).waitFor();
      await page.waitForTimeout(500);
      const file = join(out, "containers-grouped.png");
      await page.screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
    if (wanted("history")) {
      // The History panel of the database: its volume, its network, its health checks.
      await page.goto(`${server.url}/#/containers`);
      await page.reload(); // ungrouped again
      await waitLive(page);
      await page.getByLabel("Search containers").fill("dst-ui-shop");
      const db = page.locator('[data-testid="container-row"][data-name="dst-ui-shop-db-1"]');
      await db.getByRole("button", { name: "History" }).click();
      const panel = page.getByRole("dialog", { name: /History of container/ });
      await panel.locator('[data-action="health_status"]').waitFor({ timeout: 30_000 });
      await page.waitForTimeout(1500);
      await page.mouse.move(0, 799);
      const file = join(out, "history.png");
      await page.screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
    await context.close();
  } finally {
    await browser?.close();
    await server?.stop();
    if (!keep) tearDown();
  }
}

await main();
