/**
 * A school week of BigBlueButton load against three ways of running hourly Public Cloud nodes:
 * always on, the timetable alone (`ops schedule apply`) and capacity that follows the load (`ops scale`,
 * whose decision function components/scaling/decide.ts is run here unchanged). Minute by minute:
 * meetings start on the hour in bursts, Scalelite places each on its least-loaded enabled node, a
 * controller runs every 5 minutes (the timer of docs/scaling.md), a woken node serves after the
 * modelled decision-to-serving time (bench/nodeReady.ts). Seeded: the same seed gives the same week.
 */
import fc from "fast-check";
import { DateTime } from "luxon";
import type { HostSpec } from "../components/config/campus";
import type { FailoverPolicy } from "../components/planning/failover";
import { PRICE_TABLE } from "../components/planning/prices";
import { carries, decideScaling, meets, oneNodeOfUsers, SHELVE_LEAD_MS, type PowerState, type ScalingNode } from "../components/scaling/decide";
import { shouldBeAwake, type Timetable } from "../components/schedule/timetable";
import { nodeReadyPaths } from "./nodeReady";

export const WEEK_MINUTES = 7 * 24 * 60;
/** Monday 00:00, Europe/Paris, of an ordinary teaching week. */
const WEEK_START = DateTime.fromISO("2026-11-23T00:00", { zone: "Europe/Paris" });
const TICK = 5;
/** Shelving a running instance uploads its disk first: billed until done (OVH does not say how long; generous). */
const SHELVE_BILLED_MINUTES = 10;
const FLAVOR = "c2-60";
const SPEC: HostSpec = { cores: 8, ramGb: 60 };
const CAPACITY = 200;

export const TIMETABLE: Timetable = {
  timezone: "Europe/Paris",
  slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }],
  closed: [],
  wakeBeforeMinutes: 45,
  sleepAfterMinutes: 60,
};

/** The users the campus of this week expects at its peak (the seeded weeks peak at 219-262). */
export const EXPECTED_PEAK = 300;

export interface SimPoolNode {
  id: string;
  site: string;
  spec: HostSpec;
}

/** C2-60s, as many in each of the two sites. */
export const twoSitePool = (perSite: number): SimPoolNode[] =>
  (["sbg", "gra"] as const).flatMap((prefix) =>
    Array.from({ length: perSite }, (_, i) => ({ id: `${prefix}-${i + 1}`, site: prefix === "sbg" ? "strasbourg" : "gravelines", spec: SPEC })),
  );

/**
 * The smallest two-site pool that carries `users` plus `marginUsers` under the policy at the peak, by the scaler's
 * own check (components/scaling/decide.ts `meets`): what an operator sizes with `ops size --users <users + margin>`.
 */
export function sizedPool(users: number, rule: Pick<WeekOptions, "marginUsers" | "marginUnderFailure" | "policy">): SimPoolNode[] {
  for (let perSite = 1; perSite <= 50; perSite++) {
    const pool = twoSitePool(perSite);
    if (meets(pool, users, { ...rule, awake: true }).ok) return pool;
  }
  throw new Error(`no two-site pool of up to 100 C2-60s carries ${users} users`);
}

export interface Meeting {
  id: number;
  /** Minute of the week it is created. */
  start: number;
  end: number;
  size: number;
  /** Minutes until everyone has joined. */
  joinMinutes: number;
  /** Minutes of recording processing on the node after the end (0: not recorded). */
  processing: number;
}

/**
 * Classes starting at each hour 08..17 on a full day; Wednesday afternoon is light (French timetables).
 * About 40 classes a day of ~22: ~900 participations, a campus whose users attend several lessons a day.
 */
const CLASSES_AT = [3, 4, 6, 6, 1, 3, 5, 5, 3, 1];

/**
 * A seeded week: classes of 12-32 students start on the hour (created within the first 6 minutes, most in
 * the first two: the burst), last 50 min or, one in four, 110 min; 30 % are recorded and processed for
 * about their own length. Tutoring meetings of 3-10 users run in the evening, a few classes on Saturday.
 */
