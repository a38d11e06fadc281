import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files whose time is mostly a real program's own timer, not CPU: the alert drill waits out its rule's 2-minute
 * `for` (Prometheus), the full-bucket backup waits out restic's own retries of each refused upload (about a
 * minute). They run first, in a group of their own with a third worker that runs the files beside them meanwhile
 * (30-45 s each, about as long together as the drill); the rest of the suite then runs two at a time, so that
 * three CPU-bound files never share the two cores. Measured in docs/testing.md.
 */
const WAITING = ["test/monitoring/drills.test.ts", "test/backup/backup.test.ts"];
const BESIDE_WAITING = ["test/ops/voucher.test.ts", "test/ops/imageBuild.test.ts", "test/ops/schedule.test.ts", "test/standby/recordingsCopy.test.ts"];

/** Vitest's order (groups, then cached durations or size), with the waiting files first: each gets a worker at once. */
class WaitingFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const waits = (spec: TestSpecification) => WAITING.some((file) => spec.moduleId.endsWith(`/${file}`));
    return [...sorted.filter(waits), ...sorted.filter((spec) => !waits(spec))];
  }
}

export default defineConfig({
  test: {
    // The CLI tests run the compiled dist/ as `npm run plan|ops` does: build it once, before any file.
    globalSetup: ["test/support/buildDist.ts"],
    // Pulumi's runtime and the sshd hosts are process-wide state: one process per test file.
    pool: "forks",
    // Most files wait on sshd hosts, child processes and real daemons rather than on the CPU: two at
    // once halve the suite on our 2-core machines (vitest would otherwise run one at a time there).
    maxWorkers: 2,
    // One budget for every test and hook, a bound for a hang rather than a speed check. Measured
    // (docs/testing.md): with the load average at 15-30 (several suites on one 2-core machine) the
    // slowest tests took 75-113 s, where 30-s budgets failed even on an idle CI machine. A test that
    // needs more says so with its own, larger budget.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // A timeout says how loaded the machine was (per test, and in one line at the end for hooks too).
    setupFiles: ["test/support/timeoutLoad.ts"],
    reporters: ["default", "./test/support/loadReporter.ts"],
    sequence: { sequencer: WaitingFirst },
    projects: [
      { extends: true, test: { name: "waiting", include: [...WAITING, ...BESIDE_WAITING], maxWorkers: 3, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: "main",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...WAITING, ...BESIDE_WAITING],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
