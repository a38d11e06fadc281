import type { Campus, ResolvedHost } from "../../components/config/campus";
import { parseSleepingList, renderSleepingList, SLEEPING_LIST_IN_HOME, type SleepingList } from "../../components/schedule/sleepingList";
import { writeCopyOn, type OtherFront } from "./frontRole";
import { signedUrl } from "./bbbApi";
import { parseBbbResponse, type BbbResponse } from "./bbbXml";
import { httpGet } from "./http";
import { OpsError } from "./errors";
import type { OvhApi } from "./ovhApi";
import { readFrontRecordings, recordingsLeft } from "./recordingHealth";
import { parseStatusTable, rake, type ScaleliteServerStatus } from "./scalelite";
import { finishPendingResend } from "./pendingResend";
import { readHomeFile, runRemote, writeHomeFile, type SshTarget } from "./ssh";
import type { NodeTarget, OpsTarget } from "./stackSource";

/**
 * Putting an hourly Public Cloud node to sleep and waking it, one step per run, for `schedule apply`
 * and `scale`. Each run looks at the state (OVH instance status, Scalelite, the node's own API) and
 * takes the next step only, so an interrupted run is finished by the next one.
 *
 * Going to sleep: cordon in Scalelite (no new meeting), wait until the node hosts no meeting and holds
 * no recording (getRecordings state=any is empty: scalelite.yml's delete_recording removes a node's copy
 * once transferred; and, with recordings on, the node's own report, made after it was first seen without
 * a meeting, counts none still being processed: cli/ops/recordingHealth.ts recordingsLeft), then shelve.
 * Never the front, never the last enabled node, never a monthly-billed instance (OVH bills the month
 * anyway, and hourly -> monthly is one-way: OVHcloud Public Cloud billing).
 * Waking up: unshelve, wait for BBB's signed getMeetings to answer, check the public IP, then enable.
 * The nodes put to sleep are listed on the front (~/.bbb-ovh/schedule-sleeping of the SSH user), so a
 * node an operator drained stays drained. A node on its way back carries `wake=<epoch>` there, from the
 * first run that wants it awake until it is enabled: the front's Scalelite exporter turns the list into
 * bbb_ovh_node_expected_awake, so the alerts stay quiet for a node asleep and not for one that does not wake.
 */

/** OVH instance (GET /cloud/project/{serviceName}/instance): the fields used here. */
export interface Instance {
  id: string;
  name: string;
  status: string;
  monthlyBilling?: { since?: string; status?: string } | null;
  ipAddresses?: Array<{ ip: string; type: string; version: number }>;
  /** The flavor it runs (cloud.instance.Instance.flavorId). */
  flavorId?: string;
}

export type NodeStep = "awake" | "asleep" | "cordoned" | "waiting" | "shelving" | "unshelving" | "enabled" | "skipped" | "ip-changed" | "failed";

export interface NodeDecision {
  node: string;
  step: NodeStep;
  detail: string;
}

export interface PowerOptions {
  timeoutMs: number;
  commandTimeoutMs: number;
  /** The nodes' last known IPv4 addresses (the stack's outputs), to notice a change after unshelve. */
  knownIpv4: Record<string, string | undefined>;
  /** The other front of a pair, which keeps a copy of the sleeping list (cli/ops/frontRole.ts poolFronts). */
  otherFront?: OtherFront;
}

/** What one run reads once: the project's instances, Scalelite's table, the list of sleeping nodes. */
export interface PowerContext {
  api: OvhApi;
  target: OpsTarget;
  campus: Campus;
  /** The Public Cloud project. */
  sn: string;
  ssh: SshTarget;
  instances: Instance[];
  status: ScaleliteServerStatus[];
  /** The nodes ops put to sleep, with when a wake was first asked for (epoch seconds), if one is pending. */
  sleeping: SleepingList;
  /** Read when first needed: the cordoned nodes first seen without a meeting, and when (the front's clock, epoch s). */
  emptied?: Map<string, number>;
  opts: PowerOptions;
  /** The other front while its copy of the sleeping list can be kept; undefined once it could not this run. */
  other?: OtherFront;
  /** What the run's report says beside its steps (the other front's copy that could not be kept, say). */
  notes: string[];
  /** This front's mark that its copy on the other front is behind its list (COPY_BEHIND_IN_HOME), once known. */
  copyBehind?: boolean;
}

