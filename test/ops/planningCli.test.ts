import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { PRICE_TABLE, STORAGE_PRICES } from "../../components/planning/prices";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";
import { capacityWarnings } from "../../components/planning/sizing";
import { ops, scratch } from "./cli";
import { OPS_CLI } from "../support/distCli";

/** What `npm run plan` prints as warnings for a stack file (cli/plan/planStack.ts). */
const planWarnings = (file: string) => capacityWarnings(campusOfStackFile(readStackFile(file)));

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
    expect(run.stdout).toMatch(/bbb-brest-sbg[^\n]*150\.00[^\n]*stack override: OVH order form/);
    expect(run.stdout).toMatch(/ESTIMATE: ~70 USD\/month/); // the front keeps the table's estimate
    // No term.end in brest: the voucher is set against the monthly cost of the stack as configured (70 + 2 x 150).
    expect(run.stdout).toMatch(
      /what you will pay: the stack as configured costs 370\.00 EUR\/month \(includes estimates\); voucher 1000\.00 EUR lasts 2\.7 months/,
    );
    // brest expects 250 users; 2 one-unit nodes carry 200 with a site down: the plan's check fails and
    // estimate says so, then recommends what passes that same check.
    expect(run.stdout).toMatch(/current nodes: 2 x infra-1; the plan's check fails: with site (strasbourg|roubaix) down/);
    expect(run.stdout).toMatch(
      /cheapest topology that passes the same check \(failover 'datacenter'\): 4 x \S+ \+ the current front \+ a standby front like it in another site =/,
    );
    // A dearer recommendation says why: no 8-core dedicated model in the presets.
    expect(run.stdout).toMatch(/ {2}why: .*no dedicated model in the presets has 8 physical cores .*it costs \d+\.\d x the stack as configured/);
    // The front is counted too: in roubaix with no standby, it is the single point of failure.
    expect(run.stdout).toMatch(/front:\n\s+- single point of failure: the front lb-brest [^\n]* is in roubaix with no standby front/);
    expect(planWarnings(file).join("\n")).toMatch(/with site (strasbourg|roubaix) down \(failover policy 'datacenter'\)/);
  });

  it("needs a valid stack file", async () => {
    const run = await ops(["estimate", path.join(scratch(), "Pulumi.none.yaml")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no stack file/);
  });

  it("labels a mixed topology per model and prices monthly plans and hourly rates in their own columns", async () => {
    const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.brest.yaml"), "utf8"));
    const campus = doc.config["bbb-ovh:campus"];
    campus.publicCloud = { projectId: "0123456789abcdef0123456789abcdef" };
    campus.nodes[1] = { name: "bbb-brest-gra", fqdn: "bbb2.brest.isen-ouest.fr", kind: "publicCloud", region: "GRA11", flavor: "c2-60" };
    const file = path.join(scratch(), "Pulumi.brest-mixed.yaml");
    writeFileSync(file, stringify(doc));
    const run = await ops(["estimate", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/current nodes: 1 x infra-1 \+ 1 x c2-60/);
    expect(run.stdout).toMatch(/monthly plan\s+.*hourly rate/s);
    // c2-60: 270.00 a month on the monthly plan, 0.750 an hour, 547.50 for a full month of hours.
    expect(run.stdout).toMatch(/bbb-brest-gra[^\n]*270\.00[^\n]*0\.750[^\n]*547\.50/);
  });
});

describe("ops estimate on a Public Cloud campus with a timetable and a term", () => {
  /** The training stack (C2-30 front, two C2-60 nodes, hourly), with weekday lessons and a term ending 2027-01-17. */
  function timetabledStack(): string {
    const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
    const campus = doc.config["bbb-ovh:campus"];
    campus.term = { end: "2027-01-17" };
    campus.timetable = {
      timezone: "UTC",
      slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }],
      closed: ["2027-01-08"],
      wakeBeforeMinutes: 0,
      sleepAfterMinutes: 0,
    };
    const file = path.join(scratch(), "Pulumi.training-term.yaml");
    writeFileSync(file, stringify(doc));
    return file;
  }

  it("prints one line with what the school pays until term.end and whether the voucher covers it", async () => {
    const file = timetabledStack();
    // 336 h to the end of the term: front 336 h, nodes 90 h awake each, their 400 GB snapshots the 246 h asleep.
    const c230 = PRICE_TABLE["c2-30"].hourlyEur as number;
    const c260 = PRICE_TABLE["c2-60"].hourlyEur as number;
    const term = c230 * 336 + 2 * c260 * 90 + 2 * 400 * (STORAGE_PRICES["snapshot-gb-month"].monthlyEur as number) * (246 / 730);
    const at = ["--at", "2027-01-04T00:00:00Z"];
    const covered = await ops(["estimate", file, "--voucher", String(Math.ceil(term)), ...at], { env: {} });
    expect(covered.code).toBe(0);
    const line = covered.stdout.split("\n").find((l) => l.startsWith("what you will pay: "));
    expect(line).toBe(
      `what you will pay: the stack as configured costs ${((term * 730) / 336).toFixed(2)} EUR/month, ${term.toFixed(2)} EUR until term.end 2027-01-17 (0.5 months) (includes estimates); voucher ${Math.ceil(term).toFixed(2)} EUR COVERS it, ${(Math.ceil(term) - term).toFixed(2)} EUR left`,
    );
    expect(covered.stdout).toMatch(/bbb-training-sbg snapshot while shelved: [\d.]+ EUR\/month ESTIMATE/);
    const short = await ops(["estimate", file, "--voucher", "100", ...at], { env: {} });
    expect(short.stdout).toMatch(/voucher 100\.00 EUR does NOT cover it: [\d.]+ EUR short/);
    const unknown = await ops(["estimate", file, ...at], { env: {} });
    expect(unknown.stdout).toMatch(/until term\.end 2027-01-17 [^\n]*; voucher: unknown/);
    const json = JSON.parse((await ops(["estimate", file, "--json", ...at], { env: {} })).stdout);
    expect(json.payable.untilTermEnd.eur).toBeCloseTo(term, 6);
  });
});

