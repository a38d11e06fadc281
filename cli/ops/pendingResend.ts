import { OpsError } from "./errors";
import { readFrontRole } from "./frontRole";
import { parseSleepingList, SLEEPING_LIST_IN_HOME, type SleepingList } from "../../components/schedule/sleepingList";
import { lockHolder, POWER_RUN_STALE_MS, withPoolLock } from "./poolLock";
import { resendRecordings, type NewFront, type ResendNode, type ResendOutcome } from "./recordingsResend";
import { readHomeFile, runRemote, writeHomeFile, type SshTarget } from "./ssh";
import type { OpsTarget } from "./stackSource";

/**
 * The nodes a failover's resend step could not reach (asleep, say): they still send to the old front, which
 * is fenced and takes nothing, so their recordings wait on them. Kept on the new front, in the home of the
 * user ops logs in as (beside the sleeping list), so that the run which wakes such a node, once it has enabled
 * it, points it at the new front and has its retry timer send again (nodePower.ts, stepToAwake).
 */
export const PENDING_RESEND_IN_HOME = ".bbb-ovh/resend-pending";

export interface PendingResend {
  to: NewFront;
  /** Epoch s: the nodes send again what they delivered since then (the failover's resendSince). */
  since: number;
  nodes: string[];
}

/** The file's JSON, or undefined when it is not one (a file written by hand, or cut). */
export function parsePendingResend(text: string): PendingResend | undefined {
  if (text.trim() === "") return undefined;
  try {
    const p = JSON.parse(text) as PendingResend;
    const valid =
      typeof p?.to?.name === "string" &&
      typeof p.to.ipv4 === "string" &&
      Number.isInteger(p.to.sshPort) &&
      typeof p.to.hostKey === "string" &&
      Number.isInteger(p.since) &&
      Array.isArray(p.nodes) &&
      p.nodes.every((n) => typeof n === "string");
    return valid ? { to: p.to, since: p.since, nodes: p.nodes } : undefined;
  } catch {
    return undefined;
  }
}

async function savePending(ssh: SshTarget, pending: PendingResend, timeoutMs: number): Promise<void> {
  const r =
    pending.nodes.length > 0
      ? await writeHomeFile(ssh, PENDING_RESEND_IN_HOME, `${JSON.stringify(pending)}\n`, timeoutMs)
      : await runRemote(ssh, `rm -f ~/${PENDING_RESEND_IN_HOME}`, timeoutMs);
  if (r.code !== 0) throw new OpsError("command", ssh.host, `cannot record the nodes still to point at ${pending.to.name}: ${r.stderr.trim()}`);
}

/**
 * After a failover's resend step, on the new front: the nodes it did not point there, replacing any earlier
 * list (an earlier failover's nodes now follow this one). A node pointed there whose copies did not all go is
 * not listed: its retry timer sends them.
 */
export async function recordPendingResend(ssh: SshTarget, to: NewFront, since: number, outcomes: readonly ResendOutcome[], timeoutMs: number): Promise<void> {
  await savePending(ssh, { to, since, nodes: outcomes.filter((o) => !o.repointed).map((o) => o.node) }, timeoutMs);
}

/** What pointing one listed node did: `ok` when it now sends to the failover's front and is off the list. */
export interface PendingOutcome {
  ok: boolean;
  /** false: the node could not be reached (as opposed to a command that failed on it). */
  answered?: boolean;
  detail: string;
}

/**
 * For a node that answers again (woken by a run, or back after an outage): when the front `ssh` reaches lists
 * it, points it at that failover's front and marks its copies delivered since then for its retry timer (which
 * sends them within 10 minutes: this does not wait for the transfers), then takes it off the list. Undefined
 * when it was not listed; otherwise what it did, or why not (the node stays listed).
 */
export async function finishPendingResend(ssh: SshTarget, node: ResendNode, timeoutMs: number): Promise<PendingOutcome | undefined> {
  const pending = parsePendingResend(await readHomeFile(ssh, PENDING_RESEND_IN_HOME, timeoutMs));
  if (!pending?.nodes.includes(node.name)) return undefined;
  const [outcome] = await resendRecordings([node], pending.to, pending.since, timeoutMs, { queue: true });
  if (!outcome.ok)
    return { ok: false, answered: outcome.answered, detail: `still to point at ${pending.to.name} after the failover it missed: ${outcome.detail}` };
  await savePending(ssh, { ...pending, nodes: pending.nodes.filter((n) => n !== node.name) }, timeoutMs);
  return { ok: true, detail: `pointed at ${pending.to.name} after the failover it missed, ${outcome.detail}` };
}

