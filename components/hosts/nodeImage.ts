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
