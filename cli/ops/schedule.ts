import { DateTime } from "luxon";
import type { Campus } from "../../components/config/campus";
import { awakeTransitions, shouldBeAwake, type AwakeTransition } from "../../components/schedule/timetable";
import { signedUrl } from "./bbbApi";
import { parseBbbResponse, type BbbResponse } from "./bbbXml";
import { httpGet } from "./http";
import { OpsError } from "./errors";
import type { OvhApi } from "./ovhApi";
import { parseStatusTable, rake } from "./scalelite";
import { runRemote, type SshTarget } from "./ssh";
import type { NodeTarget, OpsTarget } from "./stackSource";

/**
 * `schedule apply`: hourly-billed Public Cloud nodes follow the campus timetable. Safe to run every few
 * minutes: each run looks at the state (OVH instance status, Scalelite, the node's own API) and takes
 * the next step only, so an interrupted run is finished by the next one.
 *
 * Going to sleep: cordon in Scalelite (no new meeting), wait until the node hosts no meeting and holds
 * no recording (getRecordings state=any is empty: scalelite.yml's delete_recording removes a node's copy
 * once transferred), then shelve. Never the front, never the last enabled node, never a monthly-billed
 * instance (OVH bills the month anyway, and hourly -> monthly is one-way: OVHcloud Public Cloud billing).
 * Waking up: unshelve ahead of the first lesson, wait for BBB's signed getMeetings to answer, check the
 * public IP, then enable. The nodes the schedule put to sleep are listed on the front
 * (~/.bbb-ovh/schedule-sleeping of the SSH user), so a node an operator drained stays drained.
 */

/** OVH instance (GET /cloud/project/{serviceName}/instance): the fields used here. */
interface Instance {
  id: string;
  name: string;
  status: string;
  monthlyBilling?: { since?: string; status?: string } | null;
  ipAddresses?: Array<{ ip: string; type: string; version: number }>;
}

export type NodeStep = "awake" | "asleep" | "cordoned" | "waiting" | "shelving" | "unshelving" | "enabled" | "skipped" | "ip-changed" | "failed";

export interface NodeDecision {
  node: string;
  step: NodeStep;
  detail: string;
}

export interface ScheduleReport {
  at: string;
  awakeTime: boolean;
  nodes: NodeDecision[];
  /** True when something needs the operator (an IP changed, a step failed). */
  attention: boolean;
}

const SLEEPING_FILE = "~/.bbb-ovh/schedule-sleeping";

