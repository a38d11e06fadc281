import { closestKey } from "../../components/config/closestKey";
import { confirm } from "./confirm";
import { OpsError } from "./errors";
import type { OpsIO } from "./io";
import { parseStatusTable, rake, SERVER_ID, type ScaleliteServerStatus } from "./scalelite";
import type { OpsTarget } from "./stackSource";

/**
 * Taking a node in and out of the pool through Scalelite's rake tasks:
 * - drain   = servers:cordon: no new meeting; running lessons go on; the poller disables the node once empty.
 * - undrain = servers:enable: new meetings again (from the next poll on).
 * - panic   = servers:panic: for a node that is gone: its meetings are dropped from Scalelite (end
 *   calls are attempted) and it is disabled, so that rejoining users get a new meeting elsewhere.
 */
export type NodeAction = "drain" | "undrain" | "panic";

const TASKS: Record<NodeAction, string> = { drain: "servers:cordon", undrain: "servers:enable", panic: "servers:panic" };

export interface NodeActionResult {
  action: NodeAction;
  node: string;
  task: string;
  /** Meetings Scalelite cleared (panic). */
  clearedMeetings: string[];
  /** The node's row in `bin/rake status` afterwards. */
  after?: ScaleliteServerStatus;
  summary: string;
}

/**
 * A node given by stack name or FQDN -> its Scalelite id (the FQDN: SERVER_ID_IS_HOSTNAME=true). When the
 * stack names its nodes, only those are taken, before anything connects; a raw Scalelite server id only
 * when it does not (options alone).
 */
export function serverIdOf(target: OpsTarget, node: string): string {
  const known = target.nodes.find((n) => n.name === node || n.fqdn === node);
  if (known) return known.fqdn;
  if (target.nodes.length > 0) {
    const names = target.nodes.flatMap((n) => [n.name, n.fqdn]);
    const guess = closestKey(node, names, Math.max(2, Math.floor(node.length / 3)));
    throw new OpsError(
      "usage",
      "-",
      `'${node}' is not a node of ${target.label}${guess ? ` (did you mean '${guess}'?)` : ""}; its nodes are: ${target.nodes.map((n) => `${n.name} (${n.fqdn})`).join(", ")}`,
    );
  }
  if (!SERVER_ID.test(node)) throw new OpsError("usage", "-", `'${node}' is neither a node of ${target.label} nor a Scalelite server id`);
  return node;
}

function question(action: NodeAction, id: string, before: ScaleliteServerStatus | undefined): string {
  const running = before ? `${before.meetings ?? "?"} meeting(s), ${before.users ?? "?"} user(s) on it now` : "current load unknown";
  switch (action) {
    case "drain":
      return `Cordon ${id}? No new meeting will start there; running lessons continue (${running}).`;
    case "undrain":
      return `Enable ${id}? Scalelite will place new meetings on it again.`;
    case "panic":
      return `PANIC ${id}? Its meetings are dropped from Scalelite and it is disabled (${running}). Use it only for a node that is gone.`;
  }
}

function summary(action: NodeAction, id: string, after: ScaleliteServerStatus | undefined, cleared: string[]): string {
  const load = after ? `${after.meetings ?? 0} meeting(s), ${after.users ?? 0} user(s) still there` : "status unknown";
  switch (action) {
    case "drain":
      return `${id} cordoned (${load}). Lessons continue; once the last one ends Scalelite's poller disables it, then it is safe to maintain.`;
    case "undrain":
      return `${id} enabled: it gets new meetings from Scalelite's next poll.`;
    case "panic":
      return `${id} disabled; ${cleared.length} meeting(s) cleared from Scalelite${cleared.length ? ` (${cleared.join(", ")})` : ""}. Users who rejoin get a meeting on another node.`;
  }
}

export async function changeNode(
  action: NodeAction,
  target: OpsTarget,
  node: string,
  opts: { yes: boolean; commandTimeoutMs: number },
  io: OpsIO,
): Promise<NodeActionResult> {
  const ssh = target.ssh;
  if (!ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");
  const id = serverIdOf(target, node);
  const statusNow = async () => parseStatusTable(await rake(ssh, "status", [], opts.commandTimeoutMs)).find((r) => r.hostname === id);
  // Only a question needs the current load; with --yes the change is made without the extra round trip.
  const before = opts.yes ? undefined : await statusNow();
  await confirm(io, question(action, id, before), opts.yes);
  const out = await rake(ssh, TASKS[action], [id], opts.commandTimeoutMs);
  if (!/^OK$/m.test(out)) throw new OpsError("command", ssh.host, `bin/rake ${TASKS[action]}[${id}] did not report OK`);
  // The task prints each line itself and through the Rails logger (RAILS_LOG_TO_STDOUT): the printed one only.
  const cleared = [...out.matchAll(/^Clearing Meeting id=(\S+)$/gm)].map((m) => m[1]);
  const after = await statusNow();
  return { action, node: id, task: TASKS[action], clearedMeetings: cleared, after, summary: summary(action, id, after, cleared) };
}
