import { BY_STEP, BY_TYPE, DEDICATED } from "../../bench/durations";
import type { Campus, ResolvedHost } from "../config/campus";
import { STANDBY_COPY_INTERVAL_MINUTES } from "../scalelite/recordingLayout";

/**
 * The front under failover policy 'datacenter'. Nodes are a pool (sizing.ts checkPool), but the front
 * is one host: it runs Scalelite, its name is the only URL Moodle knows, and it holds every recording.
 * Losing its site stops every lesson unless a standby front in another site takes over (`ops failover`,
 * docs/front.md "Standby front").
 */

export interface RebuildTime {
  minutes: number;
  /** What the figure adds up, with where each part comes from. */
  basis: string;
}

/**
 * How long `pulumi up` takes to build a new front of this kind, along its chain of steps: the server,
 * its DNS record, SSH, the scripts, preflight, Docker with PostgreSQL and Redis, Scalelite, the health
 * check and the node registration. The figures are the bench's modelled durations (bench/durations.ts,
 * each with its basis); the restore that follows is not in it (see frontLossCost).
 */
export function frontRebuildTime(front: ResolvedHost): RebuildTime {
  const server =
    front.config.kind === "dedicated"
      ? front.config.serviceName === undefined
        ? { minutes: DEDICATED.order.minutes, what: "dedicated order" }
        : { minutes: DEDICATED.reinstall.minutes, what: "dedicated reinstall" }
      : front.config.kind === "publicCloud"
        ? { minutes: BY_TYPE["openstack:compute/instance:Instance"].minutes, what: "Public Cloud instance" }
        : { minutes: 0, what: "an existing host already running" };
  const steps = ["ssh", "hostPreflight", "scaleliteDocker", "scaleliteApp", "scaleliteHealth", "scaleliteRegister"] as const;
  const stepMinutes =
    steps.reduce((sum, s) => sum + BY_STEP[s].minutes, 0) +
    BY_TYPE["ovh:Domain/zoneRecord:ZoneRecord"].minutes +
    BY_TYPE["command:remote:CopyToRemote"].minutes;
  const minutes = Math.round((server.minutes + stepMinutes) * 10) / 10;
  return {
    minutes,
    basis: `${server.what} ${server.minutes} min + DNS record, SSH, scripts, Docker, Scalelite, registration ${Math.round(stepMinutes * 10) / 10} min (bench/durations.ts)`,
  };
}

/** What losing the front's site costs when there is no standby: rebuild, restore, and what is lost. */
export function frontLossCost(campus: Campus): string {
  const rebuild = frontRebuildTime(campus.front);
  const backup = campus.config.backup;
  const restore =
    campus.config.recordings && backup?.enabled
      ? `then \`ops backup restore\` from the last backup (docs/backups.md; it runs once a day by default, so up to ${backup.maxAgeHours} h of recordings and meetings are lost, and restic's download of every recording comes on top: the restore drill in test/backup restores a small front and measures no throughput)`
      : campus.config.recordings
        ? "and with no backup (campus.backup) every recording is lost"
        : "(no recordings to restore)";
  return `every lesson stops until a new front is built (~${rebuild.minutes} min: ${rebuild.basis}) ${restore}`;
}

