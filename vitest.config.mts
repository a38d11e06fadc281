import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi's runtime and the sshd hosts are process-wide state: one process per test file.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
