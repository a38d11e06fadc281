import { parkedSubDomain } from "../../components/dns/parkedSubDomain";
import { nodeApiUrl, renderServersYaml, type ScaleliteServer } from "../../components/scalelite/renderServersYaml";
import { RECORDING_DIR, STANDBY_COPY_DIR, STANDBY_COPY_INTERVAL_MINUTES } from "../../components/scalelite/recordingLayout";
import { OpsError } from "./errors";
import { RESEND_MARGIN_SECONDS } from "./recordingsResend";

/**
 * The decisions of `ops failover` / `ops failback`, without any connection: which steps run in which
 * order, whether the old primary may be skipped, which DNS records change, how far the standby is behind.
 * cli/ops/failover.ts carries them out over SSH and the OVH API.
 */

export type StepId =
  | "fence"
  | "catch-up"
  | "promote"
  | "start-scalelite"
  | "rebuild-redis"
  | "switch-dns"
  | "certificate"
  | "smoke"
  | "admit"
  | "rebuild-standby"
  | "copy-recordings"
  | "resend-recordings"
  | "first-backup";

export interface PlannedStep {
  id: StepId;
  /** The host the step acts on, or "OVH API" / the front's URL. */
  on: string;
  what: string;
}

export interface SwitchInput {
  /** The front that serves now (fenced), and the one that takes over (promoted). */
  from: string;
  to: string;
  fqdn: string;
  zone: string;
  /** false: the old primary did not answer (presumed down). */
  fromAnswers: boolean;
  /** Failback: a planned switch, which must lose nothing. */
  planned: boolean;
  /** campus.recordings: a planned switch also checks that `to` holds every recording `from` has. */
  recordings?: boolean;
  /** `to`'s IPv6 as the stack knows it (none: a dedicated server), for what the AAAA records become. */
  toIpv6?: string;
  /**
   * campus.certificates.challenge: with http-01 `to` can only get the name's certificate once DNS points at it;
   * with dns-01 it holds one already, checked before anything changes.
   */
  challenge?: "http-01" | "dns-01";
  /** campus.backup: the front that now serves takes a first snapshot at once. */
  backup?: boolean;
}

/** The command `ops failback` runs on the front coming back (scripts/scalelite-recordings-pull.sh, installed by scaleliteRecordingsCopy). */
export const RECORDINGS_PULL = "/usr/local/sbin/bbb-ovh-recordings-pull";
/**
 * The pull as `ops failback` runs it on the front coming back, as root: its copy key, the serving front's
 * address and pinned host key are in the ssh_config the copy step installed (BBB_OVH_ROOT is empty on a real front).
 */
export function recordingsPullCommand(verify: boolean): string {
  const root = "${BBB_OVH_ROOT:-}";
  return `${root}${RECORDINGS_PULL} ${verify ? "--verify " : ""}${RECORDING_DIR} "${root}${STANDBY_COPY_DIR}/ssh_config"`;
}

/** Its exit status when files are still left to copy after --verify's copy. */
export const RECORDINGS_LEFT_TO_COPY = 3;

const copyRecordingsStep = (serving: string, back: string, verify: boolean, planned = true): PlannedStep => ({
  id: "copy-recordings",
  on: back,
  what: verify
    ? `${RECORDINGS_PULL} --verify: copy ${serving}'s recordings, then an rsync dry run must find nothing left to copy (required: ${
        planned ? "a planned switch loses no recording" : `${serving} is fenced, its importer stopped: no recording is left behind on it`
      })`
    : `${RECORDINGS_PULL}: copy the recordings ${serving} published while it served (no --delete, newer kept), so the check after fencing is short`,
});

/**
 * What the verifying copy on the front coming back says: the step's detail when it holds every recording of
 * the serving front, otherwise an error that stops the failback before the promotion, saying why.
 */
export function recordingsCopyVerdict(
  r: { code: number | null; stdout: string; stderr: string },
  serving: string,
  back: string,
  kind: "failover" | "failback" = "failback",
): string {
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").map((l) => l.replace(/^recordings-pull: /, "").trim());
  const copied = lines.find((l) => l.startsWith("copied ")) ?? "";
  if (r.code === 0 && lines.some((l) => l.startsWith("nothing left to copy"))) return `${copied || "copied"}; nothing left to copy from ${serving}`;
  const left = lines.find((l) => /file\(s\) still to copy/.test(l));
  const why =
    r.code === RECORDINGS_LEFT_TO_COPY && left
      ? `${left.replace(/ from the serving front$/, "")} from ${serving} after a copy`
      : lines
          .filter((l) => l !== "")
          .slice(-2)
          .join(" / ") || `exit status ${r.code}`;
  const journal = `see journalctl -u bbb-ovh-recordings-pull on ${back}`;
  throw new OpsError(
    "unhealthy",
    back,
    kind === "failback"
      ? `does not hold every recording ${serving} has (${why}): failback stops before the switch, nothing was promoted; ${journal}, then run it again`
      : // The old front is fenced by then: no front serves until the operator chooses.
        `does not hold every recording ${serving} has (${why}): failover stops before promoting, nothing was promoted and ${serving} is fenced (no front accepts meetings); ${journal}, then run it again, or run it again with --primary-down to promote without them (they stay on ${serving})`,
  );
}

