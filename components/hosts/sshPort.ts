import type { Campus, ResolvedHost } from "../config/campus";

import { DEFAULT_SSH_PORT } from "../config/presets";

export { DEFAULT_SSH_PORT };

/**
 * The one owner of each host's SSH port. An existing host's sshd listens where campus…sshPort says; a
 * server we order (dedicated or Public Cloud) comes with OpenSSH on its default port, 22 (sshd_config(5),
 * Port). Everything that opens, dials or checks SSH to a host asks here: the connection, the host
 * firewall, the security group, the edge firewall, the recording transfer, the standby link and ops.
 */
export const sshPortOf = (host: Pick<ResolvedHost, "config">): number => (host.config.kind === "existing" ? host.config.sshPort : DEFAULT_SSH_PORT);

export interface CampusSshPorts {
  front: number;
  standbyFront?: number;
  /** By node name. */
  nodes: Record<string, number>;
}

/** The SSH port of every host of a validated campus. */
export function campusSshPorts(campus: Pick<Campus, "front" | "standbyFront" | "nodes">): CampusSshPorts {
  return {
    front: sshPortOf(campus.front),
    ...(campus.standbyFront ? { standbyFront: sshPortOf(campus.standbyFront) } : {}),
    nodes: Object.fromEntries(campus.nodes.map((node) => [node.name, sshPortOf(node)])),
  };
}
