import type { Campus, ResolvedHost } from "../config/campus";
import { HOURS_PER_MONTH, type PriceEntry } from "./prices";
import { demandOf, demandOfCampus, MINIMUM_NODE, poolOf, recommendNodes, type NodeRecommendation, type SizingInput } from "./sizing";

export type Billing = "monthly" | "hourly";

export interface HostCost {
  name: string;
  role: ResolvedHost["role"] | "standby front";
  /** The price-table key the host was priced with (preset, flavor or plan code). */
  priceKey?: string;
  /** EUR a month under each Public Cloud billing mode (the same for dedicated servers). */
  monthly?: Record<Billing, number>;
  price?: PriceEntry;
  note?: string;
}

export interface StackCost {
  hosts: HostCost[];
  total: Record<Billing, number>;
  /** Hosts with no price: left out of the totals. */
  unpriced: string[];
}

/** Which price-table entry a host is billed by; undefined for hosts the school already owns. */
export function priceKeyOf(host: ResolvedHost): string | undefined {
  const config = host.config;
  if (config.kind === "publicCloud") return config.flavor;
  if (config.kind === "dedicated") return config.model ?? config.planCode ?? config.serviceName;
  return undefined;
}

/** EUR a month for one entry: the monthly plan, or the hourly rate over a full month. */
export function monthlyUnder(price: PriceEntry, billing: Billing): number | undefined {
  if (billing === "hourly" && price.hourlyEur !== undefined) return price.hourlyEur * HOURS_PER_MONTH;
  return price.monthlyEur ?? (price.hourlyEur !== undefined ? price.hourlyEur * HOURS_PER_MONTH : undefined);
}

function costOf(host: ResolvedHost, prices: Readonly<Record<string, PriceEntry>>, role: HostCost["role"] = host.role): HostCost {
  const base = { name: host.name, role };
  if (host.config.kind === "existing") return { ...base, monthly: { monthly: 0, hourly: 0 }, note: "existing host: not billed by OVH" };
  const priceKey = priceKeyOf(host);
  const price = priceKey === undefined ? undefined : prices[priceKey];
  if (!price) return { ...base, priceKey, note: `no price for '${priceKey}': add it under campus.prices` };
  const monthly = monthlyUnder(price, "monthly") as number;
  // Dedicated servers are rented by the month whatever the Public Cloud billing mode.
  const hourly = host.config.kind === "publicCloud" ? (monthlyUnder(price, "hourly") as number) : monthly;
  return { ...base, priceKey, price, monthly: { monthly, hourly } };
}

export function stackCost(campus: Campus, prices: Readonly<Record<string, PriceEntry>>): StackCost {
  const standby = campus.standbyFront ? [costOf(campus.standbyFront, prices, "standby front")] : [];
  const hosts = [costOf(campus.front, prices), ...standby, ...campus.nodes.map((h) => costOf(h, prices))];
  const total = { monthly: 0, hourly: 0 };
  for (const h of hosts) {
    total.monthly += h.monthly?.monthly ?? 0;
    total.hourly += h.monthly?.hourly ?? 0;
  }
  return { hosts, total, unpriced: hosts.filter((h) => !h.monthly).map((h) => h.name) };
}

export interface VoucherCoverage {
  /** Whole months the voucher pays for, and the fraction of the next one. */
  months: number;
  /** Months asked for, their cost and what is left (negative: to pay on top). */
  requested?: { months: number; cost: number; remaining: number };
}

export function voucherCoverage(voucherEur: number, monthlyEur: number, requestedMonths?: number): VoucherCoverage {
  const months = monthlyEur > 0 ? voucherEur / monthlyEur : Number.POSITIVE_INFINITY;
  if (requestedMonths === undefined) return { months };
  const cost = monthlyEur * requestedMonths;
  return { months, requested: { months: requestedMonths, cost, remaining: voucherEur - cost } };
}

export interface TopologyOption extends NodeRecommendation {
  /** EUR a month for the stack's front (and standby) plus these nodes, monthly billing. */
  monthlyEur: number;
}

/**
 * EUR a month for the fronts the failover policy needs: the front, and under 'datacenter' a standby in
 * another site: the stack's own, or, when it has none, one priced like the front (frontFailover.ts).
 */
export function frontsMonthly(campus: Campus, prices: Readonly<Record<string, PriceEntry>>): { monthlyEur: number; label: string } {
  const front = costOf(campus.front, prices).monthly?.monthly ?? 0;
  if (campus.standbyFront) return { monthlyEur: front + (costOf(campus.standbyFront, prices).monthly?.monthly ?? 0), label: "the current front and standby" };
  if (campus.config.failover === "datacenter") return { monthlyEur: 2 * front, label: "the current front + a standby front like it in another site" };
  return { monthlyEur: front, label: "the current front" };
}

