import { OpsError } from "./errors";
import { resendRecordings, type NewFront, type ResendNode, type ResendOutcome } from "./recordingsResend";
import { readHomeFile, runRemote, writeHomeFile, type SshTarget } from "./ssh";

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

/**
 * For a node that has just woken: when the front `ssh` reaches lists it, points it at that failover's front
 * and marks its copies delivered since then for its retry timer (which sends them within 10 minutes: the wake
 * does not wait for the transfers), then takes it off the list. Says what it did, or why not (the node stays
 * listed, for the next wake); "" when it was not listed.
 */
export async function finishPendingResend(ssh: SshTarget, node: ResendNode, timeoutMs: number): Promise<string> {
  const pending = parsePendingResend(await readHomeFile(ssh, PENDING_RESEND_IN_HOME, timeoutMs));
  if (!pending?.nodes.includes(node.name)) return "";
  const [outcome] = await resendRecordings([node], pending.to, pending.since, timeoutMs, { queue: true });
  if (!outcome.ok) return `; still to point at ${pending.to.name} after the failover it slept through: ${outcome.detail} (the next wake tries again)`;
  await savePending(ssh, { ...pending, nodes: pending.nodes.filter((n) => n !== node.name) }, timeoutMs);
  return `; pointed at ${pending.to.name} after the failover it slept through, ${outcome.detail}`;
}
