// Screenshots of every page for the README, not a test: docs/screenshots/<page>.png, 1280x800.
//
//   cd web && npm run build && node e2e/screenshots.mjs [--keep] [NAME...]
//
// NAMEs (containers, containers-grouped, images, volumes, networks, engine, history, logs,
// container, run, pull) take only those pictures; without, all of them. `pull` pulls from a
// registry of its own on this machine (harness.startRegistry).
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
import { LABEL, TEST_IMAGE, launchBrowser, startRegistry, startServer, waitLive } from "./harness.mjs";

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

// What the shop's services write: JSON access lines, coloured levels, warnings on stderr.
const API_LOG = [
  `printf '\\033[32mINFO\\033[0m  api 1.4.2 listening on :8080 (pid %d)\\n' $$`,
  "i=0; while :; do i=$((i+1))",
  `printf '{"level":"info","msg":"request","method":"GET","path":"/api/cart/%d","status":200,"ms":%d}\\n' $((RANDOM % 500)) $((RANDOM % 80 + 3))`,
  `[ $((i % 6)) -eq 0 ] && printf '\\033[33mWARN\\033[0m  slow query on orders: %d ms\\n' $((RANDOM % 900 + 300)) >&2`,
  "sleep 0.$((RANDOM % 6 + 3)); done",
].join("; ");
const WEB_LOG = [
  "i=0; while :; do i=$((i+1))",
  `printf '172.18.0.1 - - "GET /static/app.%d.js HTTP/1.1" \\033[32m200\\033[0m %d\\n' $((RANDOM % 9)) $((RANDOM % 90000 + 900))`,
  `[ $((i % 9)) -eq 0 ] && printf '172.18.0.1 - - "GET /favicon.ico HTTP/1.1" \\033[31m404\\033[0m 153\\n'`,
  "sleep 0.$((RANDOM % 5 + 4)); done",
].join("; ");
const DB_LOG = "i=0; while :; do i=$((i+1)); echo \"LOG:  checkpoint complete: wrote $((RANDOM % 90 + 1)) buffers\"; sleep 1.7; done";
const sh = (script) => ["sh", "-c", script];

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
  ], sh(DB_LOG));
  container(`${shop}-api-1`, "dst-ui/shop-api:1.4.2", compose(shop, "api", 1), [...net(shop), ...healthy], sh(API_LOG));
  container(`${shop}-api-2`, "dst-ui/shop-api:1.4.2", compose(shop, "api", 2), [...net(shop), ...healthy], sh(API_LOG));
  container(`${shop}-web-1`, "dst-ui/shop-web:1.4.2", compose(shop, "web"), [
    ...net(shop), "-p", "127.0.0.1::80", "-p", "127.0.0.1::443",
  ], sh(WEB_LOG));
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
    if (wanted("logs")) {
      // The shop's log, every container merged, a search on.
      await page.goto(`${server.url}/#/logs/project/dst-ui-shop`);
      await page.getByTestId("log-line").first().waitFor();
      await page.waitForTimeout(4000);
      await page.getByLabel("Search the log").fill("cart");
      await page.waitForTimeout(500);
      await page.mouse.move(0, 799);
      const file = join(out, "logs.png");
      await page.screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
    if (wanted("container")) {
      // The database's page, whole: its health checks, mounts, network, usage and history.
      await page.goto(`${server.url}/#/containers/dst-ui-shop-db-1`);
      const view = page.getByTestId("container-page");
      await view.locator('[data-testid="container-health"] .health-log').waitFor({ timeout: 30_000 });
      await view.getByTestId("chart-cpu").waitFor();
      await page.waitForTimeout(4000); // a few samples in the charts
      await page.mouse.move(0, 799);
      const file = join(out, "container.png");
      await page.screenshot({ path: file, fullPage: true });
      console.log(`wrote ${file}`);
    }
    if (wanted("run")) {
      await page.goto(`${server.url}/#/containers`);
      await page.getByLabel("Search containers").fill("dst-ui-shop"); // the engine may hold others'
      await page.getByRole("button", { name: "Run…" }).click();
      const dialog = page.getByRole("dialog", { name: "Run a container" });
      for (const [label, value] of [
        ["Image", "dst-ui/shop-web:1.4.2"],
        ["Name", "shop-web-canary"],
        ["Ports", "127.0.0.1:8081:80"],
        ["Volumes", "dst-ui-shop_db-data:/data:ro"],
        ["Labels", "team=shop\ntier=canary"],
      ]) {
        await dialog.getByLabel(new RegExp(`^${label}`)).fill(value);
      }
      await dialog.getByLabel("Network").selectOption("dst-ui-shop_default");
      await dialog.getByLabel("Restart policy").selectOption("on-failure");
      await dialog.getByLabel("Restarts at most").fill("3");
      await dialog.getByRole("button", { name: "Add variable" }).click();
      await dialog.getByLabel("Variable 1 name").fill("API_TOKEN");
      await dialog.getByLabel("Variable 1 value").fill("not-a-real-token");
      await page.mouse.move(0, 799);
      const file = join(out, "run.png");
      await page.screenshot({ path: file });
      console.log(`wrote ${file}`);
      await page.keyboard.press("Escape");
    }
    if (wanted("pull")) {
      // A pull on its way: the registry's proxy sends 200 kB a second.
      const registry = await startRegistry({ rate: 200_000 });
      try {
        await page.goto(`${server.url}/#/images`);
        await page.getByRole("button", { name: "Pull…" }).click();
        const dialog = page.getByRole("dialog", { name: "Pull an image" });
        await dialog.getByRole("textbox", { name: "Image" }).fill(registry.image);
        await dialog.getByRole("button", { name: "Pull", exact: true }).click();
        await page.waitForFunction(() => {
          const bar = document.querySelector('[role="progressbar"]');
          return bar && Number(bar.getAttribute("aria-valuenow")) >= 30;
        }, null, { timeout: 60_000 });
        await page.mouse.move(0, 799);
        const file = join(out, "pull.png");
        await page.screenshot({ path: file });
        console.log(`wrote ${file}`);
        await dialog.locator('[data-testid="pull-progress"][data-state="done"]').waitFor({ timeout: 120_000 });
      } finally {
        await registry.stop();
      }
    }
    await context.close();
  } finally {
    await browser?.close();
    await server?.stop();
    if (!keep) tearDown();
  }
}

await main();
