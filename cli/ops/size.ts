import { SERVER_PRESETS, type HostPreset } from "../../components/config/presets";
import { demandOf, MINIMUM_DATACENTERS, recommendNodes, type Demand, type NodeRecommendation, type SizingInput } from "../../components/planning/sizing";
import { OpsError } from "./errors";

export interface SizeReport {
  input: SizingInput;
  demand: Demand;
  recommendations: NodeRecommendation[];
}

/** "30%" or "0.3" -> 0.3 (a bare number above 1 is ambiguous and refused). */
export function parseShare(text: string): number {
  const percent = text.endsWith("%");
  const value = Number(percent ? text.slice(0, -1) : text);
  const share = percent ? value / 100 : value;
  if (!Number.isFinite(share) || share < 0 || share > 1) throw new OpsError("usage", "-", `--webcams expects a share of users such as 0.3 or 30%, got '${text}'`);
  return share;
}

export function size(input: SizingInput, presets: Readonly<Record<string, HostPreset>> = SERVER_PRESETS): SizeReport {
  if (!(input.users > 0) || !(input.rooms > 0)) throw new OpsError("usage", "-", "--users and --rooms must be positive numbers");
  const demand = demandOf(input);
  return { input, demand, recommendations: recommendNodes(demand, presets) };
}

export function renderSize(r: SizeReport): string {
  const out = ["reasoning:", ...r.demand.reasoning.map((l) => `  - ${l}`)];
  out.push(`  - failover: at least 2 nodes, in ${MINIMUM_DATACENTERS} datacenters, so that one node can be drained and one datacenter can fail`);
  const best = r.recommendations[0];
  if (best) {
    out.push(`recommended: ${best.count} x ${best.model} (${best.capacity} users each, ${best.count * best.capacity} in all; ${best.capacityWithOneDatacenterDown} with one datacenter down)`);
    out.push("alternatives:", ...r.recommendations.slice(1).map((o) => `  - ${o.reasoning}; ${o.capacityWithOneDatacenterDown} users with one datacenter down`));
  }
  if (r.demand.warnings.length) out.push("warnings:", ...r.demand.warnings.map((w) => `  - ${w}`));
  return `${out.join("\n")}\n`;
}
