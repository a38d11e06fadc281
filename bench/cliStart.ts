/**
 * How soon the CLIs answer, as `npm run plan|ops` runs them (the compiled JavaScript in dist/, see
 * tools/build.mjs): `--help`, and the refusal of a broken stack file, which must come before the
 * Pulumi program loads. Each is the median of a few fresh processes.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const RUNS = 5;

export interface CliStart {
  what: string;
  goalMs: number;
  medianMs: number;
  exitCode: number;
}

function timed(args: string[]): Promise<{ ms: number; exitCode: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT }, (error) => {
      resolve({ ms: performance.now() - started, exitCode: error ? Number(error.code ?? 1) : 0 });
    });
  });
}

async function median(what: string, goalMs: number, args: string[]): Promise<CliStart> {
  const runs: Array<{ ms: number; exitCode: number }> = [];
  for (let i = 0; i < RUNS; i++) runs.push(await timed(args));
  const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
  return { what, goalMs, medianMs: sorted[Math.floor(RUNS / 2)], exitCode: runs[0].exitCode };
}

export async function cliStart(): Promise<CliStart[]> {
  execFileSync(process.execPath, [path.join(ROOT, "tools/build.mjs")], { cwd: ROOT });
  const broken = path.join(mkdtempSync(path.join(tmpdir(), "bbb-bench-")), "Pulumi.broken.yaml");
  writeFileSync(broken, "config:\n  bbb-ovh:campus:\n    id: Brest!\n");
  return [
    await median("`ops --help`", 500, ["dist/cli/ops.js", "--help"]),
    await median("`plan --help`", 500, ["dist/cli/plan.js", "--help"]),
    await median("`plan --stack-file` of a broken stack (refused)", 1000, ["dist/cli/plan.js", "--stack-file", broken]),
  ];
}
