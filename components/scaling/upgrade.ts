import type { FailoverPolicy } from "../planning/failover";
import { carries, type PoolMember } from "./decide";

/**
 * Rolling upgrades, the pure part: in which order nodes go, and whether one may be drained now.
 * A node is drained only when the others taking meetings carry the users connected now with the
 * failure the policy names (the plan's check, planning/sizing.ts); otherwise the upgrade waits.
 */

export interface UpgradeCandidate extends PoolMember {
  users: number;
}

/** The canary first (the emptiest node: it drains soonest), then the rest, sites taking turns, emptiest first. */
export function upgradeOrder(nodes: readonly UpgradeCandidate[]): string[] {
  const sorted = [...nodes].sort((a, b) => a.users - b.users || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const bySite = new Map<string, UpgradeCandidate[]>();
  for (const n of sorted) bySite.set(n.site, [...(bySite.get(n.site) ?? []), n]);
  const order: string[] = [];
  let last: string | undefined;
  while (order.length < sorted.length) {
    const next = sorted.find(
      (n) => !order.includes(n.id) && (n.site !== last || [...bySite.values()].every((ns) => ns.every((x) => order.includes(x.id) || x.site === last))),
    );
    const pick = next as UpgradeCandidate;
    order.push(pick.id);
    last = pick.site;
  }
  return order;
}

export interface DrainCheck {
  ok: boolean;
  /** Users the others carry with the policy's failure. */
  carried: number;
  reason: string;
}

/** May `node` leave the pool now? `pool` is the nodes taking meetings (node included), `users` everyone connected. */
export function drainAllowed(pool: readonly PoolMember[], node: string, users: number, policy: FailoverPolicy): DrainCheck {
  const rest = pool.filter((n) => n.id !== node);
  const { ok, carried } = carries(rest, users, policy, false);
  if (rest.length === 0) return { ok: false, carried: 0, reason: `${node} is the only node taking meetings` };
  return ok
    ? { ok, carried, reason: `the other ${rest.length} node(s) carry ${carried} user(s) under failover '${policy}', ${users} connected` }
    : { ok, carried, reason: `without ${node} the others carry ${carried} user(s) under failover '${policy}', ${users} connected: it stays in the pool` };
}
