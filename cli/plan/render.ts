import { describeInstallerPin, type ResolvedInstallerPin } from "../../components/bbb/installerPin";
import { describeMonitoring } from "../../components/monitoring/describeMonitoring";
import type { Campus, ResolvedHost } from "../../components/config/campus";
import { nodeImageOf } from "../../components/hosts/nodeImage";
import { stackCost, type HostCost, type StackCost } from "../../components/planning/costing";
import { pricesFor } from "../../components/planning/prices";
import { scriptBundle } from "../../components/remote/scriptBundle";
import { SPOOL_LIMITS, REFUSED_DIR, SPOOL_DIR, describeSpoolLimits, senderTarget } from "../../components/scalelite/recordingLayout";
import { isSecretValue, type RecordedResource } from "./recorder";
import type { Plan } from "./planStack";

export const SECRET_MARK = "[secret]";

/** Replaces every secret-wrapped value, at any depth, by SECRET_MARK. */
export function redact(value: unknown): unknown {
  if (isSecretValue(value)) return SECRET_MARK;
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
  return value;
}

function compact(value: unknown, width = 96): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const oneLine = text.replace(/\s*\n\s*/g, " ⏎ ");
  return oneLine.length > width ? `${oneLine.slice(0, width - 1)}…` : oneLine;
}

/** Inputs shown whole, never cut: what an order buys (plan code, options, datacenter) must be readable. */
const WHOLE_INPUTS = new Set(["plans", "planOptions", "range", "ovhSubsidiary", "os"]);

/** A resource's inputs as plan lines; the script bundle is shown as its file list and hash. */
function inputLines(r: RecordedResource, indent: string): string[] {
  const inputs = redact(r.inputs) as Record<string, unknown>;
  const lines: string[] = [];
  for (const [key, value] of Object.entries(inputs)) {
    if (value === undefined || value === null || key.startsWith("__")) continue;
    if (r.type === "command:remote:CopyToRemote" && key === "source") {
      const bundle = scriptBundle();
      lines.push(`${indent}source: scripts/ (${bundle.files.length} files, sha256 ${bundle.hash})`);
      for (const file of bundle.files) lines.push(`${indent}  - ${file}`);
      continue;
    }
    lines.push(`${indent}${key}: ${WHOLE_INPUTS.has(key) ? JSON.stringify(value) : compact(value)}`);
  }
  return lines;
}

/** The default collation, as `String.prototype.localeCompare` without arguments uses it, built once. */
const collator = new Intl.Collator();

/**
 * Resources in the order `pulumi up` can create them: a parent before its children, a dependency
 * before what depends on it (Kahn's algorithm, ties by type then name so the output is stable).
 * The ready set is a binary heap ordered by that key, then by arrival (what a stable sort of the whole
 * set at each step gave, which was quadratic: half a second of a 100-node plan's rendering).
 */
export function dependencyOrder(resources: RecordedResource[]): RecordedResource[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const before = new Map(
    resources.map((r) => [r.urn, new Set([...(r.parent ? [r.parent] : []), ...r.dependencies].filter((u) => byUrn.has(u) && u !== r.urn))]),
  );
  const after = new Map<string, string[]>(resources.map((r) => [r.urn, []]));
  for (const [urn, deps] of before) for (const dep of deps) after.get(dep)?.push(urn);
  const ready = new ReadyHeap(resources);
  for (const r of resources) if (before.get(r.urn)?.size === 0) ready.push(r);
  const ordered: RecordedResource[] = [];
  for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
    ordered.push(next);
    for (const urn of after.get(next.urn) ?? []) {
      const deps = before.get(urn) as Set<string>;
      deps.delete(next.urn);
      if (deps.size === 0) ready.push(byUrn.get(urn) as RecordedResource);
    }
  }
  // A cycle cannot happen in a Pulumi graph; keep anything left rather than hide it.
  const placed = new Set(ordered);
  return [...ordered, ...resources.filter((r) => !placed.has(r))];
}

