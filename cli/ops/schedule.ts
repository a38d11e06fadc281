import { shouldBeAwake } from "../../components/schedule/timetable";
import { OpsError } from "./errors";
import { fixedNodeDecisions, loadPowerContext, stepToAwake, stepToSleep, type NodeDecision, type PowerOptions } from "./nodePower";
import type { OvhApi } from "./ovhApi";
import type { OpsTarget } from "./stackSource";

/**
 * `schedule apply`: hourly-billed Public Cloud nodes follow the campus timetable, all awake inside it,
 * all asleep (but the last enabled node) outside it, with the steps of nodePower.ts. A stack with
 * campus.scaling is driven by `ops scale` instead, which keeps the timetable as its floor.
 */

export type { NodeDecision, NodeStep } from "./nodePower";

export interface ScheduleReport {
  at: string;
  awakeTime: boolean;
  nodes: NodeDecision[];
  /** True when something needs the operator (an IP changed, a step failed). */
  attention: boolean;
}

export interface ScheduleOptions extends PowerOptions {
  now: Date;
}

export async function applySchedule(api: OvhApi, target: OpsTarget, opts: ScheduleOptions): Promise<ScheduleReport> {
  const timetable = target.campus?.config.timetable;
  if (target.campus && !timetable) throw new OpsError("config", "-", "the stack has no campus.timetable: nothing to follow");
  if (target.campus?.config.scaling) throw new OpsError("config", "-", `the stack has campus.scaling: run \`ops scale ${target.label}\` instead (it keeps the timetable as its floor); two controllers would undo each other`);
  const ctx = await loadPowerContext(api, target, opts, "schedule");
  const awakeTime = shouldBeAwake(timetable!, opts.now);
  const decisions = fixedNodeDecisions(ctx.campus);
  for (const host of ctx.campus.nodes.filter((n) => n.config.kind === "publicCloud")) {
    decisions.push(awakeTime ? await stepToAwake(ctx, host, "lessons start soon") : await stepToSleep(ctx, host));
  }
  return { at: opts.now.toISOString(), awakeTime, nodes: decisions, attention: decisions.some((d) => d.step === "failed" || d.step === "ip-changed") };
}

export function renderSchedule(r: ScheduleReport): string {
  const lines = [`${r.at}: ${r.awakeTime ? "teaching time (or about to be): nodes awake" : "outside teaching hours: hourly nodes sleep"}`];
  for (const d of r.nodes) lines.push(`  ${d.node}: ${d.step}: ${d.detail}`);
  return `${lines.join("\n")}\n`;
}
