// Compiles the TypeScript the CLIs run (components/, cli/, and bench/ which times them) to JavaScript in dist/, so `npm run plan`
// and `npm run ops` start plain Node instead of compiling TypeScript on every call (tsx took ~1.2 s of
// CPU before the first line ran). esbuild only strips types (no bundling, no source maps: Pulumi takes a
// stack trace per promise, and resolving each through a source map cost a quarter of a large plan);
// `npm test` type-checks with tsc. Run by `npm ci` (prepare) and before each CLI call (preplan, preops):
// it rebuilds only when a source is newer than the last build.
import { readdirSync, statSync, rmSync, writeFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "dist");
const STAMP = path.join(OUT, ".built");
const SOURCE_DIRS = ["components", "cli", "bench"];

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

const files = SOURCE_DIRS.flatMap((d) => sources(path.join(ROOT, d)));
const newest = Math.max(...files.map((f) => statSync(f).mtimeMs), statSync(import.meta.filename).mtimeMs);
const force = process.argv.includes("--force");
if (!force && existsSync(STAMP) && statSync(STAMP).mtimeMs >= newest) process.exit(0);

// A file deleted from the sources must not linger in dist/.
rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: files,
  outdir: OUT,
  outbase: ROOT,
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: false,
  logLevel: "warning",
});
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
