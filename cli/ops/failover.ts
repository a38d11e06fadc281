import { parkedSubDomain } from "../../components/dns/parkedSubDomain";
import { POSTGRES_IMAGE } from "../../components/scalelite/images";
import { base64, renderStepCommand, renderStepStdin } from "../../components/remote/invocation";
import type { ChecksumAlgorithm } from "./bbbApi";
import { classifyError, OpsError } from "./errors";
import {
  certificateRetryDelays,
  describeDnsChange,
  dnsChanges,
  failbackSteps,
  FIRST_BACKUP_COMMAND,
  lagBytes,
  presumedDown,
  recordingsCopyVerdict,
  recordingsPullCommand,
  recordingsRpoNote,
  serversYaml,
  subDomainOf,
  switchSteps,
  type PlannedStep,
  type ZoneRecord,
} from "./failoverPlan";
import type { HttpOptions } from "./http";
import type { OvhApi } from "./ovhApi";
import { Progress } from "./progress";
import { recordPendingResend } from "./pendingResend";
import { parseStatusTable, rake } from "./scalelite";
import { smoke } from "./smoke";
import { describeResend, RESEND_TIMEOUT_MS, resendRecordings, resendSince, type ResendNode } from "./recordingsResend";
import { parseStandbyCopy, STANDBY_COPY_COMMAND } from "./standbyCopy";
import { FRONT_ROLE_FILE } from "./frontRole";
import { asRoot, runRemote, type SshTarget } from "./ssh";
import type { OpsTarget } from "./stackSource";

/** Where the steps find what `pulumi up` left on a front (BBB_OVH_ROOT is empty on a real one). */
const DATA_DIR = "/var/lib/scalelite";
const PG_DATA = `\${BBB_OVH_ROOT:-}${DATA_DIR}/postgres`;
/** Where the Pulumi program copies scripts/ on every host (components/remote). */
const SCRIPT_DIR = "${BBB_OVH_ROOT:-}/opt/bbb-ovh/scripts";

export interface SwitchOptions {
  primaryDown: boolean;
  commandTimeoutMs: number;
  /** How long the standby may take to replay what the fenced primary wrote, and the smoke test to pass. */
  catchUpMs: number;
  smokeMs: number;
  pollMs: number;
  http: HttpOptions;
  algorithm: ChecksumAlgorithm;
  onStep?: (line: string) => void;
  /**
   * failback only: stop once the front is a streaming standby of the serving front and holds its recordings,
   * before any switch (a front rebuilt by day: its first, long copy done while the standby front serves; a
   * later failback switches, with only what changed meanwhile to copy).
   */
  standbyOnly?: boolean;
}

export interface StepRecord {
  id: string;
  on: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface SwitchReport {
  from: string;
  to: string;
  steps: StepRecord[];
  ok: boolean;
  /** Seconds from the start to the signed check passing through the new front. */
  rtoSeconds?: number;
  /** What the standby had not replayed when it was promoted: the bound on the data lost. */
  rpo?: { bytes?: number; lastReplaySecondsAgo?: number; note: string; recordings?: string };
  failure?: { host: string; kind: string; message: string };
  /** A failback run with standbyOnly: `to` is a standby of `from`, which still serves. */
  standbyOnly?: boolean;
}

export interface Side {
  name: string;
  ssh: SshTarget;
  ipv4: string;
  ipv6?: string;
}

/** A command as root on a front; `elevated`: the command brings its own sudo (a step's command line). */
async function run(side: Side, command: string, timeoutMs: number, stdin?: string, elevated = false): Promise<string> {
  const r = await runRemote(side.ssh, elevated ? command : asRoot(side.ssh, command), timeoutMs, stdin);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" / ") || `exit status ${r.code}`;
    throw new OpsError("command", side.name, why);
  }
  return r.stdout.trim();
}

/** One SQL statement as the superuser in the scalelite-postgres container (the image's local trust). */
const sql = (side: Side, statement: string, timeoutMs: number) =>
  run(side, `docker exec scalelite-postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -U postgres -d postgres -c "${statement}"`, timeoutMs);

const setRole = (side: Side, role: string, timeoutMs: number) =>
  run(side, `mkdir -p "$(dirname ${FRONT_ROLE_FILE})" && printf '%s\\n' ${role} > ${FRONT_ROLE_FILE}`, timeoutMs);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value or the deadline passes; the last error says why not. */
