import { REFUSED_DIR } from "../../components/scalelite/recordingLayout";
import { parsePendingResend, PENDING_RESEND_IN_HOME, type PendingResend } from "./pendingResend";
import { runRemote, type SshTarget } from "./ssh";

/**
 * What the front knows of the recordings' way in (docs/recordings.md): per node, the archives its mover
 * refused (kept in REFUSED_DIR/<node>, each with a .reason file) and the node's last backlog report (sent
 * by the node's retry timer every 10 minutes: how many published recordings wait, since when, how many are
 * past the deadline).
 */
export interface NodeRecordings {
  node: string;
  refused: number;
  /** From the node's last report, when there was one. */
  waiting?: number;
  /** Unix time (s) the oldest waiting recording was published; undefined when none waits. */
  oldestPublished?: number;
  overdue?: number;
  /** Unix time (s) of that report. */
  reportedAt?: number;
  /** The copies of delivered archives the node keeps (scripts/bbb-node-recording-keep.sh), from nodes that report them. */
  kept?: { count: number; bytes: number; resend: number };
  /**
   * Its recordings the front does not have yet, at any stage from the end of their meeting (being processed,
   * or waiting to be sent: scripts/lib/recording_status.sh), as the node's status files said at `reportedAt`
   * or later; from nodes that report it.
   */
  unsent?: number;
  /** Of those, the ones a stage of BigBlueButton's processing marked failed: they move only once rebuilt or deleted. */
  failed?: number;
}

/** Where the mover keeps each node's last report (scripts/scalelite-recording-mover.sh). */
export const BACKLOG_DIR = "/var/lib/bbb-ovh/recordings/backlog";
/** A node reports every 10 minutes: a report older than this means its reports cannot reach the front. */
export const REPORT_MAX_AGE_SECONDS = 2 * 3600;

/** The command that prints the lines parseRecordingHealth reads (BBB_OVH_ROOT is empty on a real front). */
const RECORDING_HEALTH_COMMAND =
  `R="\${BBB_OVH_ROOT:-}"; for d in "$R${REFUSED_DIR}"/*/; do [ -d "$d" ] && echo "refused $(basename "$d") $(find "$d" -maxdepth 1 -name '*.reason' | wc -l)"; done; ` +
  `for f in "$R${BACKLOG_DIR}"/*; do [ -f "$f" ] && echo "backlog $(basename "$f") $(cat "$f")"; done; ` +
  `f=~/${PENDING_RESEND_IN_HOME}; [ -f "$f" ] && echo "pending $(head -n 1 "$f")"; true`;

const REFUSED = /^refused ([a-z0-9][a-z0-9.-]*) (\d+)$/;
const BACKLOG =
  /^backlog ([a-z0-9][a-z0-9.-]*) waiting=(\d+) oldest=(\d+) overdue=(\d+)(?: kept=(\d+) kept_bytes=(\d+) resend=(\d+)(?: unsent=(\d+)(?: failed=(\d+))?)?)? reported=(\d+)$/;

