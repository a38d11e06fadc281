import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FAILOVER_POLICIES } from "../../components/planning/failover";
import { carries } from "../../components/scaling/decide";
import { drainAllowed, upgradeOrder } from "../../components/scaling/upgrade";

const seed = Number(process.env.FUZZ_SEED ?? 20261202);
const C2_60 = { cores: 8, ramGb: 60 };
const n = (id: string, site: string, users = 0) => ({ id, site, spec: C2_60, users });

describe("rolling upgrade (pure)", () => {
  it("the emptiest node is the canary, then sites take turns, emptiest first", () => {
    expect(upgradeOrder([n("a", "sbg", 40), n("b", "gra", 30), n("c", "sbg", 20), n("d", "gra", 10)])).toEqual(["d", "c", "b", "a"]);
    expect(upgradeOrder([n("a", "sbg", 0), n("b", "sbg", 5), n("c", "gra", 50)])).toEqual(["a", "c", "b"]);
  });

  it("refuses to drain when the others would not carry the users connected under the policy", () => {
    const pool = [n("a", "sbg"), n("b", "gra"), n("c", "sbg"), n("d", "gra")];
    expect(drainAllowed(pool, "a", 150, "datacenter")).toMatchObject({ ok: true, carried: 200 });
    expect(drainAllowed(pool, "a", 210, "datacenter")).toMatchObject({ ok: false, reason: expect.stringMatching(/it stays in the pool/) });
    expect(drainAllowed([n("a", "sbg")], "a", 0, "none")).toMatchObject({ ok: false, reason: expect.stringMatching(/only node/) });
  });

  it("property: every order lists each node once; a drain allowed leaves a pool that carries the users", () => {
    const arbPool = fc
      .array(fc.record({ site: fc.constantFrom("sbg", "gra", "rbx"), users: fc.nat(200) }), { minLength: 1, maxLength: 8 })
      .map((ns) => ns.map((x, i) => n(`n${i}`, x.site, x.users)));
    fc.assert(
      fc.property(arbPool, fc.nat(800), fc.constantFrom(...FAILOVER_POLICIES), (pool, users, policy) => {
        expect([...upgradeOrder(pool)].sort()).toEqual(pool.map((x) => x.id).sort());
        for (const x of pool) {
          const d = drainAllowed(pool, x.id, users, policy);
          const rest = pool.filter((y) => y.id !== x.id);
          expect(d.ok).toBe(rest.length > 0 && carries(rest, users, policy, false).ok);
        }
      }),
      { seed, numRuns: 500 },
    );
  });
});
