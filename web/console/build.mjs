// Builds the console into internal/console/dist, which the Go binary embeds.
// Output file names carry a content hash; index.html is written last.
import * as esbuild from "esbuild";
import { mkdir, readdir, rm, writeFile, readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// WARDEN_CONSOLE_OUT builds elsewhere (the Go test that checks the committed
// bundle matches its sources builds into a temporary directory).
const out = process.env.WARDEN_CONSOLE_OUT || path.join(here, "..", "..", "internal", "console", "dist");

// Clear the previous build but keep the committed placeholder.
await mkdir(out, { recursive: true });
for (const f of await readdir(out)) {
  if (f !== ".gitkeep") await rm(path.join(out, f), { recursive: true, force: true });
}

const result = await esbuild.build({
  entryPoints: [path.join(here, "src", "main.tsx")],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(out, path.resolve(p)));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
const icon = await readFile(path.join(here, "src", "favicon.svg"));
await writeFile(path.join(out, "assets", "favicon.svg"), icon);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Warden console</title>
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
${css ? `<link rel="stylesheet" href="${css}">` : ""}
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"><noscript>The Warden console needs JavaScript.</noscript></div>
</body>
</html>
`;
await writeFile(path.join(out, "index.html"), html);
// SOURCES records a SHA-256 of every input of the build, so a Go test can
// tell without Node that the committed bundle was built from today's sources
// (internal/console/bundle_test.go computes the same digest).
await writeFile(path.join(out, "SOURCES"), await sourcesDigest() + "\n");
let total = 0;
for (const [p, o] of Object.entries(result.metafile.outputs)) total += o.bytes;
console.log(`console built into ${path.relative(process.cwd(), out)}: ${outputs.join(", ")} (${(total / 1024).toFixed(1)} KiB)`);

// sourcesDigest hashes build.mjs, package-lock.json and every file under src/,
// as "path\0len\0bytes" in byte order of the slash-separated paths.
async function sourcesDigest() {
  const files = ["build.mjs", "package-lock.json"];
  async function walk(dir) {
    for (const e of await readdir(path.join(here, dir), { withFileTypes: true })) {
      const rel = dir + "/" + e.name;
      if (e.isDirectory()) await walk(rel);
      else files.push(rel);
    }
  }
  await walk("src");
  files.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  const h = createHash("sha256");
  for (const f of files) {
    const b = await readFile(path.join(here, f));
    h.update(f + "\0" + b.length + "\0");
    h.update(b);
  }
  return h.digest("hex");
}
