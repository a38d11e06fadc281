import type { Campus } from "../config/campus";
import { HOURS_PER_MONTH, type PriceEntry } from "../planning/prices";
import { awakeHours } from "./timetable";

export interface TimetableSaving {
  /** Share of the time hourly nodes are awake under the timetable, over the period looked at. */
  awakeShare: number;
  /** Nodes the timetable can shelve: hourly-billed Public Cloud nodes with a price. */
  nodes: string[];
  /** EUR a month saved against keeping them up around the clock on hourly billing. */
  monthlyEur: number;
  period: { from: string; days: number };
}

/**
 * What the timetable saves: hourly nodes are billed only while awake (OVH does not bill a shelved
 * hourly instance's compute; its snapshot storage is billed, a few EUR a month, not counted here).
 * Measured over the `days` from `from`, so closed days in that window count.
 */
export function timetableSaving(campus: Campus, prices: Readonly<Record<string, PriceEntry>>, from: Date, days = 28): TimetableSaving | undefined {
  const timetable = campus.config.timetable;
  if (!timetable) return undefined;
  const to = new Date(from.getTime() + days * 86_400_000);
  const awakeShare = Math.min(1, awakeHours(timetable, from, to) / (days * 24));
  const hourly = campus.nodes.flatMap((n) => {
    if (n.config.kind !== "publicCloud") return [];
    const rate = prices[n.config.flavor]?.hourlyEur;
    return rate === undefined ? [] : [{ name: n.name, rate }];
  });
  const monthlyEur = hourly.reduce((sum, n) => sum + n.rate * HOURS_PER_MONTH * (1 - awakeShare), 0);
  return { awakeShare, nodes: hourly.map((n) => n.name), monthlyEur, period: { from: from.toISOString().slice(0, 10), days } };
}
