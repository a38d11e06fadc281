import { isIP } from "node:net";
import { NODE_KEEP_COMMAND, NODE_TRANSFER_DIR } from "../../components/scalelite/recordingLayout";
import { renderTransferKnownHosts } from "../../components/scalelite/renderRecordingTransfer";
import { classifyError, OpsError } from "./errors";
import { asRoot, runRemote, type SshTarget } from "./ssh";

/**
 * After `ops failover` (or `ops failback`) the new front serves, but an archive a node had delivered into
 * the old front's incoming/ or spool and that was not imported there before the standby's last copy is in
 * neither front's published/: the node deleted its recording after delivery. Each node keeps a copy of what
 * it delivered (scripts/bbb-node-recording-keep.sh): ops points the node's transfer at the new front, then
 * has it send again every copy delivered since the new front's last successful copy, less a margin. The
 * new front's mover takes what it lacks and drops what it already holds (scripts/scalelite-recording-mover.sh).
 */

/**
 * How far before the start of the new front's last successful copy (or the oldest archive the old front had
 * not imported then) the re-send reaches back: the clocks of nodes and fronts may differ, and an archive may
 * reach incoming/ a while after its node marked it delivered.
 */
export const RESEND_MARGIN_SECONDS = 3600;

/** A node's re-send of a week of kept archives (at most 20 GiB, NODE_KEEP) may take hours on a slow link. */
export const RESEND_TIMEOUT_MS = 6 * 3600_000;

/**
 * Unix time from which nodes send again: the new front's last successful copy, or the oldest archive the old
 * front had not imported then when older (`pendingSince`: an importer stopped for hours held them), less the
 * margin; 0 (all kept) when no copy is known.
 */
export function resendSince(lastCopySuccess: number | undefined, pendingSince?: number): number {
  if (lastCopySuccess === undefined) return 0;
  return Math.max(0, Math.min(lastCopySuccess, pendingSince ?? lastCopySuccess) - RESEND_MARGIN_SECONDS);
}

/** The front the nodes now send to: its IPv4 (the source `from=` checks is then the node's IPv4), SSH port and pinned host key. */
export interface NewFront {
  name: string;
  ipv4: string;
  sshPort: number;
  hostKey: string;
}

/**
 * As root on a node: its transfer's ssh_config (renderTransferSshConfig) gets the new front's address and
 * port, its known_hosts the new front's host key under the same alias; each file replaced whole (a rename).
 * post_publish, the retry timer and the re-send read them on every transfer: nothing to restart.
 * `front-by-ops` says so ("ADDRESS PORT"), so that the recordings step of a `pulumi up` keeps this front
 * until the stack names it (scripts/bbb-node-recordings.sh, follow_ops_front).
 */
export function repointCommand(to: NewFront): string {
  const problems: string[] = [];
  if (isIP(to.ipv4) !== 4) problems.push(`'${to.ipv4}' is not an IPv4 address`);
  if (!Number.isInteger(to.sshPort) || to.sshPort < 1 || to.sshPort > 65535) problems.push(`${to.sshPort} is not a TCP port`);
  if (problems.length > 0) throw new OpsError("config", to.name, problems.join("; "));
  const knownHosts = renderTransferKnownHosts(to.hostKey).trim();
  const dir = `"\${BBB_OVH_ROOT:-}${NODE_TRANSFER_DIR}"`;
  return [
    `d=${dir}`,
    `sed -e 's/^  HostName .*/  HostName ${to.ipv4}/' -e 's/^  Port .*/  Port ${to.sshPort}/' "$d/ssh_config" > "$d/.ssh_config.new"`,
    `chmod 0644 "$d/.ssh_config.new"`,
    `mv -f "$d/.ssh_config.new" "$d/ssh_config"`,
    `printf '%s\\n' '${knownHosts}' > "$d/.known_hosts.new"`,
    `chmod 0644 "$d/.known_hosts.new"`,
    `mv -f "$d/.known_hosts.new" "$d/known_hosts"`,
    `printf '%s %s\\n' ${to.ipv4} ${to.sshPort} > "$d/.front-by-ops.new"`,
    `mv -f "$d/.front-by-ops.new" "$d/front-by-ops"`,
  ].join(" && ");
}

/**
 * As root on a node, run as the bigbluebutton user, who owns the transfer key and the copies: `resend` sends
 * again its copies delivered since `since`; `mark` only marks them for its retry timer's next run.
 */