describe("ops size", () => {
  it("prints no heading without lines under it", async () => {
    const run = await ops(["size", "--users", "600", "--rooms", "40"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    lines.forEach((line, i) => {
      if (/^[a-z]+:$/.test(line)) expect(lines[i + 1] ?? "", `'${line}' is followed by nothing`).toMatch(/^ {2}- /);
    });
  });

  it("recommends nodes for the case study under the default policy (a site down), with its reasoning", async () => {
    const run = await ops(["size", "--users", "600", "--rooms", "40", "--json"]);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.demand.units).toBe(3);
    expect(r.policy).toBe("datacenter");
    expect(r.recommendations[0]).toMatchObject({ count: 6, check: { shortfalls: [] } });
    const text = await ops(["size", "--users", "600", "--rooms", "40", "--webcams", "50%"]);
    expect(text.stdout).toMatch(/300 webcams/);
    expect(text.stdout).toMatch(/recommended: \S+ \(8 physical cores[^\n]*12 nodes, spread over 2 sites/);
    const node = await ops(["size", "--users", "600", "--rooms", "40", "--failover", "node"]);
    expect(node.stdout).toMatch(/recommended: [^\n]*4 nodes[^\n]*with node \S+ down/);
    expect(text.stdout).toMatch(/fronts: 2 \(the front and a standby front in another site/);
    expect(node.stdout).toMatch(/fronts: 1 \(one front/);
  });

  it("refuses an unknown policy and a datacenter policy on one site (exit 2)", async () => {
    const bad = await ops(["size", "--users", "100", "--rooms", "4", "--failover", "rack"]);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/--failover expects one of datacenter, node, none, got 'rack'/) });
    const oneSite = await ops(["size", "--users", "100", "--rooms", "4", "--sites", "1"]);
    expect(oneSite).toMatchObject({ code: 2, stderr: expect.stringMatching(/--failover datacenter needs --sites 2 or more/) });
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
    const ok = await run(process.execPath, [OPS_CLI, "size", "--users", "200", "--rooms", "8"], { cwd: REPO });
    expect(ok.stdout).toMatch(/recommended: [^\n]*2 nodes, spread over 2 sites/);
    const bad = await run(process.execPath, [OPS_CLI, "smoke", "--url", "http://127.0.0.1:9"], {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: scratch() },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/no shared secret/) });
  });
});

describe("ops schedule apply --dry-run", () => {
  it("shows the next wake and sleep times from the stack file alone: no credentials, no connection", async () => {
    const doc = parse(readFileSync(path.join(__dirname, "../../stacks/Pulumi.training.yaml"), "utf8"));
    doc.config["bbb-ovh:campus"].timetable = {
      timezone: "Europe/Paris",
      slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }],
      wakeBeforeMinutes: 45,
      sleepAfterMinutes: 60,
    };
    const file = path.join(scratch(), "Pulumi.training.yaml");
    writeFileSync(file, stringify(doc));
    // A Saturday evening in Paris: asleep until Monday 07:15, then awake until 19:00.
    const run = await ops(["schedule", "apply", file, "--dry-run", "--at", "2026-11-28T20:00:00+01:00"], { env: {} });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("at Sat 2026-11-28 20:00 (Europe/Paris) the nodes should be ASLEEP (shelved)");
    expect(run.stdout).toMatch(/next 7 days:\n {2}Mon 2026-11-30 07:15 {2}wake: [^\n]*\n {2}Mon 2026-11-30 19:00 {2}sleep: /);
    const json = await ops(["schedule", "apply", file, "--dry-run", "--json", "--at", "2026-11-30T12:00:00+01:00"], { env: {} });
    const preview = JSON.parse(json.stdout);
    expect(preview).toMatchObject({ awakeNow: true, timezone: "Europe/Paris" });
    expect(preview.transitions[0]).toEqual({ at: "2026-11-30T18:00:00.000Z", to: "asleep" });
    expect(preview.transitions).toHaveLength(10); // Mon-Fri evenings and mornings, and next Monday 07:15
  });
});
