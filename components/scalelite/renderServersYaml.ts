import { stringify } from "yaml";

/** One BigBlueButton node as Scalelite should know it. */
export interface ScaleliteServer {
  /** The server id; with SERVER_ID_IS_HOSTNAME the FQDN is the natural, stable choice. */
  id: string;
  url: string;
  secret: string;
  loadMultiplier: number;
  /** Omitted when unset: an untagged server takes creates that carry no meta_server-tag. */
  tag?: string;
}

const ID = /^[a-zA-Z0-9_.-]+$/;
const TAG = /^[a-zA-Z0-9_.-]+$/;

/** The API URL Scalelite expects for a node: https://FQDN/bigbluebutton/api. */
export const nodeApiUrl = (fqdn: string): string => `https://${fqdn}/bigbluebutton/api`;

function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "must be http(s)";
  if (parsed.hostname === "") return "has no host";
  if (!parsed.pathname.endsWith("/bigbluebutton/api")) return "must end in /bigbluebutton/api";
  return undefined;
}

/**
 * The YAML document `bin/rake servers:sync[-,MODE]` reads on stdin:
 * `servers: { <id>: { url, secret, enabled, load_multiplier[, tag] } }`, servers sorted by id so the same
 * set always renders the same bytes. Every server is checked against Scalelite's sync rules (id
 * pattern, secret present, load_multiplier > 0, http(s) URL with a host) and all violations are reported.
 */
export function renderServersYaml(servers: readonly ScaleliteServer[]): string {
  const problems: string[] = [];
  const seen = new Set<string>();
  if (servers.length === 0) problems.push("no server: syncing an empty list would cordon every node");
  for (const [i, server] of servers.entries()) {
    const where = `server ${i} (${server.id || "no id"})`;
    if (!ID.test(server.id)) problems.push(`${where}: id must match ${ID.source}`);
    else if (seen.has(server.id)) problems.push(`${where}: duplicate id`);
    seen.add(server.id);
    if (typeof server.secret !== "string" || server.secret.length === 0) problems.push(`${where}: secret is required`);
    else if (/[\s\0]/.test(server.secret)) problems.push(`${where}: secret must not contain whitespace`);
    if (!(Number.isFinite(server.loadMultiplier) && server.loadMultiplier > 0)) problems.push(`${where}: load_multiplier must be a number greater than 0`);
    const bad = urlProblem(server.url);
    if (bad) problems.push(`${where}: url '${server.url}' ${bad}`);
    if (server.tag !== undefined && !TAG.test(server.tag)) problems.push(`${where}: tag must match ${TAG.source}`);
  }
  if (problems.length > 0) throw new Error(`servers.yaml: ${problems.join("; ")}`);

  const sorted = [...servers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const doc = {
    servers: Object.fromEntries(
      sorted.map((s) => [s.id, { url: s.url, secret: s.secret, enabled: true, load_multiplier: s.loadMultiplier, ...(s.tag === undefined ? {} : { tag: s.tag }) }]),
    ),
  };
  return stringify(doc);
}