/** Resources ready to be created, smallest (type, name) first, earliest arrival among equals. */
class ReadyHeap {
  private readonly items: Array<{ resource: RecordedResource; rank: number; arrival: number }> = [];
  private arrivals = 0;
  /** Each (type, name) key's place in collation order, equal for keys the collation finds equal: compared once per key. */
  private readonly ranks = new Map<string, number>();

  constructor(resources: RecordedResource[]) {
    const keys = [...new Set(resources.map(ReadyHeap.key))].sort(collator.compare);
    keys.forEach((key, i) => this.ranks.set(key, i > 0 && collator.compare(keys[i - 1], key) === 0 ? (this.ranks.get(keys[i - 1]) as number) : i));
  }

  private static key(r: RecordedResource): string {
    return `${r.type}\0${r.name}`;
  }

  push(resource: RecordedResource): void {
    const items = this.items;
    items.push({ resource, rank: this.ranks.get(ReadyHeap.key(resource)) as number, arrival: this.arrivals++ });
    for (let i = items.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!this.less(i, up)) break;
      [items[i], items[up]] = [items[up], items[i]];
      i = up;
    }
  }

  pop(): RecordedResource | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let least = i;
        if (l < items.length && this.less(l, least)) least = l;
        if (r < items.length && this.less(r, least)) least = r;
        if (least === i) break;
        [items[i], items[least]] = [items[least], items[i]];
        i = least;
      }
    }
    return top?.resource;
  }

  private less(a: number, b: number): boolean {
    const [x, y] = [this.items[a], this.items[b]];
    return x.rank !== y.rank ? x.rank < y.rank : x.arrival < y.arrival;
  }
}

const shortType = (type: string) => type.replace(/^pulumi:pulumi:/, "");

export interface PlanDocument {
  stack: string;
  stackFile: string;
  resources: Array<{ urn: string; type: string; name: string; parent: string | null; protect: boolean; inputs: unknown }>;
  outputs: unknown;
  /** The bbb-install.sh the nodes run: line, branch, commit, sha256, its date when known, default or the stack's. */
  installer: ResolvedInstallerPin;
  warnings: string[];
  notes: string[];
}

export function planDocument(plan: Plan): PlanDocument {
  return {
    stack: plan.stack,
    stackFile: plan.stackFile,
    resources: plan.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, protect: r.protect, inputs: redact(r.inputs) })),
    outputs: redact(plan.outputs),
    installer: plan.campus.installer,
    warnings: plan.warnings,
    notes: plan.notes,
  };
}

function resourceList(resources: RecordedResource[], ordered: RecordedResource[]): string[] {
  const names = new Map(resources.map((r) => [r.urn, r.name]));
  const lines: string[] = [];
  ordered.forEach((r, i) => {
    const flags = r.protect ? "  [protected]" : "";
    const parent = r.parent && names.has(r.parent) ? `  (in ${names.get(r.parent)})` : "";
    lines.push(`${String(i + 1).padStart(3)}. ${r.custom ? "+" : "■"} ${shortType(r.type)}  ${r.name}${flags}${parent}`);
    const deps = r.dependencies.filter((u) => names.has(u) && u !== r.parent).map((u) => names.get(u));
    if (deps.length > 0) lines.push(`       after: ${[...new Set(deps)].sort().join(", ")}`);
    lines.push(...inputLines(r, "       "));
  });
  return lines;
}

const where = (h: ResolvedHost) => (h.site && !h.site.startsWith("onsite:") ? `${h.site} (${h.datacenter})` : h.datacenter);
const eur = (n: number) => `${n.toFixed(2)} EUR`;

