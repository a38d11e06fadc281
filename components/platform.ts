import * as pulumi from "@pulumi/pulumi";
import type { types } from "@pulumi/command";
import { FrontBackup } from "./backup/FrontBackup";
import { BbbNode, recordingTransferKey } from "./bbb/BbbNode";
import type { Campus } from "./config/campus";
import type { FrontHandle, HostHandle, NodeHandle } from "./hosts/HostHandle";
import { MoodleIntegration } from "./moodle/MoodleIntegration";
import { moodleServerUrl } from "./moodle/renderMoodleSettings";
import { NodeRegistration } from "./scalelite/NodeRegistration";
import { NodeRetirement } from "./scalelite/NodeRetirement";
import { ScaleliteFront } from "./scalelite/ScaleliteFront";
import { replicationLink } from "./scalelite/standby";
import { CampusMonitoring } from "./monitoring/CampusMonitoring";

export interface PlatformArgs {
  campus: Campus;
  front: FrontHandle;
  /** campus.standbyFront's host. */
  standbyFront?: FrontHandle;
  /** Called with the standby front's scaleliteFrontServes step, which the front's DNS records wait for. */
  onServesCheck?: (check: pulumi.Resource) => void;
  nodes: NodeHandle[];
  /** SSH to the Moodle host; required when campus.moodle.ssh is set. */
  moodleConnection?: pulumi.Input<types.input.remote.ConnectionArgs>;
  turnSecret?: pulumi.Output<string>;
  dnsCredentials?: pulumi.Output<Record<string, string>>;
  /** bbb-ovh:smtpPassword, the alert mail login's password (campus.monitoring.smtp.username). */
  smtpPassword?: pulumi.Output<string>;
  /** bbb-ovh:grafanaAdminPassword (campus.monitoring.grafana); generated when not given. */
  grafanaAdminPassword?: pulumi.Output<string>;
  parent: pulumi.Resource;
}

export interface PlatformOutputs {
  frontUrl: string;
  moodleServerUrl: string;
  /** LOADBALANCER_SECRET, what Moodle (or any API client) signs with. */
  moodleSharedSecret: pulumi.Output<string>;
  nodes: Array<{ name: string; fqdn: string; ipv4: pulumi.Output<string>; datacenter: string; apiUrl: string }>;
  /** Each node's shared secret by FQDN, for `npm run ops -- status` to sign getMeetings (secret). */
  nodeSecrets: pulumi.Output<Record<string, string>>;
  /** Commands an operator runs to see the platform's state. */
  statusCommands: string[];
  /** Grafana's admin password (secret), when campus.monitoring.grafana. */
  grafanaAdminPassword?: pulumi.Output<string>;
}

const sudoFor = (user: string) => (user === "root" ? "" : "sudo ");

/**
 * BigBlueButton, Scalelite and Moodle on the campus hosts: the front, every node (in parallel: no
 * node waits for another), their registration in Scalelite, then Moodle.
 */