export function keepCommand(verb: "resend" | "mark", since: number): string {
  return `runuser -u bigbluebutton -- "\${BBB_OVH_ROOT:-}${NODE_KEEP_COMMAND}" ${verb} ${Math.floor(since)}`;
}

/** Printed once the node points at the new front, before its copies are sent. */
const REPOINTED = "bbb-ovh: repointed";

/** The counts of the re-send's last line (`recording-keep: resent=N failed=N`). */
export function parseResend(stdout: string): { resent: number; failed: number } | undefined {
  const m = /resent=(\d+) failed=(\d+)\s*$/.exec(stdout.trim());
  return m ? { resent: Number(m[1]), failed: Number(m[2]) } : undefined;
}

export interface ResendNode {
  name: string;
  /** Undefined when ops cannot reach it (no host key in the stack's outputs). */
  ssh?: SshTarget;
}

export interface ResendOutcome {
  node: string;
  /** false: unreachable, or the command failed; `detail` says why. */
  ok: boolean;
  /** It now sends to the new front (whatever became of the re-send itself). */
  repointed: boolean;
  /** The command ran on it: false when it could not be reached (no host key, no answer, refused). */
  answered: boolean;
  resent: number;
  failed: number;
  ms: number;
  detail: string;
}

/**
 * Every node at once: points it at `to` (a front that is new to it), then sends again its copies delivered
 * since `since`; without `to` (a front restored from a backup, which the nodes already send to), only sends
 * again. `queue`: the copies are only marked, and the node's retry timer sends them within 10 minutes (a
 * node woken to take lessons). A node that fails stops nothing.
 */
export async function resendRecordings(
  nodes: readonly ResendNode[],
  to: NewFront | undefined,
  since: number,
  timeoutMs: number,
  { queue = false } = {},
): Promise<ResendOutcome[]> {
  const send = keepCommand(queue ? "mark" : "resend", since);
  const command = to ? `${repointCommand(to)} && echo '${REPOINTED}' && ${send}` : send;
  return Promise.all(
    nodes.map(async (node): Promise<ResendOutcome> => {
      const started = performance.now();
      let repointed = false;
      let answered = false;
      const done = (ok: boolean, detail: string, counts = { resent: 0, failed: 0 }): ResendOutcome => ({
        node: node.name,
        ok,
        repointed,
        answered,
        ...counts,
        ms: Math.round(performance.now() - started),
        detail,
      });
      if (!node.ssh) return done(false, "no SSH host key for it in the stack's outputs: not reached");
      try {
        const r = await runRemote(node.ssh, asRoot(node.ssh, command), timeoutMs);
        answered = true;
        repointed = to !== undefined && r.stdout.split("\n").includes(REPOINTED);
        const marked = queue ? /marked=(\d+)\s*$/.exec(r.stdout.trim())?.[1] : undefined;
        const counts = queue ? (marked === undefined ? undefined : { resent: 0, failed: 0 }) : parseResend(r.stdout);
        if (r.code !== 0 || !counts) {
          const why = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" / ") || `exit status ${r.code}`;
          return done(false, why);
        }
        if (queue) return done(true, `${marked} kept archive(s) marked for its retry timer, which sends them within 10 minutes`);
        return done(counts.failed === 0, `${counts.resent} resent${counts.failed ? `, ${counts.failed} failed (its retry timer sends them)` : ""}`, counts);
      } catch (e) {
        return done(false, classifyError(e, node.name).message);
      }
    }),
  );
}

/**
 * The step's one line: totals, then each node that did not answer or failed, and what to run again for those
 * (`again`; null when the caller says what follows). `repointed`: the nodes were pointed at `to` (a
 * failover); else they already sent there.
 */
export function describeResend(outcomes: readonly ResendOutcome[], to: string, again: string | null = "the failover", repointed = true): string {
  const resent = outcomes.reduce((n, o) => n + o.resent, 0);
  const reached = outcomes.filter((o) => o.ok).length;
  const problems = outcomes.filter((o) => !o.ok).map((o) => `${o.node}: ${o.detail}`);
  const advice = again === null ? "" : ` (run ${again} again once they answer: their copies stay kept)`;
  return (
    `${reached} of ${outcomes.length} node(s) ${repointed ? "now send to" : "reached, sending to"} ${to}; ${resent} kept archive(s) sent again` +
    (problems.length > 0 ? `; not done on ${problems.join("; ")}${advice}` : "")
  );
}
