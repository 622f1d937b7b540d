// Browser tests of the security console: headless Chromium driven by
// playwright-core against a live `warden serve` (started by
// test/e2e/console_test.go, which passes its URLs, admin token and key
// secrets in the environment). A new operator's path: sign in, see the
// attack on the overview, find the stolen key, see what it did and cost,
// suspend it and watch requests being refused, open the incident and its
// timeline, revoke the key and export the evidence.
//
// Screenshots go to CONSOLE_ARTIFACTS (default test/console/artifacts).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { env as envOf, launch } from "./browser.mjs";
import { attack, chat, legit } from "./traffic.mjs";

const env = (n) => envOf(n, "Console");
const api = env("WARDEN_URL");
const admin = env("WARDEN_ADMIN_URL");
const token = env("WARDEN_ADMIN_TOKEN");
const stolen = { id: env("STOLEN_KEY_ID"), secret: env("STOLEN_KEY"), name: "billing-bot" };
const others = env("OTHER_KEYS").split(",");
const otherIDs = env("OTHER_KEY_IDS").split(",");
// The key the operator suspends by hand: marketing-images, which its team
// reports lost (the detector has nothing against it).
const lost = { id: otherIDs[2], secret: others[2], name: "marketing-images" };
const artifacts = process.env.CONSOLE_ARTIFACTS || path.resolve("..", "..", "test", "console", "artifacts");
rmSync(path.join(artifacts, "steps"), { recursive: true, force: true });
mkdirSync(path.join(artifacts, "steps"), { recursive: true });

let context, page, errors, close;
const console_ = admin + "/console/";

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, name + ".png"), fullPage: true });
}

async function adminGet(p) {
  const r = await fetch(admin + "/admin/v1/" + p, { headers: { Authorization: "Bearer " + token } });
  return { status: r.status, body: r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text() };
}

before(async () => {
  // A fresh profile (--user-data-dir) for every run; every asset must come
  // from Warden itself: a request to any other host fails the run.
  ({ context, page, errors, close } = await launch("console", [admin], { acceptDownloads: true, colorScheme: "light" }));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|403|Failed to load resource/.test(m.text())) errors.push("console error: " + m.text());
  });

  // Traffic before the operator arrives: ordinary use of three keys, and
  // the theft of billing-bot.
  const teams = ["support", "search", "marketing"];
  for (const [i, k] of others.entries()) await legit(api, k, 8, 10 + i, teams[i % teams.length]);
  await legit(api, stolen.secret, 6, 20, "billing");
  const st = await attack(api, stolen.secret, 25);
  assert.ok(st.some((s) => s === 200), "the attack got answers before containment: " + st.join(","));
});

let step = 0;
afterEach(async (t) => {
  // Every step leaves a screenshot of where it ended, for failures.
  step++;
  await page?.screenshot({ path: path.join(artifacts, "steps", `${String(step).padStart(2, "0")}-${t.name.replace(/\W+/g, "-").slice(0, 50)}.png`) }).catch(() => {});
});

after(async () => {
  await close?.();
});

test("sign-in refuses a wrong token and accepts the admin token", async () => {
  await page.goto(console_);
  await page.getByLabel("Admin token").fill("wadm_wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "wrong admin token" }).waitFor();
  await shot("01-sign-in");

  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();

  const cookies = await context.cookies();
  const c = cookies.find((c) => c.name === "warden_console");
  assert.ok(c, "session cookie set");
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, "Strict");
  assert.equal(c.path, "/console/");
  assert.ok(!c.value.includes(token), "the cookie is a session id, not the token");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session cookie");
});

