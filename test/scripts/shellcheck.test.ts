import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "../..");
// Every shell file we ship or fake with: scripts/ (with lib/) and the fakes (bin/, their lib/ and downloads).
const DIRS = ["scripts", "test/fakes/bin", "test/fakes/lib", "test/fakes/downloads"];

/** Shell by name or by shebang (the fakes have no extension; helpers in other languages are skipped). */
function isShell(rel: string): boolean {
  const firstLine = readFileSync(path.join(REPO, rel), "utf8").split("\n", 1)[0];
  return rel.endsWith(".sh") || /^#!.*\b(bash|sh|dash)\b/.test(firstLine);
}

function shellFiles(dir: string): string[] {
  const full = path.join(REPO, dir);
  return readdirSync(full).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(REPO, rel)).isDirectory()) return shellFiles(rel);
    return isShell(rel) ? [rel] : [];
  });
}

describe("shellcheck", () => {
  it("is installed (.ci/run installs it)", () => {
    expect(execFileSync("shellcheck", ["--version"], { encoding: "utf8" })).toMatch(/version: \d/);
  });

  // A bound for a hang, as the code checks' (test/code/checks.test.ts): CPU only, about 20 s of it, it took 109 s
  // beside three workers and three busy loops (load average 7.5), more than half the suite's default budget.
  it("finds every script and fake clean (shellcheck -x)", { timeout: 300_000 }, () => {
    const files = shellFiles("scripts").concat(DIRS.slice(1).flatMap(shellFiles));
    expect(files).toContain("scripts/lib/common.sh");
    expect(files).toContain("test/fakes/bin/bbb-conf");
    const r = spawnSync("shellcheck", ["-x", ...files], { cwd: REPO, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