/** Per node, sorted by name; lines of another form are ignored. */
export function parseRecordingHealth(text: string): NodeRecordings[] {
  const byNode = new Map<string, NodeRecordings>();
  const entry = (node: string) => byNode.get(node) ?? (byNode.set(node, { node, refused: 0 }).get(node) as NodeRecordings);
  for (const line of text.split("\n").map((l) => l.trim())) {
    const r = REFUSED.exec(line);
    if (r) entry(r[1]).refused = Number(r[2]);
    const b = BACKLOG.exec(line);
    if (b) {
      const e = entry(b[1]);
      e.waiting = Number(b[2]);
      if (Number(b[3]) > 0) e.oldestPublished = Number(b[3]);
      e.overdue = Number(b[4]);
      if (b[5] !== undefined) e.kept = { count: Number(b[5]), bytes: Number(b[6]), resend: Number(b[7]) };
      if (b[8] !== undefined) e.unsent = Number(b[8]);
      if (b[9] !== undefined) e.failed = Number(b[9]);
      e.reportedAt = Number(b[10]);
    }
  }
  return [...byNode.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * The front's clock (epoch s), what it knows of each node's recordings, and the nodes a failover to it could
 * not point at it yet (cli/ops/pendingResend.ts); throws when the front cannot be read.
 */
export async function readFrontRecordings(ssh: SshTarget, timeoutMs: number): Promise<{ now: number; nodes: NodeRecordings[]; pending?: PendingResend }> {
  const r = await runRemote(ssh, `date +%s; ${RECORDING_HEALTH_COMMAND}`, timeoutMs);
  const now = Number(r.stdout.split("\n")[0]);
  if (r.code !== 0 || !Number.isInteger(now)) throw new Error(`cannot read the recordings' state on the front: ${r.stderr.trim() || `exit ${r.code}`}`);
  const pending = /^pending (.*)$/m.exec(r.stdout)?.[1];
  return { now, nodes: parseRecordingHealth(r.stdout), pending: pending === undefined ? undefined : parsePendingResend(pending) };
}

/** The problem `ops status` reports for each node a failover could not point at the new front yet. */
export function pendingResendProblems(pending: PendingResend | undefined): { node: string; message: string }[] {
  return (pending?.nodes ?? []).map((node) => ({
    node,
    message: `still sends to the old front since the failover to ${pending?.to.name}: the run of ops scale or schedule apply that wakes it points it there, or ops repoint once it answers`,
  }));
}

/**
 * A report a node made at least this long after the front's clock said it was empty: the front's clock and
 * the node's (both NTP-synchronised servers) may differ by a little; this is far more than they do.
 */
export const CLOCK_MARGIN_SECONDS = 60;

/**
 * Why the node may still hold a recording the front does not have, or undefined when its report proves it
 * holds none. `emptiedAt` (the front's clock, epoch s) is when it was first seen without a meeting: BigBlueButton
 * writes a recording's first status file before it drops the meeting from getMeetings (scripts/lib/recording_status.sh),
 * so a report made after that time counts every recording of its meetings. Before `ops scale` or
 * `schedule apply` shelve a node (its recordings wait, unsent, until it wakes) and before `ops upgrade`
 * replaces it (they would be lost), what getRecordings cannot show: recordings still being processed.
 */
export function recordingsLeft(h: NodeRecordings | undefined, emptiedAt: number): string | undefined {
  if (h?.reportedAt === undefined) return "it has never reported its recordings to the front: what it holds is unknown";
  if (h.unsent === undefined) return "its recording report does not count the recordings being processed (its scripts predate that: run pulumi up)";
  if (h.reportedAt < emptiedAt + CLOCK_MARGIN_SECONDS)
    return "waiting for its first recording report made after its last meeting (a node reports every 10 minutes)";
  if (h.failed)
    return `${h.unsent} recording(s) on the node not yet at the front, ${h.failed} of them failed processing: rebuild each on the node (bbb-record --rebuild <id>) or delete it (bbb-record --delete <id>)`;
  if (h.unsent > 0) return `${h.unsent} recording(s) on the node not yet at the front (being processed or to be sent)`;
  return undefined;
}

const hours = (seconds: number) => (seconds < 3600 ? `${Math.max(0, Math.round(seconds / 60))} min` : `${Math.round(seconds / 360) / 10} h`);

/** The problems `ops status` reports: refused archives, overdue recordings, nodes whose reports stopped. */
export function recordingProblems(health: NodeRecordings[], nodes: readonly string[], nowSeconds: number): { node: string; message: string }[] {
  const problems: { node: string; message: string }[] = [];
  const byNode = new Map(health.map((h) => [h.node, h]));
  for (const h of health) {
    if (h.refused > 0)
      problems.push({ node: h.node, message: `${h.refused} recording archive(s) refused, kept in ${REFUSED_DIR}/${h.node} with a .reason file each` });
    if (h.overdue) problems.push({ node: h.node, message: `${h.overdue} recording(s) published more than a day ago have not reached the front` });
    if (h.failed)
      problems.push({
        node: h.node,
        message: `${h.failed} recording(s) failed processing on the node (see /var/log/bigbluebutton): rebuild each with bbb-record --rebuild <id>`,
      });
    if (h.kept?.resend)
      problems.push({
        node: h.node,
        message: `${h.kept.resend} recording(s) to send again after a failover have not reached the front yet (its retry timer keeps trying)`,
      });
  }
  for (const node of nodes) {
    const h = byNode.get(node);
    if (h?.reportedAt === undefined) problems.push({ node, message: "has never reported its recording backlog to the front: its transfers may not reach it" });
    else if (nowSeconds - h.reportedAt > REPORT_MAX_AGE_SECONDS)
      problems.push({ node, message: `last reported its recording backlog ${hours(nowSeconds - h.reportedAt)} ago: its transfers may not reach the front` });
  }
  return problems;
}

/** "3 waiting, oldest 2.5 h, 1 being processed; 12 kept (1.4 GiB)" / "none waiting" / "-". */
export function describeBacklog(h: NodeRecordings | undefined, nowSeconds: number): string {
  if (h?.waiting === undefined) return "-";
  const failed = h.failed ?? 0;
  const processing = [
    ...(h.unsent !== undefined && h.unsent > h.waiting + failed ? [`${h.unsent - h.waiting - failed} being processed`] : []),
    ...(failed > 0 ? [`${failed} failed`] : []),
  ].join(", ");
  const waiting = [
    h.waiting === 0 ? "none waiting" : `${h.waiting} waiting${h.oldestPublished ? `, oldest ${hours(nowSeconds - h.oldestPublished)}` : ""}`,
    ...(processing ? [processing] : []),
  ].join(", ");
  return h.kept ? `${waiting}; ${h.kept.count} kept (${Math.round((h.kept.bytes / 1024 ** 3) * 10) / 10} GiB)` : waiting;
}
