/**
 * A simulated `pulumi up`: the real program for a stack under the mock runtime, where every
 * resource takes its modelled duration (bench/durations.ts, scaled down). The SDK registers a
 * resource only once its inputs and dependsOn are resolved, so the wall time comes out of the
 * program's real dependency graph, like the engine's parallel deploy.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type * as pulumi from "@pulumi/pulumi";
import { readStackFile } from "../components/config/stackFile";
import { campusProgram } from "../components/program";
import { plannedCloud } from "../cli/plan/mockCloud";
import { configOfStackFile } from "../cli/plan/planStack";
import { evaluateProgram, type RecordedResource } from "../cli/plan/recorder";
import { MS_PER_MINUTE, modelledDuration } from "./durations";
import { criticalPath, type CriticalPath } from "./resourceGraph";

export interface SimulatedUp {
  stack: string;
  resources: number;
  /** Simulated wall time at MS_PER_MINUTE, converted back to real minutes. */
  wallMinutes: number;
  wallMs: number;
  criticalPath: CriticalPath;
  /** Every resource one after the other: a runbook followed by hand. */
  serialMinutes: number;
  /** wall / critical path - 1 at MS_PER_MINUTE: includes the program's own (unscaled) evaluation time. */
  rawOverheadRatio: number;
  /**
   * The part of the wall time that grows with the modelled durations, against the critical path:
   * measured at two scales, (wall₂ - wall₁) / (path₂ - path₁) - 1. This is what a real deploy of
   * hours would see; the fixed part (fixedMs) is the program's evaluation, a fraction of a second.
   */
  overheadRatio: number;
  fixedMs: number;
}

/** plannedCloud's answers, each after the resource's modelled duration. */
const timedCloud = (msPerMinute: number): pulumi.runtime.Mocks => ({
  async newResource(args) {
    if (args.custom) await sleep(modelledDuration(args).minutes * msPerMinute);
    return plannedCloud.newResource(args);
  },
  call: plannedCloud.call,
});

/**
 * The second run, to separate the program's fixed cost from the time that follows the durations:
 * slowed down until its critical path lasts at least this long, so that scheduling noise of a few
 * tens of milliseconds stays well under 1 % of it, whatever the stack.
 */
const SLOW_PATH_MS = 7000;

export async function simulateUp(stack: string): Promise<SimulatedUp> {
  const file = readStackFile(stack);
  const { config, secretKeys } = configOfStackFile(file);
  const options = { project: "bbb-ovh", stack: file.stack, config, secretKeys };
  // One untimed evaluation first, so module loading and JIT warm-up are not counted.
  await evaluateProgram({ ...options, mocks: plannedCloud }, campusProgram);
  const timed = async (msPerMinute: number) => {
    const started = performance.now();
    const { resources } = await evaluateProgram({ ...options, mocks: timedCloud(msPerMinute) }, campusProgram);
    return { resources, wallMs: performance.now() - started };
  };
  const { resources, wallMs } = await timed(MS_PER_MINUTE);
  const minutesOf = (r: RecordedResource) => (r.custom ? modelledDuration(r).minutes : 0);
  const path = criticalPath(resources, minutesOf);
  const pathMs = path.minutes * MS_PER_MINUTE;
  const slowFactor = Math.max(5, SLOW_PATH_MS / pathMs);
  const slow = await timed(MS_PER_MINUTE * slowFactor);
  const slope = (slow.wallMs - wallMs) / (pathMs * (slowFactor - 1));
  return {
    stack: file.stack,
    resources: resources.filter((r) => r.custom).length,
    wallMinutes: wallMs / MS_PER_MINUTE,
    wallMs,
    criticalPath: path,
    serialMinutes: resources.reduce((sum, r) => sum + minutesOf(r), 0),
    rawOverheadRatio: wallMs / pathMs - 1,
    overheadRatio: slope - 1,
    fixedMs: wallMs - slope * pathMs,
  };
}
