import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { benchOutDir } from "../../bench/outDir";

const ROOT = path.resolve(__dirname, "../..");
const ignored = (dir: string) => {
  try {
    execFileSync("git", ["check-ignore", "-q", path.join(dir, "RESULTS.md")], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
};

describe("npm run bench writes where the user chooses", () => {
  it("by default under .tmp/bench, which git ignores: a run does not dirty the checkout", () => {
    const dir = benchOutDir([], ROOT);
    expect(dir).toBe(path.join(ROOT, ".tmp/bench"));
    expect(ignored(dir)).toBe(true);
  });

  it("refreshes the committed bench/RESULTS.md only when asked with --out bench", () => {
    expect(benchOutDir(["--out", "bench"], ROOT)).toBe(path.join(ROOT, "bench"));
    expect(ignored(path.join(ROOT, "bench"))).toBe(false);
  });

  it("takes any directory, relative to where it runs, and refuses what it does not know", () => {
    expect(benchOutDir(["--out", "/var/tmp/b"], ROOT)).toBe("/var/tmp/b");
    expect(benchOutDir(["--out=results"], "/srv")).toBe("/srv/results");
    expect(() => benchOutDir(["--outt", "x"], ROOT)).toThrow(/--outt/);
    expect(() => benchOutDir(["--out"], ROOT)).toThrow(/--out/);
  });
});
