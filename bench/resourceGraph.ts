/**
 * The dependency graph of a recorded evaluation, and its critical path: the longest chain of real
 * dependencies, weighted by each resource's duration. No deploy, however parallel, is shorter.
 */
import type { RecordedResource } from "../cli/plan/recorder";

export interface CriticalPath {
  minutes: number;
  /** Resource names along the path, first to last, with their own durations. */
  chain: Array<{ name: string; minutes: number }>;
}

/**
 * What a resource really waits for: its recorded dependencies (inputs and dependsOn), where a
 * component stands for all the custom resources under it as the SDK expands it, and its parent,
 * whose URN it needs (a component's registration itself waits for the component's dependsOn).
 */
function waitsFor(resources: RecordedResource[]): Map<string, string[]> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, RecordedResource[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const customUnder = (urn: string): string[] => (children.get(urn) ?? []).flatMap((c) => (c.custom ? [c.urn, ...customUnder(c.urn)] : customUnder(c.urn)));
  const expand = (urn: string): string[] => {
    const target = byUrn.get(urn);
    if (!target) throw new Error(`dependency on a resource that was never registered: ${urn}`);
    return target.custom ? [urn] : customUnder(urn);
  };
  const edges = new Map<string, string[]>();
  for (const r of resources) {
    const deps = r.dependencies.flatMap(expand);
    if (r.parent) deps.push(r.parent);
    edges.set(r.urn, [...new Set(deps)]);
  }
  return edges;
}

export function criticalPath(resources: RecordedResource[], minutesOf: (r: RecordedResource) => number): CriticalPath {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const edges = waitsFor(resources);
  const finish = new Map<string, { at: number; via?: string }>();
  const visiting = new Set<string>();
  const finishOf = (urn: string): number => {
    const known = finish.get(urn);
    if (known) return known.at;
    if (visiting.has(urn)) throw new Error(`dependency cycle through ${urn}`);
    visiting.add(urn);
    let start = 0;
    let via: string | undefined;
    for (const dep of edges.get(urn) ?? []) {
      const at = finishOf(dep);
      if (at > start) [start, via] = [at, dep];
    }
    visiting.delete(urn);
    const at = start + minutesOf(byUrn.get(urn)!);
    finish.set(urn, { at, via });
    return at;
  };
  let last: string | undefined;
  for (const r of resources) if (last === undefined || finishOf(r.urn) > finishOf(last)) last = r.urn;
  const chain: CriticalPath["chain"] = [];
  for (let urn = last; urn !== undefined; urn = finish.get(urn)!.via) {
    const r = byUrn.get(urn)!;
    if (minutesOf(r) > 0) chain.unshift({ name: r.name, minutes: minutesOf(r) });
  }
  return { minutes: last === undefined ? 0 : finishOf(last), chain };
}
