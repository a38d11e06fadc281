import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import type { Campus } from "../config/campus";
import type { HostHandle } from "../hosts/HostHandle";
import { parkedSubDomain } from "./parkedSubDomain";

/**
 * A (and AAAA when the address is known at plan time) records in the campus's OVH zone for a host.
 * Let's Encrypt and the preflight's DNS check need them before anything is installed.
 *
 * `servedBy`: the front's name while the standby front serves it (campus.servingFront): the same records, as
 * `ops failover` left them (a PUT keeps each record's id): A to the standby's IPv4, AAAA to its IPv6 or, when
 * it has none, parked under another name with the front's IPv6. So the state says what the zone holds, and a
 * `pulumi refresh` then `pulumi up` does not point the name back at the front.
 */
export class HostRecords extends pulumi.ComponentResource {
  readonly records: ovh.domain.ZoneRecord[];

  constructor(
    name: string,
    args: {
      campus: Campus;
      handle: HostHandle;
      withIpv6: boolean;
      servedBy?: { handle: HostHandle; withIpv6: boolean };
      /** What the records wait for (the front's: the standby's scaleliteFrontServes check). */
      after?: pulumi.Input<pulumi.Resource[]>;
    },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("bbb-ovh:dns:HostRecords", name, {}, opts);
    const { zone, ttl } = args.campus.config.dns;
    const subdomain = args.handle.host.subdomain;
    const record = (fieldtype: "A" | "AAAA", target: pulumi.Input<string>, at = subdomain) =>
      new ovh.domain.ZoneRecord(`${name}-${fieldtype.toLowerCase()}`, { zone, subdomain: at, fieldtype, target, ttl }, { parent: this, dependsOn: args.after });
    const served = args.servedBy;
    this.records = [record("A", served ? served.handle.ipv4 : args.handle.ipv4)];
    if (args.withIpv6) {
      if (!served) this.records.push(record("AAAA", args.handle.ipv6));
      else if (served.withIpv6) this.records.push(record("AAAA", served.handle.ipv6));
      else this.records.push(record("AAAA", args.handle.ipv6, parkedSubDomain(subdomain)));
    }
    this.registerOutputs({});
  }
}