async function until<T>(what: string, host: string, ms: number, pollMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = `: ${(e as Error).message}`;
    }
    if (Date.now() > end) throw new OpsError("timeout", host, `${what} not within ${Math.round(ms / 1000)} s${last}`);
    await sleep(pollMs);
  }
}

function sides(target: OpsTarget, reverse: boolean): { primary: Side; standby: Side; fqdn: string; zone: string } {
  const campus = target.campus;
  if (!campus || !target.ssh || !target.standby)
    throw new OpsError(
      "config",
      "-",
      `${reverse ? "failback" : "failover"} needs a stack with campus.standbyFront: ${target.campusProblem ?? "this stack has no standby front"}`,
    );
  // The addresses DNS and pg_hba take are the stack's (outputs), never an SSH host given on the command line.
  const missing = [!target.frontIpv4 && "the front's (frontIpv4 output)", !target.standby.ipv4 && "the standby's (standbyIpv4 output)"].filter(Boolean);
  if (missing.length > 0)
    throw new OpsError("config", "-", `no public IPv4 for ${missing.join(" nor ")}: install the Pulumi CLI and log in to the stack's backend`);
  const front: Side = { name: campus.front.name, ssh: target.ssh, ipv4: target.frontIpv4 as string, ipv6: target.frontIpv6 };
  const standby: Side = { name: target.standby.name, ssh: target.standby.ssh, ipv4: target.standby.ipv4 as string, ipv6: target.standby.ipv6 };
  return { primary: reverse ? standby : front, standby: reverse ? front : standby, fqdn: campus.front.fqdn, zone: campus.config.dns.zone };
}

/** What `--dry-run` prints: the steps and the hosts they act on, from the stack alone. */
export function planFailover(target: OpsTarget, kind: "failover" | "failback", primaryDown: boolean, standbyOnly = false): PlannedStep[] {
  const s = sides(target, kind === "failback");
  const challenge = target.campus?.config.certificates.challenge;
  const backup = target.campus?.config.backup?.enabled;
  return kind === "failover"
    ? switchSteps({
        from: s.primary.name,
        to: s.standby.name,
        fqdn: s.fqdn,
        zone: s.zone,
        fromAnswers: !primaryDown,
        planned: false,
        recordings: target.campus?.config.recordings,
        toIpv6: s.standby.ipv6,
        challenge,
        backup,
      })
    : failbackSteps({
        serving: s.primary.name,
        back: s.standby.name,
        fqdn: s.fqdn,
        zone: s.zone,
        recordings: target.campus?.config.recordings,
        backIpv6: s.standby.ipv6,
        challenge,
        backup,
        standbyOnly,
      });
}

export function renderPlan(kind: string, steps: PlannedStep[]): string {
  return `ops ${kind} would, in order:\n${steps.map((s, i) => `  ${i + 1}. ${s.id} on ${s.on}: ${s.what}`).join("\n")}\n`;
}

class Recorder {
  readonly steps: StepRecord[] = [];
  constructor(private readonly onStep?: (line: string) => void) {}
  async step<T>(id: string, on: string, work: () => Promise<{ value: T; detail: string }>): Promise<T> {
    const started = performance.now();
    try {
      const { value, detail } = await work();
      const r = { id, on, ok: true, ms: Math.round(performance.now() - started), detail };
      this.steps.push(r);
      this.onStep?.(`${id} on ${on}: ${detail} (${r.ms} ms)`);
      return value;
    } catch (e) {
      const error = classifyError(e, on);
      this.steps.push({ id, on, ok: false, ms: Math.round(performance.now() - started), detail: error.message });
      this.onStep?.(`${id} on ${on}: FAILED: ${error.message}`);
      throw error;
    }
  }
}

interface ReplayState {
  inRecovery: boolean;
  replayLsn?: string;
  lastReplaySecondsAgo?: number;
}

async function replayState(side: Side, timeoutMs: number): Promise<ReplayState> {
  const out = await sql(
    side,
    "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''), coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::text, '')",
    timeoutMs,
  );
  const [rec, lsn, ago] = out.split("|");
  return { inRecovery: rec === "t", replayLsn: lsn || undefined, lastReplaySecondsAgo: ago ? Number(ago) : undefined };
}

