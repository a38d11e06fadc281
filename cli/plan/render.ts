import Table from "cli-table3";
import type { ResolvedHost } from "../../components/config/campus";
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

const shortType = (type: string) => type.replace(/^pulumi:pulumi:/, "");

export interface PlanDocument {
  stack: string;
  stackFile: string;
  resources: Array<{ urn: string; type: string; name: string; parent: string | null; protect: boolean; inputs: unknown }>;
  outputs: unknown;
  warnings: string[];
  notes: string[];
}

export function planDocument(plan: Plan): PlanDocument {
  return {
    stack: plan.stack,
    stackFile: plan.stackFile,
    resources: plan.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, protect: r.protect, inputs: redact(r.inputs) })),
    outputs: redact(plan.outputs),
    warnings: plan.warnings,
    notes: plan.notes,
  };
}

function resourceTree(resources: RecordedResource[]): string[] {
  const children = new Map<string | undefined, RecordedResource[]>();
  for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  // Registration order depends on async timing; sort so the same stack always prints the same tree.
  for (const list of children.values()) list.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      const flags = r.protect ? "  [protected]" : "";
      lines.push(`${"  ".repeat(depth)}${r.custom ? "+" : "■"} ${shortType(r.type)}  ${r.name}${flags}`);
      const inputs = redact(r.inputs) as Record<string, unknown>;
      for (const [key, value] of Object.entries(inputs)) {
        if (value === undefined || value === null || key.startsWith("__")) continue;
        lines.push(`${"  ".repeat(depth + 2)}${key}: ${compact(value)}`);
      }
      walk(r.urn, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines;
}

export function renderPlanText(plan: Plan): string {
  const doc = planDocument(plan);
  const hosts = new Table({ head: ["role", "name", "fqdn", "kind", "model", "where"], style: { head: [], border: [] } });
  for (const h of [plan.campus.front, ...plan.campus.nodes]) {
    hosts.push([h.role, h.name, h.fqdn, h.config.kind, modelOf(h), h.datacenter]);
  }
  const sections = [
    `Offline plan for stack '${plan.stack}' (${plan.stackFile})`,
    `${plan.campus.config.label}: ${plan.resources.filter((r) => r.custom).length} resources in ${plan.resources.filter((r) => !r.custom).length} components. Nothing was created: this is Pulumi's mock runtime.`,
    "",
    hosts.toString(),
    "",
    "Resources (+ resource, ■ component; secrets shown as [secret]):",
    ...resourceTree(plan.resources),
    "",
    "Stack outputs:",
    ...Object.entries(doc.outputs as Record<string, unknown>).map(([k, v]) => `  ${k}: ${compact(v, 200)}`),
  ];
  if (plan.notes.length > 0) sections.push("", "Notes:", ...plan.notes.map((n) => `  - ${n}`));
  sections.push("", plan.warnings.length > 0 ? "Warnings:" : "Warnings: none", ...plan.warnings.map((w) => `  ! ${w}`));
  return `${sections.join("\n")}\n`;
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
  if (campus.config.recordings) for (const n of campus.nodes) lines.push(`  ${mermaidId(n.name)} -.->|"recordings (NFS)"| front`);
  return `${lines.join("\n")}\n`;
}
