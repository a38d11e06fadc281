import Table from "cli-table3";
import { stackCost, topologyOptions, voucherCoverage, type StackCost, type TopologyOption, type VoucherCoverage } from "../../components/planning/costing";
import { pricesFor } from "../../components/planning/prices";
import { timetableSaving, type TimetableSaving } from "../../components/schedule/saving";
import { OpsError } from "./errors";
import type { OpsTarget } from "./stackSource";

export interface EstimateReport {
  stack: string;
  cost: StackCost;
  voucher?: { eur: number; monthly: VoucherCoverage; hourly: VoucherCoverage };
  /** Node models that carry the stack's expected users with failover, cheapest first. */
  options: TopologyOption[];
  current: { nodes: number; model: string };
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
  const models = [...new Set(campus.nodes.map((n) => (n.config.kind === "dedicated" ? n.config.model ?? n.config.planCode ?? "?" : n.config.kind === "publicCloud" ? n.config.flavor : "existing")))];
  return {
    stack: target.label,
    cost,
    voucher: opts.voucher === undefined ? undefined : { eur: opts.voucher, monthly: voucherCoverage(opts.voucher, cost.total.monthly, opts.months), hourly: voucherCoverage(opts.voucher, cost.total.hourly, opts.months) },
    options: topologyOptions(campus, prices),
    current: { nodes: campus.nodes.length, model: models.join("+") },
    problems,
    timetable: timetableSaving(campus, prices, opts.now ?? new Date()),
    voucherSource: opts.voucher === undefined ? undefined : opts.voucherSource,
  };
}

export function renderEstimate(r: EstimateReport): string {
  const out: string[] = [`monthly cost of stack ${r.stack} (EUR, excl. VAT)`];
  const table = new Table({ head: ["host", "role", "priced as", "monthly billing", "hourly billing", "source (date)"], style: { head: [], border: [] }, colWidths: [null, null, null, null, null, 60], wordWrap: true });
  for (const h of r.cost.hosts) {
    table.push([h.name, h.role, h.priceKey ?? "-", h.monthly ? eur(h.monthly.monthly) : "?", h.monthly ? eur(h.monthly.hourly) : "?", h.price ? `${h.price.basis === "estimate" ? "ESTIMATE: " : ""}${h.price.source} (${h.price.date})` : h.note ?? "-"]);
  }
  table.push(["total", "", "", eur(r.cost.total.monthly), eur(r.cost.total.hourly), r.cost.unpriced.length ? `without ${r.cost.unpriced.join(", ")}` : ""]);
  out.push(table.toString());
  if (r.voucher) {
    const v = r.voucher;
    out.push(`voucher ${eur(v.eur)}${r.voucherSource ? ` (${r.voucherSource})` : ""}: lasts ${months(v.monthly.months)} with monthly billing, ${months(v.hourly.months)} with hourly billing`);
    const req = v.monthly.requested;
    if (req) out.push(`${req.months} months cost ${eur(req.cost)}: ${req.remaining >= 0 ? `covered, ${eur(req.remaining)} left` : `${eur(-req.remaining)} to pay on top of the voucher`}`);
  }
  const best = r.options[0];
  if (best) {
    out.push(`cheapest topology for the expected users: ${best.count} x ${best.model} + the current front = ${eur(best.monthlyEur)}/month (currently ${r.current.nodes} x ${r.current.model})`);
    for (const o of r.options) out.push(`  - ${o.reasoning}: ${eur(o.monthlyEur)}/month`);
  }
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