/** Starts the backup of the front that now serves without waiting for it (scripts/scalelite-backup.sh's unit). */
export const FIRST_BACKUP_COMMAND = "systemctl start --no-block bbb-ovh-backup.service";

/**
 * The steps of a switch from `from` to `to`, in order. Fencing comes first so that two fronts never
 * serve at once; Scalelite starts on the promoted database only; DNS moves only once the new front holds
 * the server list, so the first request Moodle sends there can be placed.
 */
export function switchSteps(s: SwitchInput): PlannedStep[] {
  const steps: PlannedStep[] = [];
  if (s.challenge === "dns-01")
    steps.push({
      id: "certificate",
      on: s.to,
      what: `scalelite-certificate.sh for ${s.fqdn} by DNS-01 with the credentials \`pulumi up\` left on ${s.to}, before anything changes: a certificate valid for 30 more days is kept, one that ends sooner is replaced; if the CA refuses, the switch goes on only while the certificate on disk is still valid`,
    });
  if (s.fromAnswers) {
    steps.push({ id: "fence", on: s.from, what: "stop and disable scalelite.target (API, nginx, poller, importer); front-role := fenced" });
    steps.push({
      id: "catch-up",
      on: s.to,
      what: s.planned
        ? `wait until ${s.to} has replayed ${s.from}'s current WAL position (required: a planned switch loses nothing)`
        : `wait (bounded) until ${s.to} has replayed ${s.from}'s current WAL position; the gap left is the RPO`,
    });
  }
  // The old front is fenced (its importer stopped): one last verified copy leaves no recording behind on it.
  if (s.fromAnswers && s.recordings) steps.push(copyRecordingsStep(s.from, s.to, true, s.planned));
  steps.push({ id: "promote", on: s.to, what: "SELECT pg_promote(); wait until pg_is_in_recovery() is false; front-role := primary" });
  steps.push({ id: "start-scalelite", on: s.to, what: "systemctl enable --now scalelite.target" });
  steps.push({
    id: "rebuild-redis",
    on: s.to,
    what: "bin/rake 'servers:sync[-,cordon]' with the stack's servers, then bin/rake poll:all until bin/rake status shows a node online",
  });
  const aaaa = s.toIpv6
    ? `AAAA := ${s.toIpv6} (PUT; when the name has none, PUT back those parked at ${parkedSubDomain(subDomainOf(s.fqdn, s.zone))}, or POST one)`
    : `AAAA records parked at ${parkedSubDomain(subDomainOf(s.fqdn, s.zone))} by PUT (${s.to} has no IPv6: IPv6 clients would reach the old front; the record and its id stay, as the stack's state has them)`;
  steps.push({
    id: "switch-dns",
    on: "OVH API",
    what: `A/AAAA of ${s.fqdn} (zone ${s.zone}) := ${s.to}'s addresses: A := its IPv4; ${aaaa}; POST /domain/zone/${s.zone}/refresh`,
  });
  if (s.challenge === "http-01")
    steps.push({
      id: "certificate",
      on: s.to,
      what: `scalelite-certificate.sh for ${s.fqdn} by HTTP-01, retried with backoff until Let's Encrypt sees the new A record (bounded by the zone's TTL), then nginx reloaded`,
    });
  steps.push({ id: "smoke", on: s.fqdn, what: "signed create, joins, getMeetingInfo, end through the front's API, until it passes (RTO)" });
  if (s.recordings)
    steps.push({
      id: "resend-recordings",
      on: "nodes",
      what: `each node that answers sends its recordings to ${s.to} (ssh_config, known_hosts) and sends again the archives it kept that it delivered since ${s.to}'s last recordings copy less ${RESEND_MARGIN_SECONDS / 60} min (what ${s.from} may not have imported); ${s.to}'s mover drops those it holds`,
    });
  if (s.backup)
    steps.push({
      id: "first-backup",
      on: s.to,
      what: `${FIRST_BACKUP_COMMAND}: a first snapshot of what ${s.to} now serves, not waited for (its nightly timer would take one hours later; \`ops backup list\` shows it); a unit that does not start is reported, the switch stands`,
    });
  return steps;
}

