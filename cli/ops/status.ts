import Table from "cli-table3";
import pLimit from "p-limit";
import { describeAlert, firingAlerts, type FiringAlert } from "./alerts";
import { backupHealth, type BackupHealth } from "./backup";
import { signedUrl } from "./bbbApi";
import { parseBbbResponse } from "./bbbXml";
import type { DnsKeyCheck } from "./dnsKey";
import { classifyError, OpsError, type FailureKind } from "./errors";
import { httpGet, type HttpOptions } from "./http";
import type { Progress } from "./progress";
import { lockDifferences } from "./imageLocks";
import { describeBacklog, pendingResendProblems, readFrontRecordings, recordingProblems, type NodeRecordings } from "./recordingHealth";
import { parseStatusTable, rake, type ScaleliteServerStatus } from "./scalelite";
import { SCALE_LOG } from "./scale";
import { describeStandbyCopy, parseStandbyCopy, STANDBY_COPY_COMMAND, standbyCopiesToShow } from "./standbyCopy";
import { runRemote, type SshTarget } from "./ssh";
import type { NodeTarget, OpsTarget } from "./stackSource";

export interface StatusOptions {
  http: HttpOptions;
  /** Deadline for the SSH command on the front (Rails boots inside it). */
  commandTimeoutMs: number;
  concurrency: number;
  /** The pair's standby front did not answer (statusFronts): listed once, and not asked again here. */
  standbyUnread?: OpsError;
}

export interface Problem {
  host: string;
  kind: FailureKind;
  message: string;
}

export interface NodeStatus {
  name: string;
  fqdn: string;
  datacenter?: string;
  /** As Scalelite's poller sees it. */
  online?: "online" | "offline";
  state?: string;
  /** Scalelite server tag, when the node has one (a tagged node takes only creates that ask for it). */
  tag?: string;
  meetings?: number;
  users?: number;
  load?: number;
  bbbVersion?: string;
  /** Our own probe of the node's API from here. */
  probe: { ok: boolean; ms?: number; detail?: string };
  /** Its recordings not yet on the front, from its last report (recordingHealth.ts). */
  recordings?: string;
}

export interface StatusReport {
  target: string;
  checkedAt: string;
  front: {
    host?: string;
    healthCheck: { ok: boolean; ms?: number; detail?: string };
    scalelite: { ok: boolean; detail?: string };
    /** The front's image lock lines (`name:tag@sha256:...`), when it could be read. */
    images?: string[];
    /** The last `ops scale` run's decision (~/.bbb-ovh/scale.log), when there is one. */
    scaling?: { at: string; summary: string; actions: Array<{ node: string; action: string; reason: string }> };
  };
  nodes: NodeStatus[];
  /** The front's last backup, when the stack has campus.backup. */
  backup?: BackupHealth;
  /** Per node: archives the front refused and the node's backlog, when the front could say. */
  recordings?: NodeRecordings[];
  /** The standby front's recordings copy (campus.standbyFront with recordings): how far behind it is. */
  standbyCopy?: string;
  /** Alertmanager's firing alerts on the front; undefined when the front has no Alertmanager or did not answer. */
  alerts?: FiringAlert[];
  problems: Problem[];
  healthy: boolean;
  /** The DNS-01 key's rights (--dns-key-file): a warning, not a failure, when they reach beyond the zone. */
  dnsKey?: DnsKeyCheck;
  /** With a standby front: which front was read as the front, and why (frontRole.ts statusFronts). */
  pair?: string;
}

const problemOf = (e: OpsError): Problem => ({ host: e.host, kind: e.kind, message: e.detail });

async function healthCheck(origin: string, http: HttpOptions): Promise<{ ms: number }> {
  const response = await httpGet(`${origin}/health_check`, http);
  const host = new URL(origin).host;
  // Scalelite answers 200 even when Redis or the database is down: only the body tells.
  if (response.status !== 200) throw new OpsError("http", host, `/health_check answered HTTP ${response.status}`);
  if (response.body.trim() !== "success") throw new OpsError("unhealthy", host, `/health_check says ${JSON.stringify(response.body.trim().slice(0, 120))}`);
  return { ms: response.elapsedMs };
}

/** Where the front steps lock each image's digest (scripts/lib/units.sh, lock_image; docs/front.md). */
export const IMAGE_LOCK = "/var/lib/bbb-ovh/image-lock";

/** The lock's lines, or undefined: informational, so a front without it or unreachable adds no problem. */
async function imageLock(ssh: SshTarget, timeoutMs: number): Promise<string[] | undefined> {
  try {
    // BBB_OVH_ROOT is empty on a real host; the test hosts keep their files under it.
    const r = await runRemote(ssh, `cat "\${BBB_OVH_ROOT:-}${IMAGE_LOCK}"`, timeoutMs);
    return r.code === 0 ? r.stdout.split("\n").filter((l) => l && !l.startsWith("#")) : undefined;
  } catch {
    return undefined;
  }
}