/** Scalelite stopped and disabled on the old front, so that two fronts never accept meetings. */
const fence = (primary: Side, rec: Recorder, t: number) =>
  rec.step("fence", primary.name, async () => {
    await run(primary, "systemctl disable --now scalelite.target", t);
    await setRole(primary, "fenced", t);
    return { value: undefined, detail: "scalelite.target stopped and disabled, front-role fenced" };
  });

/** Whether Scalelite runs on a front (accepts creates); a front that does not answer fails the caller. */
async function serving(side: Side, timeoutMs: number): Promise<boolean> {
  return (await runRemote(side.ssh, asRoot(side.ssh, "systemctl is-active --quiet scalelite.target"), timeoutMs)).code === 0;
}

/** Whether a front answers over SSH; a refused key is an error, never taken for a front that is down. */
async function reachable(side: Side, timeoutMs: number): Promise<boolean> {
  try {
    await runRemote(side.ssh, "true", timeoutMs);
    return true;
  } catch (e) {
    if (classifyError(e, side.name).kind === "ssh-auth") throw classifyError(e, side.name);
    return false;
  }
}

/**
 * A switch from `primary` to `standby`: fence, catch up, promote, start Scalelite, rebuild Redis, move DNS,
 * check through the API. Each step is safe to run again (a switch cut midway is finished by running it again).
 */
