import { DateTime } from "luxon";
import type { Campus } from "../../components/config/campus";
import { awakeTransitions, shouldBeAwake, type AwakeTransition, type Timetable } from "../../components/schedule/timetable";
import { refreshCreditEstimate } from "./creditEstimate";
import { OpsError } from "./errors";
import { fixedNodeDecisions, loadPowerContext, stepToAwake, stepToSleep, syncSleepingCopy, type NodeDecision, type PowerOptions } from "./nodePower";
import type { OvhApi } from "./ovhApi";
import { lockHolder, POWER_RUN_STALE_MS, withPoolLock } from "./poolLock";
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
  /** The credit estimate this run wrote to the front for its monitoring, or why it did not (cli/ops/creditEstimate.ts). */
  creditEstimate: string;
  /** About the pair of fronts: which one the run acted on, a copy of the sleeping list it could not keep. */
  notes: string[];
}

export interface ScheduleOptions extends PowerOptions {
  now: Date;
}

/** `notes`: what poolFronts (cli/ops/frontRole.ts) said of the pair of fronts. */
export async function applySchedule(api: OvhApi, target: OpsTarget, opts: ScheduleOptions, notes: readonly string[] = []): Promise<ScheduleReport> {
  const timetable = target.campus?.config.timetable;
  if (target.campus && !timetable) throw new OpsError("config", "-", "the stack has no campus.timetable: nothing to follow");
  if (target.campus?.config.scaling)
    throw new OpsError(
      "config",
      "-",
      `the stack has campus.scaling: run \`ops scale ${target.label}\` instead (it keeps the timetable as its floor); two controllers would undo each other`,
    );
  if (!target.ssh) return scheduleOnce(api, target, opts, timetable!, notes);
  return withPoolLock(target.ssh, lockHolder("ops schedule apply"), POWER_RUN_STALE_MS, opts.timeoutMs, () =>
    scheduleOnce(api, target, opts, timetable!, notes),
  );
}

/** One run, holding the pool lock (cli/ops/poolLock.ts). */
async function scheduleOnce(api: OvhApi, target: OpsTarget, opts: ScheduleOptions, timetable: Timetable, notes: readonly string[]): Promise<ScheduleReport> {
  const ctx = await loadPowerContext(api, target, opts, "schedule");
  await syncSleepingCopy(ctx);
  const awakeTime = shouldBeAwake(timetable, opts.now);
  const decisions = fixedNodeDecisions(ctx.campus);
  for (const host of ctx.campus.nodes.filter((n) => n.config.kind === "publicCloud")) {
    decisions.push(awakeTime ? await stepToAwake(ctx, host, "lessons start soon") : await stepToSleep(ctx, host));
  }
  const creditEstimate = await refreshCreditEstimate(api, ctx.campus, ctx.ssh, opts.timeoutMs);
  return {
    at: opts.now.toISOString(),
    awakeTime,
    nodes: decisions,
    attention: decisions.some((d) => d.step === "failed" || d.step === "ip-changed"),
    creditEstimate,
    notes: [...notes, ...ctx.notes],
  };
}

export function renderSchedule(r: ScheduleReport): string {
  const lines = [`${r.at}: ${r.awakeTime ? "teaching time (or about to be): nodes awake" : "outside teaching hours: hourly nodes sleep"}`];
  for (const d of r.nodes) lines.push(`  ${d.node}: ${d.step}: ${d.detail}`);
  lines.push(`credit estimate: ${r.creditEstimate}`);
  for (const note of r.notes) lines.push(`note: ${note}`);
  return `${lines.join("\n")}\n`;
}

/** What `schedule apply --dry-run` shows: the timetable's verdict and next transitions, from the stack file alone. */
export interface SchedulePreview {
  at: string;
  timezone: string;
  awakeNow: boolean;
  /** Hourly Public Cloud nodes, which follow the timetable (unless OVH bills their instance monthly). */
  following: string[];
  /** Other nodes, never shelved. */
  notFollowing: string[];
  /** The next wake and sleep times over the coming week. */
  transitions: AwakeTransition[];
}

const PREVIEW_DAYS = 7;

export function schedulePreview(campus: Campus, now: Date): SchedulePreview {
  const timetable = campus.config.timetable;
  if (!timetable) throw new OpsError("config", "-", "the stack has no campus.timetable: nothing to follow");
  const until = new Date(now.getTime() + PREVIEW_DAYS * 86_400_000);
  return {
    at: now.toISOString(),
    timezone: timetable.timezone,
    awakeNow: shouldBeAwake(timetable, now),
    following: campus.nodes.filter((n) => n.config.kind === "publicCloud").map((n) => n.fqdn),
    notFollowing: campus.nodes.filter((n) => n.config.kind !== "publicCloud").map((n) => n.fqdn),
    transitions: awakeTransitions(timetable, now, until),
  };
}

export function renderSchedulePreview(p: SchedulePreview): string {
  const local = (d: Date) => DateTime.fromJSDate(d, { zone: p.timezone }).toFormat("ccc yyyy-MM-dd HH:mm");
  const lines = [
    `at ${local(new Date(p.at))} (${p.timezone}) the nodes should be ${p.awakeNow ? "AWAKE" : "ASLEEP (shelved)"}`,
    `follow the timetable: ${p.following.join(", ") || "none (no hourly Public Cloud node)"}`,
  ];
  if (p.notFollowing.length > 0) lines.push(`never shelved: ${p.notFollowing.join(", ")}`);
  lines.push(
    `next ${PREVIEW_DAYS} days:`,
    ...p.transitions.map(
      (t) => `  ${local(t.at)}  ${t.to === "awake" ? "wake: unshelve, check, enable" : "sleep: cordon, wait for the lessons to end, shelve"}`,
    ),
  );
  if (p.transitions.length === 0) lines.push("  no change");
  lines.push("(dry run: nothing contacted; `schedule apply` without --dry-run checks OVH's billing and Scalelite first)");
  return `${lines.join("\n")}\n`;
}
