/**
 * Where the front's AAAA records are parked while the front that serves has no IPv6 (a name nobody uses):
 * `ops failover` moves them there by a PUT that keeps each record's id, and a stack whose standby front serves
 * (campus.servingFront) declares them there, so that the state and the zone agree.
 */
export function parkedSubDomain(subDomain: string): string {
  return subDomain ? `bbb-ovh-parked.${subDomain}` : "bbb-ovh-parked";
}
