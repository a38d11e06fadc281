/**
 * The simulated `pulumi up` of `npm run bench` (bench/simulatedUp.ts) gives every resource its modelled duration
 * (bench/durations.ts) and stops at one it cannot model. Every resource of every shipped stack, and of a stack
 * with a standby front, has one: a retirement guard, added after the last bench run, stopped the bench on it.
 */
import { describe, expect, it } from "vitest";
import { modelledDuration } from "../../bench/durations";
import { evaluateStack } from "../support/evaluateStack";

describe("the bench's modelled durations", () => {
  it.each(["brest", "nantes", "rennes", "training", "lab"])("cover every resource of %s", async (stack) => {
    const { resources } = await evaluateStack(stack);
    const unmodelled = resources.flatMap((r) => {
      try {
        modelledDuration(r);
        return [];
      } catch (e) {
        return [(e as Error).message];
      }
    });
    expect(unmodelled).toEqual([]);
    // The guards take no time on `pulumi up`; the steps do.
    const guard = resources.find((r) => r.type === "command:remote:Command" && r.inputs.create === undefined && r.inputs.delete !== undefined);
    expect(guard && modelledDuration(guard)).toEqual({ minutes: 0, row: "guard (runs only when deleted)" });
  });

  it("cover a stack with a standby front that serves (its serving check included)", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => {
      c.standbyFront = { name: "lb-training-standby", fqdn: "visio-training-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
      c.servingFront = "standbyFront";
    });
    for (const r of resources) expect(() => modelledDuration(r), r.name).not.toThrow();
    expect(modelledDuration(resources.find((r) => r.name === "lb-training-standby-scaleliteFrontServes")!).row).toBe("scaleliteFrontServes");
  });
});