/** `<id> <epoch>` a line: since when a cordoned node has been seen without a meeting (see recordingsLeftOn). */
const EMPTIED_IN_HOME = ".bbb-ovh/emptied";

/**
 * On a front of a pair, beside its sleeping list: its copy on the other front is behind it (a copy that could
 * not be written). That list is then the newer one, and a run there takes nothing from the other's copy
 * (syncSleepingCopy). A copy written from it clears the mark, and clears the other front's own mark too.
 */
const COPY_BEHIND_IN_HOME = ".bbb-ovh/schedule-sleeping.copy-behind";

/** A signed call to the node's own API; anything but SUCCESS is an error naming the node. */
export async function bbbCall(node: NodeTarget, call: string, params: Record<string, string>, timeoutMs: number): Promise<BbbResponse> {
  if (!node.secret) throw new OpsError("config", node.fqdn, "no shared secret for this node (the stack's nodeSecrets output)");
  const answer = await httpGet(signedUrl(node.apiUrl, call, params, node.secret), { timeoutMs });
  let response: BbbResponse;
  try {
    response = parseBbbResponse(answer.body);
  } catch (e) {
    throw new OpsError("api", node.fqdn, `${call}: ${(e as Error).message}`);
  }
  if (response.returncode !== "SUCCESS") throw new OpsError("api", node.fqdn, `${call}: ${response.messageKey ?? ""} ${response.message ?? ""}`.trim());
  return response;
}

async function sleepingList(ssh: SshTarget, timeoutMs: number): Promise<SleepingList> {
  // Unreadable is an error (readHomeFile): read as empty, the nodes ops put to sleep would be no one's to
  // wake, and the run's save would drop them from the list.
  return parseSleepingList(await readHomeFile(ssh, SLEEPING_LIST_IN_HOME, timeoutMs));
}

async function saveSleepingList(ctx: PowerContext): Promise<void> {
  const text = renderSleepingList(ctx.sleeping);
  const r = await writeHomeFile(ctx.ssh, SLEEPING_LIST_IN_HOME, text, ctx.opts.timeoutMs);
  if (r.code !== 0) throw new OpsError("command", ctx.ssh.host, `cannot record the sleeping nodes: ${r.stderr.trim()}`);
  if (ctx.other) await copySleepingList(ctx, text);
  // A pair whose other front is out of reach this run: the copy there is now behind.
  else if (ctx.target.standby) await markCopyBehind(ctx);
}

/**
 * The other front's copy of the sleeping list, written as the serving front's is: after a failover (or a
 * failback), the runs on the front that serves then know which nodes ops put to sleep, and wake them.
 * Best effort: a copy that cannot be written is named in the run's notes, and the run goes on.
 */
async function copySleepingList(ctx: PowerContext, text: string): Promise<void> {
  const other = ctx.other;
  if (!other) return;
  const written = await writeCopyOn(other, SLEEPING_LIST_IN_HOME, text, ctx.opts.timeoutMs, `rm -f ~/${COPY_BEHIND_IN_HOME}`);
  if (written.code !== 0) {
    missedCopy(ctx, `cannot write it: ${written.stderr.trim()}`);
    await markCopyBehind(ctx);
  } else if (ctx.copyBehind !== false) {
    const cleared = await runRemote(ctx.ssh, `rm -f ~/${COPY_BEHIND_IN_HOME}`, ctx.opts.timeoutMs);
    if (cleared.code === 0) ctx.copyBehind = false;
  }
}

async function markCopyBehind(ctx: PowerContext): Promise<void> {
  if (ctx.copyBehind === true) return;
  const r = await writeHomeFile(ctx.ssh, COPY_BEHIND_IN_HOME, `${new Date().toISOString()}\n`, ctx.opts.timeoutMs);
  if (r.code === 0) ctx.copyBehind = true;
  else ctx.notes.push(`cannot mark its copy of the sleeping list as behind (~/${COPY_BEHIND_IN_HOME}): ${r.stderr.trim()}`);
}

