/**
 * No import circle among our modules (dependency-cruiser, rules in .dependency-cruiser.cjs; type-only
 * imports count). The second test shows the check does find one.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const DEPCRUISE = path.join(ROOT, "node_modules/.bin/depcruise");

function cruise(...targets: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      DEPCRUISE,
      ["--config", ".dependency-cruiser.cjs", "--output-type", "err", ...targets],
      { cwd: ROOT, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

// Inside test/ so that the rule's `from` path applies; unique per process, removed afterwards.
const fixture = path.join(ROOT, "test", `.cycle-fixture-${process.pid}`);
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

describe("import graph", () => {
  it("has no circle among index.ts, components/, cli/, bench/, tools/ and test/", async () => {
    const { code, output } = await cruise("index.ts", "components", "cli", "bench", "tools", "test");
    expect(output).toContain("no dependency violations found");
    expect(code).toBe(0);
  });

  it("reports a circle of type-only imports", async () => {
    mkdirSync(fixture, { recursive: true });
    writeFileSync(path.join(fixture, "a.ts"), 'import type { B } from "./b";\nexport interface A { b?: B }\n');
    writeFileSync(path.join(fixture, "b.ts"), 'import type { A } from "./a";\nexport interface B { a?: A }\n');
    const { code, output } = await cruise(path.relative(ROOT, fixture));
    expect(output).toMatch(/no-circular/);
    expect(code).not.toBe(0);
  });
});
