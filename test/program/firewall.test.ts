import { describe, expect, it } from "vitest";
import { byType, evaluateStack, parentOf } from "../support/evaluateStack";
import { plannedIpv4 } from "../../cli/plan/mockCloud";

const EDGE_RULE = "ovh:Ip/firewallRule:FirewallRule";
const EDGE_FIREWALL = "ovh:Ip/firewall:Firewall";
const COMMAND = "command:remote:Command";
const decodeStdin = (stdin: unknown) =>
  Object.fromEntries(
    String(stdin)
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

describe("the firewall policy in the campus program", () => {
  it("brest: every standard-range dedicated server's IPv4 gets the edge firewall, enabled, deny last, nothing protected", async () => {
    const { resources } = await evaluateStack("brest");
    const firewalls = byType(resources, EDGE_FIREWALL);
    // The nodes are Advance-1 (infra-1 preset), sold in the Eco range, where OVH's edge firewall may be
    // unavailable (docs/firewall.md): only the Rise-1 front gets one; the host firewall covers them all.
    expect(firewalls.map((f) => f.inputs.ipOnFirewall).sort()).toEqual(["lb-brest"].map(plannedIpv4));
    for (const firewall of firewalls) {
      expect(firewall.inputs.enabled).toBe(true);
      expect(firewall.protect).toBe(false);
      const component = parentOf(resources, firewall)!;
      const rules = byType(resources, EDGE_RULE).filter((r) => r.parent === component.urn);
      expect(rules.length).toBeLessThanOrEqual(20);
      const deny = rules.find((r) => r.inputs.action === "deny")!;
      expect(deny.inputs).toMatchObject({ sequence: 19, protocol: "ipv4" });
      // The deny waits for every permit, so established TCP and SSH are let through before anything is dropped.
      expect(rules.filter((r) => r !== deny).every((r) => deny.dependencies.includes(r.urn))).toBe(true);
      expect(rules.every((r) => !String(r.inputs.source ?? "").includes(":"))).toBe(true);
      expect(rules.filter((r) => r.inputs.destinationPort === 2049 || r.inputs.destinationPort === 111)).toEqual([]);
    }
  });

  it("every host runs the host firewall step; a node's runs after bbb-install, and the health checks wait for it", async () => {
    const { resources } = await evaluateStack("brest");
    const commands = byType(resources, COMMAND);
    const step = (host: string, name: string) => commands.find((c) => c.name === `${host}-${name}`)!;
    for (const host of ["lb-brest", "bbb-brest-sbg", "bbb-brest-rbx"]) {
      const firewall = step(host, "hostFirewall");
      expect(firewall, host).toBeDefined();
      const inputs = decodeStdin(firewall.inputs.stdin);
      const ruleset = Buffer.from(inputs.RULESET_B64, "base64").toString();
      expect(ruleset).toContain("table inet bbb_ovh {");
      expect(ruleset).not.toMatch(/dport (2049|111)\b/);
      expect(inputs.SSH_SOURCES.split(" ")).toEqual(expect.arrayContaining(["193.52.128.0/24"]));
    }
    for (const node of ["bbb-brest-sbg", "bbb-brest-rbx"]) {
      expect(step(node, "hostFirewall").dependencies).toContain(step(node, "bbbInstall").urn);
      expect(step(node, "bbbHealth").dependencies).toContain(step(node, "hostFirewall").urn);
    }
    expect(step("lb-brest", "scaleliteHealth").dependencies).toContain(step("lb-brest", "hostFirewall").urn);
    // Recordings are on in brest: the front lets the nodes in over SSH, by their addresses only.
    const front = decodeStdin(step("lb-brest", "hostFirewall").inputs.stdin);
    expect(front.SSH_SOURCES.split(" ")).toEqual(expect.arrayContaining([`${plannedIpv4("bbb-brest-sbg")}/32`, `${plannedIpv4("bbb-brest-rbx")}/32`]));
  });

  it("monitoring: each node's host firewall admits the front's Prometheus on the scrape ports only, and so does each Public Cloud security group, once the front exists", async () => {
    const brest = await evaluateStack("brest");
    const step = (host: string, name: string) => byType(brest.resources, COMMAND).find((c) => c.name === `${host}-${name}`)!;
    const frontCidr = `${plannedIpv4("lb-brest")}/32`;
    for (const node of ["bbb-brest-sbg", "bbb-brest-rbx"]) {
      const ruleset = Buffer.from(decodeStdin(step(node, "hostFirewall").inputs.stdin).RULESET_B64, "base64").toString();
      expect(ruleset.match(/.*dport (9100|9688|9090|9093|9115)\b.*/g)?.map((l) => l.trim())).toEqual([
        `ip saddr ${frontCidr} tcp dport 9100 accept comment "node_exporter scrape from a front"`,
        `ip saddr ${frontCidr} tcp dport 9688 accept comment "bigbluebutton exporter scrape from a front"`,
      ]);
      // The exporter starts once its port is admitted.
      expect(step(node, "monitoringNode").dependencies).toContain(step(node, "hostFirewall").urn);
    }
    // Without a standby nobody scrapes the front from outside: no scrape port is open there.
    expect(Buffer.from(decodeStdin(step("lb-brest", "hostFirewall").inputs.stdin).RULESET_B64, "base64").toString()).not.toMatch(/dport (9100|9090)\b/);

    const training = await evaluateStack("training");
    const groupRules = byType(training.resources, "openstack:networking/secGroupRule:SecGroupRule").filter((r) => /monitoring/.test(r.name));
    expect(groupRules.map((r) => `${r.name} ${r.inputs.portRangeMin} ${r.inputs.remoteIpPrefix}`).sort()).toEqual(
      ["bbb-training-gra", "bbb-training-sbg"].flatMap((n) => [9100, 9688].map((p) => `${n}-monitoring-0-${p} ${p} ${plannedIpv4("lb-training")}/32`)).sort(),
    );
  });
});
