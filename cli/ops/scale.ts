import type { ResolvedHost } from "../../components/config/campus";
import { decideScaling, SHELVE_LEAD_MS, type PowerState, type ScalingDecision, type ScalingNode } from "../../components/scaling/decide";
import { addNodes, scalingRuleOf } from "../../components/scaling/rule";
import { shouldBeAwake } from "../../components/schedule/timetable";
import { refreshCreditEstimate } from "./creditEstimate";
import { OpsError } from "./errors";
import { writeCopyOn, type OtherFront } from "./frontRole";
import {
  bbbCall,
  fixedNodeDecisions,
  forgetSleeping,
  instanceOf,
  loadPowerContext,
  nodeTargetOf,
  syncSleepingCopy,
  notShelvable,
  stepToAwake,
  noteEmptiness,
  stepToSleep,
  type NodeDecision,
  type PowerContext,
  type PowerOptions,
} from "./nodePower";
import type { OvhApi } from "./ovhApi";
import { lockHolder, POWER_RUN_STALE_MS, withPoolLock } from "./poolLock";
import { readHomeFile, runRemote, type SshTarget } from "./ssh";
import { CHECK_TAG } from "./upgrade";
import type { OpsTarget } from "./stackSource";

/**
 * `scale`: capacity that follows the load. Reads the pool (OVH instances, Scalelite, each node's own
 * getMeetings/getRecordings), lets the pure decision (components/scaling/decide.ts) say which node to
 * wake, re-enable, cordon or shelve, and carries it out with the schedule's steps (nodePower.ts). Safe
 * to run every few minutes from the schedule's timer, in its place: the timetable is its floor.
 * Every run appends its decision to ~/.bbb-ovh/scale.log on the front (the last 2000 runs are kept),
 * which `ops status` shows; the time since the pool had a surplus, and when each node it woke began to be
 * billed (a node parked in a paid hour is shelved near that hour's end), are kept in ~/.bbb-ovh/scale-state.
 */

export const SCALE_LOG = "~/.bbb-ovh/scale.log";
const SCALE_STATE_IN_HOME = ".bbb-ovh/scale-state";
const SCALE_STATE = `~/${SCALE_STATE_IN_HOME}`;
const LOG_RUNS_KEPT = 2000;

export interface ScaleOptions extends PowerOptions {
  now: Date;
  /** Decide and say so; change nothing (no OVH call, no rake task, no state written). */
  dryRun: boolean;
  /** How long a run waits for a woken node to serve (ACTIVE, BBB answers, enabled); 0: leave it to the next run. */
  waitServingMs: number;
  /** Between two looks at a woken node. */
  pollMs?: number;
}

export interface ScaledNode {
  node: string;
  state: PowerState;
  shelvable: boolean;
  meetings: number;
  users: number;
  recordings: number;
  /** Its meetings are from its own getMeetings of this run (not Scalelite's last poll, nor none). */
  asked?: boolean;
  /** When the node's own API could not be read and Scalelite's last poll was used (or nothing). */
  note?: string;
}

