import { describe, expect, it } from "vitest";
import type { RecordedResource } from "../../cli/plan/recorder";
import { dependencyOrder } from "../../cli/plan/render";

const resource = (urn: string, type: string, name: string, dependencies: string[] = [], parent?: string): RecordedResource => ({
  urn,
  type,
  name,
  parent,
  custom: true,
  inputs: {},
  dependencies,
  protect: false,
  retainOnDelete: false,
  additionalSecretOutputs: [],
  ignoreChanges: [],
});

/** The plan's order as first written: Kahn's algorithm, the whole ready set stably sorted at each step. */
function sortedAtEachStep(resources: RecordedResource[]): string[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const before = new Map(
    resources.map((r) => [r.urn, new Set([...(r.parent ? [r.parent] : []), ...r.dependencies].filter((u) => byUrn.has(u) && u !== r.urn))]),
  );
  const after = new Map<string, string[]>(resources.map((r) => [r.urn, []]));
  for (const [urn, deps] of before) for (const dep of deps) after.get(dep)?.push(urn);
  const key = (r: RecordedResource) => `${r.type}\0${r.name}`;
  const ready = resources.filter((r) => before.get(r.urn)?.size === 0);
  const ordered: RecordedResource[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => key(a).localeCompare(key(b)));
    const next = ready.shift() as RecordedResource;
    ordered.push(next);
    for (const urn of after.get(next.urn) ?? []) {
      const deps = before.get(urn) as Set<string>;
      deps.delete(next.urn);
      if (deps.size === 0) ready.push(byUrn.get(urn) as RecordedResource);
    }
  }
  return [...ordered, ...resources.filter((r) => !ordered.includes(r))].map((r) => r.urn);
}

describe("dependencyOrder (the plan's resource order)", () => {
  it("puts parents and dependencies first, then the smallest type and name, then the earliest arrival", () => {
    const order = dependencyOrder([
      resource("c", "t", "b", ["a"]),
      resource("a", "t", "z"),
      resource("d", "t", "a", [], "c"),
      resource("e", "s", "y"),
      // Same type and name, both ready at once: in the order they came.
      resource("g", "t", "b"),
      resource("f", "t", "b"),
    ]).map((r) => r.urn);
    expect(order).toEqual(["e", "g", "f", "a", "c", "d"]);
  });

  it("keeps resources caught in a cycle, after the others", () => {
    const order = dependencyOrder([resource("x", "t", "x", ["y"]), resource("y", "t", "y", ["x"]), resource("z", "t", "z")]).map((r) => r.urn);
    expect(order).toEqual(["z", "x", "y"]);
  });

  it("gives the order a stable sort of the ready set at each step gave, on random graphs with ties and collation-equal names", () => {
    // A seeded generator: the same graphs on every run.
    let seed = 20261203;
    const next = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    // Names the default collation orders differently from code points (case, accents, digits) or finds equal ("a" and "a\0").
    const names = ["a", "A", "b", "é", "e", "a\0", "a-b", "ab", "a_b", "B", "x1", "x10", "x2"];
    for (let trial = 0; trial < 500; trial++) {
      const size = 1 + next(40);
      const resources = Array.from({ length: size }, (_, i) =>
        resource(
          `u${i}`,
          ["t", "T", "s"][next(3)],
          names[next(names.length)],
          Array.from({ length: i > 0 ? next(4) : 0 }, () => `u${next(trial % 7 === 0 ? size : i)}`),
          i > 0 && next(3) === 0 ? `u${next(i)}` : undefined,
        ),
      );
      const copy = () => resources.map((r) => ({ ...r, dependencies: [...r.dependencies] }));
      expect(dependencyOrder(copy()).map((r) => r.urn)).toEqual(sortedAtEachStep(copy()));
    }
  });
});
