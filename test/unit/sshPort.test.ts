import { describe, expect, it } from "vitest";
import { parseCampus, type Campus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { campusSshPorts, sshPortOf } from "../../components/hosts/sshPort";
import { renderTransferSshConfig } from "../../components/scalelite/renderRecordingTransfer";
import {
  cloudPolicy,
  edgeFirewallRules,
  firewallPolicy,
  hostFirewallInputs,
  hostPolicyInput,
  renderNftRuleset,
  type IngressRule,
} from "../../components/security/firewallPolicy";

const SECRETS = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true, backupS3Credentials: true };

/** A stack file's campus, validated, after an edit of its raw config. */
function campusOf(stack: string, edit: (raw: Record<string, any>) => void = () => {}): Campus {
  const raw = structuredClone(readStackFile(stack).config["bbb-ovh:campus"].value) as Record<string, any>;
  edit(raw);
  return parseCampus(raw, SECRETS);
}

// The lab's hosts are all existing: its front and nodes moved to another SSH port.
const lab2222 = () =>
  campusOf("lab", (raw) => {
    raw.front.sshPort = 2222;
    for (const node of raw.nodes) node.sshPort = 2222;
  });
const sshRules = (policy: readonly IngressRule<unknown>[]) => policy.filter((r) => r.description.startsWith("ssh"));

describe("the SSH port of each host has one owner (components/hosts/sshPort.ts)", () => {
  it("existing hosts: their sshPort; hosts we order: 22", () => {
    expect(campusSshPorts(lab2222())).toEqual({ front: 2222, nodes: { "lab-bbb1": 2222, "lab-bbb2": 2222 } });
    expect(campusSshPorts(campusOf("lab"))).toEqual({ front: 22, nodes: { "lab-bbb1": 22, "lab-bbb2": 22 } });
    const brest = campusOf("brest");
    expect([brest.front, ...brest.nodes].map((h) => `${h.config.kind} ${sshPortOf(h)}`)).toEqual(["dedicated 22", "dedicated 22", "dedicated 22"]);
  });

  it("a campus on sshPort 2222: host firewall, security group and edge firewall open 2222, never 22", () => {
    const campus = lab2222();
    for (const host of [campus.front, ...campus.nodes]) {
      const input = { ...hostPolicyInput(campus, host), ...(host.role === "front" ? { nodeAddresses: ["198.51.100.11"] } : {}) };
      const policy = firewallPolicy(input);
      expect(sshRules(policy).length, host.name).toBeGreaterThan(0);
      expect(sshRules(policy).every((r) => r.portMin === 2222 && r.portMax === 2222)).toBe(true);
      expect(policy.filter((r) => r.portMin <= 22 && 22 <= r.portMax)).toEqual([]);

      const ruleset = renderNftRuleset(policy, host.name);
      expect(ruleset).toContain('ip saddr 10.20.0.0/16 tcp dport 2222 accept comment "ssh from admins"');
      expect(ruleset).not.toMatch(/dport 22 /);
      expect(hostFirewallInputs(input, host.fqdn)).toMatchObject({ SSH_PORT: "2222", SSH_SOURCES: expect.stringContaining("10.20.0.0/16") });

      // The security group takes the policy's rules as they are (portRangeMin/Max), with later addresses.
      const group = cloudPolicy(hostPolicyInput(campus, host), { nodes: ["198.51.100.12/32"], standbys: ["203.0.113.9/32"] });
      const groupSsh = group.filter(({ rule }) => rule.description.startsWith("ssh"));
      expect(groupSsh.map(({ rule }) => `${rule.portMin}-${rule.portMax}`)).toEqual(groupSsh.map(() => "2222-2222"));
      expect(groupSsh.map(({ name }) => name)).toEqual(expect.arrayContaining(["tcp-2222-10_20_0_0_16", "ssh-node-0"]));

      const edge = edgeFirewallRules(
        group.map(({ rule }) => rule),
        sshPortOf(host),
      );
      expect(edge.filter((r) => r.source === "10.20.0.0/16" || r.source === "198.51.100.12/32").map((r) => r.destinationPort)).toEqual([2222, 2222]);
      expect(edge.filter((r) => r.destinationPort === 22)).toEqual([]);
    }
  });

  it("the recording transfer reaches a front on 2222 on 2222", () => {
    const campus = lab2222();
    const config = renderTransferSshConfig({ address: "198.51.100.10", port: sshPortOf(campus.front) });
    expect(config).toContain("  HostName 198.51.100.10\n  Port 2222\n");
  });
});
