/**
 * cli/ops/frontRole.ts poolFronts where it decides without connecting: a stack without a standby front, and
 * --host naming the standby itself, for a run that keeps copies on the other front and for one that does not.
 * (Reading the roles over SSH: test/ops/poolFronts.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { checkIfServing, poolFronts } from "../../cli/ops/frontRole";
import type { OpsTarget } from "../../cli/ops/stackSource";

const front = { host: "203.0.113.10", port: 22, username: "ubuntu", hostKey: "ssh-ed25519 AAAAfront" };
const standby = { host: "203.0.113.20", port: 2222, username: "ubuntu", hostKey: "ssh-ed25519 AAAAstandby" };
const target = (ssh: typeof front, withStandby = true): OpsTarget => ({
  label: "campus",
  ssh,
  nodes: [],
  ...(withStandby ? { standby: { name: "lb-standby", ssh: standby } } : {}),
});

describe("poolFronts without a connection", () => {
  it("a stack without a standby front: the front, no other, nothing to say", async () => {
    const t = target(front, false);
    expect(await poolFronts(t, 1000)).toEqual({ target: t, notes: [], serving: "203.0.113.10" });
  });

  it("--host naming the standby: acts on it, keeps no copy, and says so", async () => {
    const t = target({ ...standby });
    const fronts = await poolFronts(t, 1000, "the sleeping list");
    expect(fronts.target).toBe(t);
    expect(fronts.other).toBeUndefined();
    expect(fronts.serving).toBe("lb-standby");
    expect(fronts.notes).toEqual([
      "--host is the standby front lb-standby: this run acts on it and keeps no copy of the sleeping list on the front (without --host, it keeps one)",
    ]);
  });

  it("--host naming the standby for a run that copies nothing (drain, upgrade, repoint): no word of a copy", async () => {
    const t = target({ ...standby });
    expect(await poolFronts(t, 1000)).toEqual({ target: t, notes: ["--host is the standby front lb-standby: this run acts on it"], serving: "lb-standby" });
  });
});

describe("--if-serving's name, checked before any connection", () => {
  it("is one of the fronts the run knows; anything else names them", () => {
    expect(() => checkIfServing(target(front), "lb-standby")).not.toThrow();
    expect(() => checkIfServing(target(front), "lb-other")).toThrow(
      "usage: --if-serving: expected the name of one of the stack's fronts (lb-standby), found 'lb-other'",
    );
    // Options alone, no stack file: no front's name is known.
    expect(() => checkIfServing(target(front, false), "lb-training")).toThrow(/\(none known without a valid stack file\), found 'lb-training'/);
  });
});
