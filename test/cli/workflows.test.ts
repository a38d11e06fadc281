import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "../..");
const stacks = readdirSync(path.join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s)
  .sort();

const STACKS_SH = path.join(ROOT, "tools/ci/stacks.sh");
const listed = (args: string[]) => execFileSync(STACKS_SH, args, { encoding: "utf8" });

// Adding a campus is adding its stack file: both CI systems take the stacks from tools/ci/stacks.sh.
describe("tools/ci/stacks.sh: the stacks CI runs are the files in stacks/", () => {
  it("lists every stacks/Pulumi.<stack>.yaml, one a line and as a JSON array", () => {
    expect(listed([]).trim().split("\n")).toEqual(stacks);
    expect(JSON.parse(listed(["--json"]))).toEqual(stacks);
  });

  it("takes a new campus's stack file without any other change", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-stacks-"));
    try {
      for (const s of stacks) copyFileSync(path.join(ROOT, "stacks", `Pulumi.${s}.yaml`), path.join(dir, `Pulumi.${s}.yaml`));
      const added = `new-campus-${process.pid}`;
      copyFileSync(path.join(ROOT, "stacks", `Pulumi.${stacks[0]}.yaml`), path.join(dir, `Pulumi.${added}.yaml`));
      expect(JSON.parse(listed(["--json", dir]))).toEqual([...stacks, added].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Parsed YAML: untyped by nature.
type Job = Record<string, any>;

/** Every `${{ secrets.X }}` a piece of a workflow reads (GITHUB_TOKEN is the job's own token, bounded by `permissions:`). */
const secretsIn = (value: unknown): string[] =>
  [...JSON.stringify(value ?? null).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]).filter((s) => s !== "GITHUB_TOKEN");

// The rules of docs/security-ci.md ("CI cannot hand production credentials to arbitrary code").
describe("GitHub Actions: production credentials only for trusted code", () => {
  const wf = parse(readFileSync(path.join(ROOT, ".github/workflows/ci.yml"), "utf8"));
  const jobs = Object.entries(wf.jobs as Record<string, Job>);

  it("runs tests on push and pull request, never on pull_request_target or workflow_run", () => {
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push"]);
    expect(wf.jobs.test.steps.map((s: Job) => s.run).filter(Boolean)).toContain("npm test");
  });

  it("grants nothing at the top level and least privilege per job: pull-requests: write only where a comment is posted", () => {
    expect(wf.permissions).toEqual({});
    for (const [name, job] of jobs) {
      const comments = (job.steps as Job[]).some((s) => s.with?.["comment-on-pr"] !== undefined && s.with["comment-on-pr"] !== false);
      expect(job.permissions, name).toEqual(comments ? { contents: "read", "pull-requests": "write" } : { contents: "read" });
    }
  });

  it("pins every action by full commit SHA with the version in a comment", () => {
    const text = readFileSync(path.join(ROOT, ".github/workflows/ci.yml"), "utf8");
    const uses = [...text.matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [, ref, rest] of uses) {
      expect(ref, ref).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
      expect(rest, ref).toMatch(/#\s*v\d+(\.\d+)*/);
    }
  });

  it("gives secrets only to the preview job, inside the protected environment, for the default branch and same-repository pull requests", () => {
    for (const [name, job] of jobs) {
      if (secretsIn(job).length > 0) expect(name).toBe("preview");
    }
    const preview = wf.jobs.preview;
    expect(secretsIn(preview)).toContain("PULUMI_ACCESS_TOKEN");
    expect(preview.environment).toBe("preview");
    const condition = String(preview.if).replace(/\s+/g, " ");
    expect(condition).toContain("github.event_name == 'push' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch)");
    expect(condition).toContain("github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository");
    // No other way in: the condition is exactly these two alternatives.
    expect(condition.split("||").length).toBe(2);
    expect(secretsIn(wf.env)).toEqual([]);
  });

  it("builds the per-stack matrix from the directory listing, in a job without secrets", () => {
    const list = wf.jobs.stacks;
    expect(list.outputs.stacks).toBe("${{ steps.list.outputs.stacks }}");
    const step = list.steps.find((s: Job) => s.id === "list");
    expect(step.run).toBe('echo "stacks=$(tools/ci/stacks.sh --json)" >> "$GITHUB_OUTPUT"');
    expect(secretsIn(list)).toEqual([]);
    expect(list.environment).toBeUndefined();
    for (const name of ["plan", "preview"]) {
      expect(wf.jobs[name].needs, name).toContain("stacks");
      expect(wf.jobs[name].strategy.matrix.stack, name).toBe("${{ fromJSON(needs.stacks.outputs.stacks) }}");
    }
  });

  it("previews every stack with pulumi/actions, and plans every stack offline without secrets (forks included)", () => {
    const preview = wf.jobs.preview;
    const pulumiStep = preview.steps.find((s: Job) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumiStep.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "pulumi-version": expect.stringMatching(/^\d+\.\d+\.\d+$/),
    });
    const plan = wf.jobs.plan;
    expect(plan.if).toBeUndefined();
    expect(plan.steps.some((s: Job) => s.run?.includes("npm run --silent plan"))).toBe(true);
    expect(secretsIn(plan)).toEqual([]);
    expect(plan.environment).toBeUndefined();
  });

  it("fails a step whose pipeline fails (shell: bash sets -o pipefail; the default shell does not)", () => {
    for (const [name, job] of jobs) {
      for (const step of (job.steps as Job[]).filter((s) => /\|\s*tee\b/.test(s.run ?? ""))) expect(step.shell, `${name}: ${step.name}`).toBe("bash");
    }
  });

  it("never leaves the checkout's token on disk for later steps", () => {
    for (const [name, job] of jobs) {
      for (const step of (job.steps as Job[]).filter((s) => s.uses?.startsWith("actions/checkout@"))) {
        expect(step.with?.["persist-credentials"], name).toBe(false);
        expect(step.with?.ref, name).toBeUndefined();
      }
    }
  });
});

describe("GitLab CI: protected variables only in protected, same-project pipelines", () => {
  const ci = parse(readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8"));
  const resolve = (job: Job): Job => (job.extends ? { ...resolve(ci[job.extends]), ...job } : job);
  const jobs = Object.entries(ci as Record<string, Job>)
    .filter(([name, job]) => !name.startsWith(".") && typeof job === "object" && job !== null && "script" in job)
    .map(([name, job]) => [name, resolve(job)] as const);

  it("keeps the stages and plans every stack offline in every pipeline", () => {
    expect(ci.stages).toEqual(["test", "preview"]);
    expect(ci.test.script).toContain("npm test");
    // One job loops over the listed stacks (a parallel:matrix cannot come from the directory).
    expect(ci.plan.parallel).toBeUndefined();
    expect(ci.plan.script.join("\n")).toMatch(/for STACK in \$\(tools\/ci\/stacks\.sh\); do [^\n]*npm run --silent plan -- "\$STACK" \|\| failed=[^\n]*exit 1/);
    expect(ci.plan.rules).toBeUndefined();
    expect(ci.plan.environment).toBeUndefined();
  });

  it("previews every stack only on the protected default branch or a same-project merge request, in a scoped environment", () => {
    const preview = resolve(ci.preview);
    expect(preview.parallel).toBeUndefined();
    expect(preview.script.join("\n")).toMatch(
      /for STACK in \$\(tools\/ci\/stacks\.sh\); do [^\n]*pulumi preview --stack "\$STACK" [^\n]*\|\| failed=[^\n]*exit 1/,
    );
    expect(preview.environment).toMatchObject({ name: expect.stringMatching(/^preview\//), action: "prepare" });
    const conditions = (preview.rules as Job[]).map((r) => r.if);
    expect(conditions).toEqual([
      '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_REF_PROTECTED == "true"',
      '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID',
    ]);
    for (const rule of preview.rules as Job[]) expect(rule.when ?? "on_success").toBe("on_success");
  });

  it("installs the Pulumi CLI from a pinned archive checked by SHA-256, never a piped script, in a job without the token", () => {
    const text = readFileSync(path.join(ROOT, ".gitlab-ci.yml"), "utf8");
    expect(text).not.toMatch(/curl[^\n]*\|\s*(ba)?sh/);
    expect(text).not.toMatch(/get\.pulumi\.com\s*\|/);
    const installers = jobs.filter(([, job]) => job.script.join("\n").includes("get.pulumi.com"));
    expect(installers.map(([name]) => name)).toEqual(["pulumi-cli"]);
    const [, installer] = installers[0];
    expect(installer.environment).toBeUndefined(); // the secret variables are scoped to preview/* environments
    expect(JSON.stringify(installer)).not.toMatch(/PULUMI_ACCESS_TOKEN|OVH_/);
    expect(installer.script.join("\n")).toMatch(/sha256sum -c/);
    expect(ci.variables.PULUMI_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect(ci.variables.PULUMI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(resolve(ci.preview).needs).toContain("pulumi-cli");
  });

  it("gives the token's environment only to the preview job", () => {
    for (const [name, job] of jobs) if (job.environment !== undefined) expect(name).toBe("preview");
  });
});