function missedCopy(ctx: PowerContext, why: string): void {
  ctx.notes.push(
    `the copy of the sleeping list on ${ctx.other?.name} is not up to date (${why}): were that front to serve now, its runs would not know which nodes ops put to sleep; the next run tries again`,
  );
  ctx.other = undefined;
}

/**
 * Brings the other front's copy up to date when it differs (one not written while that front did not answer).
 * A node that copy lists, this front's list does not, and OVH shows shelved, was put to sleep by ops through a
 * list this front missed (the front that served then could not write its copy here before it went down): it is
 * taken onto this front's list, and a note says so, rather than left for no one to wake. Not while this front's
 * own copy is marked behind: its list is the newer one then (a node it woke, that an operator shelved since, is
 * still on that stale copy, and is the operator's).
 */
export async function syncSleepingCopy(ctx: PowerContext): Promise<void> {
  const other = ctx.other;
  if (!other) return;
  let copy: SleepingList;
  try {
    ctx.copyBehind = (await readHomeFile(ctx.ssh, COPY_BEHIND_IN_HOME, ctx.opts.timeoutMs)) !== "";
    copy = parseSleepingList(await readHomeFile(other.ssh, SLEEPING_LIST_IN_HOME, ctx.opts.timeoutMs));
  } catch (e) {
    missedCopy(ctx, `cannot read it: ${(e as Error).message}`);
    return;
  }
  const shelved = (id: string) => /^SHELVED/.test(ctx.instances.find((i) => i.name === id)?.status ?? "");
  const missed = ctx.copyBehind ? [] : [...copy.keys()].filter((id) => !ctx.sleeping.has(id) && shelved(id));
  if (missed.length > 0) {
    for (const id of missed) ctx.sleeping.set(id, undefined);
    ctx.notes.push(
      `${missed.join(", ")}: shelved, and on the copy of the sleeping list on ${other.name} but not on this front's: taken onto it (put to sleep by ops when ${other.name} served)`,
    );
    await saveSleepingList(ctx);
  } else if (ctx.copyBehind || renderSleepingList(copy) !== renderSleepingList(ctx.sleeping)) await copySleepingList(ctx, renderSleepingList(ctx.sleeping));
}

function parseEmptied(text: string): Map<string, number> {
  const emptied = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+) (\d+)$/.exec(line.trim());
    if (m) emptied.set(m[1], Number(m[2]));
  }
  return emptied;
}

async function emptiedOf(ctx: PowerContext): Promise<Map<string, number>> {
  // Unreadable is an error (readHomeFile): read as empty, it would restart every node's wait.
  ctx.emptied ??= parseEmptied(await readHomeFile(ctx.ssh, EMPTIED_IN_HOME, ctx.opts.timeoutMs));
  return ctx.emptied;
}

/** Forgets (or records, with `at`) when the node was first seen empty; writes only on a change; only with recordings on. */
async function setEmptied(ctx: PowerContext, id: string, at?: number): Promise<void> {
  if (!ctx.campus.config.recordings) return;
  const emptied = await emptiedOf(ctx);
  if (emptied.get(id) === at) return;
  if (at === undefined) emptied.delete(id);
  else emptied.set(id, at);
  const text = [...emptied].map(([node, since]) => `${node} ${since}\n`).join("");
  const r = await writeHomeFile(ctx.ssh, EMPTIED_IN_HOME, text, ctx.opts.timeoutMs);
  if (r.code !== 0) throw new OpsError("command", ctx.ssh.host, `cannot record when ${id} emptied: ${r.stderr.trim()}`);
}

/**
 * Why a cordoned node without a meeting may still hold a recording getRecordings does not show (one still
 * being processed), or undefined when its report says it holds none. The first run that sees it empty
 * records the front's time, so only a report made after it counts: one run, then the node's next report.
 */
async function recordingsLeftOn(ctx: PowerContext, host: ResolvedHost): Promise<string | undefined> {
  const { now, nodes } = await readFrontRecordings(ctx.ssh, ctx.opts.timeoutMs);
  return recordingsLeft(
    nodes.find((n) => n.node === host.name),
    await markEmptied(ctx, host.fqdn, now),
  );
}

/** When the node was first seen without a meeting: kept if known, else `now` (the front's clock), recorded. */
async function markEmptied(ctx: PowerContext, id: string, now: number): Promise<number> {
  const since = (await emptiedOf(ctx)).get(id) ?? now;
  await setEmptied(ctx, id, since);
  return since;
}

