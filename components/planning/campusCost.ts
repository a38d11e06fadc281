import type { Campus, ResolvedHost } from "../config/campus";
import { awakeHours } from "../schedule/timetable";
import { HOURS_PER_MONTH, OBJECT_STORAGE_PRICE_KEY, SNAPSHOT_PRICE_KEY, type PriceEntry } from "./prices";
import { priceKeyOf } from "./costing";

/**
 * What the school will actually pay for the stack as configured, not a billing mode it does not use:
 * - dedicated servers: their monthly rent, whatever the timetable;
 * - Public Cloud fronts (and the standby front): the hourly rate around the clock, since the program
 *   creates hourly instances and the schedule never shelves a front (docs/vouchers.md);
 * - Public Cloud nodes: the hourly rate x the hours the timetable keeps them awake, plus, while
 *   shelved, their snapshot (OVH bills a shelved hourly instance's snapshot storage, not its compute);
 * - the backup bucket on OVH Object Storage, when the stack backs up there.
 * Storage lines are estimates (sizes and prices), and say so.
 */
export interface CostLine {
  item: string;
  monthlyEur: number;
  basis: "quoted" | "estimate";
  how: string;
}

export interface CampusCost {
  /** EUR per month (730 h), averaged over the window below. */
  monthlyEur: number;
  lines: CostLine[];
  /** Hosts with no price: left out of the totals. */
  unpriced: string[];
  /** Share of the window the timetable keeps nodes awake (undefined: no timetable, always awake). */
  awakeShare?: number;
  /** The window the figures average over: now until term.end, or the next 28 days without a term (or after it). */
  window: { from: string; to: string; hours: number };
  /** Cost from now until the end of term.end (UTC), when the stack has a term (0 once it is over). */
  untilTermEnd?: { end: string; months: number; eur: number };
}

/** The backup bucket's size when nothing better is known: the example term of a small campus in docs/backups.md. */
export const DEFAULT_BACKUP_GB = 200;

const DAY_MS = 86_400_000;

/** The end of a term's last day, UTC: the credit must last through that day. */
export const termEndInstant = (isoDate: string) => new Date(Date.parse(`${isoDate}T00:00:00Z`) + DAY_MS);

function hostLine(
  host: ResolvedHost,
  role: string,
  prices: Readonly<Record<string, PriceEntry>>,
  awakeShare: number | undefined,
): { lines: CostLine[]; unpriced?: string } {
  if (host.config.kind === "existing") return { lines: [] };
  const key = priceKeyOf(host);
  const price = key === undefined ? undefined : prices[key];
  if (!price) return { lines: [], unpriced: host.name };
  const basis = price.basis;
  if (host.config.kind === "dedicated" || price.hourlyEur === undefined) {
    const rent = price.monthlyEur ?? 0;
    return { lines: [{ item: `${host.name} (${role})`, monthlyEur: rent, basis, how: `${key}: ${rent.toFixed(2)} EUR/month` }] };
  }
  const full = price.hourlyEur * HOURS_PER_MONTH;
  if (role !== "node" || awakeShare === undefined) {
    const why = role === "node" ? "no timetable: awake around the clock" : "always on";
    return { lines: [{ item: `${host.name} (${role})`, monthlyEur: full, basis, how: `${key}: ${price.hourlyEur} EUR/h x ${HOURS_PER_MONTH} h, ${why}` }] };
  }
  const lines: CostLine[] = [
    {
      item: `${host.name} (node)`,
      monthlyEur: full * awakeShare,
      basis,
      how: `${key}: ${price.hourlyEur} EUR/h x ${HOURS_PER_MONTH} h x ${(awakeShare * 100).toFixed(0)}% awake (timetable)`,
    },
  ];
  const snapshot = prices[SNAPSHOT_PRICE_KEY];
  const diskGb = host.preset?.kind === "publicCloud" ? host.preset.diskGb : undefined;
  if (snapshot?.monthlyEur !== undefined && diskGb !== undefined && awakeShare < 1)
    lines.push({
      item: `${host.name} snapshot while shelved`,
      monthlyEur: diskGb * snapshot.monthlyEur * (1 - awakeShare),
      basis: "estimate",
      how: `up to ${diskGb} GB (the flavor's disk) x ${snapshot.monthlyEur} EUR/GB-month x ${((1 - awakeShare) * 100).toFixed(0)}% asleep`,
    });
  return { lines };
}