export interface RepointReport {
  /** The failover's front the listed nodes are pointed at; undefined when none is listed. */
  to?: string;
  /** `asleep`: it did not answer and is on the sleeping list (ops put it to sleep): left to the run that wakes it. */
  nodes: Array<{ node: string; asleep?: boolean } & PendingOutcome>;
  ok: boolean;
}

/**
 * `ops repoint`: every node the serving front lists (a failover could not reach it: down, or asleep) pointed
 * at that front, as the run that wakes a node does. For a node that was down, whose wake no run makes.
 * `onStandby` (--standby): on the stack's standby front; else on `target.ssh`, which the command sets to the
 * front that serves (frontRole.ts poolFronts).
 */
export async function repointPending(target: OpsTarget, timeoutMs: number, onStandby = false): Promise<RepointReport> {
  const ssh = onStandby ? target.standby?.ssh : target.ssh;
  if (!ssh)
    throw new OpsError("config", "-", onStandby ? "--standby: the stack has no standby front (campus.standbyFront)" : "no SSH host for the front: give --host");
  // A list left on a front that no longer serves would point its nodes at a front that refuses recordings.
  // None (a front that never switched) serves.
  const role = await readFrontRole(ssh, timeoutMs);
  if (role === "standby" || role === "fenced")
    throw new OpsError(
      "config",
      ssh.host,
      `this front does not serve (front-role ${role}): ${onStandby ? "after ops failback the front serves: run it without --standby" : "after ops failover the standby front serves: give --standby"}`,
    );
  // One run at a time with the wakes of ops scale and schedule apply, which take nodes off the same list.
  return withPoolLock(ssh, lockHolder("ops repoint"), POWER_RUN_STALE_MS, timeoutMs, () => repointListed(target, ssh, timeoutMs));
}

async function repointListed(target: OpsTarget, ssh: SshTarget, timeoutMs: number): Promise<RepointReport> {
  const pending = parsePendingResend(await readHomeFile(ssh, PENDING_RESEND_IN_HOME, timeoutMs));
  const report: RepointReport = { to: pending?.to.name, nodes: [], ok: true };
  // The nodes ops put to sleep (cordoned on their way, or shelved), read once a node cannot be reached: such a
  // node is shelved, and left to the run that wakes it, which points it (stepToAwake). A listed node that answers
  // and fails is a failure. Unreadable: none is taken as asleep.
  let sleeping: Promise<SleepingList> | undefined;
  const asleep = (fqdn: string) =>
    (sleeping ??= readHomeFile(ssh, SLEEPING_LIST_IN_HOME, timeoutMs).then(parseSleepingList, () => new Map())).then((list) => list.has(fqdn));
  for (const name of pending?.nodes ?? []) {
    const node = target.nodes.find((n) => n.name === name);
    const outcome: PendingOutcome = node
      ? ((await finishPendingResend(ssh, { name, ssh: node.ssh }, timeoutMs).catch((e: Error) => ({ ok: false, detail: e.message }))) ?? {
          ok: true,
          detail: "no longer listed",
        })
      : { ok: false, detail: "not a node of this stack: left listed (take it off the list by hand once its recordings are safe)" };
    if (node && outcome.answered === false && (await asleep(node.fqdn))) {
      report.nodes.push({
        node: name,
        asleep: true,
        ok: true,
        detail: `asleep (${outcome.detail}): the run of ops scale or schedule apply that wakes it points it at ${pending?.to.name}`,
      });
      continue;
    }
    report.nodes.push({ node: name, ...outcome });
    report.ok &&= outcome.ok;
  }
  return report;
}

export function renderRepoint(r: RepointReport): string {
  if (!r.to) return "no node is listed as still sending to an old front: nothing to do\n";
  const lines = r.nodes.map((n) => `  ${n.node}: ${n.ok ? "" : "NOT DONE: "}${n.detail}`);
  const left = r.nodes.filter((n) => !n.ok).length;
  const asleep = r.nodes.filter((n) => n.asleep).length;
  if (left) lines.push(`${left} node(s) still listed: run this again once they answer (ops status names them meanwhile)`);
  else if (asleep) lines.push(`every listed node that is awake now sends to ${r.to}; the ${asleep} asleep are pointed there when woken`);
  else lines.push(`every listed node now sends to ${r.to}`);
  return `${lines.join("\n")}\n`;
}
