import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import shared from "./test/support/sharedProcess.json" with { type: "json" };

/**
 * The files that share one process per worker instead of one each (isolate: false below); what one of them changes
 * for the whole process, every file after it sees, so test/unit/sharedProcess.test.ts holds each to its project's rule.
 * - unit: pure logic (no Pulumi runtime, no test hosts or daemons, no process-wide state). Each file in a fresh
 *   process spent more CPU starting node and importing than testing (test/unit alone: 21 s of CPU isolated, 11 s
 *   shared; docs/testing.md).
 * - program: files that evaluate the Pulumi program under the mock runtime (each evaluation sets its mocks and whole
 *   configuration afresh) or run the compiled CLIs, and start no host, daemon or server. Loading Pulumi's SDK and
 *   the program was most of what such a file cost: these 18 took 131 s of CPU in a process each and 93 s sharing
 *   (docs/testing.md). They pass in one process, and shuffled.
 */
const { unit: UNIT, program: PROGRAM } = shared;

/**
 * Files that run one checker over the code (tsc, eslint, prettier, shellcheck): no hosts, no waits, only CPU.
 * They go second, beside the first and longest host file (larger files first, vitest's own order on a clean
 * clone), which leaves a core idle while it waits on its programs; last, they held the run's end alone. First,
 * they took both workers for half a minute and the long files started that much later (docs/testing.md).
 */
const CHECKERS = ["test/code/checks.test.ts", "test/scripts/shellcheck.test.ts"];

class CheckersSecond extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isChecker = (f: TestSpecification) => CHECKERS.some((c) => f.moduleId.endsWith(`/${c}`));
    const [first, ...rest] = sorted.filter((f) => !isChecker(f));
    return [first, ...sorted.filter(isChecker), ...rest].filter(Boolean);
  }
}

export default defineConfig({
  test: {
    // The CLI tests run the compiled dist/ as `npm run plan|ops` does: build it once, before any file.
    globalSetup: ["test/support/buildDist.ts"],
    // Pulumi's runtime and the sshd hosts are process-wide state: one process per test file (but for the unit and
    // program projects below, test/support/sharedProcess.json).
    pool: "forks",
    // Files wait on sshd hosts, child processes and real daemons as well as on the CPU. Measured on a 2-core
    // machine, clean clones (docs/testing.md): with two at once the CPU was busy 78 % of the run (913-938 s);
    // a third fills those waits, 94 % busy, 856 s, for 10 % more CPU in all. The budgets below hold at a load
    // average of 15-30, far above the 3-4 a third worker adds.
    maxWorkers: 3,
    // One budget for every test and hook, a bound for a hang rather than a speed check. Measured
    // (docs/testing.md): with the load average at 15-30 (several suites on one 2-core machine) the
    // slowest tests took 75-113 s, where 30-s budgets failed even on an idle CI machine. A test that
    // needs more says so with its own, larger budget.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // A timeout says how loaded the machine was (per test, and in one line at the end for hooks too).
    setupFiles: ["test/support/fileTmp.ts", "test/support/timeoutLoad.ts"],
    reporters: ["default", "./test/support/loadReporter.ts"],
    sequence: { sequencer: CheckersSecond },
    projects: [
      { extends: true, test: { name: "unit", include: UNIT, isolate: false } },
      { extends: true, test: { name: "program", include: PROGRAM, isolate: false } },
      { extends: true, test: { name: "main", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...UNIT, ...PROGRAM] } },
    ],
  },
});
