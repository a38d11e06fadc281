import { describe, expect, it } from "vitest";
import { meets } from "../../components/scaling/decide";
import {
  DEFAULTS,
  EXPECTED_PEAK,
  leastNodeHours,
  MARGIN_POOL,
  POLICY_POOL,
  schoolWeek,
  simulateWeek,
  twoSitePool,
  WEEK_MINUTES,
} from "../../bench/scalingWeek";

describe("the simulated week's pools and bound (bench/scalingWeek.ts)", () => {
  it("sizes each pool as the smallest two-site pool the rule accepts at the expected peak", () => {
    const rule = { ...DEFAULTS, awake: true };
    expect(POLICY_POOL).toEqual(twoSitePool(2));
    expect(MARGIN_POOL).toEqual(twoSitePool(3));
    expect(meets(POLICY_POOL, EXPECTED_PEAK, { ...rule, marginUsers: 0 }).ok).toBe(true);
    expect(meets(twoSitePool(1), EXPECTED_PEAK, { ...rule, marginUsers: 0 }).ok).toBe(false);
    expect(meets(MARGIN_POOL, EXPECTED_PEAK, rule).ok).toBe(true);
    expect(meets(POLICY_POOL, EXPECTED_PEAK, rule).ok).toBe(false);
  });

  it("bounds a week by the fewest nodes the rule allows each minute, paid by the minute", () => {
    // One class of 100 on Monday 10:00-11:00 (inside the awake window, 07:15-19:00 Monday to Friday).
    const week = [{ id: 0, start: 600, end: 660, size: 100, joinMinutes: 3, processing: 0 }];
    const awake = 5 * (19 * 60 - (7 * 60 + 15));
    // Awake: one node a site for the margin alone, two a site once anyone is connected (100 + 200 with a site
    // down); asleep: the last node.
    const expected = (awake * 2 + 60 * 2 + (WEEK_MINUTES - awake)) / 60;
    expect(leastNodeHours(week, { ...DEFAULTS, pool: MARGIN_POOL })).toBeCloseTo(expected, 9);
    // As spare room: 300 users of room in two nodes, 100 carried with a site down by one a site.
    expect(leastNodeHours(week, { ...DEFAULTS, pool: MARGIN_POOL, marginUnderFailure: false })).toBeCloseTo((awake * 2 + (WEEK_MINUTES - awake)) / 60, 9);
  });

  it("ops scale runs the seeded week on both pools with no user short, no meeting cut, and above the bound", () => {
    const week = schoolWeek(7);
    for (const pool of [POLICY_POOL, MARGIN_POOL]) {
      const options = { ...DEFAULTS, pool };
      const scale = simulateWeek("scale", week, options);
      expect(scale).toMatchObject({ underCapacityMinutes: 0, meetingsCut: 0 });
      expect(scale.nodeHours).toBeGreaterThanOrEqual(leastNodeHours(week, options));
    }
  });
});
