/**
 * cli/plan/render.ts totalLine: the host summary's last line says only what applies to the stack's hosts (a
 * dedicated campus was told of Public Cloud hosts on monthly billing, a campus of its own hosts of a bill).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseCampus, type Campus } from "../../components/config/campus";
import { stackCost } from "../../components/planning/costing";
import { pricesFor } from "../../components/planning/prices";
import { totalLine } from "../../cli/plan/render";

// The stacks' secrets as their Pulumi config holds them (secure: values): present.
const secrets = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true, backupS3Credentials: true, smtpPassword: true };

function shipped(stack: string, over: Record<string, unknown> = {}): Campus {
  const doc = parse(readFileSync(path.resolve(__dirname, `../../stacks/Pulumi.${stack}.yaml`), "utf8"));
  return parseCampus({ ...doc.config["bbb-ovh:campus"], ...over }, secrets);
}
const total = (campus: Campus) => totalLine(campus, [campus.front, ...campus.nodes], stackCost(campus, pricesFor(campus.config.prices)));
const timetable = { timezone: "Europe/Paris", slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }] };

describe("the plan's total line", () => {
  it("dedicated servers: their month, and nothing of hourly hosts or monthly billing", () => {
    const line = total(shipped("brest"));
    expect(line).toMatch(/^Total: \d+\.\d\d EUR a month\.$/);
    expect(line).toBe(`Total: ${stackCost(shipped("brest"), pricesFor({})).total.monthly.toFixed(2)} EUR a month.`);
  });

  it("the school's own hosts: nothing billed", () => {
    expect(total(shipped("lab"))).toBe("Total: nothing billed by OVH: every host is the school's own.");
  });

  it("hourly Public Cloud hosts: up around the clock, what shelves them (or would), and the monthly alternative", () => {
    expect(total(shipped("training"))).toMatch(
      /^Total: \d+\.\d\d EUR a month as planned, the hourly Public Cloud hosts up around the clock \(campus\.timetable would shelve them outside teaching hours, which this total does not count\); \d+\.\d\d EUR were they on monthly billing\.$/,
    );
    expect(total(shipped("training", { timetable }))).toContain("(campus.timetable shelves them outside teaching hours, which");
    expect(total(shipped("training", { timetable, scaling: {} }))).toContain("(campus.scaling shelves them as the load allows, which");
  });
});
