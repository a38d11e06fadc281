import * as path from "node:path";

/**
 * The compiled CLIs that `npm run ops` and `npm run plan` run (tools/build.mjs; vitest's globalSetup builds
 * them, test/support/buildDist.ts). Tests start these with `process.execPath`, as a user's npm does, not
 * tsx: tsx compiles the TypeScript on every call, about 2 s more CPU a plan (docs/testing.md).
 */
export const OPS_CLI = path.resolve(__dirname, "../../dist/cli/ops.js");
export const PLAN_CLI = path.resolve(__dirname, "../../dist/cli/plan.js");