function backupLine(campus: Campus, prices: Readonly<Record<string, PriceEntry>>): CostLine | undefined {
  const backup = campus.config.backup;
  if (!backup?.enabled) return undefined;
  if (backup.target !== "ovh")
    return { item: "backup bucket", monthlyEur: 0, basis: "estimate", how: "on the school's own S3 endpoint: not billed by OVH, not counted" };
  const price = prices[OBJECT_STORAGE_PRICE_KEY]?.monthlyEur;
  if (price === undefined) return undefined;
  // Recordings barely deduplicate: the repository holds about what the front holds, so the front's disk bounds it.
  const frontDisk = campus.front.preset?.kind === "publicCloud" ? campus.front.preset.diskGb : undefined;
  const gb = frontDisk ?? DEFAULT_BACKUP_GB;
  const size = frontDisk === undefined ? `${gb} GB assumed (docs/backups.md)` : `up to ${gb} GB (the front's disk)`;
  return { item: "backup bucket", monthlyEur: gb * price, basis: "estimate", how: `${size} x ${price} EUR/GB-month, Object Storage` };
}

/** The stack's cost per month and until term.end, from `now` (a fixed clock in tests). */
export function campusCost(campus: Campus, prices: Readonly<Record<string, PriceEntry>>, now: Date): CampusCost {
  const term = campus.config.term?.end;
  const termEnd = term ? termEndInstant(term) : undefined;
  // A term already over leaves nothing to pay until it; the monthly figure then looks at the next 28 days.
  const termOpen = termEnd !== undefined && termEnd.getTime() > now.getTime();
  const end = termOpen ? termEnd : new Date(now.getTime() + 28 * DAY_MS);
  const hours = (end.getTime() - now.getTime()) / 3_600_000;
  const timetable = campus.config.timetable;
  const awakeShare = timetable ? Math.min(1, awakeHours(timetable, now, end) / hours) : undefined;
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const hosts: Array<[ResolvedHost, string]> = [
    [campus.front, "front"],
    ...(campus.standbyFront ? [[campus.standbyFront, "standby front"] as [ResolvedHost, string]] : []),
    ...campus.nodes.map((n): [ResolvedHost, string] => [n, "node"]),
  ];
  for (const [host, role] of hosts) {
    const r = hostLine(host, role, prices, awakeShare);
    lines.push(...r.lines);
    if (r.unpriced) unpriced.push(r.unpriced);
  }
  const backup = backupLine(campus, prices);
  if (backup) lines.push(backup);
  const monthlyEur = lines.reduce((sum, l) => sum + l.monthlyEur, 0);
  const months = termOpen ? hours / HOURS_PER_MONTH : 0;
  return {
    monthlyEur,
    lines,
    unpriced,
    awakeShare,
    window: { from: now.toISOString(), to: end.toISOString(), hours },
    untilTermEnd: term ? { end: term, months, eur: monthlyEur * months } : undefined,
  };
}

export interface VoucherVerdict {
  /** undefined: no voucher amount known. */
  covered?: boolean;
  line: string;
}

/** The one line a school reads: what it pays, until when, and whether the voucher covers it. */
export function costVerdict(cost: CampusCost, voucher?: { eur: number; source?: string }): VoucherVerdict {
  const eur = (n: number) => `${n.toFixed(2)} EUR`;
  const estimates = cost.lines.some((l) => l.basis === "estimate") ? " (includes estimates)" : "";
  const term = cost.untilTermEnd;
  const until =
    term && (term.months > 0 ? `, ${eur(term.eur)} until term.end ${term.end} (${term.months.toFixed(1)} months)` : `; term.end ${term.end} is past`);
  const what = `the stack as configured costs ${eur(cost.monthlyEur)}/month${until ?? ""}${estimates}`;
  if (!voucher) return { line: `${what}; voucher: unknown (give --voucher EUR, or OVH credentials to read the project's credit)` };
  const from = voucher.source ? ` (${voucher.source})` : "";
  if (!term || term.months === 0) {
    const lasts = cost.monthlyEur > 0 ? `${(voucher.eur / cost.monthlyEur).toFixed(1)} months` : "indefinitely";
    return { line: `${what}; voucher ${eur(voucher.eur)}${from} lasts ${lasts} (${term ? "the term is over" : "no term.end in the stack to compare with"})` };
  }
  const left = voucher.eur - term.eur;
  return left >= 0
    ? { covered: true, line: `${what}; voucher ${eur(voucher.eur)}${from} COVERS it, ${eur(left)} left` }
    : { covered: false, line: `${what}; voucher ${eur(voucher.eur)}${from} does NOT cover it: ${eur(-left)} short` };
}
