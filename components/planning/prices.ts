import type { CampusConfig } from "../config/schema";
/**
 * What the hosts cost, in one table, because OVH moves its prices and ranges. Every figure says where
 * it comes from and when; `basis: "estimate"` marks a figure nobody has checked in a catalogue, with
 * the reasoning behind it. A stack overrides or adds entries under `campus.prices` (same keys: a preset
 * name, a Public Cloud flavor or a plan code). Amounts are EUR excluding VAT.
 *
 * Public Cloud bills by the hour or by the month; OVH prices the monthly plan at about half of the
 * hourly rate over a full month (OVHcloud Public Cloud FAQ: "50% discount choosing monthly billing").
 */
export interface PriceEntry {
  /** Monthly rent (dedicated) or monthly plan (Public Cloud). */
  monthlyEur?: number;
  /** Public Cloud hourly rate. */
  hourlyEur?: number;
  basis: "quoted" | "estimate";
  source: string;
  /** When the figure was read (YYYY-MM). */
  date: string;
}

/** Hours a month of hourly billing is counted over (8760 h / 12). */
export const HOURS_PER_MONTH = 730;

export const PRICE_TABLE: Readonly<Record<string, PriceEntry>> = {
  "c2-60": {
    hourlyEur: 0.75,
    monthlyEur: 270,
    basis: "quoted",
    source:
      "third-party snapshot of the OVHcloud Public Cloud price list (C2-60: ~0.75 EUR/h or ~270 EUR/month); current list: https://www.ovhcloud.com/en/public-cloud/prices/",
    date: "2025-01",
  },
  "c2-30": {
    hourlyEur: 0.375,
    monthlyEur: 135,
    basis: "estimate",
    source:
      "half of the C2-60 figures: OVH prices its C2 flavors in proportion to size (C2-30 is half a C2-60); check https://www.ovhcloud.com/en/public-cloud/prices/",
    date: "2025-01",
  },
  "rise-1": {
    monthlyEur: 70,
    basis: "estimate",
    source:
      "~70 USD/month on OVHcloud US (https://us.ovhcloud.com/bare-metal/rise/, 2026-05), taken as ~70 EUR/month for the EU subsidiaries without conversion; check ovh.order.getCartProduct",
    date: "2026-05",
  },
  "infra-1": {
    monthlyEur: 100,
    basis: "estimate",
    source:
      "Infra-1 (case study) is no longer sold; 100 EUR/month is an unverified placeholder for its successor as components/config/presets.ts orders it (Advance-1, 6 cores, 64 GB; https://www.ovhcloud.com/en/bare-metal/advance/). Replace it with the catalogue price (ovh.order.getCartProduct) under campus.prices",
    date: "2026-11",
  },
};

/**
 * Storage prices, EUR per GB-month (not host rents): what a shelved node's snapshot and the backup
 * bucket cost. Keys a stack can override under `campus.prices` like any other entry.
 */
export const SNAPSHOT_PRICE_KEY = "snapshot-gb-month";
export const OBJECT_STORAGE_PRICE_KEY = "object-storage-gb-month";

export const STORAGE_PRICES: Readonly<Record<string, PriceEntry>> = {
  [SNAPSHOT_PRICE_KEY]: {
    monthlyEur: 0.01,
    basis: "estimate",
    source:
      "OVHcloud Public Cloud price list, instance snapshot/backup storage at about 0.01 EUR per GB-month, not re-verified from here (a shelved instance is billed for its snapshot only); check https://www.ovhcloud.com/en/public-cloud/prices/",
    date: "2026-12",
  },
  [OBJECT_STORAGE_PRICE_KEY]: {
    monthlyEur: 0.007,
    basis: "estimate",
    source:
      "OVHcloud Standard Object Storage at about 0.007 EUR per GB-month (docs/backups.md, 'What it costs': unverified); check https://www.ovhcloud.com/en/public-cloud/prices/",
    date: "2026-11",
  },
};

/** The price table with a stack's validated `campus.prices` overrides applied. */
export function pricesFor(overrides: CampusConfig["prices"]): Record<string, PriceEntry> {
  const prices: Record<string, PriceEntry> = { ...PRICE_TABLE, ...STORAGE_PRICES };
  for (const [key, entry] of Object.entries(overrides)) {
    prices[key] = { monthlyEur: entry.monthlyEur, hourlyEur: entry.hourlyEur, basis: "quoted", source: `stack override: ${entry.source}`, date: entry.date };
  }
  return prices;
}
