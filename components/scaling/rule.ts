import type { Campus } from "../config/campus";
import type { FailoverPolicy } from "../planning/failover";
import { poolOf } from "../planning/sizing";
import { carries, meets, oneNodeOfUsers, rawUsers, type PoolMember } from "./decide";
import { SCALING_DEFAULTS } from "./defaults";

/** What `ops scale` keeps for a campus: campus.scaling with its defaults, and the stack's failover policy. */
export interface ScalingRule {
  policy: FailoverPolicy;
  marginUsers: number;
  marginUnderFailure: boolean;
  scaleDownAfterMs: number;
}

/** The campus's rule: campus.scaling, or its defaults when the stack has none (`ops scale` runs on any stack). */
export function scalingRuleOf(campus: Pick<Campus, "config" | "nodes">): ScalingRule {
  const scaling = campus.config.scaling ?? SCALING_DEFAULTS;
  return {
    policy: campus.config.failover,
    marginUsers: campus.config.scaling?.marginUsers ?? oneNodeOfUsers(campus.nodes),
    marginUnderFailure: scaling.marginUnderFailure,
    scaleDownAfterMs: scaling.scaleDownAfterMinutes * 60_000,
  };
}

/**
 * What the plan warns of a stack with campus.scaling: at the expected peak, the whole pool cannot keep the
 * users plus the margin as the rule asks, so `ops scale` would wake every node and report SHORT there. A pool
 * that fails the policy for the users alone is capacityWarnings' to report, once.
 */
export function scalingWarnings(campus: Campus): string[] {
  if (!campus.config.scaling) return [];
  const rule = scalingRuleOf(campus);
  const pool: PoolMember[] = poolOf(campus).map((n) => ({ id: n.name, site: n.site, spec: n.spec }));
  const { concurrentUsers: users, classrooms } = campus.config.expected;
  if (rule.marginUsers === 0 || !carries(pool, users, rule.policy, true).ok || meets(pool, users, { ...rule, awake: true }).ok) return [];
  const needed = users + rule.marginUsers;
  const wants = rule.marginUnderFailure
    ? `${users} + a margin of ${rule.marginUsers} = ${needed} users carried under failover '${rule.policy}', and the whole pool carries ${carries(pool, needed, rule.policy, true).carried} then`
    : `room for ${users} + a margin of ${rule.marginUsers} = ${needed} users, and the whole pool has ${rawUsers(pool)}`;
  return [
    `campus.scaling: at the expected peak (${users} users) ops scale wants ${wants}: it would wake every node and report SHORT there; to do: ${addNodes(needed, classrooms, rule.marginUnderFailure ? rule.policy : "none")}, or lower campus.scaling.marginUsers${rule.marginUnderFailure ? ", or set campus.scaling.marginUnderFailure: false to keep the margin as spare room" : ""}`,
  ];
}

/** The remedy of a pool short of `users` under a policy: the `ops size` command that recommends one. */
export const addNodes = (users: number, rooms: number, policy: FailoverPolicy) =>
  `add nodes (npm run ops -- size --users ${users} --rooms ${rooms} --failover ${policy} recommends a pool)`;
