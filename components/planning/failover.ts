/**
 * What a pool must survive at peak, one policy for the plan's warnings, `ops size` and `ops estimate`:
 * - `datacenter` (default): the largest site down (a fire, a network cut), the case study's goal;
 * - `node`: the largest node down (maintenance, a crash), for single-site schools;
 * - `none`: no failover, every node counted.
 */
export const FAILOVER_POLICIES = ["datacenter", "node", "none"] as const;
export type FailoverPolicy = (typeof FAILOVER_POLICIES)[number];
export const DEFAULT_FAILOVER: FailoverPolicy = "datacenter";