/** How the host is billed and what a month of it costs, from the campus's price table. */
function billingOf(h: ResolvedHost, cost: HostCost | undefined): string {
  if (h.config.kind === "existing") return "the school's own host, not billed by OVH";
  if (!cost?.monthly) return cost?.note ?? "no price";
  // The program orders Public Cloud instances on hourly billing (the timetable can shelve them);
  // dedicated servers are rented by the month.
  if (h.config.kind === "publicCloud") return `hourly billing, ${eur(cost.monthly.hourly)} a month if up around the clock (${cost.priceKey})`;
  return `monthly billing, ${eur(cost.monthly.monthly)} a month (${cost.priceKey})`;
}

/**
 * The remote steps run on each host, in the order `pulumi up` runs them: the commands named after
 * the host (`<host>-<step>`), including those it runs for the campus (registration on the front).
 * One pass: each command's name is cut at each '-', and a prefix that is a host's name claims it.
 * A guard (a command that runs only when deleted: `<host>-<step>-<guarded host>`) is no step of `pulumi
 * up`: it is listed under the host it guards instead.
 */
function stepsByHost(
  hosts: string[],
  ordered: RecordedResource[],
  servedBy?: { front: string; standby: string },
): { steps: Map<string, string[]>; guards: Map<string, string[]> } {
  const steps = new Map(hosts.map((host) => [host, [] as string[]]));
  const guards = new Map(hosts.map((host) => [host, [] as string[]]));
  for (const r of ordered) {
    if (!r.custom || !r.type.startsWith("command:remote:")) continue;
    const guard = r.inputs.create === undefined && r.inputs.delete !== undefined;
    // The longest host name that prefixes it: lb-x-standby-ssh is lb-x-standby's, not a step "standby-ssh" of lb-x.
    for (let dash = r.name.lastIndexOf("-"); dash > 0; dash = r.name.lastIndexOf("-", dash - 1)) {
      const named = r.name.slice(0, dash);
      if (!steps.has(named)) continue;
      const step = r.name.slice(dash + 1);
      // The steps of the front that serves keep the front's names (HostSteps namedAfter) but run on the standby.
      const host = servedBy && named === servedBy.front && SERVING_STEPS.includes(step.split("-")[0]) ? servedBy.standby : named;
      const guarded = guard ? (longest(hosts.filter((h) => step.endsWith(`-${h}`))) ?? host) : undefined;
      if (guarded) guards.get(guarded)?.push(`${step.split("-")[0]} on ${host}`);
      else steps.get(host)?.push(step);
      break;
    }
  }
  return { steps, guards };
}

const longest = (names: string[]): string | undefined => names.sort((a, b) => b.length - a.length)[0];
/** The steps that run on the front that serves (components/platform.ts `serving`). */
const SERVING_STEPS = ["scaleliteRegister", "scaleliteRetireNode"];

/** One paragraph per host: what it is, where, how it is billed, then its steps. Read before the resource list. */
export function hostSummary(plan: Plan, ordered = dependencyOrder(plan.resources)): string[] {
  const cost = stackCost(plan.campus, pricesFor(plan.campus.config.prices));
  const { front, standbyFront } = plan.campus;
  const hosts = [front, ...(standbyFront ? [standbyFront] : []), ...plan.campus.nodes];
  const standbyServes = plan.campus.config.servingFront === "standbyFront";
  const rebuilt = standbyServes && plan.campus.config.rebuildFront;
  const frontState = rebuilt
    ? ", rebuilt while the standby front serves (campus.rebuildFront): fenced, Scalelite stopped, until ops failback"
    : standbyServes
      ? ", held while the standby front serves (campus.servingFront)"
      : "";
  const what = (h: ResolvedHost) =>
    h === front
      ? `Scalelite front${frontState}`
      : h === standbyFront
        ? `Scalelite standby front${standbyServes ? ", serving the front's name (campus.servingFront)" : ""}`
        : "BigBlueButton node";
  const { steps: stepsOf, guards: guardsOf } = stepsByHost(
    hosts.map((h) => h.name),
    ordered,
    standbyServes && standbyFront ? { front: front.name, standby: standbyFront.name } : undefined,
  );
  const lines: string[] = [];
  for (const h of hosts) {
    lines.push(`  ${h.name} (${what(h)}, ${h.fqdn})`);
    lines.push(
      `    ${h.config.kind} ${modelOf(h)} in ${where(h)}; ${billingOf(
        h,
        cost.hosts.find((c) => c.name === h.name),
      )}`,
    );
    const steps = stepsOf.get(h.name) as string[];
    const held =
      h !== front || !standbyServes
        ? ""
        : rebuilt
          ? " (each runs again on the new server, but scaleliteReplicationPrimary and scaleliteHealth, held)"
          : " (held: none runs again, each keeps its last inputs)";
    lines.push(`    steps${held}: ${steps.length > 0 ? steps.join(" → ") : "none"}`);
    const guards = guardsOf.get(h.name) as string[];
    if (guards.length > 0) lines.push(`    when removed from the stack: kept, running, until it is empty (${guards.join(", ")})`);
    const image = nodeImageOf(plan.campus, h);
    if (image) lines.push(`    boots from the node image (the most recent matching ${image.nameRegex}): first-boot step, not bbb-install`);
  }
  lines.push(`  ${totalLine(plan.campus, hosts, cost)}`);
  return lines;
}

