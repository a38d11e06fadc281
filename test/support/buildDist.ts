import { execFileSync } from "node:child_process";
import * as path from "node:path";

/**
 * vitest globalSetup: compiles the CLIs to dist/ (tools/build.mjs, a no-op when dist/ is current), so the
 * tests that run `npm run plan|ops` as a user gets them run the same JavaScript, never a stale copy.
 */
export default function buildDist(): void {
  const root = path.resolve(__dirname, "../..");
  execFileSync(process.execPath, [path.join(root, "tools/build.mjs")], { cwd: root, stdio: "inherit" });
}
