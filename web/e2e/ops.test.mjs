// What a user does with containers, against a real `dockstate serve` and the real Docker
// engine: pull an image (from a registry on this machine, through a throttling proxy, so the
// progress bar has time to move), run a container from the form (and see a refusal in it),
// stop and start a compose project from its header, and follow a container on its own page.
// The registry is tests/server/registry_harness.py, the pull tests' own.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  docker,
  LABEL,
  TEST_IMAGE,
  row,
  runContainer,
  signedInPage,
  startRegistry,
  unique,
  useServerAndBrowser,
  waitLive,
} from "./harness.mjs";

const LIVE = 10_000; // how soon a change must show, at most

const env = useServerAndBrowser();
// Built and pushed while the other tests run (the pull test is the last).
let registryStarting;
before(() => {
  registryStarting = startRegistry();
  registryStarting.catch(() => {}); // the pull test reports it
});
after(async () => {
  await (await registryStarting.catch(() => null))?.stop();
});

function name(prefix) {
  const n = unique(prefix);
  env.names.push(n);
  return n;
}

test("Run: the form starts a container (its environment write-only); a taken name and a bad port are refused in the form", async () => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const n = name("dst-ui-run");
  const secret = `s3cr3t-${unique("x")}`;
  await page.getByLabel("Search containers").fill(n);
  await page.getByRole("button", { name: "Run…" }).click();
  const dialog = page.getByRole("dialog", { name: "Run a container" });
  const fill = async (fields) => {
    for (const [label, value] of Object.entries(fields)) await dialog.getByLabel(new RegExp(`^${label}`)).fill(value);
  };
  await fill({ Image: "dockstate-test/busybox:latest", Name: n, Command: "sh -c 'sleep 300'", Labels: LABEL });
  await dialog.getByRole("button", { name: "Add variable" }).click();
  await dialog.getByLabel("Variable 1 name").fill("DST_E2E_SECRET");
  await dialog.getByLabel("Variable 1 value").fill(secret);
  assert.equal(await dialog.getByLabel("Variable 1 value").getAttribute("type"), "password");
  await dialog.getByRole("button", { name: "Run", exact: true }).click();
  await dialog.waitFor({ state: "detached", timeout: 30_000 });
  const r = row(page, n);
  await page.locator(`[data-testid="container-row"][data-name="${n}"][data-state="running"]`).waitFor({ timeout: LIVE });
  const made = JSON.parse(docker("inspect", n))[0];
  assert.deepEqual(made.Config.Cmd, ["sh", "-c", "sleep 300"]);
  assert.ok(made.Config.Env.includes(`DST_E2E_SECRET=${secret}`), "the engine got the value");
  assert.ok(!(await page.content()).includes(secret), "the page shows the value nowhere");
  assert.equal(await r.count(), 1);

  // The same name again: Docker's refusal, as a line of the form, the field marked.
  await page.getByRole("button", { name: "Run…" }).click();
  await fill({ Image: "dockstate-test/busybox:latest", Name: n, Command: "sleep 300", Labels: LABEL });
  await dialog.getByRole("button", { name: "Run", exact: true }).click();
  const alert = dialog.getByRole("alert");
  await alert.waitFor({ timeout: LIVE });
  assert.match(await alert.innerText(), /is already in use/);
  assert.equal(await dialog.getByLabel(/^Name/).getAttribute("aria-invalid"), "true");
  // A malformed port: the server's message names the field.
  await fill({ Name: name("dst-ui-run"), Ports: "99999:80" });
  await dialog.getByRole("button", { name: "Run", exact: true }).click();
  await dialog.getByRole("alert").getByText(/^ports: port spec '99999:80': the host port must be a number/).waitFor({ timeout: LIVE });
  assert.equal(await dialog.getByLabel(/^Ports/).getAttribute("aria-invalid"), "true");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  // Nothing half-made: still the one container of that name.
  assert.equal(docker("ps", "-aq", "--filter", `name=^/${n}$`).split("\n").filter(Boolean).length, 1);
  assert.deepEqual(errors.filter((e) => !/status of (409|422)/.test(e)), []);
  await context.close();
});

