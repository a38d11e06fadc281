import type { Campus, HostSpec } from "../config/campus";

/**
 * Published guidance (REFERENCE.md, BBB docs and Scalelite README): a minimum production node is
 * 8 cores and 16 GB and carries about 200 concurrent users; plan at least two nodes in two
 * datacenters so that one datacenter can fail.
 */
export const USERS_PER_MINIMUM_NODE = 200;
export const MINIMUM_NODE: HostSpec = { cores: 8, ramGb: 16 };

/** Users one node can carry: 200 per minimum-spec unit, limited by its scarcer resource. */
export function nodeCapacity(spec: HostSpec | undefined): number | undefined {
  if (!spec) return undefined;
  const units = Math.min(spec.cores / MINIMUM_NODE.cores, spec.ramGb / MINIMUM_NODE.ramGb);
  return Math.floor(USERS_PER_MINIMUM_NODE * units);
}

/** Warnings the offline plan prints when a stack is below the published guidance. */
export function capacityWarnings(campus: Campus): string[] {
  const warnings: string[] = [];
  const expected = campus.config.expected.concurrentUsers;
  const unknown = campus.nodes.filter((n) => !n.spec).map((n) => n.name);
  if (unknown.length > 0) warnings.push(`cannot size ${unknown.join(", ")}: give cores and ramGb for existing hosts`);
  const byDc = new Map<string, number>();
  let total = 0;
  for (const node of campus.nodes) {
    const cap = nodeCapacity(node.spec) ?? 0;
    total += cap;
    byDc.set(node.datacenter, (byDc.get(node.datacenter) ?? 0) + cap);
  }
  if (total < expected) {
    warnings.push(`undersized: ${campus.nodes.length} node(s) carry about ${total} concurrent users (~${USERS_PER_MINIMUM_NODE} per 8-core/16 GB node), the stack expects ${expected}`);
  }
  if (byDc.size < 2) {
    warnings.push(`no datacenter failover: every node is in ${[...byDc.keys()].join(", ")}; place nodes in at least two datacenters`);
  } else {
    const worst = Math.max(...byDc.values());
    if (total - worst < expected) warnings.push(`with the largest datacenter down, the remaining nodes carry about ${total - worst} of the ${expected} expected users`);
  }
  return warnings;
}