test("the session refuses state changes without the CSRF token", async () => {
  const r = await page.evaluate(async (id) => {
    const resp = await fetch(`api/v1/keys/${id}/suspend`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    return resp.status;
  }, lost.id);
  assert.equal(r, 403);
  const k = await adminGet("keys/" + lost.id);
  assert.equal(k.body.status, "active", "the forged request changed nothing");
});

test("the overview shows traffic, refusals, spend and the key at risk", async () => {
  await page.reload();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.locator("#chart-traffic canvas").waitFor();
  await page.locator("#chart-spend canvas").waitFor();
  const top = page.locator("#top-keys");
  await top.waitFor();
  await top.getByRole("link", { name: "billing-bot" }).waitFor({ timeout: 5000 });
  const firstRow = await top.locator("tbody tr").first().innerText();
  assert.match(firstRow, /billing-bot/, "the stolen key spent most: first in the risk list");
  const requests = await page.locator(".card", { hasText: "Requests, last hour" }).locator(".card-value").innerText();
  assert.ok(Number(requests.replace(/,/g, "")) >= 24 + 6 + 28, "requests counted: " + requests);
  await shot("02-overview");
});

test("find the stolen key by search and see its profile", async () => {
  await page.getByRole("link", { name: "Keys", exact: true }).click();
  await page.getByRole("heading", { name: "Keys" }).waitFor();
  await page.getByLabel("Search id or name").fill("billing");
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator("#keys-table tbody tr");
  await page.waitForFunction(() => document.querySelectorAll("#keys-table tbody tr").length === 1);
  assert.match(await row.innerText(), /billing-bot/);
  await row.getByRole("link", { name: "billing-bot" }).click();
  await page.getByRole("heading", { name: /billing-bot/ }).waitFor();
  // Networks: the office and the thief's.
  const nets = page.locator("table", { has: page.locator("th", { hasText: "Value" }) }).first();
  await nets.getByText("203.0.113.0/24").waitFor();
  await nets.getByText("198.51.100.0/24").waitFor();
  await page.getByText("python-requests/2.31.0").first().waitFor();
  await page.locator("#chart-key canvas").waitFor();
  await page.locator("table.heatmap").waitFor();
  // Spend against budget.
  await page.getByRole("meter", { name: "Spend against monthly budget" }).waitFor();
  await shot("03-key");
});

test("the detector contained the stolen key: the key page says so", async () => {
  const k = await adminGet("keys/" + stolen.id);
  if (k.body.status === "active") {
    // A server without detection: the operator contains it by hand below.
    return;
  }
  // The detector writes its decisions to the store shortly after taking
  // them (its flush); the page shows what the store says when it loads.
  await page.reload();
  await page.getByRole("heading", { name: /billing-bot/ }).waitFor();
  await page.getByText(new RegExp(`(Suspended|Revoked) by ${k.body.status_by}`)).waitFor();
});

test("suspend a key with confirmation, then its requests are refused", async () => {
  await page.goto(console_ + "#/keys/" + lost.id);
  await page.getByRole("heading", { name: /marketing-images/ }).waitFor();
  await page.getByRole("button", { name: "Suspend" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await dialog.getByLabel("Reason").fill("laptop with the key was lost");
  await dialog.getByRole("button", { name: "Suspend key" }).click();
  await page.locator("h1 .badge-suspended").waitFor();
  const k = await adminGet("keys/" + lost.id);
  assert.equal(k.body.status, "suspended");
  assert.equal(k.body.status_by, "console");

  // Watch the live stream while someone tries the key again.
  await page.getByRole("link", { name: "Live" }).click();
  await page.locator(".status-live").waitFor();
  // The gateway sees status changes made through the admin API within its
  // key-change poll (250 ms); give it a second.
  let status = 0;
  for (let i = 0; i < 10 && status !== 401; i++) {
    if (i) await new Promise((r) => setTimeout(r, 100));
    status = await chat(api, lost.secret, { ip: "192.0.2.7", headers: { "User-Agent": "curl/8.5.0" }, body: { model: "mock-echo", messages: [{ role: "user", content: "hi" }] } });
  }
  assert.equal(status, 401, "a suspended key is refused within a second");
  await legit(api, others[0], 1, 10, "support");
  const refusedRow = page.locator("#live-table tbody tr.row-refused", { hasText: lost.id });
  await refusedRow.first().waitFor();
  assert.match(await refusedRow.first().innerText(), /refused: auth/);

  // Pause holds new events back.
  await page.getByRole("button", { name: "Pause" }).click();
  const before = await page.locator("#live-table tbody tr").count();
  await legit(api, others[0], 3, 10, "support");
  await page.getByRole("button", { name: /Resume \(3 waiting\)/ }).waitFor();
  assert.equal(await page.locator("#live-table tbody tr").count(), before, "paused: no new rows");
  await page.getByRole("button", { name: /Resume/ }).click();
  await page.waitForFunction((n) => document.querySelectorAll("#live-table tbody tr").length >= n + 3, before);
  await shot("04-live");
});

test("the key page lists the refused attempt among recent requests", async () => {
  await page.goto(console_ + "#/keys/" + lost.id);
  await page.getByRole("heading", { name: /marketing-images/ }).waitFor();
  await page.getByText(/Suspended by console/).waitFor();
  await page.locator(".row-refused").first().waitFor();
});

test("keyboard: navigation and dialogs work without a mouse", async () => {
  await page.goto(console_ + "#/keys");
  await page.reload(); // focus starts at the top of a freshly loaded page
  await page.getByRole("heading", { name: "Keys" }).waitFor();
  await page.keyboard.press("Tab");
  assert.match(await page.evaluate(() => document.activeElement?.textContent ?? ""), /Skip to content/);
  // Tab to the Live link and follow it.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    if ((await page.evaluate(() => document.activeElement?.textContent)) === "Live") break;
  }
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Live" }).waitFor();
  // A dialog takes focus, and Escape cancels it without acting.
  await page.goto(console_ + "#/keys/" + stolen.id);
  await page.getByRole("heading", { name: /billing-bot/ }).waitFor();
  await page.getByRole("button", { name: "Revoke" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("dialog").waitFor();
  assert.equal(await page.evaluate(() => !!document.activeElement?.closest("dialog")), true, "focus is in the dialog");
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });
  assert.notEqual((await adminGet("keys/" + stolen.id)).body.status, "revoked", "Escape changed nothing");
  // Every form control has an accessible name.
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent?.trim()))
      .map((el) => el.outerHTML),
  );
  assert.deepEqual(unnamed, []);
});

