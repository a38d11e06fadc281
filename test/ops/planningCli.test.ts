import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { PRICE_TABLE } from "../../components/planning/prices";
import { ops, scratch } from "./cli";

const REPO = path.resolve(__dirname, "../..");

/** The Brest example stack (Rise-1 + 2 Infra-1), with a price override for Infra-1. */
function stackWithPrices(prices: unknown): string {
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.brest.yaml"), "utf8"));
  doc.config["bbb-ovh:campus"].prices = prices;
  const file = path.join(scratch(), "Pulumi.brest-priced.yaml");
  writeFileSync(file, stringify(doc));
  return file;
}

describe("ops estimate", () => {
  it("costs the stack, says how long the voucher lasts and what the months cost", async () => {
    const run = await ops(["estimate", "brest", "--voucher", "5000", "--months", "10", "--json"]);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout);
    const monthly = (PRICE_TABLE["rise-1"].monthlyEur as number) + 2 * (PRICE_TABLE["infra-1"].monthlyEur as number);
    expect(r.cost.total).toEqual({ monthly, hourly: monthly });
    expect(r.voucher.monthly.months).toBeCloseTo(5000 / monthly);
    expect(r.voucher.monthly.requested).toEqual({ months: 10, cost: 10 * monthly, remaining: 5000 - 10 * monthly });
    expect(r.cost.hosts.map((h: { name: string; priceKey: string }) => [h.name, h.priceKey])).toEqual([
      ["lb-brest", "rise-1"],
      ["bbb-brest-sbg", "infra-1"],
      ["bbb-brest-rbx", "infra-1"],
    ]);
  });

  it("uses the stack's own prices (campus.prices) and shows sources and estimates to people", async () => {
    const file = stackWithPrices({ "infra-1": { monthlyEur: 150, source: "OVH order form", date: "2026-11" } });
    const run = await ops(["estimate", file, "--voucher", "1000"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/bbb-brest-sbg[^\n]*150\.00 EUR[^\n]*stack override: OVH order form/);
    expect(run.stdout).toMatch(/ESTIMATE: ~70 USD\/month/); // the front keeps the table's estimate
    expect(run.stdout).toMatch(/voucher 1000\.00 EUR: lasts 2\.7 months with monthly billing/); // 1000 / 370
    expect(run.stdout).toMatch(/cheapest topology for the expected users: 2 x/);
  });

  it("needs a valid stack file", async () => {
    const run = await ops(["estimate", path.join(scratch(), "Pulumi.none.yaml")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no stack file/);
  });
});

describe("ops size", () => {
  it("recommends nodes for the case study with its reasoning", async () => {
    const run = await ops(["size", "--users", "600", "--rooms", "40", "--json"]);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.demand.units).toBe(3);
    expect(r.recommendations[0]).toMatchObject({ model: "c2-60", count: 2 });
    const text = await ops(["size", "--users", "600", "--rooms", "40", "--webcams", "50%"]);
    expect(text.stdout).toMatch(/300 webcams/);
    expect(text.stdout).toMatch(/recommended: 3 x c2-60/);
  });

  it("rejects bad input as a usage error (exit 2)", async () => {
    expect((await ops(["size", "--users", "0", "--rooms", "4"])).code).toBe(2);
    expect((await ops(["size", "--users", "10"])).code).toBe(2);
    expect((await ops(["size", "--users", "10", "--rooms", "2", "--webcams", "2.5"])).code).toBe(2);
  });
});

describe("npm run ops (the entry point)", () => {
  it("exits with the command's code", async () => {
    const run = promisify(execFile);
    const tsx = path.join(REPO, "node_modules/.bin/tsx");
    const ok = await run(tsx, ["cli/ops.ts", "size", "--users", "200", "--rooms", "8"], { cwd: REPO });
    expect(ok.stdout).toMatch(/recommended: 2 x/);
    const bad = await run(tsx, ["cli/ops.ts", "smoke", "--url", "http://127.0.0.1:9"], { cwd: REPO, env: { PATH: process.env.PATH, HOME: scratch() } }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/no shared secret/) });
  }, 20_000);
});
