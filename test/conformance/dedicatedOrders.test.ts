/**
 * Order conformance: every dedicated-server order the program makes (every stack, and every built-in
 * dedicated preset) carries one option of each family the catalogue marks mandatory, and matches the
 * provider's own artifacts:
 * - the upstream provider's docs example and acceptance tests (terraform-provider-ovh, pinned in
 *   tools/upstream/pins.tsv; @ovhcloud/pulumi-ovh is generated from it and ships no example of its own
 *   for dedicated servers): for a plan they order, we order it through the same range, with codes they
 *   use and the same families;
 * - the installed @ovhcloud/pulumi-ovh SDK's input types: a plan option carries exactly the fields the
 *   provider requires, and `range` is one of the values its docs name.
 * An order missing a mandatory option is refused by OVH at checkout, after the preview looked fine.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OPTION_FAMILIES, optionFamily, SERVER_PRESETS, type DedicatedPreset } from "../../components/config/presets";
import { byType, evaluateStack } from "../support/evaluateStack";
import { SERVER } from "../support/hostInputs";
import { upstreamTree } from "../support/upstream";
import { STACKS } from "../fuzz/mutations";

const tree = upstreamTree("terraform-provider-ovh");
const SDK = path.resolve(__dirname, "../../node_modules/@ovhcloud/pulumi-ovh");

interface UpstreamOrder {
  file: string;
  planCode: string;
  range: string;
  options: string[];
}

/** The ovh_dedicated_server orders written in an upstream file (HCL in Markdown or in Go strings). */
function upstreamOrders(file: string): UpstreamOrder[] {
  const text = readFileSync(path.join(tree!, file), "utf8");
  return text
    .split(/resource "ovh_dedicated_server" /)
    .slice(1)
    .flatMap((chunk) => {
      const plan = chunk.match(/\bplan\s*=\s*\[[\s\S]*?plan_code\s*=\s*"([^"]+)"/);
      const options = chunk.match(/\bplan_option\s*=\s*\[([\s\S]*?)\n\s*\]/);
      if (!plan || !options) return [];
      const range = chunk.match(/\brange\s*=\s*"([^"]+)"/)?.[1] ?? "standard";
      return [{ file, planCode: plan[1], range, options: [...options[1].matchAll(/plan_code\s*=\s*"([^"]+)"/g)].map((m) => m[1]) }];
    });
}

/** Field names of an interface in the SDK's input types, required ones first. */
function sdkFields(iface: string): { required: string[]; optional: string[] } {
  const text = readFileSync(path.join(SDK, "types/input.d.ts"), "utf8");
  const body = text.match(new RegExp(`interface ${iface} \\{([\\s\\S]*?)\\n    \\}`))?.[1] ?? "";
  const fields = [...body.matchAll(/^\s+(\w+)(\??): /gm)];
  return { required: fields.filter((f) => f[2] === "").map((f) => f[1]), optional: fields.filter((f) => f[2] === "?").map((f) => f[1]) };
}

type Order = { stack: string; server: string; planCode: string; range: string; planOptions: Array<Record<string, unknown>>; plan: Record<string, unknown> };

/** Every order of every stack, and of each built-in dedicated preset put on every dedicated host. */
async function allOrders(): Promise<Order[]> {
  const dedicatedPresets = Object.keys(SERVER_PRESETS).filter((k) => SERVER_PRESETS[k].kind === "dedicated");
  const runs = [
    ...STACKS.map((stack) => ({ stack, label: stack, mutate: undefined as undefined | ((c: Record<string, any>) => void) })),
    ...dedicatedPresets.map((model) => ({
      stack: "brest" as const,
      label: `brest, all ${model}`,
      mutate: (c: Record<string, any>) => [c.front, ...c.nodes].forEach((h) => (h.model = model)),
    })),
  ];
  const orders: Order[] = [];
  for (const run of runs) {
    const { resources } = await evaluateStack(run.stack, {}, run.mutate);
    for (const s of byType(resources, SERVER)) {
      const plans = s.inputs.plans as Array<Record<string, unknown>> | undefined;
      if (!plans) continue; // adopted, not ordered
      expect(plans, `${run.label} ${s.name}`).toHaveLength(1);
      orders.push({
        stack: run.label,
        server: s.name,
        planCode: plans[0].planCode as string,
        range: s.inputs.range as string,
        planOptions: (s.inputs.planOptions as Array<Record<string, unknown>>) ?? [],
        plan: plans[0],
      });
    }
  }
  return orders;
}

describe.skipIf(!tree)("dedicated-server orders against the provider's own docs, tests and SDK", () => {
  const examples = tree ? [...upstreamOrders("docs/resources/dedicated_server.md"), ...upstreamOrders("ovh/resource_dedicated_server_test.go")] : [];

  it("upstream's examples order one option of every mandatory family (what our presets require)", () => {
    expect(examples.map((e) => e.planCode)).toEqual(expect.arrayContaining(["24rise01", "24sys012"]));
    for (const e of examples) expect(e.options.map(optionFamily).sort(), `${e.file} ${e.planCode}`).toEqual([...OPTION_FAMILIES].sort());
  });

  it("every order carries its preset's mandatory families, and upstream's range, codes and families where upstream orders that plan", async () => {
    const orders = await allOrders();
    expect(orders.length).toBeGreaterThanOrEqual(9 + 3 * 2);
    const withoutExample = new Set<string>();
    for (const o of orders) {
      const where = `${o.stack} ${o.server} (${o.planCode})`;
      const codes = o.planOptions.map((p) => p.planCode as string);
      const preset = Object.values(SERVER_PRESETS).find((p): p is DedicatedPreset => p.kind === "dedicated" && p.planCode === o.planCode);
      expect(preset, where).toBeDefined();
      expect(codes.map(optionFamily).sort(), where).toEqual([...preset!.mandatoryFamilies].sort());
      const example = examples.find((e) => e.planCode === o.planCode);
      if (!example) {
        withoutExample.add(o.planCode);
        continue;
      }
      expect(o.range, where).toBe(example.range);
      expect(codes.map(optionFamily).sort(), `${where}: the families upstream orders for this plan`).toEqual(example.options.map(optionFamily).sort());
      for (const code of codes) expect(example.options, `${where}: ${code} is not among upstream's options for this plan`).toContain(code);
    }
    // Plans no upstream example covers: their option codes are only as good as docs/hosts.md's check.
    expect([...withoutExample].sort()).toEqual(["24adv01-v3"]);
  });

  it("plans and plan options carry exactly the fields the installed SDK requires, and a range its docs name", async () => {
    const option = sdkFields("ServerPlanOption");
    const plan = sdkFields("ServerPlan");
    expect(option.required.sort()).toEqual(["duration", "planCode", "pricingMode", "quantity"]);
    const ranges = [
      ...readFileSync(path.join(SDK, "dedicated/server.d.ts"), "utf8").matchAll(/Range of the dedicated server to order\. Can be `(\w+)` or `(\w+)`/g),
    ].flatMap((m) => [m[1], m[2]]);
    expect(new Set(ranges)).toEqual(new Set(["standard", "eco"]));
    for (const o of await allOrders()) {
      const where = `${o.stack} ${o.server}`;
      expect(ranges, where).toContain(o.range);
      for (const field of plan.required) expect(o.plan, `${where} plan`).toHaveProperty(field);
      for (const key of Object.keys(o.plan)) expect([...plan.required, ...plan.optional], `${where} plan`).toContain(key);
      for (const p of o.planOptions) {
        for (const field of option.required) expect(p, `${where} option`).toHaveProperty(field);
        for (const key of Object.keys(p)) expect([...option.required, ...option.optional], `${where} option`).toContain(key);
      }
    }
  });
});