export function buildPlatform(args: PlatformArgs): PlatformOutputs {
  const { campus, parent } = args;
  const { turn, certificates, moodle } = campus.config;
  // Checked before anything is registered, all at once.
  const missing: string[] = [];
  if (turn.mode === "external" && !args.turnSecret) missing.push("campus.turn.mode is external but no TURN secret was given (bbb-ovh:turnSecret)");
  if (certificates.challenge === "dns-01" && !args.dnsCredentials) missing.push("DNS-01 certificates need the OVH API credentials (bbb-ovh:dnsCredentials)");
  if (moodle?.ssh && args.moodleConnection === undefined) missing.push("campus.moodle.ssh is set but no SSH connection to the Moodle host was given");
  const monitoring = campus.config.monitoring;
  if (monitoring.enabled && monitoring.smtp?.username && !args.smtpPassword)
    missing.push("campus.monitoring.smtp.username is set but its password was not given (bbb-ovh:smtpPassword)");
  if (missing.length > 0) throw new Error(`cannot build the platform: ${missing.join("; ")}`);

  const certificate =
    certificates.challenge === "dns-01" ? { challenge: "dns-01" as const, dnsCredentials: args.dnsCredentials! } : { challenge: "http-01" as const };
  const externalTurn = turn.mode === "external" ? { host: turn.host, secret: args.turnSecret! } : undefined;
  // One recording transfer key per node, made before the front so that its spool can list them.
  const transferKeys = new Map(campus.config.recordings ? args.nodes.map((handle) => [handle, recordingTransferKey(handle.host.name, parent)] as const) : []);
  const recordingSenders = [...transferKeys].map(([handle, key]) => ({ handle, transferPublicKey: key.publicKeyOpenssh }));
  // A standby front copies the front: the same secrets, its database streamed, Scalelite stopped.
  const standby = args.standbyFront && {
    handle: args.standbyFront,
    link: replicationLink(campus.config.id, args.front, args.standbyFront, campus.config.recordings, parent),
  };
  // A rebuilt front is fenced only after the standby front's check that it serves, which is made with it, below.
  let servesCheckMade: (check: pulumi.Resource) => void = () => undefined;
  const servesCheck = new Promise<pulumi.Resource>((resolve) => (servesCheckMade = resolve));
  // Each front's Prometheus scrapes every host and the other front (campus.monitoring): only they are admitted.
  const monitors = (...handles: Array<HostHandle | undefined>) => (monitoring.enabled ? handles.flatMap((h) => (h ? [h.ipv4] : [])) : []);
  const front = new ScaleliteFront(
    args.front.host.name,
    {
      campus,
      handle: args.front,
      recordingSenders,
      certificate,
      replication: standby && { role: "primary", standby: standby.handle, link: standby.link },
      monitorAddresses: monitors(args.standbyFront),
      held: campus.config.servingFront === "standbyFront" && !campus.config.rebuildFront,
      rebuild: campus.config.rebuildFront && standby ? { servingIpv4: standby.handle.ipv4, after: servesCheck } : undefined,
    },
    { parent },
  );
  const standbyFront =
    standby &&
    new ScaleliteFront(
      standby.handle.host.name,
      {
        campus,
        handle: standby.handle,
        recordingSenders,
        certificate,
        replication: { role: "standby", primary: front, link: standby.link },
        monitorAddresses: monitors(args.front),
        serves: campus.config.servingFront === "standbyFront",
      },
      { parent },
    );
  if (standbyFront?.servesCheck) {
    args.onServesCheck?.(standbyFront.servesCheck);
    servesCheckMade(standbyFront.servesCheck);
  }
  // The front that serves Scalelite (campus.servingFront): the nodes send their recordings there and register there.
  const serving = campus.config.servingFront === "standbyFront" && standbyFront ? standbyFront : front;
  const spool = serving.spool;
  const nodes = args.nodes.map((handle) => ({
    handle,
    node: new BbbNode(
      handle.host.name,
      {
        campus,
        handle,
        recordings: spool && {
          frontAddress: serving.ipv4,
          frontSshPort: serving.sshPort,
          frontHostKey: serving.hostKey,
          transferKey: transferKeys.get(handle)!,
          spool,
        },
        externalTurn,
        monitorAddresses: monitors(args.front, args.standbyFront),
        frontAddresses: args.standbyFront ? [args.front.ipv4, args.standbyFront.ipv4] : [],
      },
      { parent },
    ),
  }));
  const registration = new NodeRegistration(
    `${campus.config.id}-registration`,
    {
      front: serving,
      namedAfter: front.hostName,
      nodes: nodes.map(({ handle, node }) => ({ node, loadMultiplier: handle.host.loadMultiplier, tag: handle.host.tag, state: handle.host.scaleliteState })),
    },
    { parent },
  );

  // Each node leaves the stack only once it is empty (NodeRetirement).
  for (const { handle, node } of nodes)
    new NodeRetirement(`${handle.host.name}-retirement`, { front: serving, namedAfter: front.hostName, node, hostName: handle.host.name }, { parent });

  const campusMonitoring =
    monitoring.enabled &&
    new CampusMonitoring(
      `${campus.config.id}-monitoring`,
      {
        campus,
        smtpPassword: args.smtpPassword,
        grafanaAdminPassword: args.grafanaAdminPassword,
        hosts: [
          { fqdn: front.fqdn, ipv4: front.ipv4, role: "front" as const, steps: front.steps, after: [front.firewall] },
          ...(standbyFront
            ? [{ fqdn: standbyFront.fqdn, ipv4: standbyFront.ipv4, role: "standby" as const, steps: standbyFront.steps, after: [standbyFront.firewall] }]
            : []),
          ...nodes.map(({ handle, node }) => ({ fqdn: handle.host.fqdn, ipv4: handle.ipv4, role: "node" as const, steps: node.steps, after: [node.firewall] })),
        ],
      },
      { parent },
    );

  if (campus.config.backup?.enabled) new FrontBackup(`${campus.config.id}-backup`, { campus, backup: campus.config.backup, front, standbyFront }, { parent });

  if (moodle?.ssh) {
    new MoodleIntegration(
      `${campus.config.id}-moodle`,
      { moodle, sshUser: moodle.ssh.user, connection: args.moodleConnection!, front, dependsOn: [registration.sync] },
      { parent },
    );
  }

  const frontSsh = `ssh ${args.front.sshUser}@${front.fqdn}`;
  return {
    frontUrl: front.url,
    moodleServerUrl: moodleServerUrl(front.fqdn),
    moodleSharedSecret: front.loadBalancerSecret,
    // hostKey: ops reaches the nodes by it (after a failover, to point their recordings at the new front).
    nodes: nodes.map(({ handle, node }) => ({
      name: handle.host.name,
      fqdn: node.fqdn,
      ipv4: node.ipv4,
      datacenter: node.datacenter,
      apiUrl: node.apiUrl,
      hostKey: handle.hostKey,
    })),
    nodeSecrets: pulumi.secret(pulumi.output(Object.fromEntries(nodes.map(({ node }) => [node.fqdn, node.sharedSecret])))),
    statusCommands: [
      `npm run ops -- status ${pulumi.getStack()}`,
      `${frontSsh} ${sudoFor(args.front.sshUser)}docker exec scalelite-api bin/rake status`,
      `${frontSsh} ${sudoFor(args.front.sshUser)}systemctl status scalelite.target`,
      ...nodes.map(({ handle }) => `ssh ${handle.sshUser}@${handle.host.fqdn} ${sudoFor(handle.sshUser)}bbb-conf --status`),
    ],
    // Only with Grafana: an undefined output is a runtime warning on every run.
    ...(campusMonitoring && campusMonitoring.grafanaAdminPassword ? { grafanaAdminPassword: campusMonitoring.grafanaAdminPassword } : {}),
  };
}
