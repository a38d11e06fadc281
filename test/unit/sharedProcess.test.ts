import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import shared from "../support/sharedProcess.json";

/**
 * test/unit runs in one shared process, and the program project's files share one per worker (vitest.config.mts,
 * test/support/sharedProcess.json, isolate: false): what one file changes for the whole process, every file after it
 * sees. These are the rules such a file keeps, checked on its text: a file that breaks its project's rule belongs
 * in the main project, one process per file.
 */
type Rule = [RegExp, string];

const STARTS_HOSTS: Rule = [
  /from "[^"]*\/support\/(sshd|scalelite\/harness|monitoringStack|pebble|postgres|bbbApiServer|ovhApiPeer)"/,
  "starts test hosts, daemons or servers",
];
const RUNS_PULUMI: Rule[] = [
  [/from "[^"]*\/support\/evaluateStack"/, "runs a Pulumi program"],
  [/from "@pulumi\/pulumi(\/[^"]*)?"/, "uses Pulumi's runtime, whose mocks and settings are the process's"],
];
const CHANGES_PROCESS: Rule[] = [
  [/\bvi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers|spyOn)\(/, "replaces a module, a global, the clock or a method for the whole process"],
  [/process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)|delete process\.env/, "changes the process's environment"],
  [/process\.(chdir|umask)\(/, "changes the process's directory or umask"],
];

/** test/unit: pure logic. */
const UNIT_RULE: Rule[] = [STARTS_HOSTS, ...RUNS_PULUMI, ...CHANGES_PROCESS];
/** The program project: Pulumi's mock runtime (each evaluation sets it afresh), and nothing else process-wide. */
const PROGRAM_RULE: Rule[] = [STARTS_HOSTS, ...CHANGES_PROCESS];

const problems = (rule: Rule[], source: string): string[] => rule.filter(([pattern]) => pattern.test(source)).map(([, why]) => why);

const REPO = path.resolve(__dirname, "../..");

describe("the files that share a process keep to their project's rule", () => {
  it("names what would leak into the files after it", () => {
    const leaky = [
      'import { startTestHost } from "../support/sshd";',
      'import { evaluateStack } from "../support/evaluateStack";',
      'import * as pulumi from "@pulumi/pulumi";',
      'vi.stubEnv("TZ", "UTC");',
      "process.env.FUZZ_SEED = '1';",
      "process.chdir('/tmp');",
    ].join("\n");
    expect(problems(UNIT_RULE, leaky)).toHaveLength(UNIT_RULE.length);
    expect(problems(PROGRAM_RULE, leaky)).toHaveLength(PROGRAM_RULE.length);
    expect(problems(PROGRAM_RULE, 'import { evaluateStack } from "../support/evaluateStack";')).toEqual([]);
    expect(problems(UNIT_RULE, 'const seed = Number(process.env.FUZZ_SEED ?? 1);\nif (process.env.X === "1") {}')).toEqual([]);
  });

  it("every file of test/unit keeps the unit rule", () => {
    const files = readdirSync(__dirname, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(40);
    const found = files.flatMap((f) => problems(UNIT_RULE, readFileSync(path.join(__dirname, f), "utf8")).map((why) => `${f}: ${why}`));
    // This file's own patterns are its text, not its behaviour.
    expect(found.filter((p) => !p.startsWith(`${path.basename(__filename)}:`))).toEqual([]);
  });

  it("every file of the program project exists and keeps the program rule", () => {
    const PROGRAM = shared.program;
    expect(PROGRAM.filter((f) => !existsSync(path.join(REPO, f)))).toEqual([]);
    const found = PROGRAM.flatMap((f) => problems(PROGRAM_RULE, readFileSync(path.join(REPO, f), "utf8")).map((why) => `${f}: ${why}`));
    expect(found).toEqual([]);
  });
});