/** Warnings about the front the plan, `ops estimate` and `ops size` give under the stack's failover policy. */
export function frontWarnings(campus: Campus): string[] {
  const { front, standbyFront } = campus;
  const warnings: string[] = [];
  const frontSite = front.site ?? `region:${front.datacenter}`;
  if (campus.config.failover === "datacenter" && !standbyFront) {
    warnings.push(
      `single point of failure: the front ${front.name} (Scalelite, the only URL Moodle knows${campus.config.recordings ? ", every recording" : ""}) is in ${frontSite} with no standby front in another site (campus.standbyFront): losing ${frontSite} ${frontLossCost(campus)}; to do: add campus.standbyFront in another site, with certificates.challenge: dns-01 (docs/front.md)`,
    );
  }
  if (standbyFront) {
    if (campus.config.certificates.challenge === "http-01") {
      warnings.push(
        `the standby front ${standbyFront.name} cannot hold a certificate for ${front.fqdn} before a failover with HTTP-01 (Let's Encrypt checks the name where DNS points, the front): \`ops failover\` requests it there once DNS points at the standby, so HTTPS waits for the DNS TTL (${campus.config.dns.ttl} s) and certbot, which add to the RTO; to do: set certificates.challenge: dns-01 (with bbb-ovh:dnsCredentials) to have it ready`,
      );
    }
    if (campus.config.servingFront === "standbyFront" && campus.config.rebuildFront) {
      warnings.push(
        `the front ${front.name} is rebuilt while the standby front ${standbyFront.name} serves (campus.rebuildFront): every step of ${front.name} runs again on the server the stack names, which records itself fenced first (front-role), so its Scalelite is installed stopped and its new database stays empty; ${front.fqdn} keeps pointing at ${standbyFront.name}; to do: after this \`pulumi up\`, run \`ops failback\` (it makes ${front.name} the standby, copies the database and the recordings, then switches back), then set campus.servingFront: front, remove campus.rebuildFront and run \`pulumi up\` (docs/front.md, "Rebuilding the front")`,
      );
    } else if (campus.config.servingFront === "standbyFront") {
      warnings.push(
        `the standby front ${standbyFront.name} serves (campus.servingFront): ${front.fqdn} points at it, the nodes register with it and send their recordings to it, and nothing runs on ${front.name} (its steps keep their last inputs; the stack has no standby meanwhile); to do: once \`ops failback\` has made ${front.name} serve again, set campus.servingFront: front and run \`pulumi up\`; if ${front.name} is gone for good, name its new server in campus.front and set campus.rebuildFront: true (docs/front.md, "A failover that lasts")`,
      );
    }
    if (campus.config.dns.ttl > MAX_FAILOVER_TTL) {
      warnings.push(
        `campus.dns.ttl is ${campus.config.dns.ttl} s: after \`ops failover\` switches ${front.fqdn}, resolvers keep the old address up to that long; to do: set it to ${MAX_FAILOVER_TTL} s or less, which keeps a failover within minutes`,
      );
    }
  }
  return warnings;
}

/** What the plan shows of the wiring between the two fronts. */
export function standbyNotes(campus: Campus): string[] {
  const { front, standbyFront } = campus;
  if (!standbyFront) return [];
  const where = (h: typeof front) => h.site ?? `region:${h.datacenter}`;
  return [
    `standby front ${standbyFront.name} (${where(standbyFront)}) for ${front.name} (${where(front)}): its database streams from ${front.name}'s over TLS with a replication role of its own (${front.name}-scaleliteReplicationPrimary, then ${standbyFront.name}-scaleliteReplicationStandby); same LOADBALANCER_SECRET, SECRET_KEY_BASE and node secrets; Scalelite installed and stopped there; ${front.name} admits PostgreSQL and SSH from ${standbyFront.name} only`,
    ...(campus.config.recordings
      ? [
          `recordings: ${standbyFront.name} copies ${front.name}'s published and unpublished recordings every ${STANDBY_COPY_INTERVAL_MINUTES} minutes (rsync over SSH with a key ${front.name} accepts read-only, from ${standbyFront.name} only; ${standbyFront.name}-scaleliteRecordingsCopy): after a failover it serves what ${front.name} had at most ${STANDBY_COPY_INTERVAL_MINUTES} minutes and one copy before; archives still in ${front.name}'s spool or incoming directories are not copied (\`ops status\` shows how far behind the copy is)`,
        ]
      : []),
    `failover: the DNS records of ${front.fqdn} (TTL ${campus.config.dns.ttl} s) are what moves Moodle to the standby; the certificate for ${front.fqdn} is ${campus.config.certificates.challenge === "dns-01" ? "already on the standby (DNS-01)" : "requested on the standby after the switch (HTTP-01)"}`,
  ];
}

/** The DNS TTL above which the plan warns that a failover waits on caches. */
export const MAX_FAILOVER_TTL = 300;

/** Fronts a campus needs under a failover policy: a standby in another site under 'datacenter'. */
export function frontsNeeded(policy: Campus["config"]["failover"]): { count: number; why: string } {
  return policy === "datacenter"
    ? { count: 2, why: "the front and a standby front in another site (campus.standbyFront): the front is one host, and its site can burn with it" }
    : { count: 1, why: "one front: with its site down, lessons stop until it is rebuilt and restored (docs/front.md)" };
}
