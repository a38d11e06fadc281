import Table from "cli-table3";
import {
  frontsMonthly,
  stackCost,
  topologyOptions,
  voucherCoverage,
  type StackCost,
  type TopologyOption,
  type VoucherCoverage,
} from "../../components/planning/costing";
import { HOURS_PER_MONTH, pricesFor } from "../../components/planning/prices";
import { checkPool, demandOfCampus, poolOf } from "../../components/planning/sizing";
import { frontWarnings } from "../../components/planning/frontFailover";
import { timetableSaving, type TimetableSaving } from "../../components/schedule/saving";
import { OpsError } from "./errors";
import type { OpsTarget } from "./stackSource";

export interface EstimateReport {
  stack: string;
  cost: StackCost;
  voucher?: { eur: number; monthly: VoucherCoverage; hourly: VoucherCoverage };
  /** Node models that carry the stack's expected users with failover, cheapest first. */
  options: TopologyOption[];
  /** The stack's nodes, counted per model: "2 x infra-1", "1 x infra-1 + 1 x c2-60". */
  current: { nodes: number; label: string };
  /** The plan's own verdict on the current nodes under the stack's failover policy. */
  currentShortfalls: string[];
  /** The plan's warnings about the front (a single point of failure, a standby's certificate or TTL). */
  frontWarnings: string[];
  /** Which fronts the topologies are priced with. */
  frontsLabel: string;
  problems: string[];
  /** What campus.timetable saves on hourly nodes, when the stack has one. */
  timetable?: TimetableSaving;
  /** Where the voucher amount came from. */
  voucherSource?: string;
}

const eur = (n: number) => `${n.toFixed(2)} EUR`;
const months = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} months` : "indefinitely (nothing billed)");

export function estimate(target: OpsTarget, opts: { voucher?: number; months?: number; voucherSource?: string; now?: Date }): EstimateReport {
  const campus = target.campus;
  if (!campus) throw new OpsError("config", "-", `estimate needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
  const prices = pricesFor(campus.config.prices);
  const problems: string[] = [];
  const cost = stackCost(campus, prices);
  for (const h of cost.hosts) if (h.note && !h.monthly) problems.push(`${h.name}: ${h.note}`);
  const counts = new Map<string, number>();
  for (const n of campus.nodes) {
    const model =
      n.config.kind === "dedicated" ? (n.config.model ?? n.config.planCode ?? "adopted") : n.config.kind === "publicCloud" ? n.config.flavor : "existing";
    counts.set(model, (counts.get(model) ?? 0) + 1);
  }
  return {
    stack: target.label,
    cost,
    voucher:
      opts.voucher === undefined
        ? undefined
        : {
            eur: opts.voucher,
            monthly: voucherCoverage(opts.voucher, cost.total.monthly, opts.months),
            hourly: voucherCoverage(opts.voucher, cost.total.hourly, opts.months),
          },
    options: topologyOptions(campus, prices),
    current: { nodes: campus.nodes.length, label: [...counts].map(([model, n]) => `${n} x ${model}`).join(" + ") },
    currentShortfalls: checkPool(poolOf(campus), demandOfCampus(campus), campus.config.failover).shortfalls,
    frontWarnings: frontWarnings(campus),
    frontsLabel: frontsMonthly(campus, prices).label,
    problems,
    timetable: timetableSaving(campus, prices, opts.now ?? new Date()),
    voucherSource: opts.voucher === undefined ? undefined : opts.voucherSource,
  };
}

export function renderEstimate(r: EstimateReport): string {
  const out: string[] = [`monthly cost of stack ${r.stack} (EUR, excl. VAT)`];
  const table = new Table({
    head: ["host", "role", "priced as", "monthly plan\nEUR/month", "hourly rate\nEUR/hour", `hourly, full month\nEUR (${HOURS_PER_MONTH} h)`, "source (date)"],
    style: { head: [], border: [] },
    colWidths: [null, null, null, null, null, null, 50],
    wordWrap: true,
  });
  const money = (n: number | undefined, digits = 2) => (n === undefined ? "-" : n.toFixed(digits));
  for (const h of r.cost.hosts) {
    const hourlyRate = h.price?.hourlyEur;
    table.push([
      h.name,
      h.role,
      h.priceKey ?? "-",
      h.monthly ? money(h.monthly.monthly) : "?",
      money(hourlyRate, 3),
      hourlyRate === undefined ? "-" : money(h.monthly?.hourly),
      h.price ? `${h.price.basis === "estimate" ? "ESTIMATE: " : ""}${h.price.source} (${h.price.date})` : (h.note ?? "-"),
    ]);
  }
  table.push([
    "total",
    "",
    "",
    money(r.cost.total.monthly),
    "",
    money(r.cost.total.hourly),
    r.cost.unpriced.length ? `without ${r.cost.unpriced.join(", ")}` : "",
  ]);
  out.push(table.toString());
  if (r.voucher) {
    const v = r.voucher;
    out.push(
      `voucher ${eur(v.eur)}${r.voucherSource ? ` (${r.voucherSource})` : ""}: lasts ${months(v.monthly.months)} with monthly billing, ${months(v.hourly.months)} with hourly billing`,
    );
    const req = v.monthly.requested;
    if (req)
      out.push(
        `${req.months} months cost ${eur(req.cost)}: ${req.remaining >= 0 ? `covered, ${eur(req.remaining)} left` : `${eur(-req.remaining)} to pay on top of the voucher`}`,
      );
  }
  const best = r.options[0];
  if (best) {
    out.push(
      `current nodes: ${r.current.label}; ${r.currentShortfalls.length === 0 ? "they carry the expected users under the stack's failover policy" : `the plan's check fails: ${r.currentShortfalls.join("; ")}`}`,
    );
    out.push(
      `cheapest topology that passes the same check (failover '${best.policy}'): ${best.count} x ${best.model} + ${r.frontsLabel} = ${eur(best.monthlyEur)}/month`,
    );
    for (const o of r.options) out.push(`  - ${o.reasoning}: ${eur(o.monthlyEur)}/month`);
  }
  if (r.frontWarnings.length) out.push("front:", ...r.frontWarnings.map((w) => `  - ${w}`));
  const t = r.timetable;
  if (t) {
    out.push(
      t.nodes.length === 0
        ? "timetable: no hourly-billed Public Cloud node to shelve, nothing saved"
        : `timetable: ${t.nodes.join(", ")} awake ${(t.awakeShare * 100).toFixed(0)}% of the ${t.period.days} days from ${t.period.from}: saves about ${eur(t.monthlyEur)}/month against hourly billing around the clock`,
    );
  }
  if (r.problems.length) out.push("notes:", ...r.problems.map((p) => `  - ${p}`));
  return `${out.join("\n")}\n`;
}
