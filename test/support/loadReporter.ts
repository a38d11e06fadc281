/**
 * Vitest reporter: samples the machine's load average during the run and, when a test or hook ran out
 * of its budget, ends with one line saying how loaded the machine was. A hook's timeout fails a suite,
 * which the setup file (timeoutLoad.ts) cannot annotate: this line covers both.
 */
import { availableParallelism, loadavg } from "node:os";
import type { Reporter, TestModule } from "vitest/node";

const TIMED_OUT = /(Test|Hook) timed out in \d+ms/;

export default class LoadReporter implements Reporter {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  onTestRunStart(): void {
    this.peak = loadavg()[0];
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, loadavg()[0])), 5000);
    this.timer.unref();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    clearInterval(this.timer);
    const errors = testModules.flatMap((m) => [
      ...m.errors(),
      ...[...m.children.allSuites()].flatMap((s) => s.errors()),
      ...[...m.children.allTests()].flatMap((t) => t.result().errors ?? []),
    ]);
    const timedOut = errors.filter((e) => TIMED_OUT.test(e.message ?? "")).length;
    if (timedOut === 0) return;
    const cores = availableParallelism();
    process.stdout.write(
      `\n${timedOut} test(s) or hook(s) timed out. The load average reached ${this.peak.toFixed(1)} during the run ` +
        `(now ${loadavg()[0].toFixed(1)}) on ${cores} cores${this.peak > cores ? ": the machine was busy, which may be the cause" : ""}.\n`,
    );
  }
}