export function schoolWeek(seed: number): Meeting[] {
  // fast-check's seeded sampler: the same seed, the same draws.
  const draws = fc.sample(fc.noBias(fc.integer({ min: 0, max: 1_000_000 })), { seed, numRuns: 20_000 });
  let i = 0;
  const u = () => draws[i++ % draws.length] / 1_000_000;
  const between = (lo: number, hi: number) => lo + Math.floor(u() * (hi - lo + 1));
  const meetings: Meeting[] = [];
  const add = (start: number, size: number, duration: number) => {
    const recorded = u() < 0.3;
    meetings.push({
      id: meetings.length,
      start,
      end: start + duration,
      size,
      joinMinutes: between(2, 6),
      processing: recorded ? Math.round(duration * (0.8 + 0.4 * u())) : 0,
    });
  };
  for (let day = 0; day < 5; day++) {
    CLASSES_AT.forEach((count, h) => {
      const hour = 8 + h;
      const light = day === 2 && hour >= 13;
      const n = Math.round(count * (light ? 0.4 : 1) * (0.75 + 0.5 * u()));
      for (let k = 0; k < n; k++) {
        const jitter = u() < 0.7 ? between(0, 2) : between(3, 6);
        add(day * 1440 + hour * 60 + jitter, between(12, 32), u() < 0.25 ? 110 : 50);
      }
    });
    for (let k = between(2, 4); k > 0; k--) add(day * 1440 + between(18 * 60, 20 * 60), between(3, 10), between(30, 60));
  }
  for (let k = between(2, 3); k > 0; k--) add(5 * 1440 + 9 * 60 + between(0, 60), between(10, 20), 110);
  return meetings.sort((a, b) => a.start - b.start);
}

export type Mode = "always-on" | "timetable" | "scale";

export interface WeekResult {
  mode: Mode;
  costEur: number;
  nodeHours: number;
  /** Minutes in which some user found no room: a node above its capacity, or a meeting with no enabled node. */
  underCapacityMinutes: number;
  /** Minutes in which the enabled nodes did not carry the users present with a site down. */
  belowPolicyMinutes: number;
  peakUsers: number;
  wakes: number;
  shelves: number;
  /** Meetings ended by the controller: must be 0 (nothing here can end one; counted to show it). */
  meetingsCut: number;
}

interface SimNode {
  id: string;
  site: string;
  spec: HostSpec;
  state: PowerState;
  readyAt: number;
  billedFrom?: number;
  billedMinutes: number[];
}

/** OVH bills an hourly instance per commenced hour of each period it is up (OVHcloud "Public Cloud Billing"). */
const hoursOf = (periods: number[]) => periods.reduce((s, m) => s + Math.ceil(m / 60), 0);

/** The timetable's awake window, minute by minute (the same for every run). */
let awakeMinutes: boolean[] | undefined;
const awakeWindow = () =>
  (awakeMinutes ??= Array.from({ length: WEEK_MINUTES }, (_, m) => shouldBeAwake(TIMETABLE, WEEK_START.plus({ minutes: m }).toJSDate())));

/** Users connected at minute t: each meeting's participants, joining over its first minutes. */
const usersOf = (m: Meeting, t: number) => Math.round(m.size * Math.min(1, (t - m.start + 1) / m.joinMinutes));

export interface WeekOptions {
  pool: readonly SimPoolNode[];
  marginUsers: number;
  marginUnderFailure: boolean;
  policy: FailoverPolicy;
  wakeMinutes: number;
}

const RULE = { marginUsers: oneNodeOfUsers([{ spec: SPEC }]), marginUnderFailure: true, policy: "datacenter" as FailoverPolicy };

/** The expected peak carried under the policy, without the margin: four C2-60s (two carry 400 users with a site down). */
export const POLICY_POOL = sizedPool(EXPECTED_PEAK, { ...RULE, marginUsers: 0 });
/** The expected peak plus the default margin, both carried under the policy: six C2-60s (three carry 600 with a site down). */
export const MARGIN_POOL = sizedPool(EXPECTED_PEAK, RULE);

export const DEFAULTS: WeekOptions = {
  pool: POLICY_POOL,
  ...RULE,
  wakeMinutes: Math.ceil(nodeReadyPaths()[0].minutes),
};

