import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The CLI tests run the compiled dist/ as `npm run plan|ops` does: build it once, before any file.
    globalSetup: ["test/support/buildDist.ts"],
    // Pulumi's runtime and the sshd hosts are process-wide state: one process per test file.
    pool: "forks",
    // Most files wait on sshd hosts, child processes and real daemons rather than on the CPU: two at
    // once halve the suite on our 2-core machines (vitest would otherwise run one at a time there).
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