export interface ScaleReport {
  at: string;
  awakeTime: boolean;
  dryRun: boolean;
  marginUsers: number;
  /** When the whole pool is short: what the operator can do about it. */
  toDo?: string;
  decision: Omit<ScalingDecision, "surplusSince">;
  nodes: ScaledNode[];
  /** What each step did (empty with --dry-run). */
  steps: NodeDecision[];
  /** A step failed, an IP changed, or the whole pool cannot carry the load. */
  attention: boolean;
  /** The credit estimate this run wrote to the front, or why it did not (cli/ops/creditEstimate.ts); none with --dry-run. */
  creditEstimate?: string;
  /** Why the nodes' flavors were not compared with the stack's (the key cannot list flavors), if so. */
  flavorCheck?: string;
  /** About the pair of fronts: which one the run acted on, a copy of the sleeping list it could not keep. */
  notes: string[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After an unshelve, the same run waits for the node to serve and enables it, so a spare serves minutes
 * after the decision instead of at the next run. Past the deadline the next run takes over.
 */
async function untilServing(ctx: PowerContext, host: ResolvedHost, first: NodeDecision, reason: string, opts: ScaleOptions): Promise<NodeDecision> {
  const started = Date.now();
  const deadline = started + opts.waitServingMs;
  let last = first;
  while (Date.now() < deadline) {
    await pause(opts.pollMs ?? 10_000);
    ctx.instances = await ctx.api.call("GET", `/cloud/project/${ctx.sn}/instance`);
    const status = instanceOf(ctx, host)?.status ?? "";
    // Still shelved or on its way: a second unshelve would be refused (409).
    if (status !== "ACTIVE") continue;
    last = await stepToAwake(ctx, host, reason);
    if (last.step === "enabled")
      return { ...last, detail: `${last.detail}; serving ${Math.round((Date.now() - started) / 1000)} s after the unshelve request` };
    if (last.step === "ip-changed") return last;
  }
  return last.step === "unshelving"
    ? last
    : { ...last, detail: `not serving within ${Math.round(opts.waitServingMs / 1000)} s (${last.detail}); the next run goes on` };
}

const WAKING = /^(UNSHELVING|BUILD|BUILDING|REBOOT|HARD_REBOOT|RESUMING)$/;

/** One node as the decision sees it: its power state and its load, from its own API (else Scalelite's poll). */
async function scalingNodeOf(ctx: PowerContext, host: ResolvedHost): Promise<ScaledNode & { site: string; spec: ResolvedHost["spec"] }> {
  const id = host.fqdn;
  const row = ctx.status.find((r) => r.hostname === id);
  const instance = instanceOf(ctx, host);
  const shelvable = notShelvable(ctx, host) === undefined;
  const serving = row?.state === "enabled" && row.status === "online";
  // Ours: on the front's sleeping list (put to sleep, or being woken, by ops). A node shelved or
  // rebooting that is not ours, nor serving, is someone else's to bring back (an operator's repair, an
  // upgrade's replacement): neither woken nor counted.
  const ours = ctx.sleeping.has(id);
  const checkTag = row?.tag === CHECK_TAG;
  let state: PowerState;
  if (host.config.kind === "publicCloud" && !instance) state = "held";
  else if (checkTag) state = "held";
  else if (instance && /^SHELVED/.test(instance.status)) state = ours ? "shelved" : "held";
  else if (instance && instance.status !== "ACTIVE") state = WAKING.test(instance.status) && (ours || serving) ? "waking" : "held";
  // Ours but enabled in Scalelite again (an undrain, say): it takes lessons, so it counts as enabled.
  else if (ours) state = serving ? "enabled" : "parked";
  else state = serving ? "enabled" : "held";
  const base = {
    node: id,
    site: host.site ?? `region:${host.datacenter}`,
    spec: host.spec,
    state,
    shelvable,
    meetings: 0,
    users: 0,
    recordings: 0,
    ...(checkTag ? { note: `tagged ${CHECK_TAG}: an ops upgrade was cut during its check; it takes no lesson (ops drain it, then give it back its tag)` } : {}),
  };
  if (state === "shelved" || state === "waking") return base;
  const node = nodeTargetOf(ctx, host);
  try {
    const meetings = (await bbbCall(node, "getMeetings", {}, ctx.opts.timeoutMs)).meetings;
    const users = meetings.reduce((n, m) => n + Number(m.participantCount ?? 0), 0);
    const recordings = state === "parked" ? (await bbbCall(node, "getRecordings", { state: "any" }, ctx.opts.timeoutMs)).recordings.length : 0;
    return { ...base, meetings: meetings.length, users, recordings, asked: true };
  } catch (e) {
    // Never shelved on a guess: an unreadable node counts as holding a recording.
    return {
      ...base,
      meetings: row?.meetings ?? 0,
      users: row?.users ?? 0,
      recordings: 1,
      note: `its API did not answer (${(e as Error).message}); Scalelite's last poll used`,
    };
  }
}

/**
 * A node ignores a new flavor until `ops upgrade` rolls it (components/hosts/rollingNode.ts), so a flavor
 * changed in the stack would otherwise change nothing without a word: each node whose instance runs
 * another flavor than the stack names, with what to do. The flavors are read once (GET .../flavor); a key
 * without that right gets one line saying the check was not made.
 */
async function flavorNotes(ctx: PowerContext): Promise<{ notes: Map<string, string>; unchecked?: string }> {
  const notes = new Map<string, string>();
  const running = ctx.campus.nodes.flatMap((host) => {
    const id = instanceOf(ctx, host)?.flavorId;
    return host.config.kind === "publicCloud" && id ? [{ host, flavor: host.config.flavor, id }] : [];
  });
  if (running.length === 0) return { notes };
  let flavors: Array<{ id: string; name: string }>;
  try {
    flavors = await ctx.api.call<Array<{ id: string; name: string }>>("GET", `/cloud/project/${ctx.sn}/flavor`);
  } catch (e) {
    return { notes, unchecked: `flavors not compared with the stack's: ${(e as Error).message}` };
  }
  for (const { host, flavor, id } of running) {
    const name = flavors.find((f) => f.id === id)?.name;
    if (name && name !== flavor) notes.set(host.fqdn, `runs ${name}, the stack names ${flavor}: roll it with ops upgrade and BBB_OVH_RESIZE (docs/nodes.md)`);
  }
  return { notes };
}

/** What one run leaves to the next: since when the pool has had a surplus, and when each node ops woke began its billing. */
export interface ScaleState {
  surplusSince?: number;
  /** Node -> epoch ms of the unshelve ops requested: hourly instances are billed per commenced hour from then. */
  billedSince: Record<string, number>;
}

/** The state file as written by this version, or by earlier ones (surplusSince only); anything unreadable is no state. */
export function parseScaleState(text: string): ScaleState {
  try {
    const raw = JSON.parse(text || "{}") as { surplusSince?: unknown; billedSince?: unknown };
    const billed = raw.billedSince !== null && typeof raw.billedSince === "object" ? (raw.billedSince as Record<string, unknown>) : {};
    return {
      surplusSince: typeof raw.surplusSince === "number" ? raw.surplusSince : undefined,
      billedSince: Object.fromEntries(Object.entries(billed).filter((e): e is [string, number] => typeof e[1] === "number")),
    };
  } catch {
    return { billedSince: {} };
  }
}

async function readScaleState(ssh: SshTarget, timeoutMs: number): Promise<ScaleState> {
  // Unreadable is an error (readHomeFile): read as empty, it would restart the surplus wait and forget each
  // woken node's paid hour, and the run's record would write that over the file.
  return parseScaleState(await readHomeFile(ssh, SCALE_STATE_IN_HOME, timeoutMs));
}

/** The state file's text. */
const renderScaleState = (state: ScaleState) => JSON.stringify({ surplusSince: state.surplusSince ?? null, billedSince: state.billedSince });

async function record(ssh: SshTarget, state: ScaleState, line: string, timeoutMs: number): Promise<void> {
  const saved = renderScaleState(state);
  const command = `mkdir -p ~/.bbb-ovh && printf '%s\\n' '${saved}' > ${SCALE_STATE}.new && mv ${SCALE_STATE}.new ${SCALE_STATE} && cat >> ${SCALE_LOG} && tail -n ${LOG_RUNS_KEPT} ${SCALE_LOG} > ${SCALE_LOG}.new && mv ${SCALE_LOG}.new ${SCALE_LOG}`;
  const r = await runRemote(ssh, command, timeoutMs, `${line}\n`);
  if (r.code !== 0) throw new OpsError("command", ssh.host, `cannot record the scaling decision: ${r.stderr.trim()}`);
}

/**
 * On a pair (cli/ops/frontRole.ts), the other front's copy of the state, written as the sleeping list's copy
 * is (never onto a front that says it serves): after a failover, the runs there keep the surplus wait and
 * shelve a node woken before it at the end of its paid hour. Best effort: a copy not written is a note; the
 * front it is missing on would restart the wait and shelve such a node once empty.
 */
async function copyScaleState(other: OtherFront, state: ScaleState, timeoutMs: number): Promise<string | undefined> {
  const r = await writeCopyOn(other, SCALE_STATE_IN_HOME, `${renderScaleState(state)}\n`, timeoutMs);
  if (r.code === 0) return undefined;
  return `the copy of the scale state on ${other.name} is not up to date (cannot write it: ${r.stderr.trim()}): were that front to serve now, its runs would restart the surplus wait; the next run tries again`;
}

/** One run; all but --dry-run hold the pool lock from the first look to the last change (cli/ops/poolLock.ts). */
/** `notes`: what poolFronts (cli/ops/frontRole.ts) said of the pair of fronts. */
export async function applyScaling(api: OvhApi, target: OpsTarget, opts: ScaleOptions, notes: readonly string[] = []): Promise<ScaleReport> {
  if (opts.dryRun || !target.ssh) return scaleOnce(api, target, opts, notes);
  return withPoolLock(target.ssh, lockHolder("ops scale"), POWER_RUN_STALE_MS, opts.timeoutMs, () => scaleOnce(api, target, opts, notes));
}

async function scaleOnce(api: OvhApi, target: OpsTarget, opts: ScaleOptions, notes: readonly string[]): Promise<ScaleReport> {
  const ctx = await loadPowerContext(api, target, opts, "scale");
  if (!opts.dryRun) await syncSleepingCopy(ctx);
  const { campus, ssh } = ctx;
  const timetable = campus.config.timetable;
  const awakeTime = timetable ? shouldBeAwake(timetable, opts.now) : true;
  const rule = scalingRuleOf(campus);
  const scaled: Awaited<ReturnType<typeof scalingNodeOf>>[] = [];
  for (const host of campus.nodes) scaled.push(await scalingNodeOf(ctx, host));
  const flavors = await flavorNotes(ctx);
  for (const n of scaled) {
    const drift = flavors.notes.get(n.node);
    if (drift) n.note = n.note ? `${n.note}; ${drift}` : drift;
  }
  const state = await readScaleState(ssh, opts.timeoutMs);
  const nodes: ScalingNode[] = scaled.map((n) => ({
    id: n.node,
    site: n.site,
    spec: n.spec,
    shelvable: n.shelvable,
    state: n.state,
    meetings: n.meetings,
    recordings: n.recordings,
    users: n.users,
    billedSince: n.state === "enabled" || n.state === "parked" ? state.billedSince[n.node] : undefined,
  }));
  const decision = decideScaling({
    now: opts.now.getTime(),
    awake: awakeTime,
    ...rule,
    surplusSince: state.surplusSince,
    shelveLeadMs: SHELVE_LEAD_MS,
    nodes,
  });

  const steps: NodeDecision[] = [];
  // Billing starts are kept for the nodes up; a node asleep, or being shelved, starts again at its next unshelve.
  const billedSince = Object.fromEntries(Object.entries(state.billedSince).filter(([id]) => scaled.some((n) => n.node === id && n.state !== "shelved")));
  if (!opts.dryRun) {
    steps.push(...fixedNodeDecisions(campus));
    for (const action of decision.actions) {
      const host = campus.nodes.find((n) => n.fqdn === action.node) as ResolvedHost;
      if (action.action === "cordon" || action.action === "shelve") {
        steps.push(await stepToSleep(ctx, host, { shelve: !decision.paidUp.some((p) => p.node === action.node) }));
        continue;
      }
      const step = await stepToAwake(ctx, host, action.reason);
      if (step.step === "unshelving") billedSince[action.node] = opts.now.getTime();
      steps.push(step.step === "unshelving" && opts.waitServingMs > 0 ? await untilServing(ctx, host, step, action.reason, opts) : step);
    }
    for (const n of scaled.filter((x) => x.state === "enabled" && ctx.sleeping.has(x.node) && !decision.actions.some((a) => a.node === x.node)))
      steps.push(await forgetSleeping(ctx, campus.nodes.find((h) => h.fqdn === n.node) as ResolvedHost));
    // Parked nodes left as they are (a paid hour, a lesson or a recording still on them): when each emptied
    // is noted now, not only on the run that may shelve it.
    for (const n of scaled.filter((x) => x.state === "parked" && x.asked && !decision.actions.some((a) => a.node === x.node))) {
      const failure = await noteEmptiness(ctx, campus.nodes.find((h) => h.fqdn === n.node) as ResolvedHost, n.meetings);
      if (failure) steps.push({ node: n.node, step: "cordoned", detail: `parked${failure}` });
    }
  }
  const { surplusSince, ...shown } = decision;
  const report: ScaleReport = {
    at: opts.now.toISOString(),
    awakeTime,
    dryRun: opts.dryRun,
    marginUsers: rule.marginUsers,
    // Even every node awake falls short: the pool, or the margin asked of it, must change.
    toDo: decision.short
      ? `${addNodes(decision.requiredUsers, campus.config.expected.classrooms, rule.policy)}${awakeTime && rule.marginUsers > 0 ? ", or lower campus.scaling.marginUsers" : ""}`
      : undefined,
    decision: shown,
    nodes: scaled.map(({ site: _site, spec: _spec, asked: _asked, ...n }) => n),
    steps,
    ...(flavors.unchecked ? { flavorCheck: flavors.unchecked } : {}),
    notes: [...notes, ...ctx.notes],
    attention: decision.short || steps.some((d) => d.step === "failed" || d.step === "ip-changed") || ctx.status.some((r) => r.tag === CHECK_TAG),
  };
  if (!opts.dryRun) {
    const line = JSON.stringify({
      at: report.at,
      awake: awakeTime,
      summary: decision.summary,
      actions: decision.actions,
      steps: steps.filter((s) => s.step !== "skipped"),
    });
    for (const step of steps) if (step.step === "shelving") delete billedSince[step.node];
    await record(ssh, { surplusSince, billedSince }, line, opts.timeoutMs);
    // ctx.other is gone when its sleeping-list copy could not be read or written: a note already says so.
    const missed = ctx.other && (await copyScaleState(ctx.other, { surplusSince, billedSince }, opts.timeoutMs));
    if (missed) report.notes.push(missed);
    report.creditEstimate = await refreshCreditEstimate(api, campus, ssh, opts.timeoutMs);
  }
  return report;
}

export function renderScale(r: ScaleReport): string {
  const lines = [
    `${r.at}${r.dryRun ? " (dry run: nothing changed)" : ""}: ${r.awakeTime ? "teaching window" : "outside teaching hours"}; margin ${r.awakeTime ? `${r.marginUsers} user(s)` : "none"}`,
    `  ${r.decision.summary}${r.decision.short ? " (SHORT)" : ""}`,
  ];
  if (r.toDo) lines.push(`  to do: ${r.toDo}`);
  if (r.flavorCheck) lines.push(`  ${r.flavorCheck}`);
  for (const n of r.nodes)
    lines.push(
      `  ${n.node}: ${n.state}${n.shelvable ? "" : " (never shelved)"}, ${n.meetings} meeting(s), ${n.users} user(s)${n.recordings ? `, ${n.recordings} recording(s)` : ""}${n.note ? `; ${n.note}` : ""}`,
    );
  for (const a of r.decision.actions) lines.push(`  -> ${a.action} ${a.node}: ${a.reason}`);
  for (const s of r.steps.filter((x) => x.step !== "skipped")) lines.push(`  ${s.node}: ${s.step}: ${s.detail}`);
  if (r.creditEstimate) lines.push(`  credit estimate: ${r.creditEstimate}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return `${lines.join("\n")}\n`;
}
