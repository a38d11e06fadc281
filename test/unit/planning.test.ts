import { describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { SERVER_PRESETS } from "../../components/config/presets";
import { readStackFile } from "../../components/config/stackFile";
import { campusSites, stackCost, topologyOptions, voucherCoverage } from "../../components/planning/costing";
import type { FailoverPolicy } from "../../components/planning/failover";
import { HOURS_PER_MONTH, PRICE_TABLE, pricesFor } from "../../components/planning/prices";
import { capacityWarnings, checkPool, demandOf, demandOfCampus, nodeCapacity, recommendNodes, recommendedPool } from "../../components/planning/sizing";
import { siteOf } from "../../components/planning/sites";
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
  it("counts a node by its scarcer resource against 8 physical cores / 16 GB at ~200 users", () => {
    expect(nodeCapacity({ cores: 8, ramGb: 16 })).toBe(200);
    expect(nodeCapacity({ cores: 16, ramGb: 64 })).toBe(400);
    expect(nodeCapacity({ cores: 16, ramGb: 16 })).toBe(200); // RAM-bound
    expect(nodeCapacity({ cores: 4, ramGb: 32 })).toBe(100); // the case study's early 4c/8t test box
  });

  it("counts Public Cloud vCores as hyperthreads: one C2-60 is worth the case study's Infra-1 (8 cores / 16 threads)", () => {
    const c260 = SERVER_PRESETS["c2-60"];
    expect(c260).toMatchObject({ cores: 8, threads: 16 });
    expect(nodeCapacity(c260)).toBe(nodeCapacity({ cores: 8, ramGb: 64 }));
    // The infra-1 preset orders Infra-1's successor, Advance-1: 6 cores / 12 threads, below the 8-core minimum.
    expect(SERVER_PRESETS["infra-1"]).toMatchObject({ cores: 6, threads: 12 });
    expect(nodeCapacity(SERVER_PRESETS["infra-1"])).toBe(150);
  });

  it("sizes the case study peak (600 users in 40 rooms) at 3 minimum-node units, users dominating", () => {
    const d = demandOf({ users: 600, rooms: 40 });
    expect(d.units).toBe(3);
    expect(d.webcams).toBe(40); // the teacher's webcam in each room
    expect(d.videoStreams).toBe(600); // 40 webcams x 15 users in a room
    expect(d.reasoning.join("\n")).toMatch(/600 simultaneous users \/ ~200 per minimum node .* = 3 minimum-node units/);
  });

  it("recommends per policy: 600 users need 6 one-unit nodes to survive a site, 4 to survive a node, 3 with none", () => {
    const d = demandOf({ users: 600, rooms: 40 });
    const presets = {
      ...SERVER_PRESETS,
      big: { ...(SERVER_PRESETS["c2-60"] as object), flavor: "big", cores: 16, threads: 32, ramGb: 120 } as (typeof SERVER_PRESETS)[string],
    };
    const count = (policy: FailoverPolicy) => Object.fromEntries(recommendNodes(d, presets, { policy, sites: ["a", "b"] }).map((r) => [r.model, r.count]));
    expect(count("datacenter")).toMatchObject({ "c2-60": 6, big: 4 });
    expect(count("node")).toMatchObject({ "c2-60": 4, big: 3 });
    expect(count("none")).toMatchObject({ "c2-60": 3, big: 2 });
    // 6 physical cores: below the minimum production node, never recommended.
    expect(count("datacenter")["rise-1"]).toBeUndefined();
    expect(count("datacenter")["infra-1"]).toBeUndefined();
    // Three sites lose only a third at a time.
    const three = recommendNodes(d, presets, { policy: "datacenter", sites: ["a", "b", "c"] }).find((r) => r.model === "c2-60");
    expect(three).toMatchObject({ count: 5 });
  });

  it("keeps at least two nodes in two sites for a small school, and lets webcams dominate when many are on", () => {
    const heavy = demandOf({ users: 600, rooms: 40, webcamShare: 0.5 });
    expect(heavy.videoStreams).toBe(4500);
    expect(heavy.units).toBeCloseTo(4500 / 800);
    expect(heavy.reasoning.join("\n")).toMatch(/webcams dominate/);
    const small = size({ users: 50, rooms: 2 }).recommendations;
    expect(small.every((r) => r.count >= 2 && r.sites.length === 2)).toBe(true);
  });

  it("warns about sessions above 200 users and reads webcam shares as typed", () => {
    expect(demandOf({ users: 500, rooms: 2 }).warnings.join()).toMatch(/no session above 200/);
    expect(parseShare("30%")).toBeCloseTo(0.3);
    expect(parseShare("0.3")).toBeCloseTo(0.3);
    expect(() => parseShare("30")).toThrow(/share of users/);
    expect(() => parseShare("150%")).toThrow(/share of users/);
  });

  it("tells the plan that the case study's 2 Infra-1 successors fall short of a 600-user peak with a site down", () => {
    const warnings = capacityWarnings(parseCampus(caseStudy(), noSecrets));
    expect(warnings).toContainEqual(expect.stringMatching(/below the minimum production node \(8 physical cores, 16 GB\): bbb-sbg, bbb-rbx/));
    expect(warnings).toContainEqual(expect.stringMatching(/undersized: 2 node\(s\) carry about 300 concurrent users.*expects 600/));
    expect(warnings).toContainEqual(
      expect.stringMatching(/with site (strasbourg|roubaix) down \(failover policy 'datacenter'\), the nodes carry about 150 users/),
    );
  });

  it("is quiet for a stack within its policy and flags a single-site, single-node stack", () => {
    const cloudNodes = [
      { name: "bbb-sbg", fqdn: "bbb1.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-60" },
      { name: "bbb-gra", fqdn: "bbb2.isen-ouest.fr", kind: "publicCloud", region: "GRA11", flavor: "c2-60" },
    ];
    const fine = caseStudy({
      expected: { concurrentUsers: 180, classrooms: 10 },
      publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
      nodes: cloudNodes,
    } as Partial<CampusInput>);
    expect(capacityWarnings(parseCampus(fine, noSecrets))).toEqual([]);
    const one = caseStudy({
      expected: { concurrentUsers: 100, classrooms: 5 },
      publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
      nodes: cloudNodes.slice(0, 1),
    } as Partial<CampusInput>);
    expect(capacityWarnings(parseCampus(one, noSecrets))).toContainEqual(expect.stringMatching(/every node is in one site \(strasbourg\)/));
    expect(capacityWarnings(parseCampus({ ...one, failover: "node" }, noSecrets))).toContainEqual(
      expect.stringMatching(/a single node: failover policy 'node' needs at least 2/),
    );
    // The same single node passes with no failover asked for.
    expect(capacityWarnings(parseCampus({ ...one, failover: "none" }, noSecrets))).toEqual([]);
  });

  it("treats a dedicated datacenter and a Public Cloud region of the same city as one site", () => {
    const mixed = caseStudy({
      expected: { concurrentUsers: 100, classrooms: 5 },
      publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
      nodes: [
        { name: "bbb-gra", fqdn: "bbb1.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "gra" },
        { name: "bbb-gra11", fqdn: "bbb2.isen-ouest.fr", kind: "publicCloud", region: "GRA11", flavor: "c2-60" },
      ],
    } as Partial<CampusInput>);
    const campus = parseCampus(mixed, noSecrets);
    expect(campus.nodes.map((n) => n.site)).toEqual(["gravelines", "gravelines"]);
    expect(capacityWarnings(campus)).toContainEqual(expect.stringMatching(/every node is in one site \(gravelines\)/));
    expect(siteOf({ kind: "dedicated", datacenter: "sbg" })).toBe(siteOf({ kind: "publicCloud", region: "SBG5" }));
  });

  it("flags an unknown Public Cloud region and a datacenter of another OVH endpoint", () => {
    const par1 = caseStudy({
      publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
      nodes: [
        { name: "bbb-par", fqdn: "bbb1.isen-ouest.fr", kind: "publicCloud", region: "PAR1", flavor: "c2-60" },
        { name: "bbb-sbg", fqdn: "bbb2.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "sbg" },
      ],
    } as Partial<CampusInput>);
    expect(capacityWarnings(parseCampus(par1, noSecrets))).toContainEqual(
      expect.stringMatching(/bbb-par: Public Cloud region 'PAR1' is not one we know \(did you mean EU-WEST-PAR\?\)/),
    );
    const vin = caseStudy({
      nodes: [...(caseStudy().nodes as object[]), { name: "bbb-vin", fqdn: "bbb3.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "vin" }],
    } as Partial<CampusInput>);
    expect(() => parseCampus(vin, noSecrets)).toThrow(
      /campus.nodes\[2\].datacenter: 'vin' \(vint-hill\) is sold through the ovh-us API endpoint, but subsidiary FR orders through ovh-eu/,
    );
    const vinUs = caseStudy({
      nodes: [{ name: "bbb-vin", fqdn: "bbb3.isen-ouest.fr", kind: "dedicated", model: "infra-1", datacenter: "vin", subsidiary: "US" }],
    } as Partial<CampusInput>);
    expect(() => parseCampus(vinUs, noSecrets)).not.toThrow();
  });
});

describe("one capacity model and one failover policy for plan, size and estimate", () => {
  const grid = [100, 150, 200, 250, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500, 1800, 2000];
  const policies: FailoverPolicy[] = ["datacenter", "node", "none"];

  it("every recommendation of `size` over 100..2000 users and every policy passes the plan's own check", () => {
    for (const policy of policies) {
      for (const users of grid) {
        const rooms = Math.max(2, Math.ceil(users / 25));
        for (const r of size({ users, rooms }, { policy }).recommendations) {
          // The plan's check, on a campus built from the recommendation.
          const nodes = Array.from({ length: r.count }, (_, i) => nodeFor(r.model, i, ["sbg", "rbx"][i % 2], ["SBG5", "GRA11"][i % 2]));
          const campus = parseCampus(
            caseStudy({
              failover: policy,
              expected: { concurrentUsers: users, classrooms: rooms },
              publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
              nodes,
            } as Partial<CampusInput>),
            noSecrets,
          );
          expect(capacityWarnings(campus).filter(isCapacityWarning), `${policy} ${users} users: ${r.count} x ${r.model}`).toEqual([]);
          // One fewer node would not pass: the recommendation is the smallest.
          if (r.count > (policy === "none" ? 1 : 2)) {
            const fewer = parseCampus(
              caseStudy({
                failover: policy,
                expected: { concurrentUsers: users, classrooms: rooms },
                publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
                nodes: nodes.slice(0, -1),
              } as Partial<CampusInput>),
              noSecrets,
            );
            expect(capacityWarnings(fewer).filter(isCapacityWarning).length, `${policy} ${users} users: ${r.count - 1} x ${r.model}`).toBeGreaterThan(0);
          }
        }
      }
    }
  });

  it("every stack's `estimate` topologies pass the plan's check under the stack's policy, on the stack's sites", () => {
    for (const stack of ["brest", "nantes", "rennes", "training", "lab"]) {
      for (const policy of policies) {
        const raw = { ...(readStackFile(stack).config["bbb-ovh:campus"].value as CampusInput), failover: policy };
        const campus = parseCampus(raw, { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true });
        for (const option of topologyOptions(campus, PRICE_TABLE)) {
          const sites = campusSites(campus);
          expect(option.check.shortfalls, `${stack} ${policy} ${option.count} x ${option.model}`).toEqual([]);
          const pool = recommendedPool(option.model, campus.presets[option.model], option.count, sites);
          expect(checkPool(pool, demandOfCampus(campus), policy).shortfalls).toEqual([]);
        }
      }
    }
  });
});

const isCapacityWarning = (w: string) => /undersized|failover policy|single node|one site/.test(w);

function nodeFor(model: string, i: number, datacenter: string, region: string): object {
  const base = { name: `bbb${i + 1}`, fqdn: `bbb${i + 1}.isen-ouest.fr` };
  const preset = SERVER_PRESETS[model];
  return preset.kind === "dedicated" ? { ...base, kind: "dedicated", model, datacenter } : { ...base, kind: "publicCloud", region, flavor: preset.flavor };
}

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
    expect(() => parseCampus({ ...caseStudy(), prices: { "c2-30": { source: "x", date: "2026" } } }, noSecrets)).toThrow(
      /campus.prices.c2-30: give monthlyEur or hourlyEur/,
    );
  });

  it("finds the cheapest topology that carries the expected users under the stack's failover policy", () => {
    const campus = parseCampus(caseStudy(), noSecrets);
    const options = topologyOptions(campus, PRICE_TABLE);
    // Under 'datacenter' the fronts are the Rise-1 and a standby like it (frontFailover.ts).
    const front = 2 * (PRICE_TABLE["rise-1"].monthlyEur as number);
    // 600 users with a site down: 3 one-unit nodes per site; Advance-1 (6 cores) is below the minimum.
    expect(options.map((o) => [o.model, o.count, o.monthlyEur])).toEqual([["c2-60", 6, front + 6 * 270]]);
    expect(options[0].monthlyEur).toBe(Math.min(...options.map((o) => o.monthlyEur)));
    // A cheaper override changes the answer.
    const cheapCloud = topologyOptions(campus, { ...PRICE_TABLE, "c2-60": { monthlyEur: 50, basis: "quoted", source: "t", date: "2026-11" } });
    expect(cheapCloud[0]).toMatchObject({ model: "c2-60", count: 6, monthlyEur: front + 300 });
  });
});
