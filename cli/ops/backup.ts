import Table from "cli-table3";
import { confirm } from "./confirm";
import { OpsError } from "./errors";
import type { OpsIO } from "./io";
import { describeResend, RESEND_TIMEOUT_MS, resendRecordings, resendSince } from "./recordingsResend";
import { runRemote, type SshTarget } from "./ssh";
import type { OpsTarget } from "./stackSource";

/**
 * `npm run ops -- backup now|list|restore <stack>`: the front's bbb-ovh-backup command
 * (scripts/scalelite-backup.sh, installed by the backup step) over SSH, as root or with sudo -n.
 */

/** What scripts/scalelite-backup.sh writes after every attempt (/var/lib/bbb-ovh/backup-status.json). */
export interface BackupStatusFile {
  state: "running" | "ok" | "failed";
  attempt: string;
  attemptEpoch: number;
  error: string;
  /** Set when the last backup wrote its snapshot but could not read some files (restic exit 3). */
  warning?: string;
  lastSuccess: string;
  lastSuccessEpoch: number | null;
  snapshot: string;
  bytes: number | null;
  added: number | null;
  maxAgeHours: number;
}

export interface BackupHealth {
  ok: boolean;
  /** Hours since the last successful backup. */
  ageHours?: number;
  maxAgeHours: number;
  bytes?: number;
  snapshot?: string;
  state?: string;
  detail: string;
}

export interface Snapshot {
  time: string;
  short_id: string;
  hostname: string;
  tags?: string[];
  paths: string[];
}

const sudo = (ssh: SshTarget) => (ssh.username === "root" ? "" : "sudo -n ");