/** The sites a campus's nodes can use: where they are now, plus another when failover needs two. */
export function campusSites(campus: Campus): string[] {
  const sites = [...new Set(poolOf(campus).map((n) => n.site))];
  while (campus.config.failover === "datacenter" && sites.length < 2) sites.push(sites.length === 0 ? "a site" : "another site");
  return sites;
}

/**
 * Node models that carry the stack's expected users under the stack's failover policy, cheapest
 * first, each priced with the stack's own front. Models without a price are skipped. Each passes the
 * same check as the plan (sizing.ts checkPool), on the stack's sites.
 */
export function topologyOptions(campus: Campus, prices: Readonly<Record<string, PriceEntry>>, input?: SizingInput): TopologyOption[] {
  const demand = input ? demandOf(input) : demandOfCampus(campus);
  const front = frontsMonthly(campus, prices).monthlyEur;
  return recommendNodes(demand, campus.presets, { policy: campus.config.failover, sites: campusSites(campus) })
    .flatMap((r) => {
      const price = prices[r.model] ?? (r.kind === "publicCloud" ? prices[(campus.presets[r.model] as { flavor: string }).flavor] : undefined);
      const each = price && monthlyUnder(price, "monthly");
      return each === undefined ? [] : [{ ...r, monthlyEur: front + r.count * each }];
    })
    .sort((a, b) => a.monthlyEur - b.monthlyEur);
}

export interface TopologyAdvice {
  /** Why the cheapest option is what it is, in words, when it costs much more than the current stack. */
  reason: string;
  /** Dedicated presets with the published minimum's physical cores: none means only Public Cloud qualifies. */
  dedicatedModels: string[];
}

/**
 * Explains the recommendation: which presets meet the published node minimum (MINIMUM_NODE, sizing.ts)
 * and what the cheapest costs against the stack as it is. The presets hold no dedicated model with the
 * minimum's physical cores today (rise-1 and infra-1 have 6), so for dedicated campuses the cheapest
 * passing option is a Public Cloud flavor, several times dearer; saying so lets the school add an
 * 8-core dedicated plan under campus.presets and campus.prices instead.
 */
export function topologyAdvice(
  campus: Campus,
  prices: Readonly<Record<string, PriceEntry>>,
  options: TopologyOption[],
  currentMonthlyEur: number,
): TopologyAdvice {
  const qualifying = Object.entries(campus.presets).filter(([, p]) => p.cores >= MINIMUM_NODE.cores && p.ramGb >= MINIMUM_NODE.ramGb);
  const dedicatedModels = qualifying.filter(([, p]) => p.kind === "dedicated").map(([m]) => m);
  const below = Object.entries(campus.presets)
    .filter(([, p]) => p.kind === "dedicated" && p.cores < MINIMUM_NODE.cores)
    .map(([m, p]) => `${m} ${p.cores}`);
  const parts = [
    `only presets with at least ${MINIMUM_NODE.cores} physical cores and ${MINIMUM_NODE.ramGb} GB (the published minimum per node) are recommended: ${qualifying.map(([m]) => m).join(", ") || "none"}`,
  ];
  if (dedicatedModels.length === 0)
    parts.push(
      `no dedicated model in the presets has ${MINIMUM_NODE.cores} physical cores${below.length ? ` (${below.join(", ")} cores)` : ""}, so only Public Cloud flavors are compared; add an ${MINIMUM_NODE.cores}-core dedicated plan under campus.presets with its price under campus.prices to compare one`,
    );
  const best = options[0];
  if (best && currentMonthlyEur > 0 && best.monthlyEur > 1.5 * currentMonthlyEur) {
    const each = (best.monthlyEur - frontsMonthly(campus, prices).monthlyEur) / best.count;
    const standby = !campus.standbyFront && campus.config.failover === "datacenter" ? " plus a standby front the failover policy needs" : "";
    parts.push(
      `it costs ${(best.monthlyEur / currentMonthlyEur).toFixed(1)} x the stack as configured (${currentMonthlyEur.toFixed(2)} EUR/month) because ${best.count} x ${best.model} at ${each.toFixed(2)} EUR/month each (monthly plan) replace the current nodes${standby}${dedicatedModels.length === 0 ? ", and no cheaper dedicated model with the minimum's cores is in the presets" : ""}`,
    );
  }
  return { reason: parts.join("; "), dedicatedModels };
}
