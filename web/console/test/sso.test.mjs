// Browser test of single sign-on and roles: headless Chromium signs in
// through a local OpenID Connect provider (internal/authn/authntest, started
// by test/e2e/console_test.go) as a viewer, who sees no revoke or suspend
// button and whose API call to revoke is refused (403), then as a
// responder, who suspends a key; the audit log's entry of that suspension
// names the responder.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { env as envOf, launch } from "./browser.mjs";

const env = (n) => envOf(n, "ConsoleSSO");
const admin = env("WARDEN_ADMIN_URL");
const issuer = env("OIDC_ISSUER");
const token = env("WARDEN_ADMIN_TOKEN");
const keyID = env("KEY_ID");
const artifacts = process.env.CONSOLE_ARTIFACTS || path.resolve("..", "..", "test", "console", "artifacts");
mkdirSync(artifacts, { recursive: true });
const console_ = admin + "/console/";

let page, errors, close;

before(async () => {
  // Only Warden and the identity provider may be contacted.
  ({ page, errors, close } = await launch("sso", [admin, issuer]));
});

after(async () => {
  await close?.();
  assert.deepEqual(errors, []);
});

async function signInAs(name, email, role) {
  await page.goto(console_);
  await page.getByRole("link", { name: "Sign in with your company account" }).click();
  await page.getByRole("heading", { name: "Test identity provider" }).waitFor();
  await page.getByRole("button", { name: new RegExp(name) }).click();
  await page.locator("#whoami").filter({ hasText: `${email} (${role})` }).waitFor();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("link", { name: "Sign in with your company account" }).waitFor();
}

test("a viewer signs in through the identity provider and cannot revoke", async () => {
  await signInAs("Vera Viewer", "vera@example.com", "viewer");
  await page.goto(console_ + "#/keys/" + keyID);
  await page.getByRole("heading", { name: /billing-bot/ }).waitFor();
  await page.locator("h1 .badge-active").waitFor(); // the key page has rendered its actions
  assert.equal(await page.getByRole("button", { name: "Revoke" }).count(), 0, "no revoke button for a viewer");
  assert.equal(await page.getByRole("button", { name: "Suspend" }).count(), 0, "no suspend button for a viewer");
  await page.screenshot({ path: path.join(artifacts, "sso-viewer.png"), fullPage: true });
  // The API refuses too, whatever the page shows.
  const status = await page.evaluate(async (id) => {
    const s = await (await fetch("session")).json();
    const r = await fetch(`api/v1/keys/${id}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf },
      body: JSON.stringify({ reason: "viewer tries" }),
    });
    return r.status;
  }, keyID);
  assert.equal(status, 403);
  await signOut();
});

test("a responder suspends the key and the audit log names them", async () => {
  await signInAs("Rick Responder", "rick@example.com", "responder");
  await page.goto(console_ + "#/keys/" + keyID);
  await page.getByRole("heading", { name: /billing-bot/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Revoke" }).count(), 0, "revoking is for admins");
  await page.getByRole("button", { name: "Suspend" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Reason").fill("key seen in a public paste");
  await dialog.getByRole("button", { name: "Suspend key" }).click();
  await page.locator("h1 .badge-suspended").waitFor();

  const auth = { headers: { Authorization: "Bearer " + token } };
  const k = await (await fetch(`${admin}/admin/v1/keys/${keyID}`, auth)).json();
  assert.equal(k.status, "suspended");
  assert.equal(k.status_by, "rick@example.com");

  // The audit log: an admin event for the suspension naming the responder,
  // and one for the viewer's refused revocation.
  let entries = [];
  for (let i = 0; i < 50; i++) {
    entries = await (await fetch(`${admin}/admin/v1/audit/entries?key=${keyID}`, auth)).json();
    if (entries.some((e) => e.event?.path?.endsWith("/suspend"))) break;
    await new Promise((r) => setTimeout(r, 100)); // the log appends asynchronously
  }
  const susp = entries.find((e) => e.event?.path?.endsWith("/suspend") && e.event.status === 200);
  assert.ok(susp, "suspension in the audit log: " + JSON.stringify(entries.map((e) => e.event)));
  assert.equal(susp.event.endpoint, "admin");
  assert.deepEqual(susp.event.actor, { subject: "u-rick", email: "rick@example.com", role: "responder", method: "oidc" });
  const refused = entries.find((e) => e.event?.path?.endsWith("/revoke"));
  assert.ok(refused && refused.event.status === 403 && refused.event.actor.email === "vera@example.com", "refused revocation recorded");

  // The console shows who did it.
  await page.goto(console_ + "#/audit");
  await page.getByLabel("Or find a key's entries").fill(keyID);
  await page.getByRole("button", { name: "Find" }).click();
  await page.getByText("by rick@example.com as responder").waitFor();
  // And the "Who did what" panel lists both, newest first.
  const panel = page.locator("#admin-actions");
  await panel.getByText(new RegExp(`rick@example.com as responder: POST keys/${keyID}/suspend done`)).waitFor();
  await panel.getByText(new RegExp(`vera@example.com as viewer: POST keys/${keyID}/revoke refused`)).waitFor();
  await page.screenshot({ path: path.join(artifacts, "sso-audit.png"), fullPage: true });
});
