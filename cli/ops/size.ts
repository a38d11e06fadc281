import { SERVER_PRESETS, type HostPreset } from "../../components/config/presets";
import { DEFAULT_FAILOVER, FAILOVER_POLICIES, type FailoverPolicy } from "../../components/planning/failover";
import { frontsNeeded } from "../../components/planning/frontFailover";
import { demandOf, recommendNodes, type Demand, type NodeRecommendation, type SizingInput } from "../../components/planning/sizing";
import { OpsError } from "./errors";

export interface SizeReport {
  input: SizingInput;
  policy: FailoverPolicy;
  demand: Demand;
  recommendations: NodeRecommendation[];
  /** Scalelite fronts the policy needs besides the nodes (a standby in another site under 'datacenter'). */
  fronts: { count: number; why: string };
}

/** "30%" or "0.3" -> 0.3 (a bare number above 1 is ambiguous and refused). */
export function parseShare(text: string): number {
  const percent = text.endsWith("%");
  const value = Number(percent ? text.slice(0, -1) : text);
  const share = percent ? value / 100 : value;
  if (!Number.isFinite(share) || share < 0 || share > 1)
    throw new OpsError("usage", "-", `--webcams expects a share of users such as 0.3 or 30%, got '${text}'`);
  return share;
}

export function parseFailover(text: string): FailoverPolicy {
  if (!(FAILOVER_POLICIES as readonly string[]).includes(text))
    throw new OpsError("usage", "-", `--failover expects one of ${FAILOVER_POLICIES.join(", ")}, got '${text}'`);
  return text as FailoverPolicy;
}

export interface SizeOptions {
  policy?: FailoverPolicy;
  /** How many sites the nodes can be spread over (default 2). */
  sites?: number;
  presets?: Readonly<Record<string, HostPreset>>;
}

export function size(input: SizingInput, options: SizeOptions = {}): SizeReport {
  if (!(input.users > 0) || !(input.rooms > 0)) throw new OpsError("usage", "-", "--users and --rooms must be positive numbers");
  const policy = options.policy ?? DEFAULT_FAILOVER;
  const siteCount = options.sites ?? 2;
  if (policy === "datacenter" && siteCount < 2)
    throw new OpsError("usage", "-", "--failover datacenter needs --sites 2 or more (nodes in one site cannot survive that site going down)");
  const sites = Array.from({ length: siteCount }, (_, i) => String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : ""));
  const demand = demandOf(input);
  return { input, policy, demand, recommendations: recommendNodes(demand, options.presets ?? SERVER_PRESETS, { policy, sites }), fronts: frontsNeeded(policy) };
}

export function renderSize(r: SizeReport): string {
  const out = ["reasoning:", ...r.demand.reasoning.map((l) => `  - ${l}`)];
  out.push(`  - failover policy '${r.policy}': ${policyText(r.policy)}`);
  const best = r.recommendations[0];
  if (best) {
    out.push(`recommended: ${best.reasoning}`);
    const others = r.recommendations.slice(1);
    if (others.length > 0) out.push("alternatives:", ...others.map((o) => `  - ${o.reasoning}`));
  }
  out.push(`fronts: ${r.fronts.count} (${r.fronts.why})`);
  if (r.demand.warnings.length) out.push("warnings:", ...r.demand.warnings.map((w) => `  - ${w}`));
  return `${out.join("\n")}\n`;
}

export function policyText(policy: FailoverPolicy): string {
  switch (policy) {
    case "datacenter":
      return "the peak must still fit with the largest site down, so nodes are spread over sites";
    case "node":
      return "the peak must still fit with the largest node down (maintenance, a crash)";
    case "none":
      return "no failover: every node counts";
  }
}
