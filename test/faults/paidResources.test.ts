/**
 * Paid resources stay protected unless a stack opts out: dedicated servers (protect and
 * keepServiceAfterDestroy, so a destroy never terminates the service) and Public Cloud instances,
 * in every shipped stack; `protection.allowTermination: true` releases exactly those.
 */
import { describe, expect, it } from "vitest";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";
import { byType, evaluateStack } from "../support/evaluateStack";

const PAID = ["ovh:Dedicated/server:Server", "openstack:compute/instance:Instance"];
// The operator key must parse (its public half is derived): a throwaway one.
const SECRETS = { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("KNOWN-PROTECTION-KEY") };

describe("paid resources", () => {
  it.each(["brest", "nantes", "rennes", "training"])("%s: every paid resource is protected by default", async (stack) => {
    const { resources } = await evaluateStack(stack, SECRETS);
    const paid = resources.filter((r) => PAID.includes(r.type));
    expect(paid.length).toBeGreaterThanOrEqual(3);
    for (const r of paid) {
      expect(r.protect, r.name).toBe(true);
      if (r.type === PAID[0]) expect(r.inputs.keepServiceAfterDestroy, r.name).toBe(true);
    }
    // Nothing else is protected: protection is for what costs money or time to get back.
    expect(resources.filter((r) => r.protect && !PAID.includes(r.type)).map((r) => r.name)).toEqual([]);
  });

  it.each(["brest", "training"])("%s: allowTermination releases them, and only when set", async (stack) => {
    const { resources } = await evaluateStack(stack, SECRETS, (c) => (c.protection = { allowTermination: true }));
    const paid = resources.filter((r) => PAID.includes(r.type));
    expect(paid.length).toBeGreaterThanOrEqual(3);
    for (const r of paid) {
      expect(r.protect, r.name).toBe(false);
      if (r.type === PAID[0]) expect(r.inputs.keepServiceAfterDestroy, r.name).toBe(false);
    }
    const explicitFalse = await evaluateStack(stack, SECRETS, (c) => (c.protection = { allowTermination: false }));
    expect(explicitFalse.resources.filter((r) => PAID.includes(r.type)).every((r) => r.protect)).toBe(true);
  });

  it("lab: existing hosts cost nothing to us and nothing of them can be destroyed", async () => {
    const { resources } = await evaluateStack("lab", SECRETS);
    expect(resources.filter((r) => PAID.includes(r.type))).toEqual([]);
    expect(byType(resources, "bbb-ovh:hosts:ExistingHost")).toHaveLength(3);
  });
});
