import { BlockList } from "node:net";
import type { Campus } from "../config/campus";
import { sshPortOf } from "../hosts/sshPort";
import { behindEdgeFirewall } from "./firewallPolicy";

/**
 * What the plan says about SSH access that the schema accepts but an operator should hear about:
 * admin CIDRs that open SSH to the whole Internet, and hosts whose host key nobody pinned (the first
 * `pulumi up` then trusts whatever key answers, components/hosts/hostKeys.ts). Each ends with what to do.
 */

/** A prefix of length 0 (0.0.0.0/0, ::/0, or any address written with /0) matches every address. */
const matchesEverything = (cidr: string) => cidr.split("/")[1] === "0";

export function openAdminCidrWarnings(campus: Campus): string[] {
  const open = campus.config.adminCidrs.filter(matchesEverything);
  if (open.length === 0) return [];
  return [
    `SSH is open to the world: campus.adminCidrs holds ${open.join(" and ")}, so every host's SSH port (and the edge firewall in front of dedicated servers) accepts connections from any address on the Internet, where scanners try logins all day and any sshd flaw is reachable; to do: list only the networks your team connects from (the school's range, the VPN's exit address), such as 193.52.128.0/24, and run \`pulumi up\` from inside them (docs/firewall.md)`,
  ];
}

interface Unpinned {
  /** The host as the stack names it: `campus.nodes[0] (lab-bbb1, existing)`. */
  what: string;
  address: string;
  port: number;
  /** Where the key goes in the stack file. */
  field: string;
}

/** Hosts bbb-ovh does not install and whose host key the stack does not give: existing, adopted as is, Moodle. */
function unpinnedHosts(campus: Campus): Unpinned[] {
  const { config } = campus;
  const hosts: Array<[string, (typeof config)["front"]]> = [["campus.front", config.front]];
  if (config.standbyFront) hosts.push(["campus.standbyFront", config.standbyFront]);
  config.nodes.forEach((n, i) => hosts.push([`campus.nodes[${i}]`, n]));
  const found: Unpinned[] = [];
  for (const [path, host] of hosts) {
    if (host.kind === "publicCloud" || host.hostKey !== undefined) continue;
    if (host.kind === "existing")
      found.push({ what: `${path} (${host.name}, existing)`, address: host.ipv4, port: sshPortOf({ config: host }), field: `${path}.hostKey` });
    // Adopted without installOs: OVH names a dedicated server by its host name (nsNNNN.ip-A-B-C.eu).
    else if (host.kind === "dedicated" && host.serviceName !== undefined && host.installOs !== true)
      found.push({ what: `${path} (${host.name}, adopted as it is)`, address: host.serviceName, port: sshPortOf({ config: host }), field: `${path}.hostKey` });
  }
  const moodle = config.moodle?.ssh;
  if (moodle && moodle.hostKey === undefined)
    found.push({ what: "the Moodle host (campus.moodle.ssh)", address: moodle.host, port: moodle.port, field: "campus.moodle.ssh.hostKey" });
  return found;
}

export function unpinnedHostKeyWarnings(campus: Campus): string[] {
  return unpinnedHosts(campus).map(
    ({ what, address, port, field }) =>
      `host key not pinned: ${what} is trusted on first use, the first \`pulumi up\` pins whatever key answers at ${address} port ${port}; to do: run \`ssh-keyscan -p ${port} -t ed25519 ${address}\`, check its fingerprint (the same line piped to \`ssh-keygen -lf -\`) against the host's own (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on its console), and write the key, from ssh-ed25519 on, as ${field} in the stack file (docs/ops.md, "Host keys")`,
  );
}

export function sshWarnings(campus: Campus): string[] {
  return [...openAdminCidrWarnings(campus), ...unpinnedHostKeyWarnings(campus), ...frontOutsideEdgeWarnings(campus)];
}

/**
 * With a standby front, the pool's timer on each front reaches the nodes over SSH (docs/firewall.md). The Edge
 * Network Firewall in front of a dedicated node (behindEdgeFirewall) filters only traffic
 * from outside OVHcloud, and admits SSH there from campus.adminCidrs alone: a front that is the school's own host
 * outside OVHcloud reaches such a node only when its address is in that list. Whether the host is at OVHcloud is
 * not in the stack, so the warning says both.
 */
export function frontOutsideEdgeWarnings(campus: Campus): string[] {
  if (!campus.standbyFront) return [];
  const behindEdge = campus.nodes.filter(behindEdgeFirewall).map((n) => n.name);
  if (behindEdge.length === 0) return [];
  const admitted = new BlockList();
  for (const cidr of campus.config.adminCidrs) {
    const [address, prefix] = cidr.split("/");
    if (!address.includes(":")) admitted.addSubnet(address, Number(prefix), "ipv4");
  }
  return [campus.front, campus.standbyFront].flatMap((f) =>
    f.kind === "existing" && !admitted.check(f.config.ipv4, "ipv4")
      ? [
          `the front ${f.name} (existing, ${f.config.ipv4}) is not in campus.adminCidrs: if it is outside OVHcloud, the edge firewall of ${behindEdge.join(", ")} refuses its SSH, and its pool timer cannot point a node woken after a failover at the front that serves; to do: add ${f.config.ipv4}/32 to campus.adminCidrs, unless ${f.name} is an OVHcloud host (docs/firewall.md)`,
        ]
      : [],
  );
}
