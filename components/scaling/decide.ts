import type { HostSpec } from "../config/campus";
import type { FailoverPolicy } from "../planning/failover";
import { capacityUnits, checkPool, nodeCapacity, USERS_PER_MINIMUM_NODE, type PoolNode } from "../planning/sizing";

/**
 * Capacity that follows the load: which nodes to wake, re-enable, cordon or shelve, from what the pool
 * looks like now. Pure: the caller reads the state (OVH, Scalelite, the nodes' APIs) and carries the
 * decision out with the schedule's steps (cli/ops/nodePower.ts).
 *
 * The rule: the nodes taking new meetings must carry the users there now plus a spare margin under the
 * stack's failover policy (planning/sizing.ts checkPool, the same check the plan and `ops size` make).
 * Short: re-enable a node already up (cordoned by us), else wake a shelved spare. More than needed for
 * `scaleDownAfterMs`: cordon one node (it is shelved once it holds no meeting and no recording).
 * The timetable sets the floor: inside its awake window the margin is kept even with nobody connected;
 * outside it, nobody is expected, so no margin and no wait, down to the users present and at least the
 * last enabled node (what `schedule apply` does).
 */

/**
 * - enabled: up, taking new meetings (Scalelite: enabled, online).
 * - parked: up, cordoned by the scaler or the schedule (listed as theirs); draining, or woken and not yet enabled.
 * - waking: unshelve requested, not yet up.
 * - shelved: asleep.
 * - held: up but not ours to count or touch: an operator drained it, Scalelite marks it offline, it is not registered.
 */
export type PowerState = "enabled" | "parked" | "waking" | "shelved" | "held";

export interface ScalingNode {
  id: string;
  /** Physical site (planning/sites.ts), for the failover policy. */
  site: string;
  spec?: HostSpec;
  /** Only hourly-billed Public Cloud nodes are ever cordoned or shelved by the scaler. */
  shelvable: boolean;
  state: PowerState;
  meetings: number;
  recordings: number;
  users: number;
  /** Since when the node has been up and billed (epoch ms), when ops woke it: its commenced hour is paid. */
  billedSince?: number;
}

export interface ScalingInput {
  /** Epoch ms. */
  now: number;
  /** Inside the timetable's awake window (or no timetable: always). */
  awake: boolean;
  policy: FailoverPolicy;
  /** Spare users kept on top of the current ones, inside the awake window. */
  marginUsers: number;
  /**
   * true: the margin too is carried with the policy's failure (a burst during a datacenter outage);
   * false: the policy carries the users present, the margin is spare room of the pool as it runs.
   */
  marginUnderFailure: boolean;
  scaleDownAfterMs: number;
  /** Since when the pool has had more than it needs (the previous run's answer), epoch ms. */
  surplusSince?: number;
  /**
   * Shelve a parked node only at the end of its paid hour (hourly instances are billed per commenced hour),
   * this long before it: one controller interval plus the time a shelve is still billed. Until then it stays up,
   * cordoned, at no cost, and is the first re-enabled when the load comes back. Absent, or a node whose
   * `billedSince` is unknown: shelved as soon as it is empty.
   */
  shelveLeadMs?: number;
  nodes: readonly ScalingNode[];
}

export type ScalingActionKind = "enable" | "wake" | "cordon" | "shelve";

export interface ScalingAction {
  node: string;
  action: ScalingActionKind;
  reason: string;
}

export interface ScalingDecision {
  /** Users connected now (every node's participants). */
  users: number;
  /** Users + margin (awake) or users (asleep). */
  requiredUsers: number;
  /** What the nodes taking meetings (enabled + waking + enabled by this decision) carry with the policy's failure. */
  carriedUsers: number;
  actions: ScalingAction[];
  /** Carried over to the next run. */
  surplusSince?: number;
  /** One line saying why: for the log and `ops status`. */
  summary: string;
  /** The whole pool, woken, still cannot carry the requirement. */
  short: boolean;
  /** Nodes left up and cordoned, not shelved, because the hour they are in is paid (`shelveLeadMs`): each with its end, epoch ms. */
  paidUp: Array<{ node: string; until: number }>;
}

/** What the policy check reads of a node. */
export type PoolMember = Pick<ScalingNode, "id" | "site" | "spec">;

const poolNode = (n: PoolMember): PoolNode => ({ name: n.id, site: n.site, spec: n.spec });