/**
 * The month's bill as planned, saying only what applies: the hourly Public Cloud hosts are counted up around the
 * clock (what a timetable or the scaler saves is theirs to say: docs/scaling.md), with what monthly billing would
 * cost instead; dedicated servers are rented by the month; the school's own hosts are not billed.
 */
export function totalLine(campus: Campus, hosts: ResolvedHost[], cost: Pick<StackCost, "total" | "unpriced">): string {
  const unpriced = cost.unpriced.length > 0 ? ` (without ${cost.unpriced.join(", ")}: no price)` : "";
  if (hosts.every((h) => h.config.kind === "existing")) return "Total: nothing billed by OVH: every host is the school's own.";
  if (!hosts.some((h) => h.config.kind === "publicCloud")) return `Total: ${eur(cost.total.monthly)} a month${unpriced}.`;
  const saving = campus.config.scaling
    ? "campus.scaling shelves them as the load allows"
    : campus.config.timetable
      ? "campus.timetable shelves them outside teaching hours"
      : "campus.timetable would shelve them outside teaching hours";
  return `Total: ${eur(cost.total.hourly)} a month as planned, the hourly Public Cloud hosts up around the clock (${saving}, which this total does not count); ${eur(cost.total.monthly)} were they on monthly billing${unpriced}.`;
}

/** Addresses of the documentation ranges, which the mock runtime hands out instead of OVH's (cli/plan/mockCloud.ts). */
const MOCK_ADDRESS = /\b(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}\b|\b2001:db8:|ip-planned\.eu/;

function outputLine(key: string, value: unknown): string {
  const line = `  ${key}: ${compact(value, 200)}`;
  return MOCK_ADDRESS.test(JSON.stringify(value) ?? "") ? `${line}  [mock address]` : line;
}

export function renderPlanText(plan: Plan): string {
  const doc = planDocument(plan);
  const ordered = dependencyOrder(plan.resources);
  const sections = [
    `Offline plan for stack '${plan.stack}' (${plan.stackFile})`,
    `${plan.campus.config.label}: ${plan.resources.filter((r) => r.custom).length} resources in ${plan.resources.filter((r) => !r.custom).length} components. Nothing was created: this is Pulumi's mock runtime.`,
    "",
    "Hosts (kind, site, billing, then the steps run on each, in order):",
    ...hostSummary(plan, ordered),
    "",
    "BigBlueButton installer (every node; a changed pin re-runs the install step, a changed line needs new servers):",
    `  ${describeInstallerPin(plan.campus.installer)}`,
    "",
    "Resources in the order `pulumi up` creates them (+ resource, ■ component; secrets shown as [secret]):",
    ...resourceList(plan.resources, ordered),
    "",
    "Stack outputs ([mock address]: an address of the documentation ranges, RFC 5737/3849, standing in for the one OVH assigns):",
    // Pulumi shows no output whose value is undefined (a stack without a standby front has no standbyIpv4).
    ...Object.entries(doc.outputs as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => outputLine(k, v)),
  ];
  if (plan.campus.config.recordings) sections.push("", ...recordingLines(plan));
  sections.push("", ...describeMonitoring(plan.campus));
  if (plan.notes.length > 0) sections.push("", "Notes:", ...plan.notes.map((n) => `  - ${n}`));
  sections.push("", plan.warnings.length > 0 ? "Warnings (each says what to do):" : "Warnings: none", ...plan.warnings.map((w) => `  ! ${w}`));
  return `${sections.join("\n")}\n`;
}

