import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * test/unit runs in one shared process (vitest.config.mts, the unit project, isolate: false): what one file
 * changes for the whole process, every file after it sees. This is the rule a file there keeps, checked on its
 * text: a file that breaks it belongs in the main project (any other folder of test/), one process per file.
 */
const PROCESS_WIDE: Array<[RegExp, string]> = [
  [/from "[^"]*\/support\/(evaluateStack|sshd|scalelite\/harness|monitoringStack|pebble)"/, "runs a Pulumi program or starts test hosts or daemons"],
  [/from "@pulumi\/pulumi(\/[^"]*)?"/, "uses Pulumi's runtime, whose mocks and settings are the process's"],
  [/\bvi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers|spyOn)\(/, "replaces a module, a global, the clock or a method for the whole process"],
  [/process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)|delete process\.env/, "changes the process's environment"],
  [/process\.(chdir|umask)\(/, "changes the process's directory or umask"],
];

function sharedProcessProblems(source: string): string[] {
  return PROCESS_WIDE.filter(([pattern]) => pattern.test(source)).map(([, why]) => why);
}

describe("test/unit shares one process", () => {
  it("names what would leak into the files after it", () => {
    const leaky = [
      'import { evaluateStack } from "../support/evaluateStack";',
      'import * as pulumi from "@pulumi/pulumi";',
      'vi.stubEnv("TZ", "UTC");',
      "process.env.FUZZ_SEED = '1';",
      "process.chdir('/tmp');",
    ].join("\n");
    expect(sharedProcessProblems(leaky)).toHaveLength(PROCESS_WIDE.length);
    expect(sharedProcessProblems('const seed = Number(process.env.FUZZ_SEED ?? 1);\nif (process.env.X === "1") {}')).toEqual([]);
  });

  it("every file of test/unit keeps to it", () => {
    const files = readdirSync(__dirname, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(40);
    const problems = files.flatMap((f) => sharedProcessProblems(readFileSync(path.join(__dirname, f), "utf8")).map((why) => `${f}: ${why}`));
    // This file's own patterns are its text, not its behaviour.
    expect(problems.filter((p) => !p.startsWith(`${path.basename(__filename)}:`))).toEqual([]);
  });
});
