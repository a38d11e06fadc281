import * as path from "node:path";
import { parseArgs } from "node:util";

/** The repository root: the default output sits in its git-ignored .tmp/. */
const ROOT = path.resolve(__dirname, "..");

/**
 * Where `npm run bench` writes results.json and RESULTS.md: `--out DIR` (relative to `cwd`), by default
 * .tmp/bench, which git ignores, so a run never dirties the checkout. The committed bench/RESULTS.md
 * is refreshed only on purpose, with `--out bench` (docs/ops.md).
 */
export function benchOutDir(argv: string[], cwd: string): string {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" } }, strict: true, allowPositionals: false });
  return values.out === undefined ? path.join(ROOT, ".tmp/bench") : path.resolve(cwd, values.out);
}
