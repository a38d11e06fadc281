import Table from "cli-table3";
import { campusCost, costVerdict, type CampusCost, type VoucherVerdict } from "../../components/planning/campusCost";
import {
  frontsMonthly,
  stackCost,
  topologyAdvice,
  topologyOptions,
  type TopologyAdvice,
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
  /** How long the voucher lasts under each Public Cloud billing mode, and at what the stack as configured costs (payable). */
  voucher?: { eur: number; monthly: VoucherCoverage; hourly: VoucherCoverage; payable: VoucherCoverage };
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
  /** What the school pays for the stack as configured (billing mode, timetable, storage), until term.end. */
  payable: CampusCost;
  /** The one-line answer: the cost and whether the voucher covers it. */
  verdict: VoucherVerdict;
  /** Why the cheapest topology is what it is. */
  advice: TopologyAdvice;
}

const eur = (n: number) => `${n.toFixed(2)} EUR`;

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
  const now = opts.now ?? new Date();
  const payable = campusCost(campus, prices, now);
  const options = topologyOptions(campus, prices);
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
            payable: voucherCoverage(opts.voucher, payable.monthlyEur, opts.months),
          },
    options,
    current: { nodes: campus.nodes.length, label: [...counts].map(([model, n]) => `${n} x ${model}`).join(" + ") },
    currentShortfalls: checkPool(poolOf(campus), demandOfCampus(campus), campus.config.failover).shortfalls,
    frontWarnings: frontWarnings(campus),
    frontsLabel: frontsMonthly(campus, prices).label,
    problems,
    timetable: timetableSaving(campus, prices, now),
    voucherSource: opts.voucher === undefined ? undefined : opts.voucherSource,
    payable,
    verdict: costVerdict(payable, opts.voucher === undefined ? undefined : { eur: opts.voucher, source: opts.voucherSource }),
    advice: topologyAdvice(campus, prices, options, payable.monthlyEur),
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
  out.push(`what you will pay: ${r.verdict.line}`);
  for (const l of r.payable.lines) out.push(`  - ${l.item}: ${eur(l.monthlyEur)}/month${l.basis === "estimate" ? " ESTIMATE" : ""} (${l.how})`);
  if (r.payable.unpriced.length) out.push(`  - not counted (no price): ${r.payable.unpriced.join(", ")}`);
  const req = r.voucher?.payable.requested;
  if (req)
    out.push(
      `${req.months} months at that rate cost ${eur(req.cost)}: ${req.remaining >= 0 ? `covered by the voucher, ${eur(req.remaining)} left` : `${eur(-req.remaining)} to pay on top of the voucher`}`,
    );
  const best = r.options[0];
  if (best) {
    out.push(
      `current nodes: ${r.current.label}; ${r.currentShortfalls.length === 0 ? "they carry the expected users under the stack's failover policy" : `the plan's check fails: ${r.currentShortfalls.join("; ")}`}`,
    );
    out.push(
      `cheapest topology that passes the same check (failover '${best.policy}'): ${best.count} x ${best.model} + ${r.frontsLabel} = ${eur(best.monthlyEur)}/month`,
    );
    out.push(`  why: ${r.advice.reason}`);
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
