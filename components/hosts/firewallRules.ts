/**
 * Ingress rules of the security group a Public Cloud host gets (the project's `default` group lets
 * everything in, so hosts get only this one). Ports from REFERENCE.md: BBB needs 80/443 TCP, TURN 3478
 * TCP+UDP and media on UDP 16384-32768; the front serves 80/443; SSH only from the admin CIDRs; NFS
 * (2049/tcp) on the front only from the nodes that mount the recording share.
 */
export interface IngressRule<Cidr = string> {
  description: string;
  protocol: "tcp" | "udp";
  portMin: number;
  portMax: number;
  cidr: Cidr;
  ethertype: "IPv4" | "IPv6";
}

const ANYWHERE = ["0.0.0.0/0", "::/0"];

function rules(description: string, protocol: IngressRule["protocol"], portMin: number, portMax: number, cidrs: readonly string[]): IngressRule[] {
  return cidrs.map((cidr) => ({ description, protocol, portMin, portMax, cidr, ethertype: cidr.includes(":") ? "IPv6" : "IPv4" }));
}

/** Rules known from the config alone; the front's NFS rules wait for the nodes' addresses (nfsRule). */
export function ingressRules(role: "front" | "node", adminCidrs: readonly string[]): IngressRule[] {
  const common = [...rules("ssh from admins", "tcp", 22, 22, adminCidrs), ...rules("http", "tcp", 80, 80, ANYWHERE), ...rules("https", "tcp", 443, 443, ANYWHERE)];
  if (role === "front") return common;
  return [
    ...common,
    ...rules("turn tcp", "tcp", 3478, 3478, ANYWHERE),
    ...rules("turn udp", "udp", 3478, 3478, ANYWHERE),
    ...rules("webrtc media", "udp", 16384, 32768, ANYWHERE),
  ];
}

/** NFS on the front from one node's IPv4 address (known only once the node exists). */
export function nfsRule<Cidr>(nodeCidr: Cidr): IngressRule<Cidr> {
  return { description: "nfs from nodes", protocol: "tcp", portMin: 2049, portMax: 2049, cidr: nodeCidr, ethertype: "IPv4" };
}

/** A stable, readable resource name for a rule. */
export function ruleName(rule: IngressRule): string {
  const ports = rule.portMin === rule.portMax ? `${rule.portMin}` : `${rule.portMin}-${rule.portMax}`;
  return `${rule.protocol}-${ports}-${rule.cidr.replace(/[/:.]+/g, "_")}`;
}