async function switchOver(
  target: OpsTarget,
  api: OvhApi,
  s: ReturnType<typeof sides>,
  opts: SwitchOptions,
  rec: Recorder,
  planned: boolean,
  started: number,
): Promise<Pick<SwitchReport, "rpo" | "rtoSeconds">> {
  const { primary, standby } = s;
  const t = opts.commandTimeoutMs;
  const before = await rec.step("check", standby.name, async () => {
    const state = await replayState(standby, t);
    const role = await run(standby, `cat ${FRONT_ROLE_FILE} 2>/dev/null || echo standby`, t);
    return {
      value: { ...state, role },
      detail: `front-role ${role}, ${state.inRecovery ? `in recovery, replayed ${state.replayLsn ?? "?"}` : "not in recovery"}`,
    };
  });
  // A switch cut after the promotion: the standby already serves, nothing of the primary is needed.
  const resumed = !before.inRecovery && before.role === "primary";
  if (target.campus?.config.certificates.challenge === "dns-01") {
    const inputs = { FQDN: s.fqdn, EMAIL: target.campus.config.adminEmail, CHALLENGE: "dns-01" };
    const stopsAt = resumed ? `after ${standby.name}'s promotion by an earlier run` : "before fencing or promoting";
    await rec.step("certificate", standby.name, async () => ({ value: undefined, detail: await checkDnsCertificate(standby, inputs, t, stopsAt) }));
  }
  if (!before.inRecovery && !resumed)
    throw new OpsError("command", standby.name, "its database is not a standby (not in recovery) and front-role does not say primary: refusing to promote");

  let rpo: SwitchReport["rpo"];
  if (resumed) {
    rpo = { note: `${standby.name} was already promoted by an earlier run` };
    // An old front presumed down that answers again has started Scalelite at boot (enabled, never fenced).
    if (await reachable(primary, t)) await fence(primary, rec, t);
  } else {
    let primaryLsn: string | undefined;
    let answers = true;
    try {
      await runRemote(primary.ssh, "true", t);
    } catch (e) {
      const error = classifyError(e, primary.name);
      if (error.kind === "ssh-auth") throw error;
      answers = false;
      if (planned) throw new OpsError(error.kind, primary.name, `does not answer (${error.detail}): a planned switch needs both fronts`);
      const note = presumedDown(primary.name, error.detail, opts.primaryDown);
      rec.steps.push({ id: "fence", on: primary.name, ok: true, ms: 0, detail: note });
      opts.onStep?.(`fence on ${primary.name}: ${note}`);
    }
    if (answers) {
      await fence(primary, rec, t);
      primaryLsn = await rec.step("catch-up", standby.name, async () => {
        const current = await sql(primary, "SELECT pg_current_wal_lsn()", t);
        let replay: ReplayState | undefined;
        try {
          replay = await until(`${standby.name} replaying up to ${current}`, standby.name, opts.catchUpMs, opts.pollMs, async () => {
            const r = await replayState(standby, t);
            return r.replayLsn && lagBytes(current, r.replayLsn) === 0 ? r : undefined;
          });
        } catch (e) {
          if (planned) throw e;
        }
        return { value: current, detail: replay ? `replayed ${current}: nothing left behind` : `still behind ${current} after ${opts.catchUpMs / 1000} s` };
      });
    }
    // The last copy of the recordings, from the fenced front (nothing new imported there): skipped when the
    // operator said it is down (--primary-down), the way to promote when this copy cannot succeed.
    const copyLast = answers && (planned || !opts.primaryDown);
    if (copyLast) await copyRecordings(target, s, rec, true, planned ? "failback" : "failover");
    const recordings = target.campus?.config.recordings
      ? recordingsRpoNote({
          from: primary.name,
          to: standby.name,
          verified: copyLast,
          lastCopySecondsAgo: copyLast ? undefined : await lastCopySecondsAgo(standby, t),
        })
      : undefined;
    const last = await replayState(standby, t);
    const bytes = primaryLsn && last.replayLsn ? lagBytes(primaryLsn, last.replayLsn) : undefined;
    rpo = {
      bytes,
      lastReplaySecondsAgo: last.lastReplaySecondsAgo,
      note:
        bytes !== undefined
          ? `${bytes} byte(s) of WAL not replayed at promotion`
          : `${primary.name} unreachable: what it wrote after the last transaction ${standby.name} replayed (${last.lastReplaySecondsAgo ?? "?"} s before promotion, replay position ${last.replayLsn ?? "?"}) is lost`,
      recordings,
    };
    if (planned && bytes !== 0) throw new OpsError("unhealthy", standby.name, `not caught up (${rpo.note}): a planned switch does not promote`);
    await rec.step("promote", standby.name, async () => {
      await sql(standby, "SELECT pg_promote(true, 60)", t);
      await until("promotion", standby.name, 60_000, opts.pollMs, async () => ((await replayState(standby, t)).inRecovery ? undefined : true));
      await setRole(standby, "primary", t);
      return { value: undefined, detail: "pg_is_in_recovery() false, front-role primary" };
    });
  }

  await rec.step("start-scalelite", standby.name, async () => {
    await run(standby, "systemctl enable --now scalelite.target", t);
    return { value: undefined, detail: "scalelite.target enabled and started" };
  });
  await rec.step("rebuild-redis", standby.name, async () => {
    const yaml = serversYaml(target.nodes.map((n) => ({ ...n, ...nodeSettings(target, n.fqdn) })));
    // The api container prepares itself after its start: the first syncs may find it not ready yet.
    await until("servers:sync on the new front", standby.name, opts.smokeMs, opts.pollMs, async () => {
      await run(standby, "docker exec -i scalelite-api bin/rake 'servers:sync[-,cordon]'", t, yaml);
      return true;
    });
    // One poll:all can leave a reachable node offline: Scalelite runs its three pollers at once, each giving up
    // after POLLER_WAIT_TIMEOUT (lib/tasks/poll.rake), and the poller container polls again only a
    // POLL_INTERVAL later. As the register step does, poll until a node is online (or the smoke's time is out).
    const online = await until("a node online in the new front's Scalelite", standby.name, opts.smokeMs, opts.pollMs, async () => {
      await run(standby, "docker exec scalelite-api bin/rake poll:all", t);
      const n = parseStatusTable(await rake(standby.ssh, "status", [], t)).filter((r) => r.status === "online").length;
      return n > 0 ? n : undefined;
    });
    return { value: undefined, detail: `${target.nodes.length} server(s) synced from the stack, polled: ${online} online` };
  });
  const ttl = target.campus?.config.dns.ttl ?? 60;
  await rec.step("switch-dns", api.label, async () => ({ value: undefined, detail: await switchDns(api, s.zone, s.fqdn, standby, ttl) }));
  if (target.campus?.config.certificates.challenge === "http-01") {
    const inputs = { FQDN: s.fqdn, EMAIL: target.campus.config.adminEmail, CHALLENGE: "http-01" };
    await rec.step("certificate", standby.name, async () => ({
      value: undefined,
      detail: await requestCertificate(standby, inputs, certificateRetryDelays(ttl), t),
    }));
  }
  // The stack's front URL (or --url): DNS now sends it to the new front.
  const url = target.frontApiUrl;
  await rec.step("smoke", url ? new URL(url).host : s.fqdn, async () => {
    const report = await until("a signed create/join/end through the new front", s.fqdn, opts.smokeMs, opts.pollMs, async () => {
      const r = await smoke({ ...target, frontApiUrl: url }, { algorithm: opts.algorithm, http: opts.http }, Progress.for(process.stderr, true));
      if (!r.ok) throw new Error(r.failure?.message ?? "failed");
      return r;
    });
    return { value: undefined, detail: `meeting ${report.meetingID} created, joined, ended${report.landedOn ? ` on ${report.landedOn.host}` : ""}` };
  });
  const rtoSeconds = Math.round((performance.now() - started) / 100) / 10;
  if (target.campus?.config.recordings)
    await rec.step("resend-recordings", "nodes", async () => ({ value: undefined, detail: await resendToNewFront(target.nodes, standby, t) }));
  if (target.campus?.config.backup?.enabled)
    await rec.step("first-backup", standby.name, async () => ({ value: undefined, detail: await startFirstBackup(standby, t) }));
  return { rpo, rtoSeconds };
}

