/**
 * The fronts' IPv6 outputs `ops failover` / `ops failback` read (cli/ops/stackSource.ts) to point the front's
 * AAAA records: exported exactly for the fronts that get an AAAA record (components/dns/HostRecords.ts), none
 * for a dedicated server, whose IPv6 the stack does not know.
 */
import { describe, expect, it } from "vitest";
import { isSecretValue } from "../../cli/plan/recorder";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";
import { evaluateStack } from "../support/evaluateStack";

const RECORD = "ovh:Domain/zoneRecord:ZoneRecord";
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? v.value : v);
const aaaaOf = (resources: Awaited<ReturnType<typeof evaluateStack>>["resources"], subdomain: string) =>
  resources.filter((r) => r.type === RECORD && r.inputs.fieldtype === "AAAA" && r.inputs.subdomain === subdomain).map((r) => r.inputs.target);

describe("the fronts' IPv6 outputs", () => {
  it("a Public Cloud front with a dedicated standby: frontIpv6 is its AAAA's target, no standbyIpv6", async () => {
    const { resources, outputs } = await evaluateStack("training", {}, (c) => {
      c.standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "dedicated", model: "rise-1", datacenter: "rbx" };
    });
    expect(outputs.frontIpv6).toBeDefined();
    expect(aaaaOf(resources, "visio-training")).toEqual([unwrap(outputs.frontIpv6)]);
    expect(outputs).not.toHaveProperty("standbyIpv6");
    expect(aaaaOf(resources, "visio-standby")).toEqual([]);
  });

  it("a dedicated front with an existing standby that gives its IPv6: standbyIpv6 only, that address", async () => {
    const { resources, outputs } = await evaluateStack("brest", { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("operator@test") }, (c) => {
      c.standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "existing", ipv4: "203.0.113.20", ipv6: "2001:db8::20" };
    });
    expect(outputs).not.toHaveProperty("frontIpv6");
    expect(unwrap(outputs.standbyIpv6)).toBe("2001:db8::20");
    expect(aaaaOf(resources, "visio-standby")).toEqual(["2001:db8::20"]);
  });
});
