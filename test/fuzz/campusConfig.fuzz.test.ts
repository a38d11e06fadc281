/**
 * Config fuzzing: thousands of random mutations of the real stack files. Each one is either a valid
 * campus or rejected with the full list of its problems; never another exception, never a resource
 * registered when it is invalid, and the plan CLI exits non-zero without a stack trace.
 * Replay a failure with FUZZ_SEED=<seed printed in the failure> npx vitest run test/fuzz.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CampusConfigError, parseCampus, type Campus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { campusProgram } from "../../components/program";
import { plannedCloud } from "../../cli/plan/mockCloud";
import { configOfStackFile } from "../../cli/plan/planStack";
import { evaluateProgram } from "../../cli/plan/recorder";
import { applyAll, campusOf, damagedCampus, fuzzSeed, reshapedCampus, secretsOf, STACKS, type StackName } from "./mutations";
import { PLAN_CLI } from "../support/distCli";

const SEED = fuzzSeed();
const ROOT = path.resolve(__dirname, "../..");

/** fc.assert with the suite's seed, and the replay command in the failure message. */
function check<T>(property: fc.IAsyncProperty<T> | fc.IProperty<T>, numRuns: number) {
  const replay = (e: unknown) => {
    throw new Error(`fuzz failure (replay: FUZZ_SEED=${SEED} npx vitest run test/fuzz)\n${(e as Error).message}`);
  };
  const run = fc.assert(property as fc.IAsyncProperty<T>, { seed: SEED, numRuns });
  return run instanceof Promise ? run.catch(replay) : run;
}

type Outcome = { valid: true; campus: Campus } | { valid: false; error: CampusConfigError };

/** parseCampus's outcome; any exception other than CampusConfigError propagates and fails the property. */
function outcomeOf(raw: unknown, stack: StackName): Outcome {
  try {
    return { valid: true, campus: parseCampus(raw, secretsOf(stack)) };
  } catch (e) {
    if (e instanceof CampusConfigError) return { valid: false, error: e };
    throw e;
  }
}