function frontSsh(target: OpsTarget): SshTarget {
  if (!target.ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");
  return target.ssh;
}

/** Runs `bbb-ovh-backup ARGS` on the front; a failure carries the command's own last error line. */
export async function backupCommand(ssh: SshTarget, args: string[], timeoutMs: number): Promise<string> {
  const result = await runRemote(ssh, `${sudo(ssh)}bbb-ovh-backup ${args.join(" ")}`, timeoutMs);
  if (result.code !== 0) {
    const lines = result.stderr.split("\n").filter((l) => l.trim() !== "");
    const message = lines.filter((l) => /error:|Fatal/.test(l)).pop() ?? lines.pop() ?? `exit status ${result.code}`;
    if (result.code === 127 || /command not found/.test(message)) {
      throw new OpsError("config", ssh.host, "bbb-ovh-backup is not installed on the front: set campus.backup and run pulumi up");
    }
    throw new OpsError("command", ssh.host, `bbb-ovh-backup ${args[0]}: ${message.replace(/^scalelite-backup: error: /, "")}`);
  }
  return result.stdout;
}

const KIB = 1024;
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= KIB && unit < units.length - 1) {
    value /= KIB;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Judges the status file: healthy when the last success is younger than its threshold. */
export function judgeBackup(file: BackupStatusFile, nowMs: number, maxAgeHours = file.maxAgeHours): BackupHealth {
  const base = { maxAgeHours, state: file.state, snapshot: file.snapshot || undefined, bytes: file.bytes ?? undefined };
  if (file.lastSuccessEpoch === null) {
    return { ...base, ok: false, detail: `no successful backup yet${file.error ? ` (last attempt: ${file.error})` : ""}` };
  }
  const ageHours = Math.max(0, (nowMs / 1000 - file.lastSuccessEpoch) / 3600);
  const age = `${ageHours.toFixed(1)} h ago`;
  const size = file.bytes !== null ? `, ${humanBytes(file.bytes)}` : "";
  const failing = file.state === "failed" ? `; the last attempt failed: ${file.error}` : file.state === "ok" && file.warning ? `; ${file.warning}` : "";
  if (ageHours > maxAgeHours) {
    return { ...base, ok: false, ageHours, detail: `last successful backup ${age} (snapshot ${file.snapshot}${size}), older than ${maxAgeHours} h${failing}` };
  }
  return { ...base, ok: true, ageHours, detail: `last backup ${age} (snapshot ${file.snapshot}${size})${failing}` };
}

/** The front's backup status for `ops status`. */
export async function backupHealth(ssh: SshTarget, timeoutMs: number, maxAgeHours?: number): Promise<BackupHealth> {
  const text = await backupCommand(ssh, ["status"], timeoutMs);
  let file: BackupStatusFile;
  try {
    file = JSON.parse(text) as BackupStatusFile;
  } catch {
    throw new OpsError("command", ssh.host, "bbb-ovh-backup status did not print JSON");
  }
  return judgeBackup(file, Date.now(), maxAgeHours);
}

export async function backupNow(target: OpsTarget, timeoutMs: number): Promise<{ summary: string; status: BackupHealth }> {
  const ssh = frontSsh(target);
  const out = await backupCommand(ssh, ["run"], timeoutMs);
  const status = await backupHealth(ssh, 30_000, target.campus?.config.backup?.maxAgeHours);
  return { summary: out.trim().split("\n").pop() ?? "done", status };
}

export async function backupList(target: OpsTarget, timeoutMs: number): Promise<Snapshot[]> {
  const out = await backupCommand(frontSsh(target), ["list", "--json"], timeoutMs);
  try {
    return JSON.parse(out) as Snapshot[];
  } catch {
    throw new OpsError("command", frontSsh(target).host, "bbb-ovh-backup list did not print JSON");
  }
}

export function renderSnapshots(snapshots: Snapshot[]): string {
  if (snapshots.length === 0) return "no snapshot yet\n";
  const table = new Table({ head: ["snapshot", "time (UTC)", "host", "recordings"], style: { head: [], border: [] } });
  for (const s of snapshots) {
    const recordings = (s.tags ?? []).find((t) => t.startsWith("recordings:"))?.slice("recordings:".length) ?? "-";
    table.push([
      s.short_id,
      s.time
        .replace("T", " ")
        .replace(/\.\d+/, "")
        .replace(/Z$|[+-]\d\d:\d\d$/, ""),
      s.hostname,
      recordings,
    ]);
  }
  return `${table.toString()}\n`;
}

const SNAPSHOT = /^(latest|[0-9a-f]{8,64})$/;

export async function backupRestore(
  target: OpsTarget,
  snapshot: string,
  opts: { force: boolean; yes: boolean; timeoutMs: number },
  io: OpsIO,
): Promise<string> {
  if (!SNAPSHOT.test(snapshot)) throw new OpsError("usage", "-", `'${snapshot}' is not a snapshot id (8 to 64 hex digits) or latest`);
  const ssh = frontSsh(target);
  await confirm(
    io,
    `Restore snapshot ${snapshot} onto ${ssh.host}? Scalelite is stopped meanwhile; the database and the recordings come back from the backup${opts.force ? ", OVERWRITING what the front holds now" : ""}.`,
    opts.yes,
  );
  const out = await backupCommand(ssh, ["restore", snapshot, ...(opts.force ? ["--force"] : [])], opts.timeoutMs);
  const resent = target.campus?.config.recordings ? `${await resendSinceSnapshot(target, out, opts.timeoutMs)}\n` : "";
  return `${out.trim()}\n${resent}The nodes stay registered (Redis is not restored: the registration step of pulumi up rebuilt the pool). Check with: npm run ops -- status ${target.label}\n`;
}

/**
 * The recordings delivered after the snapshot are in no backup, and their nodes deleted them once
 * delivered; each node keeps a copy of what it delivered (scripts/bbb-node-recording-keep.sh, a week at
 * most): every node sends again its copies delivered since the snapshot less a margin (an archive still in
 * the front's incoming/ then, as after a failover: cli/ops/recordingsResend.ts). The mover takes what the
 * front lacks and drops what it holds.
 */
async function resendSinceSnapshot(target: OpsTarget, restored: string, timeoutMs: number): Promise<string> {
  const id = /restored snapshot ([0-9a-f]+)/.exec(restored)?.[1];
  const notSent = (why: string) =>
    `kept recordings not sent again: ${why}; send them with ops backup resend ${target.label} --since <the snapshot's time, less an hour> (ops backup list shows it)`;
  // The restore is done: what fails from here is said, not thrown, so that its own report is not lost.
  let taken: string | undefined;
  try {
    taken = (await backupList(target, timeoutMs)).find((s) => s.short_id === id)?.time;
  } catch (e) {
    return notSent(`the snapshots could not be listed (${(e as Error).message})`);
  }
  const epoch = taken === undefined ? NaN : Date.parse(taken) / 1000;
  if (!Number.isFinite(epoch)) return notSent(`the time of snapshot ${id ?? "?"} is unknown`);
  return (await resendKept(target, resendSince(Math.floor(epoch)))).summary;
}

/** `backup resend`: every node sends again the copies it kept of what it delivered since `since` (epoch s) to the front it sends to. */
export async function resendKept(target: OpsTarget, since: number): Promise<{ summary: string; ok: boolean }> {
  // The nodes already send to this front (a restored front keeps its name; pulumi up pointed them at a rebuilt one): no repointing.
  const outcomes = await resendRecordings(target.nodes, undefined, since, RESEND_TIMEOUT_MS);
  const from = new Date(since * 1000).toISOString();
  return {
    summary: `recordings delivered since ${from}: ${describeResend(outcomes, frontSsh(target).host, `ops backup resend ${target.label} --since ${from}`, false)}`,
    ok: outcomes.every((o) => o.ok),
  };
}
