import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import { edgeFirewallRules, type IngressRule } from "./firewallPolicy";

export interface EdgeFirewallArgs {
  /** The server's public IPv4 (the Edge Network Firewall is IPv4 only). */
  ipv4: pulumi.Input<string>;
  /** The host's policy (firewallPolicy, plus nodeSshRule for addresses known later). */
  policy: IngressRule<pulumi.Input<string>>[];
  /** The port the server's sshd listens on (sshPortOf): the rules that admit SSH open it. */
  sshPort: number;
}

/**
 * The host's policy, as far as OVH's Edge Network Firewall can express it, on a dedicated server's
 * IPv4 (edgeFirewallRules says what it can express). Nothing here is paid or holds data: deleting it
 * only removes a filter, so nothing is protected. A rule cannot be edited in place (the API has no
 * update for rules), so a changed rule is deleted before its replacement takes the same sequence.
 */
export class EdgeFirewall extends pulumi.ComponentResource {
  readonly firewall: ovh.ip.Firewall;

  constructor(name: string, args: EdgeFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:security:EdgeFirewall", name, {}, opts);
    const ip = pulumi.interpolate`${args.ipv4}/32`;
    this.firewall = new ovh.ip.Firewall(name, { ip, ipOnFirewall: args.ipv4, enabled: true }, { parent: this });
    const rules = edgeFirewallRules(args.policy, args.sshPort);
    const make = (rule: (typeof rules)[number], dependsOn: pulumi.Resource[]) =>
      new ovh.ip.FirewallRule(`${name}-${rule.sequence}`, { ip, ipOnFirewall: args.ipv4, ...rule }, { parent: this, dependsOn, deleteBeforeReplace: true });
    // The final deny goes in last, so the permits (established TCP, SSH) are there before anything is dropped.
    const permits = rules.filter((r) => r.action === "permit").map((rule) => make(rule, [this.firewall]));
    for (const rule of rules.filter((r) => r.action === "deny")) make(rule, [this.firewall, ...permits]);
    this.registerOutputs({});
  }
}