describe(`config fuzzing (seed ${SEED})`, () => {
  it("every mutation of a real stack is valid, or rejected with all its problems listed", () => {
    let rejected = 0;
    check(
      fc.property(damagedCampus, ({ stack, mutations }) => {
        const outcome = outcomeOf(applyAll(stack, mutations), stack);
        if (outcome.valid) {
          expect(outcome.campus.nodes.length).toBeGreaterThan(0);
          return;
        }
        rejected += 1;
        const { problems, message } = outcome.error;
        expect(problems.length).toBeGreaterThan(0);
        for (const p of problems) {
          expect(p.path).toMatch(/^(campus|bbb-ovh:)/);
          expect(p.message.length).toBeGreaterThan(0);
          // The message is the full list: every problem appears in it, on its own line.
          expect(message).toContain(`  - ${p.path}: ${p.message}`);
        }
        expect(message).toMatch(new RegExp(`\\(${problems.length} problems?\\)`));
      }),
      3000,
    );
    // The generator must mostly produce broken files, or the property says little.
    expect(rejected).toBeGreaterThan(1500);
    // 3000 validations, CPU only: 16 s alone at load 12, 202 s in a whole run at load 15 (measured; the 180-s default ran out).
  }, 480_000);

  it("reports each of several independent problems, whatever else is broken", () => {
    // Mutations of disjoint fields, each invalid on its own, with the path its problem must carry.
    const breakers: Array<[string, (c: Record<string, any>) => void]> = [
      ["campus.adminCidrs[0]", (c) => (c.adminCidrs[0] = "10.0.0.0/33")],
      ["campus.dns.ttl", (c) => (c.dns.ttl = 1e12)],
      ["campus.adminEmail", (c) => (c.adminEmail = "é@")],
      ["campus.label", (c) => (c.label = "🎓".repeat(200))],
      ["campus.sshPublicKeys", (c) => (c.sshPublicKeys = [])],
      ["campus.expected.concurrentUsers", (c) => (c.expected.concurrentUsers = "many")],
      ["campus.scalelite.tag", (c) => (c.scalelite = { tag: "latest" })],
      ["campus.front.fqdn", (c) => (c.front.fqdn = "visio.example.com")],
      ["campus.nodes[0].name", (c) => (c.nodes[0].name = c.front.name)],
      ["campus.bbbVersion", (c) => (c.bbbVersion = "jammy-999")],
      ["campus", (c) => (c.colour = "blue")],
    ];
    check(
      fc.property(fc.constantFrom(...STACKS), fc.subarray(breakers, { minLength: 1 }), (stack, chosen) => {
        const raw = campusOf(stack);
        for (const [, breakIt] of chosen) breakIt(raw);
        const outcome = outcomeOf(raw, stack);
        expect(outcome.valid).toBe(false);
        const paths = (outcome as { error: CampusConfigError }).error.problems.map((p) => p.path);
        expect(paths).toEqual(expect.arrayContaining(chosen.map(([p]) => p)));
      }),
      500,
    );
  });

  it("the program registers nothing for an invalid campus, and builds every valid one without an error", async () => {
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.on("unhandledRejection", onStray);
    let valid = 0;
    try {
      await check(
        fc.asyncProperty(fc.oneof(damagedCampus, reshapedCampus), async ({ stack, mutations }) => {
          const raw = applyAll(stack, mutations);
          const file = readStackFile(stack);
          file.config["bbb-ovh:campus"] = { value: raw, encrypted: false };
          const { config, secretKeys } = configOfStackFile(file);
          let thrown: unknown;
          const { resources } = await evaluateProgram({ project: "bbb-ovh", stack, config, secretKeys, mocks: plannedCloud }, () => {
            try {
              return campusProgram();
            } catch (e) {
              thrown = e;
              return {};
            }
          });
          expect(stray, "unhandled rejection while evaluating").toEqual([]);
          const expected = outcomeOf(raw, stack);
          if (expected.valid) {
            valid += 1;
            expect(thrown).toBeUndefined();
            expect(resources.filter((r) => r.custom).length).toBeGreaterThan(0);
          } else {
            expect(pulumi.RunError.isInstance(thrown)).toBe(true);
            expect((thrown as Error).message).toMatch(/^invalid campus configuration/);
            expect(resources.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
          }
        }),
        60,
      );
    } finally {
      process.off("unhandledRejection", onStray);
    }
    expect(valid).toBeGreaterThan(12);
  });

  // Under `pulumi up` the Node language host prints the stack trace of any error thrown by the
  // program unless it is a pulumi.RunError (@pulumi/pulumi cmd/run/run.js, uncaughtHandler).
  it("an invalid campus reaches `pulumi up` as a RunError, so the engine prints the problems without a stack trace", () => {
    const raw = campusOf("brest");
    raw.adminCidrs = ["10.0.0.0/33"];
    pulumi.runtime.setAllConfig({ "bbb-ovh:campus": JSON.stringify(raw) });
    let thrown: unknown;
    try {
      campusProgram();
    } catch (e) {
      thrown = e;
    }
    expect((thrown as Error).message).toContain("campus.adminCidrs[0]");
    expect(pulumi.RunError.isInstance(thrown)).toBe(true);
  });

  it("the plan CLI exits 1 with the problem list and no stack trace, or 0 with a plan", async () => {
    const run = promisify(execFile);
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-fuzz-plan-"));
    const samples = fc.sample(damagedCampus, { seed: SEED, numRuns: 6 });
    // Two at a time: the machine has two cores.
    for (let i = 0; i < samples.length; i += 2) {
      await Promise.all(
        samples.slice(i, i + 2).map(async ({ stack, mutations }, j) => {
          const file = path.join(dir, `Pulumi.fuzz${i + j}.yaml`);
          const doc = { config: { ...readStackFile(stack).config, "bbb-ovh:campus": applyAll(stack, mutations) } };
          const plain = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, k === "bbb-ovh:campus" ? v : (v as { value: unknown }).value]));
          writeFileSync(file, stringify({ config: plain }));
          const json = (i + j) % 2 === 0;
          const result = await run(process.execPath, [PLAN_CLI, "--stack-file", file, ...(json ? ["--json"] : [])], { cwd: ROOT, maxBuffer: 64 << 20 }).then(
            ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
            (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
          );
          const context = `${file} (${JSON.stringify(mutations).slice(0, 300)})`;
          expect(result.stderr, context).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
          expect([0, 1], context).toContain(result.code);
          const valid = outcomeOf(applyAll(stack, mutations), stack).valid;
          expect(result.code, context).toBe(valid ? 0 : 1);
          if (!valid) {
            expect(result.stderr).toMatch(/invalid campus configuration \(\d+ problems?\)/);
            if (json) expect(JSON.parse(result.stdout).problems.length).toBeGreaterThan(0);
          } else if (json) {
            expect(JSON.parse(result.stdout).resources.length).toBeGreaterThan(1);
          }
        }),
      );
    }
  });
});