/** A signed call to the node's own API; anything but SUCCESS is an error naming the node. */
async function bbbCall(node: NodeTarget, call: string, params: Record<string, string>, timeoutMs: number): Promise<BbbResponse> {
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

async function sleepingList(ssh: SshTarget, timeoutMs: number): Promise<Set<string>> {
  const r = await runRemote(ssh, `cat ${SLEEPING_FILE} 2>/dev/null || true`, timeoutMs);
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

async function saveSleepingList(ssh: SshTarget, ids: Set<string>, timeoutMs: number): Promise<void> {
  const text = [...ids].sort().map((id) => `${id}\n`).join("");
  const r = await runRemote(ssh, `mkdir -p ~/.bbb-ovh && cat > ${SLEEPING_FILE}.new && mv ${SLEEPING_FILE}.new ${SLEEPING_FILE}`, timeoutMs, text);
  if (r.code !== 0) throw new OpsError("command", ssh.host, `cannot record the sleeping nodes: ${r.stderr.trim()}`);
}

const publicIpv4 = (i: Instance) => i.ipAddresses?.find((a) => a.version === 4 && a.type === "public")?.ip;

/** Points the node's A record at its new address (OVH DNS zone API) and refreshes the zone. */
async function repointDns(api: OvhApi, campus: Campus, fqdn: string, ip: string): Promise<string> {
  const zone = campus.config.dns.zone;
  const subDomain = fqdn.slice(0, -(zone.length + 1));
  const ids = await api.call<number[]>("GET", `/domain/zone/${zone}/record`, { fieldType: "A", subDomain });
  for (const id of ids) await api.call("PUT", `/domain/zone/${zone}/record/${id}`, { target: ip });
  await api.call("POST", `/domain/zone/${zone}/refresh`);
  return `${ids.length} A record(s) of ${fqdn} now point at ${ip}`;
}

export interface ScheduleOptions {
  now: Date;
  timeoutMs: number;
  commandTimeoutMs: number;
  /** The nodes' last known IPv4 addresses (the stack's outputs), to notice a change after unshelve. */
  knownIpv4: Record<string, string | undefined>;
}

export async function applySchedule(api: OvhApi, target: OpsTarget, opts: ScheduleOptions): Promise<ScheduleReport> {
  const campus = target.campus;
  if (!campus) throw new OpsError("config", "-", `schedule needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
  const timetable = campus.config.timetable;
  if (!timetable) throw new OpsError("config", "-", "the stack has no campus.timetable: nothing to follow");
  const sn = campus.config.publicCloud?.projectId;
  if (!sn) throw new OpsError("config", "-", "the stack has no Public Cloud project (campus.publicCloud.projectId): only hourly Public Cloud nodes can sleep");
  const ssh = target.ssh;
  if (!ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");

  const awakeTime = shouldBeAwake(timetable, opts.now);
  const instances = await api.call<Instance[]>("GET", `/cloud/project/${sn}/instance`);
  const status = parseStatusTable(await rake(ssh, "status", [], opts.commandTimeoutMs));
  const sleeping = await sleepingList(ssh, opts.timeoutMs);
  const decisions: NodeDecision[] = [];
  const cloudNodes = campus.nodes.filter((n) => n.config.kind === "publicCloud");
  for (const node of campus.nodes.filter((n) => n.config.kind !== "publicCloud")) decisions.push({ node: node.fqdn, step: "skipped", detail: `${node.config.kind} host: not billed by the hour, never shelved` });

  for (const host of cloudNodes) {
    const id = host.fqdn;
    const node = target.nodes.find((n) => n.fqdn === id) ?? { name: host.name, fqdn: id, apiUrl: `https://${id}/bigbluebutton/api` };
    const instance = instances.find((i) => i.name === id);
    const decide = (step: NodeStep, detail: string) => decisions.push({ node: id, step, detail });
    try {
      if (!instance) {
        decide("failed", `no instance named ${id} in project ${sn}`);
        continue;
      }
      if (instance.monthlyBilling) {
        decide("skipped", "monthly-billed: OVH bills the whole month whether shelved or not");
        continue;
      }
      const row = status.find((r) => r.hostname === id);
      if (awakeTime) {
        if (/^SHELVED/.test(instance.status)) {
          await api.call("POST", `/cloud/project/${sn}/instance/${instance.id}/unshelve`);
          decide("unshelving", "lessons start soon: unshelve requested");
        } else if (instance.status !== "ACTIVE") {
          decide("waiting", `instance is ${instance.status}`);
        } else if (!sleeping.has(id)) {
          decide("awake", row ? `${row.state}, ${row.status}` : "not in Scalelite's status");
        } else {
          const ip = publicIpv4(instance);
          const known = opts.knownIpv4[id];
          if (ip && known && ip !== known) {
            const dns = await repointDns(api, campus, id, ip);
            decide("ip-changed", `public IPv4 changed from ${known} to ${ip} while shelved; ${dns}. The node stays cordoned: run \`pulumi up --stack ${target.label}\` so the allow-lists that name it (the front's firewall and recording-transfer key) and BBB's own address follow, then run schedule apply again`);
            continue;
          }
          await bbbCall(node, "getMeetings", {}, opts.timeoutMs); // BBB answers signed calls: it is up
          await rake(ssh, "servers:enable", [id], opts.commandTimeoutMs);
          sleeping.delete(id);
          await saveSleepingList(ssh, sleeping, opts.timeoutMs);
          decide("enabled", "healthy again: enabled in Scalelite (meetings from its next poll)");
        }
        continue;
      }
      // Outside teaching hours.
      if (/^SHELVED/.test(instance.status)) {
        decide("asleep", `instance is ${instance.status}`);
        continue;
      }
      if (instance.status !== "ACTIVE") {
        decide("waiting", `instance is ${instance.status}`);
        continue;
      }
      const othersEnabled = status.filter((r) => r.hostname !== id && r.state === "enabled" && r.status === "online" && !sleeping.has(r.hostname));
      if (!sleeping.has(id) && othersEnabled.length === 0) {
        decide("skipped", "the last enabled node: it stays up so that a late lesson still finds a server");
        continue;
      }
      if (!sleeping.has(id)) {
        sleeping.add(id);
        await saveSleepingList(ssh, sleeping, opts.timeoutMs);
        await rake(ssh, "servers:cordon", [id], opts.commandTimeoutMs);
      }
      const meetings = (await bbbCall(node, "getMeetings", {}, opts.timeoutMs)).meetings.length;
      if (meetings > 0) {
        decide("cordoned", `${meetings} meeting(s) still running: not shelved; the next run tries again`);
        continue;
      }
      const recordings = (await bbbCall(node, "getRecordings", { state: "any" }, opts.timeoutMs)).recordings.length;
      if (recordings > 0) {
        decide("cordoned", `${recordings} recording(s) still on the node (processing or not yet transferred to Scalelite): not shelved`);
        continue;
      }
      await api.call("POST", `/cloud/project/${sn}/instance/${instance.id}/shelve`);
      decide("shelving", "no meeting, no recording left: shelve requested");
    } catch (e) {
      decide("failed", e instanceof OpsError ? e.message : (e as Error).message);
    }
  }
  return { at: opts.now.toISOString(), awakeTime, nodes: decisions, attention: decisions.some((d) => d.step === "failed" || d.step === "ip-changed") };
}

export function renderSchedule(r: ScheduleReport): string {
  const lines = [`${r.at}: ${r.awakeTime ? "teaching time (or about to be): nodes awake" : "outside teaching hours: hourly nodes sleep"}`];
  for (const d of r.nodes) lines.push(`  ${d.node}: ${d.step}: ${d.detail}`);
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
  lines.push(`next ${PREVIEW_DAYS} days:`, ...p.transitions.map((t) => `  ${local(t.at)}  ${t.to === "awake" ? "wake: unshelve, check, enable" : "sleep: cordon, wait for the lessons to end, shelve"}`));
  if (p.transitions.length === 0) lines.push("  no change");
  lines.push("(dry run: nothing contacted; `schedule apply` without --dry-run checks OVH's billing and Scalelite first)");
  return `${lines.join("\n")}\n`;
}

