import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FAILOVER_POLICIES } from "../../components/planning/failover";
import { decideScaling, meets, oneNodeOfUsers, type PowerState, type ScalingInput, type ScalingNode } from "../../components/scaling/decide";

const seed = Number(process.env.FUZZ_SEED ?? 20261202);
const C2_60 = { cores: 8, ramGb: 60 }; // 200 users
const C2_120 = { cores: 16, ramGb: 120 }; // 400 users
const MIN = 60_000;

const node = (id: string, site: string, state: PowerState, over: Partial<ScalingNode> = {}): ScalingNode => ({
  id,
  site,
  spec: C2_60,
  shelvable: true,
  state,
  meetings: 0,
  recordings: 0,
  users: 0,
  ...over,
});
const baseInput = (nodes: ScalingNode[], over: Partial<ScalingInput> = {}): ScalingInput => ({
  now: 100 * MIN,
  awake: true,
  policy: "datacenter",
  marginUsers: 200,
  marginUnderFailure: true,
  scaleDownAfterMs: 30 * MIN,
  nodes,
  ...over,
});

const arbNode = fc.record({
  site: fc.constantFrom("strasbourg", "gravelines", "roubaix"),
  spec: fc.constantFrom(C2_60, C2_120, undefined),
  shelvable: fc.boolean(),
  state: fc.constantFrom<PowerState>("enabled", "parked", "waking", "shelved", "held"),
  meetings: fc.nat(6),
  recordings: fc.nat(3),
  users: fc.nat(250),
  billedAgo: fc.option(fc.nat(300 * MIN)),
});
const arbInput = fc
  .record({
    nodes: fc.array(arbNode, { minLength: 1, maxLength: 8 }).map((ns) =>
      ns.map((n, i) => {
        const up = n.state === "enabled" || n.state === "parked" || n.state === "held";
        // Only nodes that are up host meetings; a node's users come with meetings.
        const meetings = up ? n.meetings : 0;
        return { ...n, id: `n${i}`, meetings, users: meetings > 0 ? n.users : 0, recordings: up ? n.recordings : 0 };
      }),
    ),
    awake: fc.boolean(),
    policy: fc.constantFrom(...FAILOVER_POLICIES),
    marginUsers: fc.nat(600),
    marginUnderFailure: fc.boolean(),
    scaleDownAfterMs: fc.nat(60 * MIN),
    now: fc.integer({ min: 60 * MIN, max: 10_000 * MIN }),
    surplusAgo: fc.option(fc.nat(120 * MIN)),
    shelveLeadMs: fc.option(fc.constantFrom(0, 15 * MIN, 30 * MIN), { nil: undefined }),
  })
  .map(
    ({ surplusAgo, nodes, ...rest }) =>
      ({
        ...rest,
        nodes: nodes.map(({ billedAgo, ...n }) => ({ ...n, billedSince: billedAgo === null ? undefined : rest.now - billedAgo })),
        surplusSince: surplusAgo === null ? undefined : rest.now - surplusAgo,
      }) as ScalingInput,
  );

/** The nodes taking meetings once the decision is carried out (woken ones counted as they will be). */
function after(i: ScalingInput, d: ReturnType<typeof decideScaling>): ScalingNode[] {
  const act = new Map(d.actions.map((a) => [a.node, a.action]));
  return i.nodes.filter((n) => {
    const a = act.get(n.id);
    if (a === "cordon" || a === "shelve") return false;
    return n.state === "enabled" || n.state === "waking" || a === "enable" || a === "wake";
  });
}

