import { describe, expect, it } from "vitest";
import { byType, evaluateStack, parentOf } from "../support/evaluateStack";
import { plannedIpv4 } from "../../cli/plan/mockCloud";
import { isSecretValue } from "../../cli/plan/recorder";

const EDGE_RULE = "ovh:Ip/firewallRule:FirewallRule";
const EDGE_FIREWALL = "ovh:Ip/firewall:Firewall";
const COMMAND = "command:remote:Command";
const unwrap = (v: unknown): any => (isSecretValue(v) ? unwrap(v.value) : v);
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
      // 9688, the exporter's own port, is closed: it listens on loopback, and nginx serves it on 9689 with TLS.
      expect(ruleset.match(/.*dport (9100|9688|9689|9090|9093|9115)\b.*/g)?.map((l) => l.trim())).toEqual([
        `ip saddr ${frontCidr} tcp dport 9100 accept comment "node_exporter scrape from a front"`,
        `ip saddr ${frontCidr} tcp dport 9689 accept comment "bigbluebutton exporter scrape from a front"`,
      ]);
      // The exporter starts once its port is admitted.
      expect(step(node, "monitoringNode").dependencies).toContain(step(node, "hostFirewall").urn);
    }
    // Without a standby nobody scrapes the front from outside: no scrape port is open there.
    expect(Buffer.from(decodeStdin(step("lb-brest", "hostFirewall").inputs.stdin).RULESET_B64, "base64").toString()).not.toMatch(/dport (9100|9090)\b/);

    const training = await evaluateStack("training");
    const groupRules = byType(training.resources, "openstack:networking/secGroupRule:SecGroupRule").filter((r) => /monitoring/.test(r.name));
    expect(groupRules.map((r) => `${r.name} ${r.inputs.portRangeMin} ${r.inputs.remoteIpPrefix}`).sort()).toEqual(
      ["bbb-training-gra", "bbb-training-sbg"].flatMap((n) => [9100, 9689].map((p) => `${n}-monitoring-0-${p} ${p} ${plannedIpv4("lb-training")}/32`)).sort(),
    );
  });
});

describe("a campus whose existing hosts listen for SSH on another port (issue 19)", () => {
  const STANDBY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9wZ0x2bGFiLWxiLWhvc3Qta2V5LWZvci1zdGFuZGJ5 lab-lb2";
  const moved = (c: Record<string, any>) => {
    c.front.sshPort = 2222;
    for (const node of c.nodes) node.sshPort = 2222;
    c.standbyFront = {
      name: "lab-lb2",
      fqdn: "visio2.lab.isen-ouest.fr",
      kind: "existing",
      ipv4: "198.51.100.20",
      sshUser: "ubuntu",
      sshPort: 2200,
      location: "annex",
      hostKey: STANDBY_KEY,
    };
  };

  it("every host's firewall, connection and SSH client use that host's port, never 22", async () => {
    const { resources } = await evaluateStack("lab", {}, moved);
    const commands = byType(resources, COMMAND);
    const step = (host: string, name: string) => commands.find((c) => c.name === `${host}-${name}`)!;
    for (const [host, port] of [
      ["lab-lb", 2222],
      ["lab-lb2", 2200],
      ["lab-bbb1", 2222],
      ["lab-bbb2", 2222],
    ] as const) {
      const firewall = step(host, "hostFirewall");
      expect(firewall, host).toBeDefined();
      const inputs = decodeStdin(firewall.inputs.stdin);
      const ruleset = Buffer.from(inputs.RULESET_B64, "base64").toString();
      expect(inputs.SSH_PORT, host).toBe(String(port));
      expect(ruleset, host).toContain(`ip saddr 10.20.0.0/16 tcp dport ${port} accept`);
      expect(ruleset, host).not.toMatch(/dport 22 /);
      expect((unwrap(firewall.inputs.connection) as { port: number }).port, host).toBe(port);
    }
    // The front admits its nodes and its standby on its own port.
    const front = Buffer.from(decodeStdin(step("lab-lb", "hostFirewall").inputs.stdin).RULESET_B64, "base64").toString();
    expect(front).toContain("ip saddr 198.51.100.11/32 tcp dport 2222 accept");
    expect(front).toContain("ip saddr 198.51.100.20/32 tcp dport 2222 accept");
    // The nodes' post_publish rsync and the standby's recordings copy dial the front's port.
    const sshConfig = (host: string, name: string) => Buffer.from(decodeStdin(unwrap(step(host, name).inputs.stdin)).SSH_CONFIG_B64, "base64").toString();
    for (const node of ["lab-bbb1", "lab-bbb2"]) expect(sshConfig(node, "bbbRecordings")).toContain("  Port 2222\n");
    expect(sshConfig("lab-lb2", "scaleliteRecordingsCopy")).toContain("  Port 2222\n");
    // The front's copy (once a failback made it the standby) dials the standby's port, which admits the front there.
    expect(sshConfig("lab-lb", "scaleliteRecordingsCopy")).toContain("  Port 2200\n");
    const standby = Buffer.from(decodeStdin(step("lab-lb2", "hostFirewall").inputs.stdin).RULESET_B64, "base64").toString();
    expect(standby).toContain("ip saddr 198.51.100.10/32 tcp dport 2200 accept");
  });
});