test("incident: timeline chart, revoke, evidence bundle, resolve", async (t) => {
  const list = await adminGet("incidents?key_id=" + stolen.id);
  if (list.status === 404) {
    t.skip("this server has no incidents API (detection not merged)");
    return;
  }
  assert.equal(list.status, 200);
  assert.ok(list.body.length > 0, "the detector opened an incident on the stolen key");
  const inc = list.body[0];
  // From the overview's open incidents to the incident, as an operator would.
  await page.goto(console_ + "#/overview");
  await page.locator("#h-open").waitFor();
  await page.locator("section", { has: page.locator("#h-open") }).getByRole("link", { name: inc.title }).click();
  await page.getByRole("heading", { name: inc.title }).waitFor();
  await page.locator("#chart-attack canvas").waitFor();
  await page.locator("#chart-networks canvas").waitFor();
  await page.locator("#incident-timeline li").first().waitFor();
  assert.match(await page.locator("#spend-before").innerText(), /^\$\d/, "spend before containment is shown");
  await page.getByText("203.0.113.0/24").first().waitFor();
  await shot("05-incident");

  await page.getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
  await page.locator(".badge-revoked").first().waitFor();
  assert.equal((await adminGet("keys/" + stolen.id)).body.status, "revoked");

  const audit = await adminGet("audit/stats");
  if (audit.status === 404) {
    t.diagnostic("no audit API: evidence export not tested");
    return;
  }
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-bundle").click()]);
  const file = path.join(artifacts, "evidence-" + inc.id + ".zip");
  await download.saveAs(file);
  const zip = readFileSync(file);
  assert.equal(zip.subarray(0, 2).toString(), "PK", "the bundle is a zip");
  assert.ok(zip.includes("checkpoint"), "the bundle carries a checkpoint");

  // Close the case.
  await page.getByRole("button", { name: "Resolve" }).click();
  await page.getByRole("dialog").getByLabel("Resolution note").fill("key stolen from a public repository; revoked, owner issued a new key");
  await page.getByRole("dialog").getByRole("button", { name: "Resolve" }).click();
  await page.locator("h1 .badge-resolved").waitFor();
  assert.equal((await adminGet("incidents/" + inc.id)).body.status, "resolved");
});

test("audit page shows the checkpoint and verifies the log", async (t) => {
  const audit = await adminGet("audit/stats");
  if (audit.status === 404) {
    t.skip("this server has no audit API (audit not merged)");
    return;
  }
  await page.goto(console_ + "#/audit");
  await page.getByRole("heading", { name: "Latest checkpoint" }).waitFor();
  await page.getByRole("button", { name: "Sign a checkpoint now" }).click();
  await page.locator("#checkpoint").waitFor();
  await page.getByRole("button", { name: "Verify the whole log" }).click();
  await page.locator("#verify-result").waitFor();
  await page.getByLabel("Entry index").fill("0");
  await page.getByRole("button", { name: "Prove", exact: true }).click();
  await page.locator("#proof").waitFor();
  if ((await adminGet("audit/keys")).status === 200) {
    await page.getByRole("button", { name: "Audit the keys" }).click();
    await page.getByText(/keys audited/).waitFor();
  }
  await shot("06-audit");
});

test("leaks page lists revocations; dark theme renders", async () => {
  await page.goto(console_ + "#/leaks");
  await page.getByRole("heading", { name: "Leaks" }).waitFor();
  await page.getByRole("heading", { name: "Canaries" }).waitFor();
  // The scanner's finding (test/e2e revoked ci-deploy with warden scan --revoke).
  await page.locator("#revoked-table").getByRole("link", { name: "ci-deploy" }).waitFor();
  if ((await adminGet("incidents")).status === 200) await page.locator("#findings-table").getByText("deploy.env").waitFor();
  if ((await adminGet("keys/" + stolen.id)).body.status === "revoked") {
    await page.locator("#revoked-table").getByRole("link", { name: "billing-bot" }).waitFor();
  }
  await page.getByLabel("Colour theme").selectOption("dark");
  await page.waitForFunction(() => getComputedStyle(document.body).backgroundColor === "rgb(14, 17, 22)", null, { timeout: 5000 });
  await page.goto(console_ + "#/overview");
  await page.locator("#chart-traffic canvas").waitFor();
  await shot("07-overview-dark");
  await page.getByLabel("Colour theme").selectOption("auto");
});

test("a dark system gets a dark first frame, before any script has run", async () => {
  // The palette must not wait for main.js: a module script runs after the
  // first paint, so a page that only turned dark from script would flash
  // light on every load. With the script withheld, the page must be dark.
  const dark = await launch("console-dark", [admin], { colorScheme: "dark" });
  try {
    await dark.context.route(/\/assets\/main-[^/]*\.js$/, (route) => route.abort());
    await dark.page.goto(console_);
    const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(14, 17, 22)", "background of the page before its script ran");
  } finally {
    await dark.close();
  }
});

test("sign-out ends the session", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Admin token").waitFor();
  const r = await page.evaluate(async () => (await fetch("api/v1/keys?limit=1")).status);
  assert.equal(r, 401);
  assert.deepEqual(errors, [], "no page errors and no requests to other hosts");
});
