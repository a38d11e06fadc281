import { spawnSync } from "node:child_process";

/**
 * What the waits of the running file's tests are waiting for. A wait has no deadline of its own, so when the
 * test's budget ends it, vitest reports only "timed out": test/support/timeoutLoad.ts adds these to that message,
 * so that a timeout says what never came (a CI run lost a test to a 180-s timeout that named nothing). A wait the
 * test's end stopped (its signal aborted) stays listed until the next test starts (clearEndedWaits), since vitest
 * reports the failure after the signal.
 */
const pending = new Set<() => string>();
const ended = new Set<() => string>();

export function pendingWaits(): string[] {
  return [...pending, ...ended].map((what) => what());
}

export function clearEndedWaits(): void {
  ended.clear();
}

/** Runs `body` with `what` among the pending waits. */
export async function waitingFor<T>(what: () => string, signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
  pending.add(what);
  try {
    return await body();
  } finally {
    pending.delete(what);
    if (signal?.aborted) ended.add(what);
  }
}

/**
 * Waits for a condition by polling it, with no deadline of its own: the test's budget (vitest.config.mts)
 * bounds it, so a busy machine only makes it slower. The poll stops when the test ends (signal), so a
 * timed-out test leaves nothing polling behind.
 */
export async function waitUntil(condition: () => boolean, signal?: AbortSignal, intervalMs = 20, what = () => "a condition"): Promise<void> {
  await waitingFor(what, signal, async () => {
    while (!condition()) {
      if (signal?.aborted) throw new Error(`stopped waiting for ${what()}: the test ended`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  });
}

/** Whether another process holds `file` with flock(1) (flock -n fails with 1 when it cannot take it). */
export function flockHeld(file: string): boolean {
  return spawnSync("flock", ["-n", file, "true"]).status === 1;
}
