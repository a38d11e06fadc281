import type { CampusInput } from "../../components/config/schema";

/** An operator's SSH key line for test campuses (ed25519, a documentation key: its private half is not kept). */
export const TEST_ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd ops";

/** The smallest valid campus: a Rise-1 front in rbx and one Infra-1 node in sbg, with `extra` on top. */
export function smallCampusInput(extra: Partial<CampusInput> = {}): CampusInput {
  return {
    id: "brest",
    label: "Brest",
    dns: { zone: "example.org" },
    adminEmail: "ops@example.org",
    sshPublicKeys: [TEST_ADMIN_KEY],
    adminCidrs: ["203.0.113.0/24"],
    expected: { concurrentUsers: 100, classrooms: 5 },
    front: { name: "lb", fqdn: "lb.example.org", kind: "dedicated", model: "rise-1", datacenter: "rbx" },
    nodes: [{ name: "bbb1", fqdn: "bbb1.example.org", kind: "dedicated", model: "infra-1", datacenter: "sbg" }],
    ...extra,
  };
}

/**
 * For the plan's warning about a front outside OVHcloud: a standby front that is the school's own host, at a
 * documentation address outside brest's adminCidrs, and (withRiseNodes) nodes on Rise-1, the standard range, which
 * DedicatedHost puts behind the edge firewall (brest's Advance-1 nodes are ordered through the eco cart: none).
 */
export const ONSITE_STANDBY = {
  name: "lb-brest-onsite",
  fqdn: "visio-brest-onsite.isen-ouest.fr",
  kind: "existing",
  ipv4: "198.51.100.20",
  location: "campus-dc",
  cores: 8,
  ramGb: 16,
};

export function withRiseNodes(campus: Record<string, any>): Record<string, any> {
  for (const node of campus.nodes) node.model = "rise-1";
  return campus;
}

/** A public IPv4 for each host of a parsed campus, by FQDN (TEST-NET-1, RFC 5737): what the monitoring files are rendered with. */
export function testAddresses(campus: {
  front: { fqdn: string };
  standbyFront?: { fqdn: string };
  nodes: readonly { fqdn: string }[];
}): Record<string, string> {
  const hosts = [campus.front, ...(campus.standbyFront ? [campus.standbyFront] : []), ...campus.nodes];
  return Object.fromEntries(hosts.map((h, i) => [h.fqdn, `192.0.2.${i + 1}`]));
}