/** Where each node's recordings land on the front, and the spool's space rule (docs/recordings.md). */
function recordingLines(plan: Plan): string[] {
  const front = plan.campus.front.fqdn;
  return [
    "Recordings (each node's key writes only into its own target; the mover checks each archive before Scalelite's spool):",
    ...plan.campus.nodes.map((n) => `  ${n.name} -> ${front}:${senderTarget(n.name)}`),
    `  checked archives -> ${SPOOL_DIR}; refused ones kept in ${REFUSED_DIR}/<node> with their reason`,
    `  space rule: ${describeSpoolLimits(SPOOL_LIMITS)}; on the front's own disk, beside PostgreSQL and Redis (no filesystem of its own)`,
  ];
}

function modelOf(h: ResolvedHost): string {
  const c = h.config;
  if (c.kind === "dedicated") return c.model ?? c.planCode ?? `adopt ${c.serviceName}`;
  if (c.kind === "publicCloud") return c.flavor;
  return h.spec ? `${h.spec.cores}c/${h.spec.ramGb}GB` : "own host";
}

const mermaidId = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, "_");
const mermaidLabel = (...lines: string[]) => `"${lines.join("<br/>").replace(/"/g, "'")}"`;

/** A topology diagram GitHub renders: Moodle -> Scalelite front -> nodes grouped by datacenter. */
export function renderPlanMermaid(plan: Plan): string {
  const { campus } = plan;
  const lines = ["flowchart LR"];
  const moodle = campus.config.moodle;
  lines.push(`  users(("teachers and students"))`);
  if (moodle) {
    lines.push(`  moodle[${mermaidLabel("Moodle", moodle.ssh?.host ?? "school's Moodle")}]`);
    lines.push(`  users --> moodle`);
    lines.push(`  moodle -->|"BBB API, LOADBALANCER_SECRET"| front`);
  } else {
    lines.push(`  users --> front`);
  }
  const f = campus.front;
  lines.push(`  front[${mermaidLabel("Scalelite front", f.fqdn, `${modelOf(f)} · ${f.datacenter}`)}]`);
  const byDc = new Map<string, ResolvedHost[]>();
  for (const n of campus.nodes) byDc.set(n.datacenter, [...(byDc.get(n.datacenter) ?? []), n]);
  for (const [dc, nodes] of byDc) {
    lines.push(`  subgraph dc_${mermaidId(dc)}["datacenter ${dc}"]`);
    for (const n of nodes) lines.push(`    ${mermaidId(n.name)}[${mermaidLabel("BigBlueButton", n.fqdn, modelOf(n))}]`);
    lines.push("  end");
  }
  for (const n of campus.nodes) lines.push(`  front -->|"load ×${n.loadMultiplier}${n.tag ? `, tag ${n.tag} only` : ""}"| ${mermaidId(n.name)}`);
  if (campus.config.recordings) for (const n of campus.nodes) lines.push(`  ${mermaidId(n.name)} -.->|"recordings (rsync over SSH)"| front`);
  return `${lines.join("\n")}\n`;
}
