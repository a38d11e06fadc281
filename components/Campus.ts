import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as tls from "@pulumi/tls";
import type { Campus as CampusModel, HostRole, ResolvedHost } from "./config/campus";
import { HostRecords } from "./dns/HostRecords";
import { hasIpv6 } from "./hosts/ipv6";
import type { FrontHandle, HostHandle, NodeHandle } from "./hosts/HostHandle";
import { DedicatedHost } from "./hosts/DedicatedHost";
import { ExistingHost } from "./hosts/ExistingHost";
import { PublicCloudHost } from "./hosts/PublicCloudHost";
import { sshConnection } from "./hosts/connection";
import { recordHostKey } from "./hosts/hostKeys";
import { buildPlatform, type PlatformOutputs } from "./platform";
import { frontSshRule, monitoringRules, peerFrontRules, POSTGRES_PORT } from "./security/firewallPolicy";
import { sshPortOf } from "./hosts/sshPort";
import type { RollingNodes } from "./hosts/rollingNode";

export interface CampusSecrets {
  /**
   * bbb-ovh:sshPrivateKey, the key existing hosts already trust, with its public half (derived by
   * components/hosts/deployKey.ts when the config was validated); without it a deploy key is generated here.
   */
  operatorKey?: { privateKey: pulumi.Output<string>; publicKey: string };
  turnSecret?: pulumi.Output<string>;
  dnsCredentials?: pulumi.Output<Record<string, string>>;
  /** The key the Moodle host already trusts (campus.moodle.ssh): a deploy key made here would not be. */
  moodleSshPrivateKey?: pulumi.Output<string>;
  /** bbb-ovh:smtpPassword (campus.monitoring.smtp.username). */
  smtpPassword?: pulumi.Output<string>;
  /** bbb-ovh:grafanaAdminPassword (campus.monitoring.grafana); generated when not given. */
  grafanaAdminPassword?: pulumi.Output<string>;
}

/**
 * One campus: its hosts of whatever kind, their DNS records, then the BigBlueButton / Scalelite /
 * Moodle platform on top. Nodes are created independently of each other so they come up in parallel.
 */
export class Campus extends pulumi.ComponentResource {
  readonly front: FrontHandle;
  /** The standby front (campus.standbyFront), in another site. */
  readonly standbyFront?: FrontHandle;
  readonly nodes: NodeHandle[];
  readonly deployPublicKey: pulumi.Output<string>;
  readonly sshPrivateKey: pulumi.Output<string>;
  readonly platform: PlatformOutputs;