/**
 * With campus.backup: the front that now serves backs up at once what it holds (the database it promoted, the
 * recordings it copied and received) rather than at its nightly timer. Not waited for: a backup can take hours, and
 * the switch is done. A unit that does not start (the backup step never ran there) is said, not a failure.
 */
export async function startFirstBackup(to: Side, timeoutMs: number): Promise<string> {
  try {
    await run(to, FIRST_BACKUP_COMMAND, timeoutMs);
    return `bbb-ovh-backup.service started on ${to.name}, not waited for (\`ops backup list\` shows its snapshot)`;
  } catch (e) {
    return `bbb-ovh-backup.service did not start on ${to.name} (${(e as Error).message}): run \`ops backup now\` once it serves`;
  }
}

/**
 * Once the new front serves: every node sends to it, and sends again what it delivered since the new
 * front's last successful copy, or the oldest archive the old front had not imported then (less a margin),
 * which the old front may not have imported (cli/ops/recordingsResend.ts).
 */
export async function resendToNewFront(nodes: readonly ResendNode[], to: Side, timeoutMs: number): Promise<string> {
  const copy = parseStandbyCopy(await run(to, STANDBY_COPY_COMMAND, timeoutMs));
  const since = resendSince(copy?.lastSuccess, copy?.pendingSince);
  const front = { name: to.name, ipv4: to.ipv4, sshPort: to.ssh.port, hostKey: to.ssh.hostKey ?? "" };
  const outcomes = await resendRecordings(nodes, front, since, RESEND_TIMEOUT_MS);
  const from = since === 0 ? "every kept archive" : `delivered since ${new Date(since * 1000).toISOString()}`;
  // A node asleep now is pointed at the new front by the run that wakes it. The switch is done by now: a
  // failure to keep the list is said with the rest.
  const unlisted = await recordPendingResend(to.ssh, front, since, outcomes, timeoutMs).then(
    (): undefined => undefined,
    (e: Error) => e,
  );
  const notPointed = outcomes.some((o) => !o.repointed);
  if (unlisted && notPointed)
    return `${describeResend(outcomes, to.name)} (${from}); the nodes not pointed at ${to.name} could not be listed for their next wake (${unlisted.message})`;
  const later = [
    ...(notPointed
      ? [`a node not pointed at ${to.name} is pointed there by the run of ops scale or schedule apply that wakes it, or by ops repoint once it answers`]
      : []),
    ...(outcomes.some((o) => o.repointed && !o.ok) ? ["a node pointed there whose copies did not all go sends them with its retry timer"] : []),
  ];
  return `${describeResend(outcomes, to.name, null)} (${from})${later.map((l) => `; ${l}`).join("")}`;
}

/**
 * Points the front's name at `to` in the zone: A to its IPv4, AAAA to its IPv6, or parked under another name
 * when it has none, or put back (created when none is parked) when it has one and the name has none
 * (components/dns/HostRecords.ts: subdomain, campus.dns.ttl). OVH API calls as its schema types them
 * (/domain/zone/{zoneName}/record, GET/PUT/POST, then refresh); a PUT may change subDomain, as the ovh
 * provider's own record update does (ovh/resource_domain_zone_record.go, subdomain not ForceNew).
 */