/** Failback: make the fenced front a standby of the serving one, switch back with nothing lost, then make the other side a standby again. */
export function failbackSteps(s: {
  serving: string;
  back: string;
  fqdn: string;
  zone: string;
  recordings?: boolean;
  backIpv6?: string;
  challenge?: "http-01" | "dns-01";
  backup?: boolean;
  /** `--standby-only`: up to the front being a standby holding the recordings, no switch. */
  standbyOnly?: boolean;
}): PlannedStep[] {
  const toStandby: PlannedStep[] = [
    {
      id: "fence",
      on: s.back,
      what: "only if its scalelite.target runs (it came back on its own after a --primary-down failover and accepts creates): stop and disable it; front-role := fenced",
    },
    { id: "admit", on: s.serving, what: `scalelite-replication-primary.sh: admit ${s.back} as a standby (its address in pg_hba, the slot)` },
    {
      id: "rebuild-standby",
      on: s.back,
      what: `front-role := standby; scalelite-replication-standby.sh: old database moved aside, pg_basebackup from ${s.serving}, streaming`,
    },
    ...(s.recordings ? [copyRecordingsStep(s.serving, s.back, false)] : []),
  ];
  if (s.standbyOnly) return toStandby;
  return [
    ...toStandby,
    ...switchSteps({
      from: s.serving,
      to: s.back,
      fqdn: s.fqdn,
      zone: s.zone,
      fromAnswers: true,
      planned: true,
      recordings: s.recordings,
      toIpv6: s.backIpv6,
      challenge: s.challenge,
      backup: s.backup,
    }),
    { id: "admit", on: s.back, what: `scalelite-replication-primary.sh: admit ${s.serving} as a standby` },
    { id: "rebuild-standby", on: s.serving, what: `front-role := standby; scalelite-replication-standby.sh from ${s.back}` },
  ];
}

/**
 * The recordings RPO of a switch (campus.recordings): none when the promoted front checked, after fencing,
 * that it holds every recording of the old one; otherwise what the old front published after the standby's
 * last successful copy (its status file), at most one copy interval, less what the nodes send again from
 * their kept copies (the resend step, cli/ops/recordingsResend.ts).
 */
export function recordingsRpoNote(s: { from: string; to: string; verified: boolean; lastCopySecondsAgo?: number }): string {
  if (s.verified) return `none: ${s.to} holds every recording ${s.from} has (verified after fencing)`;
  const last =
    s.lastCopySecondsAgo === undefined ? "no successful copy recorded" : `its last copy started ${Math.round(s.lastCopySecondsAgo)} s before promotion`;
  return `the copy interval (${STANDBY_COPY_INTERVAL_MINUTES} min): what ${s.from} published after ${s.to}'s last copy is not on ${s.to} (${last}), but for what the nodes that answer send again (resend-recordings)`;
}

/**
 * Whether to go on when the serving front does not answer over SSH. It may be down, or only cut from
 * here while still serving Moodle: only the operator, who knows which, can say to go on.
 */
export function presumedDown(front: string, why: string, primaryDown: boolean): string {
  if (!primaryDown)
    throw new OpsError(
      "tcp",
      front,
      `${front} does not answer (${why}): it cannot be fenced from here. If it is down (the OVH console shows it off, or its site is out), run again with --primary-down; if it may still be serving, power it off first, or two fronts would accept meetings`,
    );
  return `${front} does not answer (${why}): presumed down (--primary-down), not fenced`;
}