export function simulateWeek(mode: Mode, meetings: readonly Meeting[], options: WeekOptions = DEFAULTS): WeekResult {
  const { marginUsers, marginUnderFailure, policy, wakeMinutes } = options;
  const awake = awakeWindow();
  // The week starts as the one before ended: every node up when always on; else the weekend's last enabled node alone.
  const nodes: SimNode[] = options.pool.map((p, i) =>
    mode === "always-on" || i === 0
      ? { ...p, state: "enabled", readyAt: 0, billedFrom: 0, billedMinutes: [] }
      : { ...p, state: "shelved", readyAt: 0, billedMinutes: [] },
  );
  const placed = new Map<number, SimNode>();
  let surplusSince: number | undefined;
  const result: WeekResult = {
    mode,
    costEur: 0,
    nodeHours: 0,
    underCapacityMinutes: 0,
    belowPolicyMinutes: 0,
    peakUsers: 0,
    wakes: 0,
    shelves: 0,
    meetingsCut: 0,
  };
  const live = (t: number) => meetings.filter((m) => m.start <= t && t < m.end && placed.has(m.id));
  const processingOn = (n: SimNode, t: number) =>
    meetings.filter((m) => m.processing > 0 && placed.get(m.id) === n && m.end <= t && t < m.end + m.processing).length;
  const stop = (n: SimNode, t: number) => {
    if (n.billedFrom !== undefined) n.billedMinutes.push(t + SHELVE_BILLED_MINUTES - n.billedFrom);
    n.billedFrom = undefined;
    n.state = "shelved";
    result.shelves++;
  };
  const wake = (n: SimNode, t: number) => {
    n.state = "waking";
    n.readyAt = t + wakeMinutes;
    n.billedFrom = t;
    result.wakes++;
  };

  let next = 0;
  for (let t = 0; t < WEEK_MINUTES; t++) {
    for (const n of nodes) if (n.state === "waking" && t >= n.readyAt) n.state = mode === "scale" ? "enabled" : "parked";
    const running = live(t);
    const load = new Map(nodes.map((n) => [n, 0]));
    const users = new Map(nodes.map((n) => [n, 0]));
    for (const m of running) {
      const n = placed.get(m.id) as SimNode;
      const u = usersOf(m, t);
      users.set(n, (users.get(n) ?? 0) + u);
      // Scalelite's poll.rake: a meeting younger than 15 min weighs at least 15 (LOAD_MIN_USER_COUNT, LOAD_JOIN_BUFFER_TIME).
      load.set(n, (load.get(n) ?? 0) + (t - m.start < 15 ? Math.max(u, 15) : u));
    }
    let short = false;
    for (; next < meetings.length && meetings[next].start === t; next++) {
      const m = meetings[next];
      const target = nodes.filter((n) => n.state === "enabled").sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || (a.id < b.id ? -1 : 1))[0];
      if (!target) {
        short = true;
        continue;
      }
      placed.set(m.id, target);
      load.set(target, (load.get(target) ?? 0) + 15); // increment_load on create, then the minimum weight
    }
    const total = [...users.values()].reduce((s, u) => s + u, 0);
    result.peakUsers = Math.max(result.peakUsers, total);
    if (short || nodes.some((n) => (users.get(n) ?? 0) > CAPACITY)) result.underCapacityMinutes++;
    const serving = nodes.filter((n) => n.state === "enabled").map((n) => ({ id: n.id, site: n.site, spec: n.spec }));
    if (total > 0 && !carries(serving, total, policy, false).ok) result.belowPolicyMinutes++;

    if (mode === "always-on" || t % TICK !== 0) continue;
    const busy = (n: SimNode) => (users.get(n) ?? 0) > 0 || running.some((m) => placed.get(m.id) === n) || processingOn(n, t) > 0;
    if (mode === "timetable") {
      // `ops schedule apply`: everything awake in the window; outside, cordon, wait empty, shelve, never the last enabled.
      for (const n of nodes) {
        if (awake[t]) {
          if (n.state === "shelved") wake(n, t);
          else if (n.state === "parked") n.state = "enabled";
        } else if (n.state === "enabled" && nodes.some((o) => o !== n && o.state === "enabled")) n.state = "parked";
        if (!awake[t] && n.state === "parked" && !busy(n)) stop(n, t);
      }
      continue;
    }
    const view: ScalingNode[] = nodes.map((n) => ({
      id: n.id,
      site: n.site,
      spec: n.spec,
      shelvable: true,
      state: n.state,
      meetings: running.filter((m) => placed.get(m.id) === n).length,
      recordings: processingOn(n, t),
      users: users.get(n) ?? 0,
      // ops scale records when it unshelves a node (cli/ops/scale.ts); here every node's billing start is known.
      billedSince: n.billedFrom === undefined ? undefined : n.billedFrom * 60_000,
    }));
    const d = decideScaling({
      now: t * 60_000,
      awake: awake[t],
      policy,
      marginUsers,
      marginUnderFailure,
      scaleDownAfterMs: 30 * 60_000,
      surplusSince,
      shelveLeadMs: SHELVE_LEAD_MS,
      nodes: view,
    });
    surplusSince = d.surplusSince;
    for (const a of d.actions) {
      const n = nodes.find((x) => x.id === a.node) as SimNode;
      if (a.action === "enable") n.state = "enabled";
      else if (a.action === "wake") wake(n, t);
      else if (a.action === "cordon") n.state = "parked";
      else if (a.action === "shelve") {
        if (busy(n)) result.meetingsCut++;
        stop(n, t);
      }
    }
  }
  for (const n of nodes) if (n.billedFrom !== undefined) n.billedMinutes.push(WEEK_MINUTES - n.billedFrom);
  result.nodeHours = nodes.reduce((s, n) => s + hoursOf(n.billedMinutes), 0);
  result.costEur = result.nodeHours * (PRICE_TABLE[FLAVOR].hourlyEur as number);
  return result;
}