export async function switchDns(api: OvhApi, zone: string, fqdn: string, to: { ipv4: string; ipv6?: string }, ttl: number): Promise<string> {
  const subDomain = subDomainOf(fqdn, zone);
  const records: ZoneRecord[] = [];
  for (const [fieldType, name] of [
    ["A", subDomain],
    ["AAAA", subDomain],
    ["AAAA", parkedSubDomain(subDomain)],
  ]) {
    const ids = await api.call<number[]>("GET", `/domain/zone/${zone}/record`, { fieldType, subDomain: name });
    for (const id of ids) records.push(await api.call<ZoneRecord>("GET", `/domain/zone/${zone}/record/${id}`));
  }
  const { changes, problems } = dnsChanges(records, to, { subDomain, ttl });
  if (problems.length > 0) throw new OpsError("api", api.label, problems.join("; "));
  for (const c of changes) {
    if (c.kind === "put") await api.call("PUT", `/domain/zone/${zone}/record/${c.id}`, { target: c.to });
    else if (c.kind === "park") await api.call("PUT", `/domain/zone/${zone}/record/${c.id}`, { subDomain: c.subDomain });
    else if (c.kind === "unpark") await api.call("PUT", `/domain/zone/${zone}/record/${c.id}`, { subDomain: c.subDomain, target: c.to, ttl: c.ttl });
    else await api.call("POST", `/domain/zone/${zone}/record`, { fieldType: c.fieldType, subDomain: c.subDomain, target: c.to, ttl: c.ttl });
  }
  await api.call("POST", `/domain/zone/${zone}/refresh`);
  return `${fqdn}: ${changes.map(describeDnsChange).join(", ") || "already pointing there"}`;
}

/**
 * The HTTP-01 certificate for the front's name on the front that now serves it: the certificate step `pulumi up`
 * installs (scripts/scalelite-certificate.sh, which reloads nginx after a new certificate), tried again after
 * each delay while the challenge fails (Let's Encrypt may still resolve the old address); then scalelite-nginx
 * is started again if it could not run without a certificate.
 */
export async function requestCertificate(side: Side, inputs: Record<string, string>, delaysMs: number[], timeoutMs: number): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      await certificateStep(side, inputs, timeoutMs);
      await run(side, "systemctl is-active --quiet scalelite-nginx.service || systemctl restart scalelite-nginx.service", timeoutMs);
      return `certificate for ${inputs.FQDN} in place (attempt ${attempt}), nginx serving it`;
    } catch (e) {
      const delay = delaysMs[attempt - 1];
      // Only a failed step is tried again (the challenge); an unreachable front or a refused key is not the CA's doing.
      if (!(e instanceof OpsError && e.kind === "command")) throw e;
      if (delay === undefined)
        throw new OpsError("command", side.name, `no certificate for ${inputs.FQDN} after ${attempt} attempt(s): ${(e as Error).message}`);
      await sleep(delay);
    }
  }
}

/** The certificate step `pulumi up` installs, as it runs it (scripts/scalelite-certificate.sh). */
async function certificateStep(side: Side, inputs: Record<string, string>, timeoutMs: number): Promise<void> {
  const command = renderStepCommand("scaleliteCertificate", SCRIPT_DIR, side.ssh.username !== "root");
  // certbot's own run may take long (the CA's checks): several command timeouts.
  await run(side, command, 5 * timeoutMs, renderStepStdin("scaleliteCertificate", inputs), true);
}

/**
 * The DNS-01 certificate of the front about to serve, checked before anything changes: the certificate step
 * with the credentials file `pulumi up` left there (ops does not hold that secret), which keeps a certificate
 * valid for 30 more days and replaces one that ends sooner. nginx is not started: Scalelite starts later, with it.
 * When the CA refuses, a certificate still valid lets the switch go on, saying until when; none stops it.
 */
