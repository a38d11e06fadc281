/**
 * Vitest setup file: each test file gets a directory of its own as TMPDIR, removed once the file's tests and
 * hooks have run. os.tmpdir() reads TMPDIR at every call, and the programs the tests start themselves (the CLIs,
 * the daemons) inherit it. Before, a clean run left 542 entries in /tmp that no test removed, 503 of them the ops
 * tests' homes with their keys; now only what the steps make in /tmp themselves would stay (they run in sshd's
 * sessions, without this TMPDIR, as on a host), and they keep theirs elsewhere.
 * Mode 1777 as /tmp's: the daemons that run as their own users (PostgreSQL, PHP as www-data, nginx) reach what
 * the tests give them, and make their own files, as they did in /tmp. BBB_OVH_KEEP_TEST_HOSTS keeps it.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

// The system's directory, kept across the files that share a process (test/support/sharedProcess.json).
const base = (process.env.BBB_OVH_SYSTEM_TMPDIR ??= tmpdir());
const dir = mkdtempSync(path.join(base, "bbb-ovh-test-"));
chmodSync(dir, 0o1777);
process.env.TMPDIR = dir;

// Registered first, so it runs after the file's own afterAll hooks (vitest runs after-hooks as a stack).
afterAll(() => {
  if (process.env.TMPDIR === dir) process.env.TMPDIR = base;
  if (process.env.BBB_OVH_KEEP_TEST_HOSTS) return;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  } catch (error) {
    // A daemon that a hook stopped may still be writing its last lines: what is left says so, and fails nothing.
    console.warn(`test/support/fileTmp.ts: ${dir} not removed: ${(error as Error).message}`);
  }
});
