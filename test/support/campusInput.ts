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