test("A compose project is stopped and started from its header, as one operation", async () => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const project = unique("dst-ui-proj");
  const members = ["web", "db"].map((service) => {
    const n = name(`${project}-${service}`);
    runContainer(n, "--stop-timeout", "1", "--label", `com.docker.compose.project=${project}`, "--label", `com.docker.compose.service=${service}`);
    return n;
  });
  await page.getByLabel("Search containers").fill(project);
  await page.getByLabel("Group by compose project").check();
  const header = page.locator(`[data-testid="project-row"][data-project="${project}"]`);
  await header.waitFor({ timeout: LIVE });
  const all = async (state) => {
    for (const n of members) {
      await page.locator(`[data-testid="container-row"][data-name="${n}"][data-state="${state}"]`).waitFor({ timeout: 20_000 });
    }
  };
  await all("running");

  const requests = [];
  page.on("request", (req) => {
    if (req.method() !== "GET") requests.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  await header.getByRole("button", { name: `Stop project ${project}`, exact: true }).click();
  await header.getByTestId("pending").getByText("stopping…").waitFor({ timeout: 2000 });
  await all("exited");
  await header.getByTestId("pending").waitFor({ state: "detached", timeout: LIVE });
  await header.getByRole("button", { name: `Start project ${project}`, exact: true }).click();
  await all("running");
  await header.getByTestId("pending").waitFor({ state: "detached", timeout: LIVE });
  assert.deepEqual(requests, [`POST /api/v1/projects/${project}/stop`, `POST /api/v1/projects/${project}/start`]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("The container page: opened from the table, live through a stop with the CLI, and after a reload", async () => {
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  await waitLive(page);
  const n = name("dst-ui-page");
  const id = docker(
    "run", "-d", "--label", LABEL, "--name", n, "--stop-timeout", "1", "-e", "DST_PAGE_VAR=hidden-value",
    TEST_IMAGE, "sh", "-c", "echo dst-page-log-line; exec sleep 300",
  );
  await page.getByLabel("Search containers").fill(n);
  await row(page, n).getByRole("link", { name: n, exact: true }).click();
  const view = page.getByTestId("container-page");
  await view.getByRole("heading", { name: n, level: 1 }).waitFor({ timeout: LIVE });
  assert.equal(new URL(page.url()).hash, `#/containers/${id}`);
  await page.locator('[data-testid="container-page"][data-state="running"]').waitFor({ timeout: LIVE });
  const envCard = view.getByTestId("container-env");
  await envCard.getByText("DST_PAGE_VAR").waitFor({ timeout: LIVE });
  assert.ok(!(await page.content()).includes("hidden-value"), "an environment value on the page");
  assert.match(await view.getByTestId("container-overview").innerText(), /Runs\s+sh -c/);
  // Its logs, on the page itself.
  await view.getByTestId("logs-slot").getByTestId("log-line").filter({ hasText: "dst-page-log-line" }).waitFor({ timeout: LIVE });

  docker("stop", "-t", "1", n);
  await page.locator('[data-testid="container-page"][data-state="exited"]').waitFor({ timeout: LIVE });
  await view.getByTestId("container-history").locator('[data-testid="history-event"][data-action="die"]').waitFor({ timeout: LIVE });

  // A shared link: reloaded, the page comes back on the same container.
  await page.reload();
  await page.locator('[data-testid="container-page"][data-state="exited"]').waitFor({ timeout: LIVE });
  await view.getByRole("heading", { name: n, level: 1 }).waitFor();
  await waitLive(page);
  // And it acts: Start from the page.
  await view.getByRole("button", { name: "Start" }).click();
  await page.locator('[data-testid="container-page"][data-state="running"]').waitFor({ timeout: LIVE });
  assert.deepEqual(errors, []);
  await context.close();
});

test("Pull: the progress bar moves with the layers, then the image is there; a bad reference says why", async (t) => {
  const registry = await registryStarting;
  const { context, page, errors } = await signedInPage(env.browser, env.server);
  try {
    await page.goto(`${env.server.url}/#/images`);
    await waitLive(page);
    await page.getByRole("button", { name: "Pull…" }).click();
    const dialog = page.getByRole("dialog", { name: "Pull an image" });
    // Every value the bar takes, as the page renders it.
    await page.evaluate(() => {
      window.__bar = [];
      new MutationObserver(() => {
        const bar = document.querySelector('[role="progressbar"]');
        const value = bar && Number(bar.getAttribute("aria-valuenow"));
        if (bar && window.__bar.at(-1) !== value) window.__bar.push(value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await dialog.getByRole("textbox", { name: "Image" }).fill(registry.image);
    await dialog.getByRole("button", { name: "Pull", exact: true }).click();
    const started = Date.now();
    await dialog.locator('[data-testid="pull-progress"][data-state="pulling"]').waitFor({ timeout: 5000 });
    await dialog.locator('[data-testid="pull-progress"][data-state="done"]').waitFor({ timeout: 120_000 });
    await dialog.getByText(`Pulled ${registry.image}.`).waitFor();
    const took = Date.now() - started;
    const seen = await page.evaluate(() => window.__bar);
    t.diagnostic(`the pull took ${took} ms; the bar showed ${seen.join(", ")} %`);
    assert.equal(seen.at(-1), 100, `the bar ends full: ${seen}`);
    const between = seen.filter((v) => v > 0 && v < 100);
    assert.ok(between.length >= 2, `the bar moved through values between 0 and 100: ${seen}`);
    assert.ok((await dialog.getByRole("list", { name: "Layers" }).innerText()).includes("Pull complete"));
    await page.locator(`[data-testid="image-row"][data-name="${registry.image}"]`).waitFor({ timeout: LIVE });

    // A reference the registry does not have: the engine's message, in the dialog.
    await dialog.getByRole("textbox", { name: "Image" }).fill(`${registry.host}/dst-no-such-image:1`);
    await dialog.getByRole("button", { name: "Pull again" }).click();
    const alert = dialog.getByRole("alert");
    await alert.waitFor({ timeout: LIVE });
    assert.match(await alert.innerText(), /manifest unknown|not found/);
    assert.equal(await dialog.getByRole("textbox", { name: "Image" }).getAttribute("aria-invalid"), "true");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
  } finally {
    await context.close();
  }
});