export async function checkDnsCertificate(
  side: Side,
  inputs: Record<string, string>,
  timeoutMs: number,
  /** Where the switch stands when no certificate stops it, for the error. */
  stopsAt = "before fencing or promoting",
): Promise<string> {
  try {
    await certificateStep(side, inputs, timeoutMs);
    return `certificate for ${inputs.FQDN} valid for 30 days or more`;
  } catch (e) {
    if (!(e instanceof OpsError && e.kind === "command")) throw e;
    const cert = `\${BBB_OVH_ROOT:-}/etc/letsencrypt/live/${inputs.FQDN}/cert.pem`;
    const end = await runRemote(
      side.ssh,
      asRoot(side.ssh, `openssl x509 -noout -checkend 0 -in ${cert} >/dev/null && openssl x509 -noout -enddate -in ${cert}`),
      timeoutMs,
    );
    if (end.code !== 0)
      throw new OpsError(
        "command",
        side.name,
        `no valid certificate for ${inputs.FQDN} and the CA gave none (${e.detail}): the switch stops here, ${stopsAt}; see /var/log/letsencrypt/letsencrypt.log on ${side.name}, then run it again`,
      );
    const until = end.stdout.trim().replace(/^notAfter=/, "");
    return `the CA gave no new certificate (${e.detail}); the one on disk is valid until ${until}: going on with it, renew it before then`;
  }
}

function nodeSettings(target: OpsTarget, fqdn: string) {
  const host = target.campus?.nodes.find((n) => n.fqdn === fqdn);
  return host ? { loadMultiplier: host.loadMultiplier, tag: host.tag, state: host.scaleliteState } : {};
}

/** `ops failover`: the standby front serves in place of the front. */
export async function failover(target: OpsTarget, api: OvhApi, opts: SwitchOptions): Promise<SwitchReport> {
  const s = sides(target, false);
  return runSwitch(s, opts, (rec, started) => switchOver(target, api, s, opts, rec, false, started));
}

/**
 * `ops failback`: the front (fenced by a failover) becomes a standby of the standby front that serves, then a
 * planned switch puts it back with nothing lost, and the standby front becomes a standby again.
 */
export async function failback(target: OpsTarget, api: OvhApi, opts: SwitchOptions): Promise<SwitchReport> {
  const s = sides(target, true);
  return runSwitch(s, opts, async (rec, started) => {
    // A front that came back on its own after a --primary-down failover started Scalelite at boot: fenced first.
    if (await serving(s.standby, opts.commandTimeoutMs)) await fence(s.standby, rec, opts.commandTimeoutMs);
    await rebuildStandby(s.primary, s.standby, opts, rec);
    await copyRecordings(target, s, rec, false);
    if (opts.standbyOnly) return { standbyOnly: true };
    const result = await switchOver(target, api, s, opts, rec, true, started);
    await rebuildStandby(s.standby, s.primary, opts, rec);
    return result;
  });
}

async function runSwitch(
  s: ReturnType<typeof sides>,
  opts: SwitchOptions,
  work: (rec: Recorder, started: number) => Promise<Pick<SwitchReport, "rpo" | "rtoSeconds" | "standbyOnly">>,
): Promise<SwitchReport> {
  const rec = new Recorder(opts.onStep);
  const report: SwitchReport = { from: s.primary.name, to: s.standby.name, steps: rec.steps, ok: false };
  try {
    Object.assign(report, await work(rec, performance.now()));
    report.ok = true;
  } catch (e) {
    report.failure = classifyError(e, "-").toJSON();
  }
  return report;
}

/**
 * Makes `standby` a streaming standby of `primary` with the replication steps `pulumi up` runs, their
 * secret inputs read from the serving front itself (the passfile, CA and certificate the first base backup
 * left in its data directory), sent on stdin only.
 */
