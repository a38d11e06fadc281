/**
 * The CLIs answer before loading what they do not need: `--help` loads commander, not the Pulumi SDK,
 * ssh2, the OVH client, zod or yaml; a broken stack file is refused before the Pulumi SDK loads. Checked
 * by the modules each process really loaded (a preload lists them at exit), not by timing, which depends
 * on the machine's load (bench/RESULTS.md has the timings).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { OPS_CLI, PLAN_CLI } from "../support/distCli";

const ROOT = path.resolve(__dirname, "../..");

/** Prints, at exit, the package of every module loaded from node_modules (one per line, after a marker). */
const LOADED_PACKAGES = `process.on("exit", () => {
  const names = new Set(Object.keys(require.cache).flatMap((f) => { const m = f.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/); return m ? [m[1]] : []; }));
  process.stderr.write("\\nLOADED " + JSON.stringify([...names]) + "\\n");
});`;

async function loadedBy(args: string[]): Promise<{ code: number; stdout: string; stderr: string; packages: string[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-start-"));
  const preload = path.join(dir, "loaded.js");
  writeFileSync(preload, LOADED_PACKAGES);
  return new Promise((resolve) => {
    execFile(process.execPath, ["--require", preload, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      const marker = stderr.match(/\nLOADED (\[.*\])\n/);
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr, packages: marker ? (JSON.parse(marker[1]) as string[]) : [] });
    });
  });
}

const HEAVY = ["@pulumi/pulumi", "ssh2", "node-ssh", "@ovhcloud/node-ovh", "zod", "yaml"];

describe("CLI start-up (compiled dist/, as npm run plan|ops runs it)", () => {
  it("ops --help loads commander and none of the heavy libraries", async () => {
    const r = await loadedBy([OPS_CLI, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: ops");
    expect(r.packages).toContain("commander");
    expect(r.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
  });

  it("plan --help loads commander only", async () => {
    const r = await loadedBy([PLAN_CLI, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: plan");
    expect(r.packages).toEqual(["commander"]);
  });

  it("a broken stack file is refused before the Pulumi SDK loads", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "bbb-start-")), "Pulumi.broken.yaml");
    writeFileSync(file, "config:\n  bbb-ovh:campus:\n    id: Brest!\n");
    const r = await loadedBy([PLAN_CLI, "--stack-file", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("invalid campus configuration");
    expect(r.stderr).toContain("campus.id");
    expect(r.packages).toContain("zod");
    expect(r.packages.filter((p) => p.startsWith("@pulumi/"))).toEqual([]);
  });

  it("a valid stack is planned by the same compiled CLI", async () => {
    const r = await loadedBy([PLAN_CLI, "training", "--json"]);
    expect(r.code).toBe(0);
    expect(r.packages).toContain("@pulumi/pulumi");
    expect((JSON.parse(r.stdout) as { stack: string }).stack).toBe("training");
  });
});
