import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { Campus, HostRole, ResolvedHostOf } from "../config/campus";
import { BBB_LINES } from "../config/presets";
import { cloudPolicy, hostPolicyInput, type IngressRule } from "../security/firewallPolicy";
import { sshPortOf } from "./sshPort";
import type { HostHandle } from "./HostHandle";
import { renderCloudInit } from "./cloudInit";
import { sshConnection } from "./connection";
import { generatedHostKey } from "./hostKeys";
import { nodeImageOf } from "./nodeImage";

export interface PublicCloudHostArgs<R extends HostRole = HostRole> {
  campus: Campus;
  host: ResolvedHostOf<"publicCloud", R>;
  provider: openstack.Provider;
  deployKey: { privateKey: pulumi.Input<string>; publicKey: pulumi.Input<string> };
  /** Front only: the nodes' IPv4 addresses, allowed to SSH in (they push recordings by rsync over SSH). */
  nodeAddresses?: pulumi.Input<string>[];
  /** Front only: the standby front's IPv4 (campus.standbyFront), admitted for replication and the recordings copy. */
  standbyAddresses?: pulumi.Input<string>[];
  /** This run replaces the node from the newest node image (ROLLING_ENV.reimage): its image, user data and flavor are not ignored, nor is it protected. */
  reimage?: boolean;
  /** This run gives the node the stack's flavor (ROLLING_ENV.resize). */
  resize?: boolean;
}

/** What a running instance does not follow (see the instance's options below). */
export function ignoredChanges(role: HostRole, rolling: { reimage?: boolean; resize?: boolean }): string[] {
  if (rolling.reimage) return ["powerState"];
  const held = role === "node" && !rolling.resize ? ["flavorName"] : [];
  return ["imageName", "imageId", "userData", ...held, "powerState"];
}

/**
 * A Public Cloud instance on OVH's OpenStack (the `ovh.cloudproject.Instance` Beta API has broken
 * users): our own security group instead of the project's allow-all `default`, the public Ext-Net
 * network, and a host key generated here and installed by cloud-init, so SSH is pinned from the start.
 */
export class PublicCloudHost<R extends HostRole = HostRole> extends pulumi.ComponentResource implements HostHandle<R> {
  readonly host: ResolvedHostOf<"publicCloud", R>;
  readonly instance: openstack.compute.Instance;
  readonly securityGroup: openstack.networking.SecGroup;
  readonly ipv4: pulumi.Output<string>;
  readonly ipv6: pulumi.Output<string>;
  readonly connection: HostHandle["connection"];
  readonly hostKey: pulumi.Output<string>;
  readonly sshUser = "ubuntu";
  readonly ready: pulumi.Resource[];
  private readonly region: string;
  private readonly provider: openstack.Provider;

  constructor(name: string, args: PublicCloudHostArgs<R>, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:hosts:PublicCloudHost", name, {}, opts);
    const { campus, host, provider } = args;
    this.host = host;
    const region = host.config.region;
    const childOpts = { parent: this, provider };
    const allowTermination = campus.config.protection.allowTermination;

    this.securityGroup = new openstack.networking.SecGroup(
      `${name}-sg`,
      { name: `${campus.config.id}-${host.name}`, description: `bbb-ovh ${host.role} ${host.fqdn}`, region, deleteDefaultRules: false },
      childOpts,
    );
    // The same policy as the host's own nftables table (components/security/firewallPolicy.ts).
    const named = cloudPolicy(hostPolicyInput(campus, host), {
      nodes: (args.nodeAddresses ?? []).map((address) => pulumi.interpolate`${address}/32`),
      standbys: (args.standbyAddresses ?? []).map((address) => pulumi.interpolate`${address}/32`),
    });
    this.region = region;
    this.provider = provider;
    for (const { name: ruleId, rule } of named) this.admit(`${name}-${ruleId}`, rule);

    const keypair = new openstack.compute.Keypair(
      `${name}-deploy-key`,
      { name: `${campus.config.id}-${host.name}-deploy`, publicKey: args.deployKey.publicKey, region },
      childOpts,
    );
    const hostKey = generatedHostKey(name, this);
    const userData = pulumi.secret(
      pulumi
        .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
        .apply(([privateOpenssh, publicOpenssh]) =>
          renderCloudInit({ hostname: host.name, fqdn: host.fqdn, authorizedKeys: campus.config.sshPublicKeys, hostKey: { privateOpenssh, publicOpenssh } }),
        ),
    );
    // A node boots from the campus's node image when there is one: the most recent match in its region.
    const nodeImage = nodeImageOf(campus, host);
    const image = nodeImage
      ? { imageId: openstack.images.getImageOutput({ nameRegex: nodeImage.nameRegex, mostRecent: true, region }, { parent: this, provider }).id }
      : { imageName: host.config.image ?? BBB_LINES[campus.config.bbbVersion].image };
    this.instance = new openstack.compute.Instance(
      name,
      {
        name: host.fqdn,
        region,
        flavorName: host.config.flavor,
        ...image,
        keyPair: keypair.name,
        securityGroups: [this.securityGroup.name],
        networks: [{ name: "Ext-Net" }],
        userData,
        metadata: { campus: campus.config.id, role: host.role },
      },
      // A node ignores a new image, user data or flavor (OpenStack replaces or resizes, and so reboots, the
      // instance: for a newer node image or flavor, every node at once); `ops upgrade` rolls them one node at
      // a time (hosts/rollingNode.ts lifts them for its node). The front ignores image and user data only: a
      // new flavor for it is one planned outage whenever it runs. powerState is `ops schedule`/`ops scale`'s:
      // the provider reads a shelved node back as shelved_offloaded and its default is "active"
      // (terraform-provider-openstack, compute_instance_v2's power_state), so `pulumi up --refresh` would
      // otherwise unshelve, and bill, every sleeping node.
      { ...childOpts, protect: !allowTermination && !args.reimage, ignoreChanges: ignoredChanges(host.role, args) },
    );
    this.ipv4 = this.instance.accessIpV4;
    this.ipv6 = this.instance.accessIpV6.apply((v) => (v ?? "").replace(/^\[|\]$/g, ""));
    this.hostKey = hostKey.publicKeyOpenssh.apply((k) => k.trim());
    this.connection = sshConnection({
      host: this.ipv4,
      user: this.sshUser,
      port: sshPortOf(host),
      privateKey: args.deployKey.privateKey,
      hostKey: this.hostKey,
    });
    this.ready = [this.instance];
    this.registerOutputs({ ipv4: this.ipv4, ipv6: this.ipv6 });
  }

  /**
   * One more ingress rule in this instance's security group, as a resource of its own: rules whose
   * source is known only once other hosts exist (the fronts' Prometheus, campus.monitoring) are added
   * after them, without making the instance wait.
   */
  admit(resourceName: string, rule: IngressRule<pulumi.Input<string>>): openstack.networking.SecGroupRule {
    return new openstack.networking.SecGroupRule(
      resourceName,
      {
        description: rule.description,
        direction: "ingress",
        ethertype: rule.ethertype,
        protocol: rule.protocol,
        portRangeMin: rule.portMin,
        portRangeMax: rule.portMax,
        remoteIpPrefix: rule.cidr,
        securityGroupId: this.securityGroup.id,
        region: this.region,
      },
      { parent: this, provider: this.provider },
    );
  }
}
