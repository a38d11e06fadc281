import type { Campus, ResolvedHost } from "../config/campus";

/**
 * The node image a host boots from (docs/nodes.md, "A node image"): the campus's `nodeImage`, for its
 * Public Cloud nodes that do not name an image of their own. Such a node takes the first-boot step
 * (bbbFirstBoot) where the others run bbb-install (bbbInstall).
 */
export function nodeImageOf(campus: Campus, host: ResolvedHost): { nameRegex: string } | undefined {
  if (host.role !== "node" || host.config.kind !== "publicCloud" || host.config.image) return undefined;
  return campus.config.nodeImage;
}

/**
 * The environment variable that names the one node `ops upgrade`'s apply command replaces from the newest
 * node image (docs/nodes.md, "A node image"). A running instance ignores changes to its image and user
 * data and is protected, so that a newer image never replaces every node at once; for the node named here
 * only, both are lifted. Pulumi keeps an ignored property's value from the state even when it replaces a
 * resource (its docs, "ignoreChanges"): without this, `--replace` would rebuild the node from its old image.
 * An environment variable rather than stack config: it holds for one run, `pulumi up --config` would keep it.
 */
export const REIMAGE_ENV = "BBB_OVH_REIMAGE";

/** The node REIMAGE_ENV names for this run, if any. */
export function reimageTarget(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[REIMAGE_ENV] || undefined;
}

/** What is wrong with the node REIMAGE_ENV names: it must be one that boots from the node image. */
export function reimageProblems(campus: Campus, name: string | undefined): { path: string; message: string }[] {
  if (name === undefined) return [];
  const imaged = campus.nodes.filter((n) => nodeImageOf(campus, n)).map((n) => n.name);
  if (imaged.includes(name)) return [];
  const expected = imaged.length > 0 ? `one of ${imaged.join(", ")}` : "unset: no node of this campus boots from campus.nodeImage";
  return [{ path: `${REIMAGE_ENV} (environment)`, message: `'${name}' is not a node that boots from campus.nodeImage; expected ${expected}` }];
}
