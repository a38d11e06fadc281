import type { Campus } from "../config/campus";
import { termEndInstant } from "../planning/campusCost";
import { nodeCapacity } from "../planning/sizing";

/**
 * What the plan says the front's Scalelite exporter should compare against (scripts/scalelite-metrics.sh reads
 * it, the scaleliteMetrics step writes it): each node's capacity in users, as `ops size` sizes it
 * (planning/sizing.ts nodeCapacity: 200 users per minimum-node unit), and the end of term the credit must
 * last through. One `KEY VALUE...` a line; nothing here is secret, and no credentials are needed to know it.
 *
 *   capacity_users <node fqdn> <users>     (only for a node whose cores and RAM are known)
 *   term_end <epoch seconds>               (only with campus.term: the end of its last day, UTC)
 */
export function renderPlanFile(campus: Campus): string {
  const lines = ["# bbb-ovh: the plan's capacity per node and end of term (components/monitoring/renderPlanFile.ts)"];
  for (const node of campus.nodes) {
    const capacity = nodeCapacity(node.spec);
    if (capacity !== undefined) lines.push(`capacity_users ${node.fqdn} ${capacity}`);
  }
  const end = campus.config.term?.end;
  if (end) lines.push(`term_end ${Math.floor(termEndInstant(end).getTime() / 1000)}`);
  return `${lines.join("\n")}\n`;
}
