import { describe, expect, it } from "vitest";
import {
  EDGE_MAX_RULES,
  edgeFirewallRules,
  firewallPolicy,
  hostPolicyInput,
  nodeSshRule,
  renderNftRuleset,
  ruleName,
  sshSources,
  type IngressRule,
} from "../../components/security/firewallPolicy";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";

const ADMINS = ["193.52.128.0/24", "2001:660:7301::/48"];
const show = (r: IngressRule) => `${r.ethertype} ${r.protocol} ${r.portMin}-${r.portMax} ${r.cidr}`;

describe("the firewall policy", () => {
  it("a node: SSH from the admins only, web, TURN on TCP and UDP, WebRTC media on UDP, both address families", () => {
    expect(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS }).map(show).sort()).toEqual(
      [
        "IPv4 tcp 22-22 193.52.128.0/24",
        "IPv6 tcp 22-22 2001:660:7301::/48",
        "IPv4 tcp 80-80 0.0.0.0/0",
        "IPv6 tcp 80-80 ::/0",
        "IPv4 tcp 443-443 0.0.0.0/0",
        "IPv6 tcp 443-443 ::/0",
        "IPv4 tcp 3478-3478 0.0.0.0/0",
        "IPv6 tcp 3478-3478 ::/0",
        "IPv4 udp 3478-3478 0.0.0.0/0",
        "IPv6 udp 3478-3478 ::/0",
        "IPv4 udp 16384-32768 0.0.0.0/0",
        "IPv6 udp 16384-32768 ::/0",
      ].sort(),
    );
  });

  it("the front: web, SSH from the admins and from each node address (IPv4 /32, IPv6 /128); no UDP, no TURN, no NFS or rpcbind", () => {
    const front = firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, nodeAddresses: ["192.0.2.10", "", "2001:db8::7"] });
    const shown = front.map(show);
    expect(shown.some((r) => / udp |3478|2049|111/.test(r))).toBe(false);
    expect(shown.filter((r) => r.includes(" 22-22 "))).toEqual([
      "IPv4 tcp 22-22 193.52.128.0/24",
      "IPv6 tcp 22-22 2001:660:7301::/48",
      "IPv4 tcp 22-22 192.0.2.10/32",
      "IPv6 tcp 22-22 2001:db8::7/128",
    ]);
    expect(sshSources(front, 22)).toEqual(["193.52.128.0/24", "2001:660:7301::/48", "192.0.2.10/32", "2001:db8::7/128"]);
    expect(show(nodeSshRule("198.51.100.4/32", 22))).toBe("IPv4 tcp 22-22 198.51.100.4/32");
  });

  it("a node with an external TURN server: nothing listens on 3478, so nothing opens it; media stays open", () => {
    const shown = firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS, turn: "external" }).map(show);
    expect(shown.filter((r) => r.includes("3478"))).toEqual([]);
    expect(shown).toContain("IPv4 udp 16384-32768 0.0.0.0/0");
  });

  it("an IPv6-only admin list gives SSH on IPv6 only", () => {
    const policy = firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ["2001:db8:a::/48"] });
    expect(sshSources(policy, 22)).toEqual(["2001:db8:a::/48"]);
    expect(policy.filter((r) => r.portMin === 22).map((r) => r.ethertype)).toEqual(["IPv6"]);
  });

  it("reports every bad address at once, naming the field", () => {
    const attempt = () =>
      firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ["10.0.0.0/33", "203.0.113.0/24", "2001:db8::/129", "nope"], nodeAddresses: ["192.0.2.300"] });
    expect(attempt).toThrow(/campus\.adminCidrs\[0\].*campus\.adminCidrs\[2\].*campus\.adminCidrs\[3\].*node address 0/);
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: [] })).toThrow(/at least one admin CIDR/);
  });

  it("monitoring: a node admits node_exporter and the BigBlueButton exporter, a front node_exporter and Prometheus, from the monitoring fronts only and nothing more", () => {
    const base = (role: "front" | "node") => new Set(firewallPolicy({ role, sshPort: 22, adminCidrs: ADMINS }).map(show));
    const added = (role: "front" | "node", monitorAddresses: string[]) =>
      firewallPolicy({ role, sshPort: 22, adminCidrs: ADMINS, monitorAddresses })
        .map(show)
        .filter((r) => !base(role).has(r));
    expect(added("node", ["192.0.2.1", "", "198.51.100.2", "2001:db8::1"]).sort()).toEqual(
      [
        "IPv4 tcp 9100-9100 192.0.2.1/32",
        "IPv4 tcp 9689-9689 192.0.2.1/32",
        "IPv4 tcp 9100-9100 198.51.100.2/32",
        "IPv4 tcp 9689-9689 198.51.100.2/32",
        "IPv6 tcp 9100-9100 2001:db8::1/128",
        "IPv6 tcp 9689-9689 2001:db8::1/128",
      ].sort(),
    );
    expect(added("front", ["198.51.100.2"])).toEqual(["IPv4 tcp 9100-9100 198.51.100.2/32", "IPv4 tcp 9090-9090 198.51.100.2/32"]);
    // Without monitoring fronts no scrape port is open to anyone.
    for (const role of ["front", "node"] as const) expect([...base(role)].filter((r) => /9100|9688|9689|9090|9093|9115/.test(r))).toEqual([]);
    // The scrape ports never reach the edge firewall's public ports: each is one rule per source.
    const edge = edgeFirewallRules(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS, monitorAddresses: ["192.0.2.1"] }), 22);
    expect(edge.filter((r) => r.destinationPort === 9100 || r.destinationPort === 9689).map((r) => `${r.destinationPort} ${r.source}`)).toEqual([
      "9100 192.0.2.1/32",
      "9689 192.0.2.1/32",
    ]);
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS, monitorAddresses: ["bbb-front"] })).toThrow(
      /monitoring front address 0: 'bbb-front'/,
    );
  });

  it("with a standby front, a node admits SSH from both fronts (the pool's timer runs there) and nothing more from them; a front refuses the list", () => {
    const node = firewallPolicy({ role: "node", sshPort: 2222, adminCidrs: ADMINS, frontAddresses: ["198.51.100.10", "", "2001:db8::20"] });
    const alone = firewallPolicy({ role: "node", sshPort: 2222, adminCidrs: ADMINS });
    expect(node.filter((r) => !alone.some((a) => show(a) === show(r))).map((r) => `${show(r)} ${r.description}`)).toEqual([
      "IPv4 tcp 2222-2222 198.51.100.10/32 ssh from a front (ops pool runs)",
      "IPv6 tcp 2222-2222 2001:db8::20/128 ssh from a front (ops pool runs)",
    ]);
    expect(sshSources(node, 2222)).toEqual(expect.arrayContaining(["198.51.100.10/32", "2001:db8::20/128"]));
    expect(() => firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, frontAddresses: ["198.51.100.10"] })).toThrow(
      /the fronts' addresses on SSH only apply to a node/,
    );
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS, frontAddresses: ["nope"] })).toThrow(
      /front address 0: 'nope' is not an IP address/,
    );
  });

  it("Grafana: its port on a front from the admins only, IPv4 and IPv6; a node refuses it; the campus decides per host", () => {
    const base = new Set(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS }).map(show));
    const policy = firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, grafana: true });
    expect(policy.map(show).filter((r) => !base.has(r))).toEqual(["IPv4 tcp 3000-3000 193.52.128.0/24", "IPv6 tcp 3000-3000 2001:660:7301::/48"]);
    expect(renderNftRuleset(policy, "the front")).not.toMatch(/^\t\ttcp dport 3000 accept/m);
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS, grafana: true })).toThrow(/Grafana only runs on a front/);
    const campus = campusOfStackFile(readStackFile("brest"));
    const withGrafana = { ...campus, config: { ...campus.config, monitoring: { ...campus.config.monitoring, grafana: true } } };
    expect(hostPolicyInput(withGrafana, campus.front).grafana).toBe(true);
    expect(hostPolicyInput(withGrafana, campus.nodes[0]).grafana).toBeUndefined();
    expect(hostPolicyInput(campus, campus.front).grafana).toBeUndefined();
    const off = { ...withGrafana, config: { ...withGrafana.config, monitoring: { ...withGrafana.config.monitoring, enabled: false } } };
    expect(hostPolicyInput(off, campus.front).grafana).toBeUndefined();
  });

  it("names rules stably and distinctly", () => {
    const names = firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS }).map(ruleName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("udp-16384-32768-0_0_0_0_0");
  });
});

