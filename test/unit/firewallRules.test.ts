import { describe, expect, it } from "vitest";
import { ingressRules, nfsRule, ruleName } from "../../components/hosts/firewallRules";

const ADMINS = ["193.52.128.0/24", "2001:660:7301::/48"];
const show = (r: ReturnType<typeof ingressRules>[number]) => `${r.ethertype} ${r.protocol} ${r.portMin}-${r.portMax} ${r.cidr}`;

describe("security group rules", () => {
  it("a node: SSH from the admins only, web, TURN on TCP and UDP, WebRTC media on UDP, both address families", () => {
    expect(ingressRules("node", ADMINS).map(show).sort()).toEqual(
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

  it("the front: SSH from the admins and web only; NFS only from a node's own address", () => {
    const front = ingressRules("front", ADMINS).map(show);
    expect(front.some((r) => r.includes("udp") || r.includes("3478") || r.includes("2049"))).toBe(false);
    expect(front.filter((r) => r.includes(" 22-22 "))).toEqual(["IPv4 tcp 22-22 193.52.128.0/24", "IPv6 tcp 22-22 2001:660:7301::/48"]);
    expect(show(nfsRule("192.0.2.10/32"))).toBe("IPv4 tcp 2049-2049 192.0.2.10/32");
  });

  it("names rules stably and distinctly", () => {
    const names = ingressRules("node", ADMINS).map(ruleName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("udp-16384-32768-0_0_0_0_0");
  });
});
