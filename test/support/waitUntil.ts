import { spawnSync } from "node:child_process";

/**
 * Waits for a condition by polling it, with no deadline of its own: the test's budget (vitest.config.mts)
 * bounds it, so a busy machine only makes it slower. The poll stops when the test ends (signal), so a
 * timed-out test leaves nothing polling behind.
 */
export async function waitUntil(condition: () => boolean, signal?: AbortSignal, intervalMs = 20): Promise<void> {
  while (!condition()) {
    if (signal?.aborted) throw new Error("stopped waiting: the test ended");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether another process holds `file` with flock(1) (flock -n fails with 1 when it cannot take it). */
export function flockHeld(file: string): boolean {
  return spawnSync("flock", ["-n", file, "true"]).status === 1;
}
