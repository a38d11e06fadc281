/**
 * Vitest setup file: a test or hook that runs out of its budget says what it was waiting for (its pending
 * waits, test/support/waitUntil.ts) and how loaded the machine was, so a timeout on a busy machine reads as
 * that and not as a bug. The budgets (vitest.config.mts and the per-test ones) come from timing the slow
 * files on an idle and on a loaded 2-core machine.
 */
import { loadavg, availableParallelism } from "node:os";
import { beforeEach } from "vitest";
import { clearEndedWaits, pendingWaits } from "./waitUntil";

export function loadNote(): string {
  const [one, five] = loadavg();
  return `load average ${one.toFixed(1)} (1 min), ${five.toFixed(1)} (5 min) on ${availableParallelism()} cores: a busy machine may be the cause`;
}

const TIMED_OUT = /timed out in \d+ms/;

beforeEach(({ onTestFailed }) => {
  clearEndedWaits();
  onTestFailed(({ task }) => {
    for (const error of task.result?.errors ?? []) {
      if (!TIMED_OUT.test(error.message ?? "") || error.message.includes("load average")) continue;
      const waits = pendingWaits();
      const waiting = waits.length > 0 ? `\nwaiting then (this file's tests): ${waits.join("; ")}` : "";
      error.message = `${error.message}${waiting}\n${loadNote()}`;
    }
  });
});