describe("scaling decision (pure)", () => {
  it("property: never cordons below the requirement, never touches what is not its own, never shelves a busy node", () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const d = decideScaling(i);
        const byId = new Map(i.nodes.map((n) => [n.id, n]));
        for (const a of d.actions) {
          const n = byId.get(a.node) as ScalingNode;
          expect(n.state).not.toBe("held");
          if (a.action === "cordon" || a.action === "shelve") expect(n.shelvable).toBe(true);
          if (a.action === "shelve") expect([n.state, n.meetings, n.recordings]).toEqual(["parked", 0, 0]);
          if (a.action === "cordon") expect(n.state).toBe("enabled");
          if (a.action === "wake") expect([n.state, n.shelvable]).toEqual(["shelved", true]);
          if (a.action === "enable") expect(n.state).toBe("parked");
        }
        // A node kept up for its paid hour is empty, ours, parked after this run, and not shelved before that hour's end.
        for (const p of d.paidUp) {
          const n = byId.get(p.node) as ScalingNode;
          expect([n.shelvable, n.meetings, n.recordings]).toEqual([true, 0, 0]);
          expect(d.actions.filter((a) => a.node === p.node).map((a) => a.action)).toEqual(n.state === "parked" ? [] : ["cordon"]);
          expect(p.until - i.now).toBeGreaterThan(i.shelveLeadMs ?? Infinity);
          expect(p.until - i.now).toBeLessThanOrEqual(60 * MIN);
        }
        const kinds = new Set(d.actions.map((a) => a.action));
        // Never adds and removes in one run, and removes one node at a time.
        expect(kinds.has("cordon") && (kinds.has("wake") || kinds.has("enable"))).toBe(false);
        expect(d.actions.filter((a) => a.action === "cordon").length).toBeLessThanOrEqual(1);
        const pool = after(i, d);
        const users = i.nodes.reduce((s, n) => s + n.users, 0);
        if (kinds.has("cordon")) {
          // Never below the policy, never the last node taking meetings.
          expect(meets(pool, users, i).ok).toBe(true);
          expect(pool.length).toBeGreaterThanOrEqual(1);
        }
        // Whenever the whole pool could carry the requirement, the decision does.
        const everything = i.nodes.filter(
          (n) => n.state === "enabled" || n.state === "waking" || n.state === "parked" || (n.state === "shelved" && n.shelvable),
        );
        if (meets(everything, users, i).ok) {
          expect(d.short).toBe(false);
          expect(meets(pool, users, i).ok).toBe(true);
        } else expect(d.short).toBe(true);
      }),
      { seed, numRuns: 2000 },
    );
  });

  it("property: inside the awake window a node goes only after the surplus lasted scaleDownAfter", () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const d = decideScaling({ ...i, awake: true });
        if (d.actions.some((a) => a.action === "cordon")) expect(i.now - (i.surplusSince ?? i.now)).toBeGreaterThanOrEqual(i.scaleDownAfterMs);
      }),
      { seed, numRuns: 1000 },
    );
  });

  it("keeps an empty parked node up to the end of its paid hour, shelves it then, and re-enables it first when needed", () => {
    const lead = 15 * MIN;
    const up = [node("sbg-1", "strasbourg", "enabled"), node("gra-1", "gravelines", "enabled")];
    const parked = (billedAgo?: number) => node("sbg-2", "strasbourg", "parked", { billedSince: billedAgo === undefined ? undefined : 100 * MIN - billedAgo });
    const quiet = { marginUsers: 0, shelveLeadMs: lead };
    // 80 minutes after its unshelve: its second hour, paid, has 40 minutes left.
    const kept = decideScaling(baseInput([...up, parked(80 * MIN)], quiet));
    expect(kept.actions).toEqual([]);
    expect(kept.paidUp).toEqual([{ node: "sbg-2", until: 100 * MIN + 40 * MIN }]);
    expect(kept.summary).toContain("sbg-2 stays up, cordoned, to the end of its paid hour (40 min)");
    // 10 minutes left, under one timer run plus a shelve: shelved now.
    const ending = decideScaling(baseInput([...up, parked(110 * MIN)], quiet));
    expect(ending.actions).toEqual([expect.objectContaining({ node: "sbg-2", action: "shelve" })]);
    expect(ending.paidUp).toEqual([]);
    // An hour just begun is paid whole.
    expect(decideScaling(baseInput([...up, parked(120 * MIN)], quiet)).paidUp).toEqual([{ node: "sbg-2", until: 160 * MIN }]);
    // A billing start ops did not record (a node up before ops scale ran), or no lead: shelved as soon as empty.
    for (const d of [decideScaling(baseInput([...up, parked()], quiet)), decideScaling(baseInput([...up, parked(80 * MIN)], { marginUsers: 0 }))])
      expect(d.actions).toEqual([expect.objectContaining({ node: "sbg-2", action: "shelve" })]);
    // Load comes back: the paid node is re-enabled, nothing is woken.
    const busy = [node("sbg-1", "strasbourg", "enabled", { users: 150, meetings: 5 }), node("gra-1", "gravelines", "enabled", { users: 120, meetings: 4 })];
    const back = decideScaling(baseInput([...busy, parked(80 * MIN), node("gra-2", "gravelines", "shelved")], { shelveLeadMs: lead }));
    expect(back.actions[0]).toMatchObject({ node: "sbg-2", action: "enable" });
    expect(back.paidUp).toEqual([]);
  });

  it("a node cordoned in a paid hour is said to stay up, so that ops scale cordons it without shelving it", () => {
    const nodes = [
      node("sbg-1", "strasbourg", "enabled", { billedSince: 90 * MIN }),
      node("gra-1", "gravelines", "enabled", { users: 10, meetings: 1 }),
      node("gra-2", "gravelines", "enabled"),
    ];
    const d = decideScaling(baseInput(nodes, { awake: false, shelveLeadMs: 15 * MIN }));
    expect(d.actions).toEqual([expect.objectContaining({ node: "gra-2", action: "cordon" })]);
    // gra-2's billing start is unknown: it is shelved once empty, in the same run (not in paidUp).
    expect(d.paidUp).toEqual([]);
    const paid = decideScaling(
      baseInput(
        nodes.map((n) => (n.id === "gra-2" ? { ...n, billedSince: 95 * MIN } : n)),
        { awake: false, shelveLeadMs: 15 * MIN },
      ),
    );
    expect(paid.actions).toEqual([expect.objectContaining({ node: "gra-2", action: "cordon" })]);
    expect(paid.paidUp).toEqual([{ node: "gra-2", until: 155 * MIN }]);
  });

  it("wakes a shelved spare in the site that restores the datacenter policy when the margin is gone", () => {
    const nodes = [
      node("sbg-1", "strasbourg", "enabled", { users: 150, meetings: 5 }),
      node("gra-1", "gravelines", "enabled", { users: 120, meetings: 4 }),
      node("sbg-2", "strasbourg", "shelved"),
      node("gra-2", "gravelines", "shelved"),
    ];
    const d = decideScaling(baseInput(nodes));
    // 270 users + 200 margin = 470: with a site down, one c2-60 carries 200; two a site carry 400, still short: all four.
    expect(d.actions.map((a) => [a.node, a.action])).toEqual([
      ["gra-2", "wake"],
      ["sbg-2", "wake"],
    ]);
    expect(d.short).toBe(true);
    expect(d.summary).toMatch(/carries only 400/);
    // 150 users: 350 needed, the two woken c2-60s in each site carry 400.
    const d2 = decideScaling(baseInput(nodes.map((n) => (n.users ? { ...n, users: 75 } : n))));
    expect(d2.short).toBe(false);
    expect(d2.actions.map((a) => a.action)).toEqual(["wake", "wake"]);
  });

  it("re-enables a node it parked before waking a shelved one, and never counts a drained (held) node", () => {
    const nodes = [
      node("a", "strasbourg", "enabled"),
      node("b", "gravelines", "held"),
      node("c", "gravelines", "parked", { meetings: 1, users: 0 }),
      node("d", "gravelines", "shelved"),
    ];
    const d = decideScaling(baseInput(nodes));
    expect(d.actions).toEqual([expect.objectContaining({ node: "c", action: "enable" })]);
  });

  it("waits scaleDownAfter with a surplus, then cordons the emptiest node; shelves a parked node once empty", () => {
    const nodes = [
      node("a", "strasbourg", "enabled", { users: 20, meetings: 1 }),
      node("b", "gravelines", "enabled", { users: 5, meetings: 1 }),
      node("c", "strasbourg", "enabled", { users: 30, meetings: 1 }),
      node("d", "gravelines", "enabled", { users: 40, meetings: 2 }),
    ];
    // 95 users + a margin of 100: with a site down, two c2-60s per site carry 400, one 200.
    const input = (ns: ScalingNode[], over: Partial<ScalingInput> = {}) => baseInput(ns, { marginUsers: 100, ...over });
    const first = decideScaling(input(nodes));
    expect(first.actions).toEqual([]);
    expect(first.surplusSince).toBe(100 * MIN);
    expect(first.summary).toMatch(/one node goes if it lasts 30 more min/);
    const later = decideScaling(input(nodes, { now: 131 * MIN, surplusSince: first.surplusSince }));
    expect(later.actions).toEqual([expect.objectContaining({ node: "b", action: "cordon" })]);
    // b is parked now; its meeting ends, its recording is transferred: shelve.
    const parked = nodes.map((n) => (n.id === "b" ? { ...n, state: "parked" as const, users: 0, meetings: 0 } : n));
    expect(decideScaling(input(parked, { now: 135 * MIN, surplusSince: later.surplusSince })).actions).toEqual([
      expect.objectContaining({ node: "b", action: "shelve" }),
    ]);
    expect(
      decideScaling(
        input(
          parked.map((n) => (n.id === "b" ? { ...n, recordings: 1 } : n)),
          { now: 135 * MIN },
        ),
      ).actions,
    ).toEqual([]);
  });

  it("never cordons a monthly-billed or dedicated node, nor the last node outside teaching hours", () => {
    const nodes = [node("a", "strasbourg", "enabled", { shelvable: false }), node("b", "gravelines", "enabled")];
    expect(decideScaling(baseInput(nodes, { awake: false })).actions).toEqual([expect.objectContaining({ node: "b", action: "cordon" })]);
    expect(decideScaling(baseInput([node("b", "gravelines", "enabled")], { awake: false })).actions).toEqual([]);
  });

  it("marginUnderFailure: false keeps the users present under the policy and the margin as spare room of the running pool", () => {
    const nodes = [
      node("sbg-1", "strasbourg", "enabled", { users: 150, meetings: 5 }),
      node("gra-1", "gravelines", "enabled"),
      node("sbg-2", "strasbourg", "shelved"),
      node("gra-2", "gravelines", "shelved"),
    ];
    // Under failure: 350 with a site down needs two nodes a site.
    expect(decideScaling(baseInput(nodes)).actions.map((a) => a.action)).toEqual(["wake", "wake"]);
    // Spare room: a site down leaves 200 >= 150 present; both up carry 400 >= 150 + 200.
    expect(decideScaling(baseInput(nodes, { marginUnderFailure: false })).actions).toEqual([]);
    // 210 present: the policy itself needs more.
    expect(
      decideScaling(
        baseInput(
          nodes.map((n) => (n.users ? { ...n, users: 210 } : n)),
          { marginUnderFailure: false },
        ),
      ).actions.map((a) => a.action),
    ).toEqual(["wake", "wake"]);
  });

  it("the default margin is one node's worth: the largest node of the pool", () => {
    expect(oneNodeOfUsers([{ spec: C2_60 }, { spec: C2_120 }, {}])).toBe(400);
  });
});
