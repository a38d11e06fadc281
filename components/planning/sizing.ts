import type { Campus, HostSpec } from "../config/campus";
import type { HostPreset } from "../config/presets";
import { type FailoverPolicy } from "./failover";
import { placementOf, placementWarnings } from "./sites";

/**
 * Published guidance (BBB docs FAQ "How many simultaneous users can BigBlueButton support", install
 * requirements, Scalelite README): a server meeting the minimum production spec (8 cores, 16 GB)
 * carries about 200 simultaneous users, e.g. 3 sessions of 50 or 6 of 25; no single session above
 * 200 users; a pool needs at least two nodes, placed in two datacenters so that one datacenter can fail.
 */
export const USERS_PER_MINIMUM_NODE = 200;
export const MINIMUM_NODE: HostSpec = { cores: 8, ramGb: 16 };
export const MAX_USERS_PER_SESSION = 200;
export const MINIMUM_NODES = 2;
export const MINIMUM_DATACENTERS = 2;

/**
 * Webcams are the load the rule of thumb hides. The docs count streams: a webcam in a session of n
 * users is 1 stream in and n-1 out. They give no per-server stream figure, so this is an ESTIMATE:
 * a 4-vCPU VM was reported carrying one 20-user session with every webcam on (~400 streams;
 * blog.wirelessmoves.com, "Running BigBlueButton - Week One", April 2020); a minimum node (8 cores)
 * is taken as twice that. Load-test your own classes before relying on it.
 */
export const VIDEO_STREAMS_PER_MINIMUM_NODE = 800;

export interface SizingInput {
  /** Peak simultaneous users (not accounts, not daily visitors). */
  users: number;
  /** Rooms (sessions) running at the peak. */
  rooms: number;
  /** Share of users with a webcam on, 0..1; default: the teacher only (one webcam a room). */
  webcamShare?: number;
}

export interface Demand {
  /** Load in minimum-node units: the larger of users/200 and video streams/800. */
  units: number;
  usersPerRoom: number;
  webcams: number;
  videoStreams: number;
  reasoning: string[];
  warnings: string[];
}

/**
 * Minimum-node units a spec is worth: its scarcer resource against 8 cores / 16 GB. Cores are
 * PHYSICAL cores: the BBB minimum means 8 real cores, and OVH's Public Cloud vCores are hyperthreads
 * (OVHcloud: "1 vCore = 1 thread"), which is why the case study offers one C2-60 (16 vCores) as the
 * alternative to one Infra-1 (8 cores / 16 threads). Presets state physical cores (presets.ts).
 */
export function capacityUnits(spec: HostSpec): number {
  return Math.min(spec.cores / MINIMUM_NODE.cores, spec.ramGb / MINIMUM_NODE.ramGb);
}