/**
 * A cordoned node not shelved on this run (recordings on): its empty time is kept from the first run that sees
 * it without a meeting, so that the report it makes next can let it go on the run that may shelve it (for
 * `ops scale`, in its paid hour's last minutes). `meetings`: as its own getMeetings just said, else asked
 * here. Says why not when that failed.
 */
export async function noteEmptiness(ctx: PowerContext, host: ResolvedHost, meetings?: number): Promise<string> {
  if (!ctx.campus.config.recordings) return "";
  try {
    meetings ??= (await bbbCall(nodeTargetOf(ctx, host), "getMeetings", {}, ctx.opts.timeoutMs)).meetings.length;
    if (meetings > 0) await setEmptied(ctx, host.fqdn);
    else await markEmptied(ctx, host.fqdn, (await readFrontRecordings(ctx.ssh, ctx.opts.timeoutMs)).now);
    return "";
  } catch (e) {
    return ` (when it emptied is not noted this run: ${(e as Error).message})`;
  }
}

export const publicIpv4 = (i: Instance) => i.ipAddresses?.find((a) => a.version === 4 && a.type === "public")?.ip;

/** Points the node's A record at its new address (OVH DNS zone API) and refreshes the zone. */
async function repointDns(api: OvhApi, campus: Campus, fqdn: string, ip: string): Promise<string> {
  const zone = campus.config.dns.zone;
  const subDomain = fqdn.slice(0, -(zone.length + 1));
  const ids = await api.call<number[]>("GET", `/domain/zone/${zone}/record`, { fieldType: "A", subDomain });
  for (const id of ids) await api.call("PUT", `/domain/zone/${zone}/record/${id}`, { target: ip });
  await api.call("POST", `/domain/zone/${zone}/refresh`);
  return `${ids.length} A record(s) of ${fqdn} now point at ${ip}`;
}