/** Users the nodes carry with the failure the policy names, and whether they meet the requirement. */
export function carries(nodes: readonly PoolMember[], requiredUsers: number, policy: FailoverPolicy, awake: boolean): { ok: boolean; carried: number } {
  const demand = { units: requiredUsers / USERS_PER_MINIMUM_NODE, usersPerRoom: 0, webcams: 0, videoStreams: 0, reasoning: [], warnings: [] };
  const check = checkPool(nodes.map(poolNode), demand, policy);
  // Outside the awake window only the capacity counts: one node may carry the night (the schedule's rule).
  const capacityOk = check.survivingUnits * USERS_PER_MINIMUM_NODE + 1e-9 >= requiredUsers;
  const ok = nodes.length > 0 && (awake ? check.shortfalls.length === 0 : capacityOk || requiredUsers === 0);
  return { ok, carried: check.surviving };
}

/** Users the nodes carry with nothing down. */
export const rawUsers = (nodes: readonly PoolMember[]) =>
  Math.floor(nodes.reduce((u, n) => u + (n.spec ? capacityUnits(n.spec) : 0), 0) * USERS_PER_MINIMUM_NODE + 1e-9);

/** Does this pool meet the requirement for `users` present, with the input's policy and margin? */
export function meets(
  nodes: readonly PoolMember[],
  users: number,
  input: Pick<ScalingInput, "awake" | "policy" | "marginUsers" | "marginUnderFailure">,
): { ok: boolean; carried: number } {
  const margin = input.awake ? input.marginUsers : 0;
  if (input.marginUnderFailure) return carries(nodes, users + margin, input.policy, input.awake);
  const withFailure = carries(nodes, users, input.policy, input.awake);
  return { ok: withFailure.ok && rawUsers(nodes) >= users + margin, carried: withFailure.carried };
}

/** One node's worth of users: the default margin (the largest node of the pool). */
export function oneNodeOfUsers(nodes: readonly { spec?: HostSpec }[]): number {
  return Math.max(0, ...nodes.map((n) => nodeCapacity(n.spec) ?? 0));
}

const byId = (a: ScalingNode, b: ScalingNode) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const unitsOf = (n: ScalingNode) => (n.spec ? capacityUnits(n.spec) : 0);

const HOUR_MS = 3_600_000;

/**
 * The default shelve lead: one run of the scale timer (every 5 minutes, docs/scaling.md) plus the time a shelve
 * is still billed while OVH uploads the disk (OVH does not say how long; 10 minutes, as the bench assumes).
 */
export const SHELVE_LEAD_MS = 15 * 60_000;

/** The end of the hour the node is in, paid since it began (epoch ms), when its billing start is known. */
export function paidUntil(n: Pick<ScalingNode, "billedSince">, now: number): number | undefined {
  if (n.billedSince === undefined) return undefined;
  return n.billedSince + (Math.floor(Math.max(0, now - n.billedSince) / HOUR_MS) + 1) * HOUR_MS;
}

/** Whether the node's commenced hour, already paid, lasts past the next chance to shelve it. */
function paidOn(n: Pick<ScalingNode, "billedSince">, input: Pick<ScalingInput, "now" | "shelveLeadMs">): boolean {
  const until = paidUntil(n, input.now);
  return until !== undefined && input.shelveLeadMs !== undefined && until - input.now > input.shelveLeadMs;
}

export function decideScaling(input: ScalingInput): ScalingDecision {
  const decision = decideActions(input);
  const acted = new Map(decision.actions.map((a) => [a.node, a.action]));
  // Empty nodes that stay parked after this run (left parked, or cordoned now) only because their hour is paid.
  const paidUp = [...input.nodes]
    .sort(byId)
    .filter((n) => n.shelvable && n.meetings === 0 && n.recordings === 0)
    .filter((n) => (n.state === "parked" && !acted.has(n.id)) || acted.get(n.id) === "cordon")
    .filter((n) => paidOn(n, input))
    .map((n) => ({ node: n.id, until: paidUntil(n, input.now) as number }));
  const kept = paidUp.map((p) => `${p.node} stays up, cordoned, to the end of its paid hour (${Math.ceil((p.until - input.now) / 60_000)} min)`);
  return { ...decision, paidUp, summary: [decision.summary, ...kept].join("; ") };
}

