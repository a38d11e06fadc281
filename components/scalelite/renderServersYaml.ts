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
  /**
   * The state the stack declares (campus.nodes[].state). Unset: whatever an operator set in Scalelite
   * is kept (a drained node stays drained), and a node Scalelite does not know yet is enabled.
   */
  state?: ScaleliteNodeState;
}

/**
 * What a stack may declare for a node. `cordoned` takes no new meeting and lets lessons end; Scalelite's
 * poller then disables it once empty (lib/tasks/poll.rake). Declaring `disabled`, which ends running
 * lessons (servers:disable), is left to an operator at the console.
 */
export const SCALELITE_NODE_STATES = ["enabled", "cordoned"] as const;
export type ScaleliteNodeState = (typeof SCALELITE_NODE_STATES)[number];

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
 * set always renders the same bytes. `enabled` is false for a node the stack declares cordoned; for a
 * node whose state the operator owns it is true, and scalelite-register.sh turns it to false on the
 * front when Scalelite holds that node cordoned or disabled (servers:sync treats `enabled` as the
 * desired state: true would put a drained node back in rotation). Every server is checked against Scalelite's sync rules (id
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
      sorted.map((s) => [
        s.id,
        { url: s.url, secret: s.secret, enabled: s.state !== "cordoned", load_multiplier: s.loadMultiplier, ...(s.tag === undefined ? {} : { tag: s.tag }) },
      ]),
    ),
  };
  return stringify(doc);
}

/**
 * The registration step's state inputs: KEEP_STATE_IDS, the nodes whose state the operator owns (no
 * `state` in the stack), and CORDONED_IDS, the nodes the stack declares cordoned (comma-separated ids).
 */
export function registrationStateInputs(servers: ReadonlyArray<Pick<ScaleliteServer, "id" | "state">>): { KEEP_STATE_IDS: string; CORDONED_IDS: string } {
  const ids = (pick: (s: Pick<ScaleliteServer, "id" | "state">) => boolean) =>
    servers
      .filter(pick)
      .map((s) => s.id)
      .sort()
      .join(",");
  return { KEEP_STATE_IDS: ids((s) => s.state === undefined), CORDONED_IDS: ids((s) => s.state === "cordoned") };
}
