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
  /** CPU time (user + system) of the median run's process: on a loaded shared machine, closer than the wall time to what an idle one shows. */
  medianCpuMs: number;
  exitCode: number;
}

/** Preloaded into each measured process: prints its own CPU time at exit, after a marker. */
const CPU_AT_EXIT = 'process.on("exit", () => { const u = process.cpuUsage(); process.stderr.write("\\nCPU_MS " + (u.user + u.system) / 1000 + "\\n"); });';

function timed(preload: string, args: string[]): Promise<{ ms: number; cpuMs: number; exitCode: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ["--require", preload, ...args], { cwd: ROOT }, (error, _stdout, stderr) => {
      const cpuMs = Number(/\nCPU_MS ([\d.]+)\n/.exec(stderr)?.[1] ?? NaN);
      resolve({ ms: performance.now() - started, cpuMs, exitCode: error ? Number(error.code ?? 1) : 0 });
    });
  });
}

async function median(preload: string, what: string, goalMs: number, args: string[]): Promise<CliStart> {
  const runs: Array<{ ms: number; cpuMs: number; exitCode: number }> = [];
  for (let i = 0; i < RUNS; i++) runs.push(await timed(preload, args));
  const middle = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(RUNS / 2)];
  return { what, goalMs, medianMs: middle.ms, medianCpuMs: middle.cpuMs, exitCode: runs[0].exitCode };
}

export async function cliStart(): Promise<CliStart[]> {
  execFileSync(process.execPath, [path.join(ROOT, "tools/build.mjs")], { cwd: ROOT });
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-bench-"));
  const broken = path.join(dir, "Pulumi.broken.yaml");
  writeFileSync(broken, "config:\n  bbb-ovh:campus:\n    id: Brest!\n");
  const preload = path.join(dir, "cpu-at-exit.js");
  writeFileSync(preload, CPU_AT_EXIT);
  return [
    await median(preload, "`ops --help`", 500, ["dist/cli/ops.js", "--help"]),
    await median(preload, "`plan --help`", 500, ["dist/cli/plan.js", "--help"]),
    await median(preload, "`plan --stack-file` of a broken stack (refused)", 1000, ["dist/cli/plan.js", "--stack-file", broken]),
  ];
}