  /** args.rolling: the node `ops upgrade` changes in this run (ROLLING_ENV, hosts/rollingNode.ts). */
  constructor(name: string, args: { campus: CampusModel; secrets: CampusSecrets; rolling?: RollingNodes }, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:campus:Campus", name, {}, opts);
    const { campus, secrets } = args;

    if (secrets.operatorKey) {
      this.sshPrivateKey = secrets.operatorKey.privateKey;
      this.deployPublicKey = pulumi.output(secrets.operatorKey.publicKey);
    } else {
      const deployKey = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: "ED25519" }, { parent: this });
      this.sshPrivateKey = pulumi.secret(deployKey.privateKeyOpenssh);
      this.deployPublicKey = deployKey.publicKeyOpenssh.apply((k) => k.trim());
    }
    const deployKey = { privateKey: this.sshPrivateKey, publicKey: this.deployPublicKey };

    const needsCloud = [campus.front, ...(campus.standbyFront ? [campus.standbyFront] : []), ...campus.nodes].some((h) => h.config.kind === "publicCloud");
    const cloudProvider =
      needsCloud && campus.config.publicCloud
        ? new openstack.Provider(
            `${name}-openstack`,
            { authUrl: campus.config.publicCloud.authUrl, tenantId: campus.config.publicCloud.projectId, userDomainName: campus.config.publicCloud.userDomain },
            { parent: this },
          )
        : undefined;

    const makeHost = <R extends HostRole>(
      host: ResolvedHost & { role: R },
      nodeAddresses?: pulumi.Input<string>[],
      standbyAddresses?: pulumi.Input<string>[],
    ): HostHandle<R> => {
      switch (host.kind) {
        case "dedicated":
          return new DedicatedHost(host.name, { campus, host, deployKey, nodeAddresses, standbyAddresses }, { parent: this });
        case "publicCloud":
          return new PublicCloudHost(
            host.name,
            {
              campus,
              host,
              deployKey,
              provider: cloudProvider!,
              nodeAddresses,
              standbyAddresses,
              reimage: args.rolling?.reimage === host.name,
              resize: args.rolling?.resize === host.name,
            },
            { parent: this },
          );
        case "existing":
          return new ExistingHost(host.name, { host, privateKey: this.sshPrivateKey }, { parent: this });
      }
    };
    this.nodes = campus.nodes.map((n) => makeHost(n));
    // The standby opens the connections between the fronts while the front serves (it streams the database
    // and pulls the recordings), so it is made first and the front admits it: no cycle between the two.
    const nodeAddresses = campus.config.recordings ? this.nodes.map((n) => n.ipv4) : [];
    this.standbyFront = campus.standbyFront && makeHost(campus.standbyFront, nodeAddresses);
    this.front = makeHost(campus.front, nodeAddresses, this.standbyFront ? [this.standbyFront.ipv4] : []);

    // The fronts' Prometheus scrape every host (campus.monitoring): security groups admit them on the scrape
    // ports, as rules of their own made once the fronts exist. The Edge Network Firewall of dedicated servers
    // filters only traffic from outside OVHcloud (docs/firewall.md), so fronts at OVH pass it.
    if (campus.config.monitoring.enabled) {
      const fronts = [this.front, ...(this.standbyFront ? [this.standbyFront] : [])];
      for (const target of [...fronts, ...this.nodes]) {
        if (!(target instanceof PublicCloudHost)) continue;
        fronts
          .filter((watcher) => watcher !== target)
          .forEach((watcher, i) => {
            for (const rule of monitoringRules(target.host.role, pulumi.interpolate`${watcher.ipv4}/32`))
              target.admit(`${target.host.name}-monitoring-${i}-${rule.portMin}`, rule);
          });
      }
    }

    // Once a failback has made the front the standby, it streams the standby front's database and pulls its
    // recordings (scripts/scalelite-recordings-pull.sh): the standby's security group admits the front, with
    // rules made once both exist (the standby is made first); the edge firewall lets a front at OVH through.
    if (this.standbyFront instanceof PublicCloudHost) {
      for (const rule of peerFrontRules(pulumi.interpolate`${this.front.ipv4}/32`, sshPortOf(this.standbyFront.host), campus.config.recordings)) {
        this.standbyFront.admit(`${this.standbyFront.host.name}-from-front-${rule.portMin === POSTGRES_PORT ? "postgres" : "copy"}-${rule.portMin}`, rule);
      }
    }

    // With a standby front the pool's timer runs on both fronts and reaches the nodes over SSH (a node woken after
    // a failover is pointed at the front that serves): a Public Cloud node's security group admits both.
    if (this.standbyFront) {
      const fronts = [this.front, this.standbyFront];
      for (const node of this.nodes) {
        if (!(node instanceof PublicCloudHost)) continue;
        fronts.forEach((front, i) =>
          node.admit(`${node.host.name}-from-front-${i}-ssh`, frontSshRule(pulumi.interpolate`${front.ipv4}/32`, sshPortOf(node.host))),
        );
      }
    }

    // While the standby front serves (campus.servingFront), the front's name points at it, as ops failover left it.
    const servedBy =
      campus.config.servingFront === "standbyFront" && this.standbyFront
        ? { handle: this.standbyFront, withIpv6: hasIpv6(this.standbyFront.host.config) }
        : undefined;
    // With a standby front, the front's records move only once the standby's front-role agrees with
    // campus.servingFront (its scaleliteFrontServes step, made with the platform below).
    let servesChecked: (checks: pulumi.Resource[]) => void = () => undefined;
    const servesCheck = new Promise<pulumi.Resource[]>((resolve) => (servesChecked = resolve));
    for (const handle of [this.front, ...(this.standbyFront ? [this.standbyFront] : []), ...this.nodes]) {
      const front = handle === this.front;
      const records = new HostRecords(
        `${handle.host.name}-dns`,
        {
          campus,
          handle,
          withIpv6: hasIpv6(handle.host.config),
          servedBy: front ? servedBy : undefined,
          after: front && this.standbyFront ? servesCheck : undefined,
        },
        { parent: this },
      );
      handle.ready.push(...records.records);
    }

    // The Moodle host receives LOADBALANCER_SECRET: its host key is pinned when the stack gives it
    // (moodle.ssh.hostKey), and only otherwise recorded on first contact (trust on first use).
    const moodleSsh = campus.config.moodle?.ssh;
    if (moodleSsh && !secrets.moodleSshPrivateKey) throw new Error("campus.moodle.ssh needs bbb-ovh:moodleSshPrivateKey");
    const moodleLogin = moodleSsh && { host: moodleSsh.host, user: moodleSsh.user, port: moodleSsh.port, privateKey: secrets.moodleSshPrivateKey! };
    const moodleConnection =
      moodleLogin && sshConnection({ ...moodleLogin, hostKey: moodleSsh.hostKey ?? recordHostKey(`${name}-moodle`, moodleLogin, { parent: this }) });
    this.platform = buildPlatform({
      campus,
      front: this.front,
      standbyFront: this.standbyFront,
      nodes: this.nodes,
      moodleConnection,
      turnSecret: secrets.turnSecret,
      dnsCredentials: secrets.dnsCredentials,
      smtpPassword: secrets.smtpPassword,
      grafanaAdminPassword: secrets.grafanaAdminPassword,
      onServesCheck: (check) => servesChecked([check]),
      parent: this,
    });
    servesChecked([]);
    this.registerOutputs({});
  }
}