/** Reads what a run needs; `command` names the caller in messages. */
export async function loadPowerContext(api: OvhApi, target: OpsTarget, opts: PowerOptions, command: string): Promise<PowerContext> {
  const campus = target.campus;
  if (!campus) throw new OpsError("config", "-", `${command} needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
  const sn = campus.config.publicCloud?.projectId;
  if (!sn) throw new OpsError("config", "-", "the stack has no Public Cloud project (campus.publicCloud.projectId): only hourly Public Cloud nodes can sleep");
  const ssh = target.ssh;
  if (!ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");
  const instances = await api.call<Instance[]>("GET", `/cloud/project/${sn}/instance`);
  const status = parseStatusTable(await rake(ssh, "status", [], opts.commandTimeoutMs));
  const sleeping = await sleepingList(ssh, opts.timeoutMs);
  return { api, target, campus, sn, ssh, instances, status, sleeping, opts, other: opts.otherFront, notes: [] };
}

/** The node as the ops tools reach it: the stack's outputs, else its FQDN. */
export function nodeTargetOf(ctx: PowerContext, host: ResolvedHost): NodeTarget {
  return ctx.target.nodes.find((n) => n.fqdn === host.fqdn) ?? { name: host.name, fqdn: host.fqdn, apiUrl: `https://${host.fqdn}/bigbluebutton/api` };
}

export const instanceOf = (ctx: PowerContext, host: ResolvedHost) => ctx.instances.find((i) => i.name === host.fqdn);

/** Why a node is never shelved, or undefined when it is an hourly Public Cloud instance of the project. */
export function notShelvable(ctx: PowerContext, host: ResolvedHost): { step: NodeStep; detail: string } | undefined {
  if (host.config.kind !== "publicCloud") return { step: "skipped", detail: `${host.config.kind} host: not billed by the hour, never shelved` };
  const instance = instanceOf(ctx, host);
  if (!instance) return { step: "failed", detail: `no instance named ${host.fqdn} in project ${ctx.sn}` };
  if (instance.monthlyBilling) return { step: "skipped", detail: "monthly-billed: OVH bills the whole month whether shelved or not" };
  return undefined;
}

/** The next step toward serving: unshelve, wait for ACTIVE, then (for a node we put to sleep) check and enable. */
export async function stepToAwake(ctx: PowerContext, host: ResolvedHost, why: string): Promise<NodeDecision> {
  const id = host.fqdn;
  const decide = (step: NodeStep, detail: string): NodeDecision => ({ node: id, step, detail });
  try {
    const excluded = notShelvable(ctx, host);
    if (excluded) return decide(excluded.step, excluded.detail);
    const instance = instanceOf(ctx, host) as Instance;
    const row = ctx.status.find((r) => r.hostname === id);
    if (ctx.sleeping.has(id) && ctx.sleeping.get(id) === undefined) {
      // Recorded before the unshelve: from now on the node is expected up (ShelvedNodeDidNotWake's clock).
      ctx.sleeping.set(id, Math.floor(Date.now() / 1000));
      await saveSleepingList(ctx);
    }
    if (/^SHELVED/.test(instance.status)) {
      await ctx.api.call("POST", `/cloud/project/${ctx.sn}/instance/${instance.id}/unshelve`);
      return decide("unshelving", `${why}: unshelve requested`);
    }
    if (instance.status !== "ACTIVE") return decide("waiting", `instance is ${instance.status}`);
    if (!ctx.sleeping.has(id)) return decide("awake", row ? `${row.state}, ${row.status}` : "not in Scalelite's status");
    const ip = publicIpv4(instance);
    const known = ctx.opts.knownIpv4[id];
    if (ip && known && ip !== known) {
      const dns = await repointDns(ctx.api, ctx.campus, id, ip);
      // After ops failover the stack's front is the fenced one: a refresh would point the service's name back at it.
      const standbyServes = ctx.target.frontName !== undefined && ctx.target.frontName !== ctx.campus.front.name;
      const notNow = standbyServes
        ? ` Not while the standby front ${ctx.target.frontName} serves: the refresh would also point ${ctx.campus.front.fqdn} back at ${ctx.campus.front.name} (docs/front.md); run ops failback first, and until then the node stays cordoned`
        : "";
      return decide(
        "ip-changed",
        `public IPv4 changed from ${known} to ${ip} while shelved; ${dns}. The node stays cordoned: run \`pulumi up --refresh --stack ${ctx.target.label}\` (--refresh: Pulumi's state still holds the old address) so the allow-lists that name it (the front's firewall and recording-transfer key) and BBB's own address follow, then run this command again.${notNow}`,
      );
    }
    const node = nodeTargetOf(ctx, host);
    await bbbCall(node, "getMeetings", {}, ctx.opts.timeoutMs); // BBB answers signed calls: it is up
    await rake(ctx.ssh, "servers:enable", [id], ctx.opts.commandTimeoutMs);
    ctx.sleeping.delete(id);
    await saveSleepingList(ctx);
    // Asleep through a failover, it still sends to the old front: pointed at this one (a first lesson's
    // recording takes far longer than this to be published). A failure is said; the node serves all the same.
    const pending = ctx.campus.config.recordings
      ? await finishPendingResend(ctx.ssh, { name: node.name, ssh: node.ssh }, ctx.opts.commandTimeoutMs).catch((e: Error) => ({
          ok: false,
          detail: `whether a failover left it pointed at the old front is unknown: ${e.message}`,
        }))
      : undefined;
    const repointed = pending ? `; ${pending.detail}${pending.ok ? "" : " (the next wake, or ops repoint, tries again)"}` : "";
    return decide("enabled", `healthy again: enabled in Scalelite (meetings from its next poll)${repointed}`);
  } catch (e) {
    return decide("failed", (e as Error).message);
  }
}

/**
 * The next step toward sleep: cordon (recorded as ours), wait for no meeting and no recording, shelve.
 * `shelve: false`: cordon only (`ops scale` keeps a node whose commenced hour is paid up to that hour's end).
 */
export async function stepToSleep(ctx: PowerContext, host: ResolvedHost, { shelve = true } = {}): Promise<NodeDecision> {
  const id = host.fqdn;
  const decide = (step: NodeStep, detail: string): NodeDecision => ({ node: id, step, detail });
  try {
    const excluded = notShelvable(ctx, host);
    if (excluded) return decide(excluded.step, excluded.detail);
    const instance = instanceOf(ctx, host) as Instance;
    if (/^SHELVED/.test(instance.status)) return decide("asleep", `instance is ${instance.status}`);
    if (instance.status !== "ACTIVE") return decide("waiting", `instance is ${instance.status}`);
    const { sleeping, ssh, opts } = ctx;
    const othersEnabled = ctx.status.filter((r) => r.hostname !== id && r.state === "enabled" && r.status === "online" && !sleeping.has(r.hostname));
    // On the list yet enabled in Scalelite (an undrain since ops put it to sleep): taking lessons, so cordoned
    // like any enabled node, and shelved on a later run only, once Scalelite has stopped placing meetings there.
    const listed = sleeping.has(id);
    const enabledAgain = listed && ctx.status.some((r) => r.hostname === id && r.state === "enabled");
    if ((!listed || enabledAgain) && othersEnabled.length === 0)
      return decide("skipped", "the last enabled node: it stays up so that a late lesson still finds a server");
    if (!listed || enabledAgain) {
      // Lessons may have run since an earlier sleep: its empty time says nothing of them. Forgotten first, so
      // that a run cut after the cordon cannot find it.
      await setEmptied(ctx, id);
      sleeping.set(id, undefined);
      await saveSleepingList(ctx);
      await rake(ssh, "servers:cordon", [id], opts.commandTimeoutMs);
      if (enabledAgain) return decide("cordoned", "enabled in Scalelite again since ops put it to sleep: cordoned again; shelved on a later run once empty");
    } else if (sleeping.get(id) !== undefined) {
      // A wake that never finished, now called off: the node is expected asleep again.
      sleeping.set(id, undefined);
      await saveSleepingList(ctx);
    }
    if (!shelve)
      return decide(
        "cordoned",
        `not shelved before the end of its paid hour: it takes no new meeting, and is the first re-enabled if needed${await noteEmptiness(ctx, host)}`,
      );
    const node = nodeTargetOf(ctx, host);
    const meetings = (await bbbCall(node, "getMeetings", {}, opts.timeoutMs)).meetings.length;
    if (meetings > 0) {
      await setEmptied(ctx, id);
      return decide("cordoned", `${meetings} meeting(s) still running: not shelved; the next run tries again`);
    }
    const recordings = (await bbbCall(node, "getRecordings", { state: "any" }, opts.timeoutMs)).recordings.length;
    if (recordings > 0) return decide("cordoned", `${recordings} recording(s) still on the node (processing or not yet transferred to Scalelite): not shelved`);
    // Asleep, a node sends nothing: a lesson's recording would reach the front only at its next wake.
    const left = ctx.campus.config.recordings ? await recordingsLeftOn(ctx, host) : undefined;
    if (left) return decide("cordoned", `${left}: not shelved; the next run looks again`);
    await ctx.api.call("POST", `/cloud/project/${ctx.sn}/instance/${instance.id}/shelve`);
    // Best effort: a time left behind is forgotten at the node's next cordon, before it could count.
    const forgotten = await setEmptied(ctx, id).then(
      () => "",
      (e: Error) => ` (its empty time is left in ~/${EMPTIED_IN_HOME}: ${e.message})`,
    );
    return decide("shelving", `no meeting, no recording left: shelve requested${forgotten}`);
  } catch (e) {
    return decide("failed", (e as Error).message);
  }
}

/** A node on the sleeping list that Scalelite has enabled again, and that stays so: it serves, so it is no longer listed as asleep (and the alerts watch it again). */
export async function forgetSleeping(ctx: PowerContext, host: ResolvedHost): Promise<NodeDecision> {
  const id = host.fqdn;
  try {
    ctx.sleeping.delete(id);
    await saveSleepingList(ctx);
    return { node: id, step: "awake", detail: "enabled in Scalelite again since ops put it to sleep (an undrain?): it serves, taken off the sleeping list" };
  } catch (e) {
    return { node: id, step: "failed", detail: (e as Error).message };
  }
}

/** Nodes that are not hourly Public Cloud instances are reported, never touched. */
export function fixedNodeDecisions(campus: Campus): NodeDecision[] {
  return campus.nodes
    .filter((n) => n.config.kind !== "publicCloud")
    .map((n) => ({ node: n.fqdn, step: "skipped", detail: `${n.config.kind} host: not billed by the hour, never shelved` }));
}
