import type { HostConfig } from "../config/schema";

/**
 * Whether a host has a public IPv6 the stack knows: Public Cloud instances get one, an existing host when its
 * config gives it; OVH dedicated servers have none here. Its AAAA record (components/dns/HostRecords.ts) and the
 * fronts' IPv6 outputs, which ops failover points the front's AAAA at, follow it.
 */
export function hasIpv6(config: HostConfig): boolean {
  return config.kind === "publicCloud" || (config.kind === "existing" && !!config.ipv6);
}
