import type { Campus } from "../config/campus";
import { nodeImageOf } from "./nodeImage";

/**
 * The one node `ops upgrade`'s apply command changes in this run (docs/nodes.md, "Rolling a change
 * through the pool"). A running Public Cloud node ignores a change of image, user data or flavor, so
 * that no change reaches every node at once: OpenStack replaces an instance for a new image or user data
 * and resizes it in place, rebooting it, for a new flavor (terraform-provider-openstack, compute_instance_v2:
 * image_id/user_data ForceNew, flavor_name resized by Update). For the node named here only, these lift:
 * - BBB_OVH_REIMAGE: a node that boots from campus.nodeImage follows the newest image, its user data
 *   and its flavor, and is not protected, so `--replace` can rebuild it. Pulumi keeps an ignored value
 *   from the state even when it replaces a resource (its docs, "ignoreChanges"): without this,
 *   `--replace` would rebuild the node from its old image.
 * - BBB_OVH_RESIZE: a Public Cloud node takes the stack's flavor (a resize reboots it).
 * Environment variables rather than stack config: they hold for one run; `pulumi up --config` would keep them.
 */
export const ROLLING_ENV = { reimage: "BBB_OVH_REIMAGE", resize: "BBB_OVH_RESIZE" } as const;

export type RollingChange = keyof typeof ROLLING_ENV;
export type RollingNodes = Partial<Record<RollingChange, string>>;

/** The nodes ROLLING_ENV names for this run. */
export function rollingNodes(env: NodeJS.ProcessEnv = process.env): RollingNodes {
  return Object.fromEntries(Object.entries(ROLLING_ENV).flatMap(([change, variable]) => (env[variable] ? [[change, env[variable]]] : [])));
}

/** What the change applies to: nodes booting from the node image (reimage), Public Cloud nodes (resize). */
const ELIGIBLE: Record<RollingChange, { what: string; eligible: (campus: Campus) => string[] }> = {
  reimage: { what: "a node that boots from campus.nodeImage", eligible: (campus) => campus.nodes.filter((n) => nodeImageOf(campus, n)).map((n) => n.name) },
  resize: { what: "a Public Cloud node", eligible: (campus) => campus.nodes.filter((n) => n.config.kind === "publicCloud").map((n) => n.name) },
};

/** Each named node that the change cannot apply to, as config problems naming the variable and what it expects. */
export function rollingProblems(campus: Campus, nodes: RollingNodes): { path: string; message: string }[] {
  return (Object.keys(ROLLING_ENV) as RollingChange[]).flatMap((change) => {
    const name = nodes[change];
    if (name === undefined) return [];
    const { what, eligible } = ELIGIBLE[change];
    const names = eligible(campus);
    if (names.includes(name)) return [];
    const expected = names.length > 0 ? `one of ${names.join(", ")}` : `unset: this campus has no such node`;
    return [{ path: `${ROLLING_ENV[change]} (environment)`, message: `'${name}' is not ${what}; expected ${expected}` }];
  });
}