/** A PostgreSQL LSN ("16/B374D848") as a byte position. */
export function lsnBytes(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new Error(`'${lsn}' is not a PostgreSQL LSN such as 16/B374D848`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** Bytes of WAL the standby has not replayed: the data a promotion now would lose. */
export function lagBytes(primaryLsn: string, replayLsn: string): number {
  const gap = lsnBytes(primaryLsn) - lsnBytes(replayLsn);
  return gap > 0n ? Number(gap) : 0;
}

/** One record of a DNS zone, as GET /domain/zone/{zoneName}/record/{id} answers (domain.zone.Record). */
export interface ZoneRecord {
  id: number;
  fieldType: string;
  subDomain: string;
  target: string;
  ttl?: number;
}

/**
 * One call that points the front's name at the new front: a PUT of a record's target; when the new front has
 * no IPv6, a PUT that parks each AAAA record under another name (IPv6 clients would otherwise keep reaching
 * the old front); when it has one and the name has none, a PUT that puts a parked record back, or a POST.
 * Parking keeps the record and its id, which the stack's state holds (components/dns/HostRecords.ts): a
 * DELETE then a POST would leave the state naming a record gone, and the next `pulumi up` would add a second.
 */
export type DnsChange =
  | { kind: "put"; id: number; fieldType: "A" | "AAAA"; from: string; to: string }
  | { kind: "park"; id: number; fieldType: "AAAA"; from: string; subDomain: string }
  | { kind: "unpark"; id: number; fieldType: "AAAA"; subDomain: string; to: string; ttl: number }
  | { kind: "post"; fieldType: "AAAA"; subDomain: string; to: string; ttl: number };

/** The record name of an FQDN inside its zone ("" at the apex). */
export function subDomainOf(fqdn: string, zone: string): string {
  if (fqdn === zone) return "";
  if (!fqdn.endsWith(`.${zone}`)) throw new OpsError("config", "-", `${fqdn} is not inside the DNS zone ${zone} (campus.dns.zone)`);
  return fqdn.slice(0, -zone.length - 1);
}

/**
 * The calls that make the front's name resolve to the new front only: its A records to its IPv4, its AAAA
 * records to its IPv6 or, with none, parked. `records`: the name's A and AAAA records and the AAAA records
 * parked by an earlier switch. `create`: the subdomain and TTL an AAAA record takes, as
 * components/dns/HostRecords.ts makes the front's (campus.dns.ttl).
 */
export function dnsChanges(
  records: ZoneRecord[],
  to: { ipv4: string; ipv6?: string },
  create: { subDomain: string; ttl: number },
): { changes: DnsChange[]; problems: string[] } {
  const changes: DnsChange[] = [];
  const problems: string[] = [];
  const named = records.filter((r) => r.subDomain === create.subDomain);
  const a = named.filter((r) => r.fieldType === "A");
  if (a.length === 0) problems.push("no A record for the front's name in the zone: nothing to switch");
  for (const r of a) if (r.target !== to.ipv4) changes.push({ kind: "put", id: r.id, fieldType: "A", from: r.target, to: to.ipv4 });
  const aaaa = named.filter((x) => x.fieldType === "AAAA");
  const parked = records.filter((r) => r.fieldType === "AAAA" && r.subDomain === parkedSubDomain(create.subDomain));
  for (const r of aaaa) {
    if (!to.ipv6) changes.push({ kind: "park", id: r.id, fieldType: "AAAA", from: r.target, subDomain: parkedSubDomain(create.subDomain) });
    else if (r.target !== to.ipv6) changes.push({ kind: "put", id: r.id, fieldType: "AAAA", from: r.target, to: to.ipv6 });
  }
  if (aaaa.length === 0 && to.ipv6 && a.length > 0) {
    for (const r of parked) changes.push({ kind: "unpark", id: r.id, fieldType: "AAAA", subDomain: create.subDomain, to: to.ipv6, ttl: create.ttl });
    // Deleted by a version before parking, or never made: a new one.
    if (parked.length === 0) changes.push({ kind: "post", fieldType: "AAAA", subDomain: create.subDomain, to: to.ipv6, ttl: create.ttl });
  }
  return { changes, problems };
}

/** How the report names a change. */
export function describeDnsChange(c: DnsChange): string {
  if (c.kind === "put") return `${c.fieldType} ${c.from} -> ${c.to}`;
  if (c.kind === "park") return `AAAA ${c.from} parked at ${c.subDomain || "@"} (the new front has no IPv6)`;
  if (c.kind === "unpark") return `AAAA ${c.to} back from ${parkedSubDomain(c.subDomain)} (TTL ${c.ttl} s)`;
  return `AAAA ${c.to} created (TTL ${c.ttl} s)`;
}

/**
 * When the certificate step tries again after a failed HTTP-01 challenge: Let's Encrypt's resolvers may keep
 * the old A record for the zone's TTL, so the attempts double their spacing until past it (plus a margin for
 * OVH's zone refresh), and stay at 4 since Let's Encrypt allows 5 failed validations per hostname and account
 * per hour (letsencrypt.org/docs/rate-limits, "Authorization Failures per Identifier per Account").
 * Milliseconds to wait before attempts 2 to 4.
 */
export function certificateRetryDelays(ttlSeconds: number): number[] {
  const first = Math.max(10, Math.ceil((ttlSeconds + 30) / 7));
  return [first, 2 * first, 4 * first].map((s) => s * 1000);
}

/** The servers.yaml Redis is rebuilt from: every node of the stack with its own secret; all missing secrets named at once. */
export function serversYaml(
  nodes: ReadonlyArray<{ fqdn: string; secret?: string; loadMultiplier?: number; tag?: string; state?: ScaleliteServer["state"] }>,
): string {
  const missing = nodes.filter((n) => !n.secret).map((n) => n.fqdn);
  if (missing.length > 0)
    throw new OpsError(
      "config",
      "-",
      `no secret for ${missing.join(", ")}: the new front's server list needs the stack's nodeSecrets output (install the Pulumi CLI and log in to the stack's backend)`,
    );
  const servers: ScaleliteServer[] = nodes.map((n) => ({
    id: n.fqdn,
    url: nodeApiUrl(n.fqdn),
    secret: n.secret as string,
    loadMultiplier: n.loadMultiplier ?? 1,
    tag: n.tag,
    state: n.state,
  }));
  return renderServersYaml(servers);
}
