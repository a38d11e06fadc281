import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "../..");
const stacks = readdirSync(path.join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s)
  .sort();

describe("CI pipelines (they cannot run here: they must parse and cover every stack)", () => {
  it("GitHub: tests on push and pull request, a preview per stack with pulumi/actions or the offline plan", () => {
    const wf = parse(readFileSync(path.join(ROOT, ".github/workflows/ci.yml"), "utf8"));
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push"]);
    expect(wf.jobs.test.steps.map((s: any) => s.run).filter(Boolean)).toContain("npm test");
    const preview = wf.jobs.preview;
    expect([...preview.strategy.matrix.stack].sort()).toEqual(stacks);
    const pulumiStep = preview.steps.find((s: any) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumiStep.uses).toBe("pulumi/actions@v7");
    expect(pulumiStep.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", "comment-on-pr": true });
    const offline = preview.steps.find((s: any) => s.run?.includes("npm run --silent plan"));
    expect(offline.if).toBe("env.HAS_PULUMI != 'true'");
    expect(pulumiStep.if).toBe("env.HAS_PULUMI == 'true'");
  });

  it("GitLab: the same stages and the same stack matrix", () => {
    const ci = parse(readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8"));
    expect(ci.stages).toEqual(["test", "preview"]);
    expect(ci.test.script).toContain("npm test");
    expect([...ci.preview.parallel.matrix[0].STACK].sort()).toEqual(stacks);
    expect(ci.preview.script.join("\n")).toMatch(/pulumi preview --stack "\$STACK"[\s\S]*npm run --silent plan -- "\$STACK"/);
  });
});