/** The last line of the scaling log: informational, like the image lock. */
async function lastScaling(ssh: SshTarget, timeoutMs: number): Promise<StatusReport["front"]["scaling"]> {
  try {
    const r = await runRemote(ssh, `tail -n 1 ${SCALE_LOG} 2>/dev/null`, timeoutMs);
    const last = JSON.parse(r.stdout) as { at?: unknown; summary?: unknown; actions?: unknown };
    return typeof last.at === "string" && typeof last.summary === "string"
      ? { at: last.at, summary: last.summary, actions: Array.isArray(last.actions) ? last.actions : [] }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Refused archives and backlog reports on the front, or undefined when it cannot be read. */
async function recordingHealth(ssh: SshTarget, timeoutMs: number): Promise<Awaited<ReturnType<typeof readFrontRecordings>> | undefined> {
  try {
    return await readFrontRecordings(ssh, timeoutMs);
  } catch {
    return undefined;
  }
}

/** A node's API from here: signed getMeetings when its secret is known, else the unsigned index. */
async function probeNode(node: NodeTarget, http: HttpOptions): Promise<Partial<NodeStatus> & { ms: number }> {
  const host = new URL(node.apiUrl).host;
  const url = node.secret ? signedUrl(node.apiUrl, "getMeetings", {}, node.secret) : node.apiUrl;
  const response = await httpGet(url, http);
  if (response.status !== 200) throw new OpsError("http", host, `${node.secret ? "getMeetings" : "API index"} answered HTTP ${response.status}`);
  let parsed;
  try {
    parsed = parseBbbResponse(response.body);
  } catch (e) {
    throw new OpsError("api", host, (e as Error).message);
  }
  if (parsed.returncode !== "SUCCESS") {
    throw new OpsError(parsed.messageKey === "checksumError" ? "checksum" : "api", host, `${parsed.messageKey ?? "FAILED"}: ${parsed.message ?? ""}`.trim());
  }
  const result: Partial<NodeStatus> & { ms: number } = { ms: response.elapsedMs, bbbVersion: parsed.fields.bbbVersion };
  if (node.secret) {
    result.meetings = parsed.meetings.length;
    result.users = parsed.meetings.reduce((n, m) => n + Number(m.participantCount ?? 0), 0);
  }
  return result;
}

/** Queries the front and every node at once (bounded), each within its own deadline. */
export async function collectStatus(target: OpsTarget, options: StatusOptions, progress: Progress): Promise<StatusReport> {
  const limit = pLimit(options.concurrency);
  const frontHost = target.frontOrigin ? new URL(target.frontOrigin).host : target.ssh?.host;
  const tracked = <T>(host: string, what: string, job: () => Promise<T>) =>
    limit(async () => {
      progress.start(host, what);
      try {
        const value = await job();
        progress.done(host, what);
        return { value };
      } catch (e) {
        const error = classifyError(e, host);
        progress.fail(host, what, error);
        return { error };
      }
    });

  const health = target.frontOrigin ? tracked(frontHost as string, "/health_check", () => healthCheck(target.frontOrigin as string, options.http)) : undefined;
  const ssh = target.ssh;
  const servers = ssh ? tracked(ssh.host, "bin/rake status", async () => parseStatusTable(await rake(ssh, "status", [], options.commandTimeoutMs))) : undefined;
  const backupConfig = target.campus?.config.backup;
  const backup =
    ssh && backupConfig?.enabled ? tracked(ssh.host, "backup status", () => backupHealth(ssh, options.commandTimeoutMs, backupConfig.maxAgeHours)) : undefined;
  const alertsRead = ssh ? tracked(ssh.host, "alerts", () => firingAlerts(ssh, options.commandTimeoutMs)) : undefined;
  const images = ssh ? limit(() => imageLock(ssh, options.commandTimeoutMs)) : undefined;
  const scaling = ssh ? limit(() => lastScaling(ssh, options.commandTimeoutMs)) : undefined;
  const recordingsRead = ssh ? limit(() => recordingHealth(ssh, options.commandTimeoutMs)) : undefined;
  const standby = target.standby;
  // The other front's lock, to compare: a failover must not change the build the campus runs unnoticed.
  const standbyImages = standby && !options.standbyUnread ? limit(() => imageLock(standby.ssh, options.commandTimeoutMs)) : undefined;
  // Both fronts run the copy and only the standby copies (a failback swaps them): read both, show the standby's.
  const readCopy = (name: string, sshTarget: SshTarget) =>
    tracked(sshTarget.host, "recordings copy", async () => ({
      name,
      host: sshTarget.host,
      copy: parseStandbyCopy((await runRemote(sshTarget, STANDBY_COPY_COMMAND, options.commandTimeoutMs)).stdout),
    }));
  const standbyUnread = options.standbyUnread;
  const standbyCopy =
    standby && target.campus?.config.recordings
      ? Promise.all([
          standbyUnread ? Promise.resolve({ error: standbyUnread, value: undefined }) : readCopy(standby.name, standby.ssh),
          ...(ssh ? [readCopy(target.frontName ?? target.campus.front.name, ssh)] : []),
        ])
      : undefined;
  const probes = target.nodes.map((n) => tracked(new URL(n.apiUrl).host, n.secret ? "getMeetings" : "API", () => probeNode(n, options.http)));

  const problems: Problem[] = [];
  const front: StatusReport["front"] = { host: frontHost, healthCheck: { ok: false }, scalelite: { ok: false } };
  if (!health) {
    front.healthCheck.detail = "no front URL";
    problems.push({ host: "-", kind: "config", message: "no front URL: give --url or a stack" });
  } else {
    const r = await health;
    if (r.value) front.healthCheck = { ok: true, ms: r.value.ms, detail: "success" };
    else {
      front.healthCheck.detail = r.error.message;
      problems.push(problemOf(r.error));
    }
  }
  let rows: ScaleliteServerStatus[] = [];
  if (!servers) {
    front.scalelite.detail = "no SSH host for the front";
    problems.push({ host: "-", kind: "config", message: "no SSH host for the front: give --host" });
  } else {
    const r = await servers;
    if (r.value) {
      rows = r.value;
      front.scalelite = { ok: true, detail: `${rows.length} server(s) registered` };
    } else {
      front.scalelite.detail = r.error.message;
      problems.push(problemOf(r.error));
    }
  }

  const lock = await images;
  if (lock?.length) front.images = lock;
  const otherLock = await standbyImages;
  if (lock && otherLock && standby) {
    const serving = target.frontName ?? target.campus?.front.name ?? frontHost ?? "the front";
    for (const message of lockDifferences({ name: serving, lines: lock }, { name: standby.name, lines: otherLock }))
      problems.push({ host: "-", kind: "unhealthy", message });
  }
  const lastScale = await scaling;
  if (lastScale) front.scaling = lastScale;

  const recordingsState = await recordingsRead;
  const recordings = recordingsState?.nodes;
  const nowSeconds = Date.now() / 1000;
  const probed = await Promise.all(probes);
  const nodes: NodeStatus[] = [];
  const seen = new Set<string>();
  target.nodes.forEach((node, i) => {
    seen.add(node.fqdn);
    const row = rows.find((r) => r.hostname === node.fqdn);
    const p = probed[i];
    const status: NodeStatus = {
      name: node.name,
      fqdn: node.fqdn,
      datacenter: node.datacenter,
      online: row ? (row.status === "online" ? "online" : "offline") : undefined,
      state: row?.state,
      tag: row?.tag,
      meetings: row?.meetings ?? p.value?.meetings,
      users: row?.users ?? p.value?.users,
      load: row?.load,
      bbbVersion: row?.bbbVersion ?? p.value?.bbbVersion,
      probe: p.value ? { ok: true, ms: p.value.ms } : { ok: false, detail: p.error.message },
      recordings: recordings
        ? describeBacklog(
            recordings.find((r) => r.node === node.name),
            nowSeconds,
          )
        : undefined,
    };
    nodes.push(status);
    if (p.error) problems.push(problemOf(p.error));
    if (servers && front.scalelite.ok && !row) problems.push({ host: node.fqdn, kind: "unhealthy", message: "not registered in Scalelite" });
  });
  for (const row of rows.filter((r) => !seen.has(r.hostname))) {
    nodes.push({
      name: row.hostname,
      fqdn: row.hostname,
      online: row.status === "online" ? "online" : "offline",
      state: row.state,
      tag: row.tag,
      meetings: row.meetings,
      users: row.users,
      load: row.load,
      bbbVersion: row.bbbVersion,
      probe: { ok: true, detail: "not probed (not in the stack)" },
    });
  }
  let backupReport: BackupHealth | undefined;
  if (backup) {
    const r = await backup;
    if (r.error) problems.push(problemOf(r.error));
    else if (!(backupReport = r.value).ok) problems.push({ host: frontHost ?? "-", kind: "unhealthy", message: `backup: ${r.value.detail}` });
  }
  if (recordings) {
    // A missing report is only a problem where the stack says its nodes send recordings.
    const senders = target.campus?.config.recordings ? target.nodes.map((n) => n.name) : [];
    for (const p of [...recordingProblems(recordings, senders, nowSeconds), ...pendingResendProblems(recordingsState?.pending)])
      problems.push({ host: p.node, kind: "unhealthy", message: `recordings: ${p.message}` });
  }
  let standbyCopyLine: string | undefined;
  if (standbyCopy) {
    const [standbyRead, ...frontRead] = await standbyCopy;
    // The stack's standby must answer; the front's own checks already report a front that does not.
    if (standbyRead.error && standbyRead.error !== standbyUnread) problems.push(problemOf(standbyRead.error));
    const read = [standbyRead, ...frontRead].flatMap((r) => (r.value ? [r.value] : []));
    const lines = standbyCopiesToShow(read, standby!.name).map((f) => {
      const seen = describeStandbyCopy(f.name, f.copy, nowSeconds);
      if (seen.problem) problems.push({ host: f.host, kind: "unhealthy", message: seen.problem });
      return seen.line;
    });
    if (lines.length > 0) standbyCopyLine = lines.join("\n");
  }
  let alerts: FiringAlert[] | undefined;
  if (alertsRead) {
    const r = await alertsRead;
    if (r.error) problems.push(problemOf(r.error));
    else if ((alerts = r.value)?.length)
      problems.push({ host: frontHost ?? "-", kind: "unhealthy", message: `${alerts.length} alert(s) firing in Alertmanager` });
  }
  for (const n of nodes) {
    if (n.online === "offline") problems.push({ host: n.fqdn, kind: "unhealthy", message: "Scalelite marks it offline (its polls fail)" });
    if (n.state === "disabled") problems.push({ host: n.fqdn, kind: "unhealthy", message: "disabled in Scalelite: it takes no meeting" });
  }
  if (standbyUnread) problems.push(problemOf(standbyUnread));
  // The same failure seen by two checks (the front's HTTP and SSH on one dead address, say) is one problem.
  const unique = [...new Map(problems.map((p) => [`${p.host}\0${p.kind}\0${p.message}`, p])).values()];
  return {
    target: target.label,
    checkedAt: new Date().toISOString(),
    front,
    nodes,
    backup: backupReport,
    recordings,
    standbyCopy: standbyCopyLine,
    alerts,
    problems: unique,
    healthy: unique.length === 0,
  };
}

const show = (v: string | number | undefined) => (v === undefined ? "-" : String(v));

export function renderStatus(report: StatusReport): string {
  const lines: string[] = [];
  const hc = report.front.healthCheck;
  lines.push(
    `front ${report.front.host ?? "-"}: /health_check ${hc.ok ? `success (${hc.ms} ms)` : `FAILED: ${hc.detail}`}; scalelite ${report.front.scalelite.ok ? "ok" : `FAILED: ${report.front.scalelite.detail}`}`,
  );
  if (report.pair) lines.push(`pair: ${report.pair}`);
  if (report.backup) lines.push(`backup: ${report.backup.ok ? "" : "STALE: "}${report.backup.detail}`);
  if (report.standbyCopy) lines.push(report.standbyCopy);
  const sc = report.front.scaling;
  if (sc) lines.push(`scaling (last run ${sc.at}): ${sc.summary}`, ...sc.actions.map((a) => `  ${a.action} ${a.node}: ${a.reason}`));
  if (report.front.images) lines.push(`images (${IMAGE_LOCK}):`, ...report.front.images.map((l) => `  ${l}`));
  const table = new Table({
    head: ["node", "datacenter", "status", "state", "meetings", "users", "load", "BBB", "API from here", "recordings"],
    style: { head: [], border: [] },
  });
  for (const n of report.nodes) {
    table.push([
      n.name === n.fqdn ? n.fqdn : `${n.name}\n${n.fqdn}`,
      show(n.datacenter),
      show(n.online),
      n.tag ? `${show(n.state)}, tag ${n.tag}` : show(n.state),
      show(n.meetings),
      show(n.users),
      show(n.load),
      show(n.bbbVersion),
      n.probe.ok ? (n.probe.ms !== undefined ? `ok ${n.probe.ms} ms` : show(n.probe.detail)) : "FAILED",
      show(n.recordings),
    ]);
  }
  lines.push(table.toString());
  if (report.alerts) lines.push(report.alerts.length ? "alerts firing:" : "alerts firing: none", ...report.alerts.map((a) => `  ${describeAlert(a)}`));
  if (report.dnsKey) lines.push(`dns-01 key: ${report.dnsKey.detail}`);
  if (report.problems.length === 0) lines.push("healthy");
  else lines.push(`${report.problems.length} problem(s):`, ...report.problems.map((p) => `  - ${p.host}: ${p.kind}: ${p.message}`));
  return `${lines.join("\n")}\n`;
}
