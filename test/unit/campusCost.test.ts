import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { campusCost, costVerdict } from "../../components/planning/campusCost";
import { topologyAdvice, topologyOptions } from "../../components/planning/costing";
import { pricesFor, PRICE_TABLE, STORAGE_PRICES } from "../../components/planning/prices";

const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

/** The training stack: a C2-30 front, two C2-60 nodes in two regions, recordings off (no backup). */
function cloudSchool(over: Record<string, unknown> = {}): CampusInput {
  const doc = parse(readFileSync(path.resolve(__dirname, "../../stacks/Pulumi.training.yaml"), "utf8"));
  return { ...doc.config["bbb-ovh:campus"], ...over } as CampusInput;
}

// Two weeks from Monday 2027-01-04 00:00 UTC to the end of Sunday 2027-01-17: 336 hours. Lessons
// 08:00-18:00 UTC on weekdays, no margins, Friday the 8th closed: 9 days x 10 h = 90 h awake.
const NOW = new Date("2027-01-04T00:00:00Z");
const timetable = {
  timezone: "UTC",
  slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }],
  closed: ["2027-01-08"],
  wakeBeforeMinutes: 0,
  sleepAfterMinutes: 0,
};
const prices = pricesFor({});
const c230 = PRICE_TABLE["c2-30"].hourlyEur as number;
const c260 = PRICE_TABLE["c2-60"].hourlyEur as number;
const snapshot = STORAGE_PRICES["snapshot-gb-month"].monthlyEur as number;

describe("what the school pays for the stack as configured", () => {
  it("bills nodes for the hours the timetable keeps them awake, the front around the clock, and shelved snapshots", () => {
    const campus = parseCampus(cloudSchool({ timetable, term: { end: "2027-01-17" } }), noSecrets);
    const cost = campusCost(campus, prices, NOW);
    expect(cost.awakeShare).toBeCloseTo(90 / 336);
    expect(cost.window.hours).toBe(336);
    // Over the term, counted hour by hour: the front 336 h, each node 90 h, each node's 400 GB snapshot for the 246 h asleep.
    const expected = c230 * 336 + 2 * c260 * 90 + 2 * 400 * snapshot * (246 / 730);
    expect(cost.untilTermEnd?.eur).toBeCloseTo(expected, 6);
    expect(cost.untilTermEnd?.months).toBeCloseTo(336 / 730);
    expect(cost.monthlyEur).toBeCloseTo((expected * 730) / 336, 6);
    expect(cost.lines.find((l) => l.item === "lb-training (front)")).toMatchObject({ monthlyEur: c230 * 730, how: expect.stringMatching(/always on/) });
    expect(cost.lines.filter((l) => /snapshot/.test(l.item)).every((l) => l.basis === "estimate")).toBe(true);
  });

  it("keeps a standby front always on too, and nodes around the clock without a timetable", () => {
    const standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
    const campus = parseCampus(cloudSchool({ standbyFront, term: { end: "2027-01-17" } }), noSecrets);
    const cost = campusCost(campus, prices, NOW);
    expect(cost.awakeShare).toBeUndefined();
    expect(cost.lines.some((l) => /snapshot/.test(l.item))).toBe(false);
    expect(cost.untilTermEnd?.eur).toBeCloseTo((2 * c230 + 2 * c260) * 336, 6);
  });

  it("counts the backup bucket on OVH Object Storage as an estimate", () => {
    const campus = parseCampus(cloudSchool({ recordings: true }), noSecrets);
    const cost = campusCost(campus, prices, NOW);
    const bucket = cost.lines.find((l) => l.item === "backup bucket");
    // The C2-30 front's 200 GB disk bounds the repository.
    expect(bucket).toMatchObject({ basis: "estimate", monthlyEur: 200 * (STORAGE_PRICES["object-storage-gb-month"].monthlyEur as number) });
    expect(cost.untilTermEnd).toBeUndefined();
  });

  it("says whether the voucher covers the term, and that it is unknown when no amount is known", () => {
    const cost = campusCost(parseCampus(cloudSchool({ timetable, term: { end: "2027-01-17" } }), noSecrets), prices, NOW);
    const total = cost.untilTermEnd?.eur as number;
    expect(costVerdict(cost, { eur: total + 10 })).toMatchObject({ covered: true, line: expect.stringMatching(/COVERS it, 10\.00 EUR left/) });
    expect(costVerdict(cost, { eur: total - 5 })).toMatchObject({ covered: false, line: expect.stringMatching(/does NOT cover it: 5\.00 EUR short/) });
    expect(costVerdict(cost).covered).toBeUndefined();
    // Once term.end is past, nothing is due until it: the voucher is set against the months ahead instead.
    const after = campusCost(parseCampus(cloudSchool({ timetable, term: { end: "2027-01-03" } }), noSecrets), prices, NOW);
    expect(after.untilTermEnd).toMatchObject({ months: 0, eur: 0 });
    expect(after.window.hours).toBe(28 * 24);
    expect(costVerdict(after, { eur: 1000 })).toMatchObject({
      line: expect.stringMatching(/term\.end 2027-01-03 is past.*lasts [\d.]+ months \(the term is over\)/),
    });
    expect(costVerdict(cost)).toMatchObject({ line: expect.stringMatching(/until term\.end 2027-01-17 .*voucher: unknown/) });
  });
});

describe("the cheapest topology says why", () => {
  it("says no dedicated model in the presets has 8 physical cores, and why the recommendation is dearer", () => {
    const campus = parseCampus(cloudSchool({ expected: { concurrentUsers: 250, classrooms: 10 } }), noSecrets);
    const options = topologyOptions(campus, prices);
    const advice = topologyAdvice(campus, prices, options, 100);
    expect(advice.dedicatedModels).toEqual([]);
    expect(advice.reason).toMatch(/no dedicated model in the presets has 8 physical cores \(rise-1 6, infra-1 6 cores\)/);
    expect(advice.reason).toMatch(/it costs \d+\.\d x the stack as configured \(100\.00 EUR\/month\) because \d x c2-60/);
  });

  it("compares an 8-core dedicated plan the stack adds", () => {
    const adv = {
      kind: "dedicated",
      planCode: "24adv02",
      cores: 8,
      threads: 16,
      ramGb: 64,
      bandwidthMbps: 1000,
      planOptions: ["ram-64g-x", "softraid-2x960nvme-x", "bandwidth-1000-x", "vrack-bandwidth-x"],
      source: "test",
      checked: "2026-12",
    };
    const campus = parseCampus(cloudSchool({ presets: { "adv-8": adv } }), noSecrets);
    const advice = topologyAdvice(campus, prices, topologyOptions(campus, prices), 1000);
    expect(advice.dedicatedModels).toEqual(["adv-8"]);
    expect(advice.reason).not.toMatch(/no dedicated model/);
  });
});
