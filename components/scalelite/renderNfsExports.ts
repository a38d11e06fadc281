import { isIP } from "node:net";

/**
 * Options of the recording share: read-write for the post_publish script; `sync` so an archive is on
 * disk before the importer sees it; `root_squash` so a node's root is nobody on the front;
 * `no_subtree_check` as exports(5) recommends for a whole directory.
 */
export const NFS_EXPORT_OPTIONS = "rw,sync,no_subtree_check,root_squash";

export interface NfsClient {
  /** Node name, for error messages. */
  name: string;
  ipv4: string;
  /** Empty when unknown. */
  ipv6: string;
}

/**
 * The /etc/exports line that shares `dir` with the nodes only: one entry per known address (IPv4 and
 * IPv6), sorted so the same set always gives the same text. Never a wildcard or a network range.
 */
export function renderNfsExports(dir: string, clients: readonly NfsClient[]): string {
  const problems: string[] = [];
  if (!/^\/[^\s\0]*[^/\s]$/.test(dir)) problems.push(`export path '${dir}' must be absolute, without spaces or a trailing slash`);
  if (clients.length === 0) problems.push("no NFS client: the share would be exported to nobody");
  const addresses = new Set<string>();
  for (const client of clients) {
    if (isIP(client.ipv4) !== 4) problems.push(`${client.name}: '${client.ipv4}' is not an IPv4 address`);
    else addresses.add(client.ipv4);
    if (client.ipv6 === "") continue;
    if (isIP(client.ipv6) !== 6) problems.push(`${client.name}: '${client.ipv6}' is not an IPv6 address`);
    else addresses.add(client.ipv6.toLowerCase());
  }
  if (problems.length > 0) throw new Error(`NFS exports: ${problems.join("; ")}`);
  const entries = [...addresses].sort().map((address) => `${address}(${NFS_EXPORT_OPTIONS})`);
  return `${dir} ${entries.join(" ")}\n`;
}
