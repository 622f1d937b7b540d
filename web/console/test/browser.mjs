// What the console's browser tests share: their settings from the
// environment (test/e2e/console_test.go sets them), and a headless Chromium
// with a fresh profile that may contact only the given origins.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

/** env returns the environment variable n; run names the go test that sets it. */
export function env(n, run) {
  const v = process.env[n];
  if (!v) throw new Error(`${n} is not set; run this through go test ./test/e2e -run ${run}`);
  return v;
}

/**
 * launch starts Chromium in a fresh profile (name is its prefix) and opens a
 * page. A request to an origin not in origins is aborted and recorded in
 * errors, as is every page error; options go to Playwright as they are.
 * close ends the browser and removes the profile.
 */
export async function launch(name, origins, options = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), `warden-${name}-chromium-`));
  const errors = [];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1360, height: 900 },
    ...options,
  });
  const allowed = origins.map((o) => new URL(o).origin);
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (!allowed.includes(u.origin)) {
      errors.push("request to another host: " + u.href);
      return route.abort();
    }
    return route.continue();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => errors.push("page error: " + e.message));
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, errors, close };
}