/**
 * The least any controller keeping the same rule every minute could run the week on: each minute, the fewest nodes of the pool
 * that meet the rule (decide.ts `meets`, inside or outside the awake window) for the users connected then, as if
 * it knew them, woke and shelved at once, was never held by a meeting or a recording, and paid by the minute.
 */
export function leastNodeHours(meetings: readonly Meeting[], options: WeekOptions): number {
  const awake = awakeWindow();
  const pool = options.pool;
  // Every non-empty subset, fewest nodes first (a pool of a few nodes: 2^n is small).
  const subsets = Array.from({ length: 2 ** pool.length - 1 }, (_, i) => pool.filter((_, k) => ((i + 1) >> k) & 1)).sort((a, b) => a.length - b.length);
  const fewest = new Map<string, number>();
  let nodeMinutes = 0;
  for (let t = 0; t < WEEK_MINUTES; t++) {
    const users = meetings.reduce((sum, m) => (m.start <= t && t < m.end ? sum + usersOf(m, t) : sum), 0);
    const key = `${awake[t]}:${users}`;
    let n = fewest.get(key);
    if (n === undefined) {
      n = (subsets.find((s) => meets(s, users, { ...options, awake: awake[t] }).ok) ?? pool).length;
      fewest.set(key, n);
    }
    nodeMinutes += n;
  }
  return nodeMinutes / 60;
}

export interface ScalingRun {
  pool: string;
  label: string;
  options: WeekOptions;
  results: WeekResult[];
  /** The share of the bill `scale` saves against the timetable alone, and against always on. */
  savingVsTimetable: number;
  savingVsAlwaysOn: number;
  /** leastNodeHours of the week, and so the most a controller keeping the rule could save against the timetable's bill. */
  leastNodeHours: number;
  mostSavingVsTimetable: number;
}

export interface ScalingBench {
  seeds: number[];
  meetingsPerWeek: number[];
  runs: Array<ScalingRun & { seed: number }>;
}

/**
 * Each seeded week against the three modes, on two pools (sized for the expected peak under the policy, and for
 * the peak plus the default margin under it), with the margin carried under failure (the default) and as spare room.
 */
export function scalingBench(seeds = [20261123, 7]): ScalingBench {
  const pools = [
    { pool: `${POLICY_POOL.length} C2-60s: the peak under the policy`, nodes: POLICY_POOL },
    { pool: `${MARGIN_POOL.length} C2-60s: the peak + margin under the policy`, nodes: MARGIN_POOL },
  ];
  const margins = [
    { label: "margin under failure (default)", marginUnderFailure: true },
    { label: "margin as spare room (marginUnderFailure: false)", marginUnderFailure: false },
  ];
  const weeks = seeds.map((seed) => schoolWeek(seed));
  const runs = seeds.flatMap((seed, i) =>
    pools.flatMap(({ pool, nodes }) =>
      margins.map(({ label, marginUnderFailure }) => {
        const options: WeekOptions = { ...DEFAULTS, pool: nodes, marginUnderFailure };
        const results = (["always-on", "timetable", "scale"] as const).map((mode) => simulateWeek(mode, weeks[i], options));
        const cost = (mode: Mode) => results.find((r) => r.mode === mode)!.costEur;
        const least = leastNodeHours(weeks[i], options);
        return {
          seed,
          pool,
          label,
          options,
          results,
          savingVsTimetable: 1 - cost("scale") / cost("timetable"),
          savingVsAlwaysOn: 1 - cost("scale") / cost("always-on"),
          leastNodeHours: least,
          mostSavingVsTimetable: 1 - least / results.find((r) => r.mode === "timetable")!.nodeHours,
        };
      }),
    ),
  );
  return { seeds, meetingsPerWeek: weeks.map((w) => w.length), runs };
}