/** Users one node can carry: 200 per minimum-spec unit, limited by its scarcer resource. */
export function nodeCapacity(spec: HostSpec | undefined): number | undefined {
  if (!spec) return undefined;
  return Math.floor(USERS_PER_MINIMUM_NODE * capacityUnits(spec));
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** How much load a peak puts on the pool, and why. */
export function demandOf(input: SizingInput): Demand {
  const { users, rooms } = input;
  const reasoning: string[] = [];
  const warnings: string[] = [];
  const usersPerRoom = users / rooms;
  const webcams = input.webcamShare === undefined ? rooms : Math.round(users * input.webcamShare);
  // Webcams spread evenly over rooms: each is seen by everyone else in its room.
  const videoStreams = Math.round(webcams * usersPerRoom);
  const userUnits = users / USERS_PER_MINIMUM_NODE;
  const videoUnits = videoStreams / VIDEO_STREAMS_PER_MINIMUM_NODE;
  reasoning.push(
    `${users} simultaneous users / ~${USERS_PER_MINIMUM_NODE} per minimum node (${MINIMUM_NODE.cores} cores, ${MINIMUM_NODE.ramGb} GB) = ${round1(userUnits)} minimum-node units (BBB docs rule of thumb)`,
  );
  reasoning.push(
    `${rooms} rooms of ~${Math.round(usersPerRoom)} users; ${input.webcamShare === undefined ? "webcams: the teacher's only" : `webcams: ${Math.round(input.webcamShare * 100)}% of users`} = ${webcams} webcams, ~${videoStreams} video streams (each webcam: 1 in, ${Math.max(0, Math.round(usersPerRoom) - 1)} out)`,
  );
  reasoning.push(
    `video: ${videoStreams} streams / ~${VIDEO_STREAMS_PER_MINIMUM_NODE} per minimum node (estimate, see sizing.ts) = ${round1(videoUnits)} units`,
  );
  const units = Math.max(userUnits, videoUnits);
  reasoning.push(`load: ${round1(units)} minimum-node units (${videoUnits > userUnits ? "webcams" : "users"} dominate)`);
  if (usersPerRoom > MAX_USERS_PER_SESSION)
    warnings.push(
      `rooms average ${Math.round(usersPerRoom)} users: the BBB docs advise no session above ${MAX_USERS_PER_SESSION}; to do: split the largest sessions, or count every room they use in campus.expected.classrooms`,
    );
  return { units, usersPerRoom, webcams, videoStreams, reasoning, warnings };
}

export interface PoolNode {
  name: string;
  /** Physical site (planning/sites.ts); nodes with no known site count as a site of their own. */
  site: string;
  spec?: HostSpec;
}

export interface PoolCheck {
  policy: FailoverPolicy;
  /** Minimum-node units in the pool, and what is left after the failure the policy names. */
  totalUnits: number;
  survivingUnits: number;
  /** Users those units carry (200 a unit), for messages. */
  total: number;
  surviving: number;
  /** The failure assumed: "site strasbourg down", "node bbb1 down", or "nothing down". */
  failure: string;
  sites: Map<string, number>;
  /** Why the pool fails the policy for this demand; empty when it carries it. */
  shortfalls: string[];
}

const usersOf = (units: number) => Math.floor(USERS_PER_MINIMUM_NODE * units + 1e-9);

/** Does this pool carry `demand` with the failure the policy names? The one check every tool uses. */
export function checkPool(nodes: readonly PoolNode[], demand: Demand, policy: FailoverPolicy): PoolCheck {
  const sites = new Map<string, number>();
  let totalUnits = 0;
  let largestNode: PoolNode | undefined;
  for (const node of nodes) {
    const units = node.spec ? capacityUnits(node.spec) : 0;
    totalUnits += units;
    sites.set(node.site, (sites.get(node.site) ?? 0) + units);
    if (!largestNode || units > capacityUnits(largestNode.spec ?? { cores: 0, ramGb: 0 })) largestNode = node;
  }
  let survivingUnits = totalUnits;
  let failure = "nothing down";
  const shortfalls: string[] = [];
  if (policy === "datacenter") {
    const [site, units] = [...sites.entries()].sort((a, b) => b[1] - a[1])[0] ?? ["-", 0];
    survivingUnits = totalUnits - units;
    failure = `site ${site} down`;
    if (sites.size < MINIMUM_DATACENTERS)
      shortfalls.push(
        `every node is in one site (${[...sites.keys()].join(", ") || "none"}): failover policy 'datacenter' needs nodes in at least ${MINIMUM_DATACENTERS} sites`,
      );
  } else if (policy === "node") {
    survivingUnits = totalUnits - (largestNode?.spec ? capacityUnits(largestNode.spec) : 0);
    failure = `node ${largestNode?.name ?? "-"} down`;
    if (nodes.length < MINIMUM_NODES) shortfalls.push(`a single node: failover policy 'node' needs at least ${MINIMUM_NODES}`);
  }
  if (survivingUnits + 1e-9 < demand.units) {
    shortfalls.push(
      `with ${failure} (failover policy '${policy}'), the nodes carry about ${usersOf(survivingUnits)} users (${round1(survivingUnits)} minimum-node units), the load needs ${round1(demand.units)} units (~${usersOf(demand.units)} users)`,
    );
  }
  return { policy, totalUnits, survivingUnits, total: usersOf(totalUnits), surviving: usersOf(survivingUnits), failure, sites, shortfalls };
}

export interface NodeRecommendation {
  model: string;
  kind: HostPreset["kind"];
  /** Users one node of this model carries. */
  capacity: number;
  count: number;
  policy: FailoverPolicy;
  /** Sites the nodes are spread over, round-robin. */
  sites: string[];
  /** The same check the plan makes, on the recommended pool. */
  check: PoolCheck;
  reasoning: string;
}

/** The nodes of a recommendation, spread round-robin over the sites: what checkPool is run on. */
export function recommendedPool(model: string, spec: HostSpec, count: number, sites: readonly string[]): PoolNode[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${model}-${i + 1}`, site: sites[i % sites.length], spec }));
}

export interface RecommendOptions {
  policy: FailoverPolicy;
  /** The sites to spread nodes over (at least two for policy 'datacenter'). */
  sites: readonly string[];
}

/**
 * Models that meet the minimum production spec, each with the smallest node count whose pool passes
 * checkPool under the policy: by construction, what `size` and `estimate` recommend passes the plan.
 */
export function recommendNodes(demand: Demand, presets: Readonly<Record<string, HostPreset>>, options: RecommendOptions): NodeRecommendation[] {
  const { policy } = options;
  const sites = options.sites.length > 0 ? [...options.sites] : ["site-a", "site-b"];
  if (policy === "datacenter" && sites.length < MINIMUM_DATACENTERS)
    throw new Error(`failover policy 'datacenter' needs at least ${MINIMUM_DATACENTERS} sites, got ${sites.join(", ")}`);
  const minimum = policy === "none" ? 1 : MINIMUM_NODES;
  return Object.entries(presets)
    .filter(([, p]) => p.cores >= MINIMUM_NODE.cores && p.ramGb >= MINIMUM_NODE.ramGb)
    .map(([model, p]) => {
      const spec = { cores: p.cores, ramGb: p.ramGb };
      let count = minimum;
      let check = checkPool(recommendedPool(model, spec, count, sites), demand, policy);
      while (check.shortfalls.length > 0) {
        count += 1;
        check = checkPool(recommendedPool(model, spec, count, sites), demand, policy);
      }
      const where = policy === "none" ? "" : `, spread over ${Math.min(count, sites.length)} sites (${sites.slice(0, count).join(", ")})`;
      return {
        model,
        kind: p.kind,
        capacity: nodeCapacity(spec) as number,
        count,
        policy,
        sites: sites.slice(0, Math.min(count, sites.length)),
        check,
        reasoning: `${model} (${p.cores} physical cores, ${p.ramGb} GB): ~${nodeCapacity(spec)} users each; ${count} nodes${where}: ${check.total} users in all, ${check.surviving} with ${check.failure}`,
      };
    })
    .sort((a, b) => a.count - b.count || b.capacity - a.capacity);
}

/** The campus's nodes as a pool: each at its physical site. */
export function poolOf(campus: Campus): PoolNode[] {
  return campus.nodes.map((n) => ({ name: n.name, site: n.site ?? `region:${n.datacenter}`, spec: n.spec }));
}

/** The campus's expected peak as a load. */
export const demandOfCampus = (campus: Campus): Demand => demandOf({ users: campus.config.expected.concurrentUsers, rooms: campus.config.expected.classrooms });

/** Warnings the offline plan prints when a stack is below the published guidance or its failover policy. */
export function capacityWarnings(campus: Campus): string[] {
  const warnings: string[] = [];
  const unknown = campus.nodes.filter((n) => !n.spec).map((n) => n.name);
  if (unknown.length > 0) warnings.push(`cannot size ${unknown.join(", ")}: an existing host without its size; to do: give cores and ramGb for each`);
  const small = campus.nodes.filter((n) => n.spec && (n.spec.cores < MINIMUM_NODE.cores || n.spec.ramGb < MINIMUM_NODE.ramGb)).map((n) => n.name);
  // Each warning ends with what to do about it: `npm run ops -- size` recommends nodes for the stack's load.
  const { concurrentUsers, classrooms } = campus.config.expected;
  const sizeCommand = `npm run ops -- size --users ${concurrentUsers} --rooms ${classrooms}`;
  if (small.length > 0) {
    warnings.push(
      `below the minimum production node (${MINIMUM_NODE.cores} physical cores, ${MINIMUM_NODE.ramGb} GB): ${small.join(", ")}; to do: pick a larger model or flavor (${sizeCommand} recommends one), or keep them for a test stack`,
    );
  }
  const demand = demandOfCampus(campus);
  warnings.push(...demand.warnings);
  for (const host of [campus.front, ...campus.nodes]) warnings.push(...placementWarnings(host.name, placementOf(host.config)));
  const check = checkPool(poolOf(campus), demand, campus.config.failover);
  if (campus.config.failover !== "none" && check.totalUnits + 1e-9 < demand.units) {
    warnings.push(
      `undersized: ${campus.nodes.length} node(s) carry about ${check.total} concurrent users (~${USERS_PER_MINIMUM_NODE} per 8-core/16 GB node), the stack expects ${concurrentUsers}; to do: add nodes or pick larger ones (${sizeCommand})`,
    );
  }
  const failoverRemedy = `to do: add a node in another site or pick larger nodes (${sizeCommand} --failover ${campus.config.failover}), or set campus.failover to what the campus accepts to lose (datacenter, node, none)`;
  warnings.push(...check.shortfalls.map((shortfall) => `${shortfall}; ${failoverRemedy}`));
  return warnings;
}
