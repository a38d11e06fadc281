/**
 * How long each kind of resource takes in a real `pulumi up`, in real minutes, with the basis of
 * each figure. The simulated deploy waits these durations, scaled down by MS_PER_MINUTE.
 */
import type { StepName } from "../components/remote/catalogue";

/** One real minute of deploy time lasts this many milliseconds in the simulation. */
export const MS_PER_MINUTE = 10;

export interface Modelled {
  minutes: number;
  basis: string;
}

const m = (minutes: number, basis: string): Modelled => ({ minutes, basis });

/** Dedicated servers: what the Server resource waits for depends on whether it orders, reinstalls or adopts. */
export const DEDICATED = {
  order: m(120, "order + delivery + OS install; the OVH provider polls an order up to 2 h (REFERENCE.md); in-stock Rise/Advance are often faster"),
  reinstall: m(20, "OS reinstallation of an owned server by the OVH API, typically 15-25 min"),
  adopt: m(0.5, "adopting an owned server without reinstall: API reads only"),
} as const;

/** Resources by type token; types not listed are local or instantaneous (keys, passwords, providers, components). */
export const BY_TYPE: Readonly<Record<string, Modelled>> = {
  "openstack:compute/instance:Instance": m(3, "Public Cloud instance ACTIVE and cloud-init done: 1-3 min for a C2 flavor"),
  "openstack:compute/keypair:Keypair": m(0.05, "one OpenStack API call"),
  "openstack:networking/secGroup:SecGroup": m(0.05, "one OpenStack API call"),
  "openstack:networking/secGroupRule:SecGroupRule": m(0.05, "one OpenStack API call"),
  "ovh:Ip/firewall:Firewall": m(0.5, "one OVH API call; the API reports a state (pending until the edge applies it); not measured"),
  "ovh:Ip/firewallRule:FirewallRule": m(0.5, "one OVH API call; the API reports a state (pending until the edge applies it); not measured"),
  "ovh:Domain/zoneRecord:ZoneRecord": m(0.5, "record + zone refresh through the OVH API (the provider refreshes the zone)"),
  "command:remote:CopyToRemote": m(0.2, "sftp of scripts/ (~100 KB) over one SSH session"),
};

/** Host steps (remote.Command) by the step at the end of the resource name. */
export const BY_STEP: Readonly<Record<StepName | "ssh" | "host-key-tofu", Modelled>> = {
  ssh: m(0.1, "first SSH handshake (uname -n)"),
  "host-key-tofu": m(0.1, "one SSH command reading the host key"),
  hostPreflight: m(0.2, "local checks and one DNS lookup"),
  hostFirewall: m(0.1, "one nft --check and one nft -f of a small table; nftables is preinstalled on Ubuntu server"),
  bbbInstall: m(20, "bbb-install.sh: 'under 30 minutes' (its README), ~15 min (Scalelite README) (REFERENCE.md)"),
  bbbFirstBoot: m(
    2,
    "a node from the node image: certbot HTTP-01 issuance (1 min, as scaleliteCertificate) + bbb-conf --setip, which restarts BigBlueButton (1 min, as bbbConfigure's restart) (estimate)",
  ),
  bbbConfigure: m(1, "bbb-conf --setsecret then --restart"),
  bbbImageClean: m(0.2, "file removals on the image builder"),
  bbbRecordings: m(0.5, "a download checked by sha256 and a few small files"),
  bbbExporter: m(0.5, "three small Python packages from apt, a tarball checked file by file, a service started"),
  bbbHealth: m(0.5, "API index and a signed getMeetings, with retries while BBB warms up"),
  scaleliteDocker: m(5, "docker.io from Ubuntu's packages, PostgreSQL and Redis images pulled and started"),
  scaleliteCertificate: m(1, "certbot HTTP-01 or DNS-01 issuance"),
  scaleliteSpool: m(0.5, "rsync from apt (usually installed), a user and an authorized_keys file"),
  scaleliteRecordingsCopy: m(0.2, "three files and two units; the first copy runs later, from its timer (estimate)"),
  scaleliteMetrics: m(0.1, "two files and two units; nothing downloaded (estimate)"),
  scaleliteApp: m(4, "four Scalelite images pulled, db:setup, units started"),
  scaleliteHealth: m(0.5, "/health_check until it says success"),
  scaleliteFrontServes: m(0.1, "one SSH command reading the standby's front-role"),
  scaleliteBackup: m(1, "restic from apt, one check/init of the repository over HTTPS, two unit files (estimate)"),
  scaleliteRegister: m(1, "servers:sync and poll:all in the api container (Rails boot)"),
  bbbRetire: m(0, "runs only when a node is deleted, never on pulumi up's path to serving"),
  scaleliteRetireNode: m(0, "runs only when a node is deleted, never on pulumi up's path to serving"),
  scaleliteReplicationPrimary: m(0.2, "a few SQL statements and a reload (estimate)"),
  scaleliteReplicationStandby: m(
    5,
    "pg_basebackup of Scalelite's database (small: meetings and recording metadata) and catch-up; a re-run only reloads (estimate)",
  ),
  monitoringNode: m(0.5, "one package from apt, four small files, one restart (estimate)"),
  monitoringFront: m(1.5, "three packages from apt, promtool/amtool checks, three restarts (estimate)"),
  monitoringGrafana: m(1.5, "Grafana's image pulled on first use, a few files, one restart and the admin password set through its CLI (estimate)"),
  moodleConfigure: m(0.5, "a few php admin/cli/cfg.php calls"),
};

export interface ResourceKind {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** The modelled duration of one resource, and the key of the table row it came from. */
export function modelledDuration(r: ResourceKind): { minutes: number; row: string } {
  if (r.type === "ovh:Dedicated/server:Server") {
    const variant = !r.inputs.serviceName ? "order" : r.inputs.preventInstallOnCreate ? "adopt" : "reinstall";
    return { minutes: DEDICATED[variant].minutes, row: `dedicated server (${variant})` };
  }
  if (r.type === "command:remote:Command") {
    // A guard (components/remote/HostStep.ts `guard`) has only a delete: creating it runs nothing.
    if (r.inputs.create === undefined && r.inputs.delete !== undefined) return { minutes: 0, row: "guard (runs only when deleted)" };
    const step = (Object.keys(BY_STEP) as Array<keyof typeof BY_STEP>).find((s) => r.name.endsWith(`-${s}`));
    if (!step) throw new Error(`no modelled duration for the remote command ${r.name}: add its step to bench/durations.ts`);
    return { minutes: BY_STEP[step].minutes, row: step };
  }
  const row = BY_TYPE[r.type];
  return row ? { minutes: row.minutes, row: r.type } : { minutes: 0, row: "instantaneous" };
}
