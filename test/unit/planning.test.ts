import { describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { SERVER_PRESETS } from "../../components/config/presets";
import { stackCost, topologyOptions, voucherCoverage } from "../../components/planning/costing";
import { HOURS_PER_MONTH, PRICE_TABLE, pricesFor } from "../../components/planning/prices";
import { capacityWarnings, demandOf, nodeCapacity, recommendNodes } from "../../components/planning/sizing";
import { parseShare, size } from "../../cli/ops/size";

const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

/** The ISEN Ouest case study: a Rise-1 front and two Infra-1 nodes in Strasbourg and Roubaix. */
function caseStudy(over: Partial<CampusInput> = {}): CampusInput {
  return {
    id: "isen",
    label: "ISEN Ouest",
    dns: { zone: "isen-ouest.fr" },
    adminEmail: "it@isen-ouest.fr",
    sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd it"],
    adminCidrs: ["193.52.128.0/24"],
    expected: { concurrentUsers: 600, classrooms: 40 },
    front: { name: "lb", fqdn: "visio.isen-ouest.fr", kind: "dedicated", model: "rise-1", datacenter: "rbx" },
    nodes: [
      { name: "bbb-sbg", fqdn: "bbb1.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "sbg" },
      { name: "bbb-rbx", fqdn: "bbb2.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "rbx" },
    ],
    ...over,
  } as CampusInput;
}

describe("sizing from the published guidance", () => {
  it("counts a node by its scarcer resource against 8 cores / 16 GB at ~200 users", () => {
    expect(nodeCapacity({ cores: 8, ramGb: 16 })).toBe(200);
    expect(nodeCapacity({ cores: 16, ramGb: 60 })).toBe(400);
    expect(nodeCapacity({ cores: 16, ramGb: 16 })).toBe(200); // RAM-bound
    expect(nodeCapacity({ cores: 4, ramGb: 32 })).toBe(100); // the case study's early 4c/8t test box
  });

  it("sizes the case study peak (600 users in 40 rooms) at 3 minimum nodes, users dominating", () => {
    const d = demandOf({ users: 600, rooms: 40 });
    expect(d.units).toBe(3);
    expect(d.webcams).toBe(40); // the teacher's webcam in each room
    expect(d.videoStreams).toBe(600); // 40 webcams x 15 users in a room
    expect(d.reasoning.join("\n")).toMatch(/600 simultaneous users \/ ~200 per minimum node .* = 3 minimum-node units/);
    const recs = recommendNodes(d, SERVER_PRESETS);
    const byModel = Object.fromEntries(recs.map((r) => [r.model, r]));
    expect(byModel["infra-1"]).toMatchObject({ capacity: 200, count: 3 });
    expect(byModel["c2-60"]).toMatchObject({ capacity: 400, count: 2, capacityWithOneDatacenterDown: 400 });
    expect(byModel["rise-1"]).toBeUndefined(); // 6 cores: below the minimum production node
    expect(recs[0].model).toBe("c2-60");
  });

  it("at 20-40 rooms the room count only changes the video load, not the node count, with teacher-only webcams", () => {
    expect(size({ users: 600, rooms: 20 }).recommendations[0]).toMatchObject({ model: "c2-60", count: 2 });
    expect(demandOf({ users: 600, rooms: 20 }).videoStreams).toBe(600);
  });

  it("lets webcams dominate when many are on, and keeps at least two nodes for a small school", () => {
    const heavy = demandOf({ users: 600, rooms: 40, webcamShare: 0.5 });
    expect(heavy.videoStreams).toBe(4500);
    expect(heavy.units).toBeCloseTo(4500 / 800);
    expect(heavy.reasoning.join("\n")).toMatch(/webcams dominate/);
    const small = size({ users: 50, rooms: 2 }).recommendations;
    expect(small.every((r) => r.count >= 2)).toBe(true);
    expect(small[0].reasoning).toMatch(/failover needs 2 in 2 datacenters/);
  });

  it("warns about sessions above 200 users and reads webcam shares as typed", () => {
    expect(demandOf({ users: 500, rooms: 2 }).warnings.join()).toMatch(/no session above 200/);
    expect(parseShare("30%")).toBeCloseTo(0.3);
    expect(parseShare("0.3")).toBeCloseTo(0.3);
    expect(() => parseShare("30")).toThrow(/share of users/);
    expect(() => parseShare("150%")).toThrow(/share of users/);
  });

  it("tells the plan that the case study's 2 Infra-1 nodes fall short of a 600-user peak", () => {
    const warnings = capacityWarnings(parseCampus(caseStudy(), noSecrets));
    expect(warnings).toContainEqual(expect.stringMatching(/undersized: 2 node\(s\) carry about 400 concurrent users.*expects 600/));
    expect(warnings).toContainEqual(expect.stringMatching(/largest datacenter down.*200 of the 600/));
  });

  it("is quiet for a stack within the guidance and flags a single-datacenter, single-node stack", () => {
    const fine = caseStudy({ expected: { concurrentUsers: 180, classrooms: 10 } });
    expect(capacityWarnings(parseCampus(fine, noSecrets))).toEqual([]);
    const one = caseStudy({ expected: { concurrentUsers: 100, classrooms: 5 }, nodes: [{ name: "bbb-sbg", fqdn: "bbb1.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "sbg" }] } as Partial<CampusInput>);
    const w = capacityWarnings(parseCampus(one, noSecrets));
    expect(w).toContainEqual(expect.stringMatching(/a single node/));
    expect(w).toContainEqual(expect.stringMatching(/no datacenter failover: every node is in sbg/));
  });
});

describe("cost and vouchers", () => {
  it("gives every price a source and a date, and marks unverified figures as estimates", () => {
    for (const [key, p] of Object.entries(PRICE_TABLE)) {
      expect(p.source.length, key).toBeGreaterThan(10);
      expect(p.date, key).toMatch(/^\d{4}-\d{2}$/);
      expect(p.monthlyEur ?? p.hourlyEur, key).toBeGreaterThan(0);
    }
    expect(PRICE_TABLE["c2-60"]).toMatchObject({ hourlyEur: 0.75, monthlyEur: 270, basis: "quoted", date: "2025-01" });
    expect(PRICE_TABLE["infra-1"].basis).toBe("estimate");
  });

  it("costs the case study: Rise-1 front + 2 Infra-1, dedicated servers the same under both billings", () => {
    const campus = parseCampus(caseStudy(), noSecrets);
    const cost = stackCost(campus, PRICE_TABLE);
    const expected = (PRICE_TABLE["rise-1"].monthlyEur as number) + 2 * (PRICE_TABLE["infra-1"].monthlyEur as number);
    expect(cost.total).toEqual({ monthly: expected, hourly: expected });
    expect(cost.unpriced).toEqual([]);
  });

  it("shows the Public Cloud hourly vs monthly difference for C2-60 nodes", () => {
    const campus = parseCampus(
      caseStudy({
        publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
        nodes: [
          { name: "bbb-sbg", fqdn: "bbb1.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-60" },
          { name: "bbb-gra", fqdn: "bbb2.isen-ouest.fr", kind: "publicCloud", region: "GRA11", flavor: "c2-60" },
        ],
      } as Partial<CampusInput>),
      noSecrets,
    );
    const cost = stackCost(campus, PRICE_TABLE);
    const front = PRICE_TABLE["rise-1"].monthlyEur as number;
    expect(cost.total.monthly).toBeCloseTo(front + 2 * 270);
    expect(cost.total.hourly).toBeCloseTo(front + 2 * 0.75 * HOURS_PER_MONTH);
  });

  it("says how long a voucher lasts and what a term costs", () => {
    expect(voucherCoverage(3000, 300).months).toBe(10);
    expect(voucherCoverage(3000, 300, 12).requested).toEqual({ months: 12, cost: 3600, remaining: -600 });
    expect(voucherCoverage(100, 0).months).toBe(Number.POSITIVE_INFINITY);
  });

  it("applies a stack's price overrides, and the schema rejects unusable ones", () => {
    const campus = parseCampus({ ...caseStudy(), prices: { "infra-1": { monthlyEur: 120, source: "OVH order 2026-11-20", date: "2026-11" } } }, noSecrets);
    const prices = pricesFor(campus.config.prices);
    expect(prices["infra-1"]).toMatchObject({ monthlyEur: 120, basis: "quoted", date: "2026-11" });
    expect(prices["c2-30"]).toEqual(PRICE_TABLE["c2-30"]);
    expect(() => parseCampus({ ...caseStudy(), prices: { "c2-30": { source: "x", date: "2026" } } }, noSecrets)).toThrow(/campus.prices.c2-30: give monthlyEur or hourlyEur/);
  });

  it("finds the cheapest topology that still carries the expected users with failover", () => {
    const campus = parseCampus(caseStudy(), noSecrets);
    const options = topologyOptions(campus, PRICE_TABLE);
    const front = PRICE_TABLE["rise-1"].monthlyEur as number;
    const infra = PRICE_TABLE["infra-1"].monthlyEur as number;
    // 600 users: 3 x Infra-1 (200 each) against 2 x C2-60 (400 each) on monthly billing.
    expect(options.map((o) => [o.model, o.count, o.monthlyEur])).toEqual(
      expect.arrayContaining([
        ["infra-1", 3, front + 3 * infra],
        ["c2-60", 2, front + 2 * 270],
      ]),
    );
    expect(options[0].monthlyEur).toBe(Math.min(...options.map((o) => o.monthlyEur)));
    // A cheaper override changes the answer.
    const cheapCloud = topologyOptions(campus, { ...PRICE_TABLE, "c2-60": { monthlyEur: 50, basis: "quoted", source: "t", date: "2026-11" } });
    expect(cheapCloud[0]).toMatchObject({ model: "c2-60", count: 2, monthlyEur: front + 100 });
  });
});
