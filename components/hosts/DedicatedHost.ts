import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import type { Campus, HostRole, ResolvedHostOf } from "../config/campus";
import { BBB_LINES } from "../config/presets";
import { EdgeFirewall } from "../security/EdgeFirewall";
import { behindEdgeFirewall, cloudPolicy, hostPolicyInput } from "../security/firewallPolicy";
import { sshPortOf } from "./sshPort";
import type { HostHandle } from "./HostHandle";
import { sshConnection } from "./connection";
import { generatedHostKey, recordHostKey } from "./hostKeys";
import { encodePostInstallScript } from "./postInstall";

export interface DedicatedHostArgs<R extends HostRole = HostRole> {
  campus: Campus;
  host: ResolvedHostOf<"dedicated", R>;
  deployKey: { privateKey: pulumi.Input<string>; publicKey: pulumi.Input<string> };
  /** Front only: the nodes' IPv4 addresses, allowed to SSH in (they push recordings by rsync over SSH). */
  nodeAddresses?: pulumi.Input<string>[];
  /** Front only: the standby front's IPv4 (campus.standbyFront), admitted for replication and the recordings copy. */
  standbyAddresses?: pulumi.Input<string>[];
}

/** The OVH dedicated-server order (or adoption) inputs for a host; pure. */
export function dedicatedServerInputs(campus: Campus, host: ResolvedHostOf<"dedicated">) {
  const cfg = host.config;
  const preset = host.preset;
  const planCode = cfg.planCode ?? preset?.planCode;
  const order = cfg.serviceName
    ? {}
    : {
        ovhSubsidiary: cfg.subsidiary,
        range: preset?.range ?? "standard",
        plans: [
          {
            planCode: planCode as string,
            duration: "P1M",
            pricingMode: "default",
            configurations: [
              { label: "dedicated_datacenter", value: cfg.datacenter },
              { label: "dedicated_os", value: "none_64.en" },
              { label: "region", value: regionOf(cfg.subsidiary) },
            ],
          },
        ],
        planOptions: (preset?.planOptions ?? []).map((option) => ({ planCode: option, duration: "P1M", pricingMode: "default", quantity: 1 })),
      };
  return {
    ...order,
    serviceName: cfg.serviceName,
    displayName: `${campus.config.id} ${host.role} ${host.name}`,
    os: BBB_LINES[campus.config.bbbVersion].ovhOs,
    installOs: cfg.serviceName ? cfg.installOs === true : true,
  };
}

function regionOf(subsidiary: string): string {
  if (["CA", "QC", "WE", "WS"].includes(subsidiary)) return "canada";
  if (["US"].includes(subsidiary)) return "united_states";
  if (["ASIA", "AU", "SG", "IN"].includes(subsidiary)) return "apac";
  return "europe";
}

/**
 * An OVH dedicated server, ordered by plan code or adopted by service name, with Ubuntu installed,
 * our deploy key, the admins' keys and a host key generated here. Paid and slow to get back: it is
 * protected and `keepServiceAfterDestroy` unless the stack sets protection.allowTermination.
 */
export class DedicatedHost<R extends HostRole = HostRole> extends pulumi.ComponentResource implements HostHandle<R> {
  readonly host: ResolvedHostOf<"dedicated", R>;
  readonly server: ovh.dedicated.Server;
  readonly ipv4: pulumi.Output<string>;
  readonly ipv6: pulumi.Output<string>;
  readonly connection: HostHandle["connection"];
  readonly hostKey: pulumi.Output<string>;
  /** ubuntu after an install; the configured sshUser on a server adopted as it is. */
  readonly sshUser: string;
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: DedicatedHostArgs<R>, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:hosts:DedicatedHost", name, {}, opts);
    const { campus, host } = args;
    this.host = host;
    const { installOs, ...inputs } = dedicatedServerInputs(campus, host);
    const allowTermination = campus.config.protection.allowTermination;
    // Installed servers get a host key generated here, so SSH is pinned from the first connection; the
    // post-installation script makes it survive cloud-init's first boot (which deletes host keys) with a
    // cloud.cfg.d drop-in, whether OVH runs the script before or after that boot. Chosen over recording
    // the key on first contact because that first contact would be unpinned (docs/hosts.md).
    const hostKey = installOs ? generatedHostKey(name, this) : undefined;
    // Adopted as it is, nothing installs the deploy key: the schema requires the operator's key and user.
    this.sshUser = installOs ? "ubuntu" : (host.config.sshUser ?? "ubuntu");

    this.server = new ovh.dedicated.Server(
      name,
      {
        ...inputs,
        keepServiceAfterDestroy: !allowTermination,
        preventInstallOnCreate: !installOs,
        preventInstallOnImport: !installOs,
        customizations: installOs
          ? {
              hostname: host.fqdn,
              sshKey: args.deployKey.publicKey,
              postInstallationScript: pulumi.secret(
                pulumi
                  .all([hostKey!.privateKeyOpenssh, hostKey!.publicKeyOpenssh])
                  .apply(([privateOpenssh, publicOpenssh]) =>
                    encodePostInstallScript({ hostKey: { privateOpenssh, publicOpenssh }, adminKeys: campus.config.sshPublicKeys }),
                  ),
              ),
            }
          : undefined,
      },
      // A change of OS or customizations (a new admin key, an edited post-install script) would make the
      // provider reinstall the server, wiping lessons' recordings: that must be a deliberate act, not a diff.
      { parent: this, protect: !allowTermination, ignoreChanges: ["os", "customizations"] },
    );
    this.ipv4 = this.server.ip;
    // The provider exposes no IPv6 output for dedicated servers: no AAAA record is made for them.
    this.ipv6 = pulumi.output("");
    const sshPort = sshPortOf(host);
    const login = { host: this.ipv4, user: this.sshUser, port: sshPort, privateKey: args.deployKey.privateKey };
    // Adopted as it is: the key the stack pins (hostKey), else the one recorded on first contact.
    const pinned = host.config.hostKey;
    this.hostKey = hostKey
      ? hostKey.publicKeyOpenssh.apply((k) => k.trim())
      : pinned
        ? pulumi.output(pinned)
        : recordHostKey(name, login, { parent: this, dependsOn: [this.server] });
    this.connection = sshConnection({ ...login, hostKey: this.hostKey });
    this.ready = [this.server];
    // The campus firewall policy on OVH's Edge Network Firewall, which OVH may not offer on Eco servers.
    if (behindEdgeFirewall(host)) {
      const policy = cloudPolicy(hostPolicyInput(campus, host), {
        nodes: (args.nodeAddresses ?? []).map((address) => pulumi.interpolate`${address}/32`),
        standbys: (args.standbyAddresses ?? []).map((address) => pulumi.interpolate`${address}/32`),
      }).map(({ rule }) => rule);
      new EdgeFirewall(`${name}-edge-firewall`, { ipv4: this.ipv4, policy, sshPort }, { parent: this });
    }
    this.registerOutputs({ ipv4: this.ipv4, serviceName: this.server.serviceName });
  }
}
