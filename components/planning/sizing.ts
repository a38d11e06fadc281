import type { Campus, HostSpec } from "../config/campus";
import type { HostPreset } from "../config/presets";

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

/** Minimum-node units a spec is worth: its scarcer resource against 8 cores / 16 GB. */
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
  reasoning.push(`${users} simultaneous users / ~${USERS_PER_MINIMUM_NODE} per minimum node (${MINIMUM_NODE.cores} cores, ${MINIMUM_NODE.ramGb} GB) = ${round1(userUnits)} minimum-node units (BBB docs rule of thumb)`);
  reasoning.push(
    `${rooms} rooms of ~${Math.round(usersPerRoom)} users; ${input.webcamShare === undefined ? "webcams: the teacher's only" : `webcams: ${Math.round(input.webcamShare * 100)}% of users`} = ${webcams} webcams, ~${videoStreams} video streams (each webcam: 1 in, ${Math.max(0, Math.round(usersPerRoom) - 1)} out)`,
  );
  reasoning.push(`video: ${videoStreams} streams / ~${VIDEO_STREAMS_PER_MINIMUM_NODE} per minimum node (estimate, see sizing.ts) = ${round1(videoUnits)} units`);
  const units = Math.max(userUnits, videoUnits);
  reasoning.push(`load: ${round1(units)} minimum-node units (${videoUnits > userUnits ? "webcams" : "users"} dominate)`);
  if (usersPerRoom > MAX_USERS_PER_SESSION) warnings.push(`rooms average ${Math.round(usersPerRoom)} users: the BBB docs advise no session above ${MAX_USERS_PER_SESSION}`);
  return { units, usersPerRoom, webcams, videoStreams, reasoning, warnings };
}

export interface NodeRecommendation {
  model: string;
  kind: HostPreset["kind"];
  /** Users one node of this model carries. */
  capacity: number;
  count: number;
  /** Users the pool still carries with the largest datacenter down (nodes split evenly over two). */
  capacityWithOneDatacenterDown: number;
  reasoning: string;
}

/** Models that meet the minimum production spec, each with the node count the demand needs. */
export function recommendNodes(demand: Demand, presets: Readonly<Record<string, HostPreset>>): NodeRecommendation[] {
  return Object.entries(presets)
    .filter(([, p]) => p.cores >= MINIMUM_NODE.cores && p.ramGb >= MINIMUM_NODE.ramGb)
    .map(([model, p]) => {
      const units = capacityUnits(p);
      const capacity = Math.floor(USERS_PER_MINIMUM_NODE * units);
      const forLoad = Math.ceil(demand.units / units - 1e-9);
      const count = Math.max(MINIMUM_NODES, forLoad);
      const survivors = count - Math.ceil(count / MINIMUM_DATACENTERS);
      const why = forLoad >= MINIMUM_NODES ? `${round1(demand.units)} units / ${round1(units)} per node` : `load needs ${forLoad}, failover needs ${MINIMUM_NODES} in ${MINIMUM_DATACENTERS} datacenters`;
      return {
        model,
        kind: p.kind,
        capacity,
        count,
        capacityWithOneDatacenterDown: survivors * capacity,
        reasoning: `${model} (${p.cores} cores, ${p.ramGb} GB): ~${capacity} users each; ${count} nodes (${why}), split over ${MINIMUM_DATACENTERS} datacenters`,
      };
    })
    .sort((a, b) => a.count - b.count || b.capacity - a.capacity);
}

/** What a set of nodes carries in total, per datacenter, and without its largest datacenter. */
export function poolCapacity(nodes: ReadonlyArray<{ datacenter: string; spec?: HostSpec }>): { total: number; byDatacenter: Map<string, number>; withoutLargest: number } {
  const byDatacenter = new Map<string, number>();
  let total = 0;
  for (const node of nodes) {
    const cap = nodeCapacity(node.spec) ?? 0;
    total += cap;
    byDatacenter.set(node.datacenter, (byDatacenter.get(node.datacenter) ?? 0) + cap);
  }
  const largest = byDatacenter.size > 0 ? Math.max(...byDatacenter.values()) : 0;
  return { total, byDatacenter, withoutLargest: total - largest };
}

/** Warnings the offline plan prints when a stack is below the published guidance. */
export function capacityWarnings(campus: Campus): string[] {
  const warnings: string[] = [];
  const { concurrentUsers: expected, classrooms } = campus.config.expected;
  const unknown = campus.nodes.filter((n) => !n.spec).map((n) => n.name);
  if (unknown.length > 0) warnings.push(`cannot size ${unknown.join(", ")}: give cores and ramGb for existing hosts`);
  const small = campus.nodes.filter((n) => n.spec && (n.spec.cores < MINIMUM_NODE.cores || n.spec.ramGb < MINIMUM_NODE.ramGb)).map((n) => n.name);
  if (small.length > 0) warnings.push(`below the minimum production node (${MINIMUM_NODE.cores} cores, ${MINIMUM_NODE.ramGb} GB): ${small.join(", ")}`);
  const demand = demandOf({ users: expected, rooms: classrooms });
  warnings.push(...demand.warnings);
  const pool = poolCapacity(campus.nodes);
  if (pool.total < expected) {
    warnings.push(`undersized: ${campus.nodes.length} node(s) carry about ${pool.total} concurrent users (~${USERS_PER_MINIMUM_NODE} per 8-core/16 GB node), the stack expects ${expected}`);
  }
  if (campus.nodes.length < MINIMUM_NODES) warnings.push(`a single node: plan at least ${MINIMUM_NODES} so that one can be taken out for maintenance`);
  if (pool.byDatacenter.size < MINIMUM_DATACENTERS) {
    warnings.push(`no datacenter failover: every node is in ${[...pool.byDatacenter.keys()].join(", ")}; place nodes in at least two datacenters`);
  } else if (pool.withoutLargest < expected) {
    warnings.push(`with the largest datacenter down, the remaining nodes carry about ${pool.withoutLargest} of the ${expected} expected users`);
  }
  return warnings;
}