function decideActions(input: ScalingInput): Omit<ScalingDecision, "paidUp"> {
  const { awake, policy } = input;
  const nodes = [...input.nodes].sort(byId);
  const users = nodes.reduce((s, n) => s + n.users, 0);
  const requiredUsers = users + (awake ? input.marginUsers : 0);
  const actions: ScalingAction[] = [];
  const taking = nodes.filter((n) => n.state === "enabled" || n.state === "waking");
  const fits = (pool: readonly ScalingNode[]) => meets(pool, users, input);

  // Parked nodes that are not needed keep draining; shelve those left empty, at the end of their paid hour.
  const shelveEmpty = (kept: ReadonlySet<string>) => {
    for (const n of nodes.filter((x) => x.state === "parked" && x.shelvable && !kept.has(x.id))) {
      if (n.meetings === 0 && n.recordings === 0 && !paidOn(n, input))
        actions.push({ node: n.id, action: "shelve", reason: "not needed, no meeting, no recording left" });
    }
  };

  let now = fits(taking);
  if (!now.ok) {
    // Short: add nodes, those already up first, each time the one that helps the policy most.
    const pool = [...taking];
    const spares = nodes.filter((n) => n.state === "parked" || (n.state === "shelved" && n.shelvable));
    while (!fits(pool).ok && spares.length > 0) {
      const score = (n: ScalingNode) => meets([...pool, n], users, input).carried;
      spares.sort((a, b) => Number(a.state !== "parked") - Number(b.state !== "parked") || score(b) - score(a) || unitsOf(b) - unitsOf(a) || byId(a, b));
      const pick = spares.shift() as ScalingNode;
      pool.push(pick);
      actions.push(
        pick.state === "parked"
          ? { node: pick.id, action: "enable", reason: `needed: ${users} user(s) + margin need ${requiredUsers} carried under failover '${policy}'` }
          : { node: pick.id, action: "wake", reason: `margin gone: ${users} user(s) + margin need ${requiredUsers} carried under failover '${policy}'` },
      );
    }
    now = fits(pool);
    shelveEmpty(new Set(pool.map((n) => n.id)));
    const added = actions.filter((a) => a.action !== "shelve").length;
    return {
      users,
      requiredUsers,
      carriedUsers: now.carried,
      actions,
      surplusSince: undefined,
      short: !now.ok,
      summary: now.ok
        ? `${users} user(s), need ${requiredUsers} under '${policy}': adding ${added} node(s)`
        : `${users} user(s), need ${requiredUsers} under '${policy}': the whole pool carries only ${now.carried}; every spare is being added`,
    };
  }

  shelveEmpty(new Set());
  // Enough: could one hourly node go? Never the last one taking meetings.
  const removable = taking.filter((n) => n.state === "enabled" && n.shelvable && taking.length > 1 && fits(taking.filter((x) => x !== n)).ok);
  if (removable.length === 0) {
    return {
      users,
      requiredUsers,
      carriedUsers: now.carried,
      actions,
      surplusSince: undefined,
      short: false,
      summary: `${users} user(s), need ${requiredUsers} under '${policy}', carried ${now.carried}: steady`,
    };
  }
  const since = input.surplusSince ?? input.now;
  // Outside the awake window the timetable already says nobody is expected: no wait.
  if (awake && input.now - since < input.scaleDownAfterMs) {
    const left = Math.ceil((input.scaleDownAfterMs - (input.now - since)) / 60_000);
    return {
      users,
      requiredUsers,
      carriedUsers: now.carried,
      actions,
      surplusSince: since,
      short: false,
      summary: `${users} user(s), need ${requiredUsers} under '${policy}', carried ${now.carried}: more than needed; one node goes if it lasts ${left} more min`,
    };
  }
  // The emptiest goes (it drains soonest), then the smallest.
  removable.sort((a, b) => a.users - b.users || a.meetings - b.meetings || unitsOf(a) - unitsOf(b) || byId(a, b));
  const pick = removable[0];
  actions.push({
    node: pick.id,
    action: "cordon",
    reason: `more than needed${awake ? ` for ${Math.round(input.scaleDownAfterMs / 60_000)} min` : " outside teaching hours"}: the rest carry ${requiredUsers} under '${policy}'`,
  });
  return {
    users,
    requiredUsers,
    carriedUsers: fits(taking.filter((x) => x !== pick)).carried,
    actions,
    // Each further node waits its own period inside the awake window.
    surplusSince: awake ? input.now : since,
    short: false,
    summary: `${users} user(s), need ${requiredUsers} under '${policy}', carried ${now.carried}: cordoning ${pick.id}`,
  };
}