async function rebuildStandby(primary: Side, standby: Side, opts: SwitchOptions, rec: Recorder): Promise<void> {
  const t = opts.commandTimeoutMs;
  const read = (file: string) => run(primary, `cat ${PG_DATA}/${file}`, t);
  const [pgpass, ca, cert, key] = await Promise.all([
    read("bbb-ovh-replica/pgpass"),
    read("bbb-ovh-replica/ca.crt"),
    read("bbb-ovh-tls/server.crt"),
    read("bbb-ovh-tls/server.key"),
  ]);
  const password = pgpass.split("\n")[0]?.split(":").at(-1) ?? "";
  // The port the serving database listens on (the container publishes its own): what the standby dials.
  const port = await sql(primary, "SHOW port", t);
  const sudo = (ssh: SshTarget) => ssh.username !== "root";
  await rec.step("admit", primary.name, async () => {
    const stdin = renderStepStdin("scaleliteReplicationPrimary", {
      DATA_DIR,
      STANDBY_ADDRESSES: standby.ipv4,
      REPLICATION_PASSWORD: password,
      TLS_CERT_B64: base64(cert),
      TLS_KEY_B64: base64(key),
    });
    await run(primary, renderStepCommand("scaleliteReplicationPrimary", SCRIPT_DIR, sudo(primary.ssh)), t, stdin, true);
    return { value: undefined, detail: `${standby.name} (${standby.ipv4}) admitted to replicate` };
  });
  await rec.step("rebuild-standby", standby.name, async () => {
    await setRole(standby, "standby", t);
    const stdin = renderStepStdin("scaleliteReplicationStandby", {
      DATA_DIR,
      POSTGRES_IMAGE,
      PRIMARY_ADDRESS: primary.ipv4,
      PRIMARY_PORT: port,
      REPLICATION_PASSWORD: password,
      CA_CERT_B64: base64(ca),
    });
    await run(standby, renderStepCommand("scaleliteReplicationStandby", SCRIPT_DIR, sudo(standby.ssh)), 30 * 60_000, stdin, true);
    return { value: undefined, detail: `streams from ${primary.name} (old database moved aside by the step)` };
  });
}

/** A copy of a whole recordings tree may take long: bounded only so that a cut connection does not hang ops. */
const RECORDINGS_COPY_MS = 6 * 3600_000;

/**
 * With recordings, the front about to be promoted (front-role standby) pulls what the serving front
 * published, with its own copy key (scripts/scalelite-recordings-pull.sh). Failback runs it once before the
 * switch, to move the bulk while the serving front still serves; failover and failback run it, `verify`,
 * once the serving front is fenced (its importer stopped): copy, and an rsync dry run must find nothing
 * left, or no promotion.
 */
async function copyRecordings(
  target: OpsTarget,
  s: ReturnType<typeof sides>,
  rec: Recorder,
  verify: boolean,
  kind: "failover" | "failback" = "failback",
): Promise<void> {
  if (!target.campus?.config.recordings) return;
  const { primary: serving, standby: back } = s;
  const command = recordingsPullCommand(verify);
  await rec.step("copy-recordings", back.name, async () => {
    if (!verify)
      return {
        value: undefined,
        detail:
          (await run(back, command, RECORDINGS_COPY_MS))
            .split("\n")
            .at(-1)
            ?.replace(/^recordings-pull: /, "") || "copied",
      };
    const r = await runRemote(back.ssh, asRoot(back.ssh, command), RECORDINGS_COPY_MS);
    return { value: undefined, detail: recordingsCopyVerdict(r, serving.name, back.name, kind) };
  });
}

/** How long ago the standby's last successful recordings copy started (its status file), if it says. */
async function lastCopySecondsAgo(standby: Side, timeoutMs: number): Promise<number | undefined> {
  try {
    const copy = parseStandbyCopy(await run(standby, STANDBY_COPY_COMMAND, timeoutMs));
    return copy?.lastSuccess === undefined ? undefined : Date.now() / 1000 - copy.lastSuccess;
  } catch {
    return undefined;
  }
}

export function renderSwitch(kind: string, r: SwitchReport): string {
  const lines = r.steps.map((s) => `  ${s.ok ? "ok    " : "FAILED"} ${s.id} on ${s.on}: ${s.detail} (${s.ms} ms)`);
  const rto = r.rtoSeconds === undefined ? "" : `\nRTO: ${r.rtoSeconds} s from the start to the signed check passing through the new front`;
  const rpo = r.rpo ? `\nRPO bound: ${r.rpo.note}${r.rpo.recordings ? `\nRecordings RPO: ${r.rpo.recordings}` : ""}` : "";
  const end = r.ok
    ? r.standbyOnly
      ? `${kind} --standby-only: ${r.to} is a standby of ${r.from}, which still serves; \`ops ${kind}\` without --standby-only switches back`
      : `${kind}: ${r.to} serves`
    : `${kind} FAILED: ${r.failure?.host}: ${r.failure?.kind}: ${r.failure?.message}\nrun it again once fixed: every step is safe to repeat`;
  return `${kind} from ${r.from} to ${r.to}\n${lines.join("\n")}${rto}${rpo}\n${end}\n`;
}
