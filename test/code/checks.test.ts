/**
 * The TypeScript type-checks (tsc), lints clean (eslint) and is formatted (prettier), as `npm run typecheck`
 * and `npm run lint` check it. Part of the suite rather than run before it: the three run beside the first
 * test files, on the core those leave idle, instead of alone for half a minute (docs/testing.md).
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "../..");
// A bound for a hang: the three took 10-12 s each on a quiet machine, all of them at once beside the suite.
const BUDGET = 300_000;

function run(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(path.join(REPO, "node_modules/.bin", tool), args, { cwd: REPO, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, output: `${stdout}${stderr}` }),
    ),
  );
}

describe.concurrent("the TypeScript", () => {
  it(
    "type-checks (tsc --noEmit)",
    async () => {
      const r = await run("tsc", ["--noEmit", "-p", "."]);
      expect(r.code, r.output).toBe(0);
    },
    BUDGET,
  );

  it(
    "lints clean (eslint)",
    async () => {
      const r = await run("eslint", ["."]);
      expect(r.code, r.output).toBe(0);
    },
    BUDGET,
  );

  it(
    "is formatted (prettier --check; npm run format rewrites what it lists)",
    async () => {
      const r = await run("prettier", ["--check", "."]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/All matched files use Prettier code style/);
    },
    BUDGET,
  );
});
