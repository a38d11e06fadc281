import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import type { Campus } from "../config/campus";
import type { HostHandle } from "../hosts/HostHandle";

/**
 * A (and AAAA when the address is known at plan time) records in the campus's OVH zone for a host.
 * Let's Encrypt and the preflight's DNS check need them before anything is installed.
 */
export class HostRecords extends pulumi.ComponentResource {
  readonly records: ovh.domain.ZoneRecord[];

  constructor(name: string, args: { campus: Campus; handle: HostHandle; withIpv6: boolean }, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:dns:HostRecords", name, {}, opts);
    const { zone, ttl } = args.campus.config.dns;
    const record = (fieldtype: "A" | "AAAA", target: pulumi.Input<string>) =>
      new ovh.domain.ZoneRecord(
        `${name}-${fieldtype.toLowerCase()}`,
        { zone, subdomain: args.handle.host.subdomain, fieldtype, target, ttl },
        { parent: this },
      );
    this.records = [record("A", args.handle.ipv4)];
    if (args.withIpv6) this.records.push(record("AAAA", args.handle.ipv6));
    this.registerOutputs({});
  }
}
