/**
 * cloud-init conformance: the REAL `cloud-init schema --config-file F` (Debian's cloud-init 22.4, the
 * release Ubuntu 22.04 images started from) accepts every user data the program renders, for every
 * stack (each also with all its hosts on Public Cloud, so each renders some) and for fuzzed valid
 * campuses. cloud-init only warns on a schema error and runs on "degraded", so the error would
 * otherwise show up only as a host that silently ignored part of its configuration.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { evaluateStack } from "../support/evaluateStack";
import { asPublicCloud, userDataOf } from "../support/hostInputs";
import { applyAll, fuzzSeed, reshapedCampus, STACKS } from "../fuzz/mutations";

const cloudInit = spawnSync("cloud-init", ["--version"], { encoding: "utf8" });
const version = `${cloudInit.stdout}${cloudInit.stderr}`.trim();
const dir = mkdtempSync(path.join(tmpdir(), "bbb-cloud-init-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** cloud-init's own verdict on one user data document: "" when valid, else its error text. */
function schemaErrors(userData: string): string {
  const file = path.join(dir, "user-data");
  writeFileSync(file, userData, { mode: 0o600 });
  const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
  return run.status === 0 ? "" : `${run.stdout}${run.stderr}`.trim();
}

describe.skipIf(cloudInit.status !== 0)(`cloud-init schema (${version})`, () => {
  it("the checker itself rejects what 22.4 rejects (ssh_genkeytypes: [] is too short)", () => {
    expect(schemaErrors("#cloud-config\nssh_genkeytypes: []\n")).toMatch(/ssh_genkeytypes: \[\] is too short/);
    expect(schemaErrors("#cloud-config\nssh_deletekeys: true\n")).toBe("");
  });

  it.each(STACKS)("%s: every rendered user data passes (the stack as shipped, then all hosts on Public Cloud)", async (stack) => {
    const shipped = userDataOf((await evaluateStack(stack, {})).resources);
    const cloud = userDataOf((await evaluateStack(stack, {}, asPublicCloud)).resources);
    expect(cloud.length).toBeGreaterThanOrEqual(2);
    for (const { host, userData } of [...shipped, ...cloud]) expect(schemaErrors(userData), `${stack} ${host}`).toBe("");
  });

  it("fuzzed valid campuses (relabelled, many admin keys and CIDRs) render user data cloud-init accepts", async () => {
    const samples = fc.sample(reshapedCampus, { seed: fuzzSeed(), numRuns: 6 });
    for (const { stack, mutations } of samples) {
      const campus = applyAll(stack, mutations);
      const { resources } = await evaluateStack(stack, {}, (c) => {
        for (const key of Object.keys(c)) delete c[key];
        Object.assign(c, structuredClone(campus));
        asPublicCloud(c);
      });
      const docs = userDataOf(resources);
      expect(docs.length).toBeGreaterThan(0);
      for (const { host, userData } of docs) expect(schemaErrors(userData), `${stack} ${JSON.stringify(mutations).slice(0, 200)} ${host}`).toBe("");
    }
  });
});