describe("the nftables rendering", () => {
  const node = renderNftRuleset(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS }), "node bbb1.example.org");
  const front = renderNftRuleset(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, nodeAddresses: ["192.0.2.10"] }), "front sl.example.org");

  it("replaces only our own table, in one transaction, with a default drop on input", () => {
    expect(node).toMatch(/^table inet bbb_ovh\ndelete table inet bbb_ovh\ntable inet bbb_ovh \{$/m);
    expect(node).not.toMatch(/flush ruleset|hook forward|hook output/);
    expect(node).toContain("type filter hook input priority filter; policy drop;");
  });

  it("lets loopback, replies and neighbour discovery in before anything is dropped", () => {
    const order = ['iif "lo" accept', "ct state established,related accept", "icmpv6 type {", "nd-neighbor-solicit", "ct state invalid drop"].map((s) =>
      node.indexOf(s),
    );
    expect(order.every((at) => at > 0)).toBe(true);
    expect(node).toMatch(/icmpv6 type \{[^}]*packet-too-big/);
    expect(node).toMatch(/icmp type \{[^}]*destination-unreachable/);
    expect(node).toContain("ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept");
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("writes one rule per source and port; public ports once for both families", () => {
    expect(node).toContain('ip saddr 193.52.128.0/24 tcp dport 22 accept comment "ssh from admins"');
    expect(node).toContain('ip6 saddr 2001:660:7301::/48 tcp dport 22 accept comment "ssh from admins"');
    expect(node.match(/^\t\ttcp dport 443 accept/gm)).toHaveLength(1);
    expect(node).toContain("udp dport 16384-32768 accept");
    expect(front).toContain("ip saddr 192.0.2.10/32 tcp dport 22 accept");
    expect(front).not.toMatch(/udp dport (?!546 )|2049|\b111\b/);
  });

  it("refuses a label that would break out of the comment", () => {
    expect(() => renderNftRuleset([], 'x"; flush ruleset')).toThrow(/nftables comment/);
  });
});

describe("the edge firewall rendering (OVH Edge Network Firewall)", () => {
  it("a node: established TCP first, ICMP, all UDP (media range), public TCP ports, SSH per IPv4 admin CIDR, deny at 19; no IPv6", () => {
    const rules = edgeFirewallRules(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMINS }), 22);
    expect(
      rules.map((r) => `${r.sequence} ${r.action} ${r.protocol} ${r.source ?? "*"} ${r.destinationPort ?? ""}${r.sourcePort ?? ""}${r.tcpOption ?? ""}`),
    ).toEqual([
      "0 permit tcp * established",
      "1 permit icmp * ",
      "2 permit udp * ",
      "3 permit tcp * 80",
      "4 permit tcp * 443",
      "5 permit tcp * 3478",
      "6 permit tcp 193.52.128.0/24 22",
      "19 deny ipv4 * ",
    ]);
  });

  it("adding a node to the front appends an SSH rule and leaves every other rule where it was", () => {
    const before = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, nodeAddresses: ["192.0.2.10"] }), 22);
    const after = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, nodeAddresses: ["192.0.2.10", "192.0.2.11"] }), 22);
    expect(after.filter((r) => !before.some((b) => JSON.stringify(b) === JSON.stringify(r)))).toEqual([
      { sequence: before.length - 1, action: "permit", protocol: "tcp", destinationPort: 22, source: "192.0.2.11/32" },
    ]);
    expect(before.every((b) => after.some((a) => JSON.stringify(a) === JSON.stringify(b)))).toBe(true);
  });

  it("the front: UDP only as replies from DNS and NTP servers, SSH from admins and nodes", () => {
    const rules = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, nodeAddresses: ["192.0.2.10", "192.0.2.11"] }), 22);
    expect(rules.filter((r) => r.protocol === "udp").map((r) => r.sourcePort)).toEqual([53, 123]);
    expect(rules.filter((r) => r.destinationPort === 22).map((r) => r.source)).toEqual(["193.52.128.0/24", "192.0.2.10/32", "192.0.2.11/32"]);
  });

  it("never exceeds OVH's 20 rules: too many SSH sources become one SSH rule, left to the host firewall", () => {
    const admins = Array.from({ length: 30 }, (_, i) => `198.51.${i}.0/24`);
    const rules = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: admins }), 22);
    expect(rules.length).toBeLessThanOrEqual(EDGE_MAX_RULES);
    expect(new Set(rules.map((r) => r.sequence)).size).toBe(rules.length);
    expect(rules.filter((r) => r.destinationPort === 22)).toEqual([{ sequence: 6, action: "permit", protocol: "tcp", destinationPort: 22 }]);
    expect(rules.at(-1)).toEqual({ sequence: 19, action: "deny", protocol: "ipv4" });
  });

  it("admits Grafana per admin source before SSH, or from anywhere with SSH when the admins do not fit", () => {
    const few = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMINS, grafana: true }), 22);
    expect(few.filter((r) => r.destinationPort === 3000 || r.destinationPort === 22).map((r) => `${r.destinationPort} ${r.source}`)).toEqual([
      "3000 193.52.128.0/24",
      "22 193.52.128.0/24",
    ]);
    const admins = Array.from({ length: 8 }, (_, i) => `198.51.${i}.0/24`);
    const many = edgeFirewallRules(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: admins, grafana: true }), 22);
    expect(many.length).toBeLessThanOrEqual(EDGE_MAX_RULES);
    // SSH's sources still fit alone; Grafana's would not beside them, so it is permitted once, left to the host firewall.
    expect(many.filter((r) => r.destinationPort === 3000).map((r) => r.source ?? "anywhere")).toEqual(["anywhere"]);
    expect(many.filter((r) => r.destinationPort === 22)).toHaveLength(8);
  });
});
