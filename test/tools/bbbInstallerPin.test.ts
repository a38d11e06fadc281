/**
 * tools/bbb-installer-pin.sh with real git: against the stored snapshot of bigbluebutton/bbb-install
 * (a bare git directory; skipped loudly when this machine has none), where it must give the project's
 * default pin, and against a checkout made here, whose branch exists only as origin/<branch>.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { INSTALLER_PINS } from "../../components/bbb/installerPin";
import { parseCampus } from "../../components/config/campus";
import { BBB_LINES } from "../../components/config/presets";
import type { CampusInput } from "../../components/config/schema";
import { smallCampusInput } from "../support/campusInput";

const TOOL = path.resolve(__dirname, "../../tools/bbb-installer-pin.sh");
const MIRROR = path.join(process.env.BBB_OVH_UPSTREAM_GIT ?? "/work/.mirror", "bigbluebutton+bbb-install/repo");
const haveMirror = existsSync(path.join(MIRROR, "HEAD"));
if (!haveMirror) process.stderr.write(`tools: SKIPPED, no bbb-install git directory at ${MIRROR} (set BBB_OVH_UPSTREAM_GIT)\n`);

const scratch = mkdtempSync(path.join(tmpdir(), "bbb-installer-pin-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tool(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("bash", [TOOL, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The printed YAML, as it reads once pasted under bbb-ovh:campus (four spaces in). */
const pasted = (stdout: string) => parse(`campus:\n${stdout}`).campus as { bbbVersion: string; bbb: { installer: Record<string, string> } };

function campusWith(snippet: object) {
  return parseCampus(smallCampusInput(snippet as Partial<CampusInput>), { sshPrivateKey: false, turnSecret: true, dnsCredentials: false });
}

describe.skipIf(!haveMirror)("bbb-installer-pin.sh on the stored bbb-install snapshot", () => {
  it("gives the default pin of v3.0.x-release: its commit, the sha256 of its bbb-install.sh, its date", () => {
    const r = tool(MIRROR, "v3.0.x-release");
    expect(r.code, r.stderr).toBe(0);
    const snippet = pasted(r.stdout);
    const expected = INSTALLER_PINS["v3.0.x-release"];
    expect(snippet.bbb.installer).toEqual({ line: "jammy-300", ...expected });
    // Checked independently of the tool: git's blob of the file at that commit.
    const blob = execFileSync("git", ["--git-dir", MIRROR, "cat-file", "blob", `${expected.commit}:bbb-install.sh`]);
    expect(createHash("sha256").update(blob).digest("hex")).toBe(expected.sha256);
    // The header says what PR #752 changed, so a reviewer sees this pin predates it.
    expect(r.stdout.split("\n")[0]).toBe(
      "# bbb-install v3.0.x-release at 26ce2d16 (2024-02-23): Node.js 18, installs MongoDB; from tools/bbb-installer-pin.sh",
    );
    // What it prints is a valid stack pin.
    expect(campusWith(snippet as object).installer).toMatchObject({ ...expected, source: "stack" });
  });

  it("refuses a ref the directory does not have, and a commit of no known line", () => {
    const missing = tool(MIRROR, "v9.9.x-release");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no commit 'v9.9.x-release'");
    const commit = tool(MIRROR, INSTALLER_PINS["v3.0.x-release"].commit);
    expect(commit.code).toBe(1);
    expect(commit.stderr).toContain("give it as the third argument");
  });
});

describe("bbb-installer-pin.sh on a checkout", () => {
  // An upstream-like repository of our own: one commit on v4.0.x-release with a made-up bbb-install.sh.
  const upstream = path.join(scratch, "upstream");
  const checkout = path.join(scratch, "checkout");
  const content = "#!/bin/bash\n# stand-in installer for this test\nNODE_MAJOR=22\necho install\n";
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.org",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.org",
        GIT_COMMITTER_DATE: "2026-10-05T12:00:00+02:00",
        GIT_AUTHOR_DATE: "2026-10-05T12:00:00+02:00",
      },
    }).trim();
  execFileSync("git", ["init", "-q", "-b", "v4.0.x-release", upstream]);
  writeFileSync(path.join(upstream, "bbb-install.sh"), content);
  git(upstream, "add", "bbb-install.sh");
  git(upstream, "commit", "-qm", "installer");
  const head = git(upstream, "rev-parse", "HEAD");
  execFileSync("git", ["clone", "-q", "--no-checkout", upstream, checkout]);
  git(checkout, "checkout", "-q", "--detach", "origin/v4.0.x-release");

  it("finds the branch as origin/<branch>, takes its line from the name and hashes the file's bytes", () => {
    const r = tool(checkout, "v4.0.x-release");
    expect(r.code, r.stderr).toBe(0);
    const snippet = pasted(r.stdout);
    expect(snippet.bbbVersion).toBe("noble-400");
    expect(snippet.bbb.installer).toEqual({ line: "noble-400", commit: head, sha256: createHash("sha256").update(content).digest("hex"), date: "2026-10-05" });
    expect(r.stdout).toContain("Node.js 22, no MongoDB");
    // The pin it prints is what a noble-400 stack needs (that line has no default).
    expect(campusWith(snippet as object).installer).toMatchObject({ line: "noble-400", branch: "v4.0.x-release", commit: head, source: "stack" });
  });

  it("knows the line of every release branch BBB_LINES names (its own table must not drift)", () => {
    for (const [line, { installerBranch }] of Object.entries(BBB_LINES)) {
      git(upstream, "update-ref", `refs/heads/${installerBranch}`, head);
      const r = tool(upstream, installerBranch);
      expect(r.code, r.stderr).toBe(0);
      expect(pasted(r.stdout).bbb.installer.line, installerBranch).toBe(line);
    }
  });

  it("takes a commit with its line named, and refuses what is not a bbb-install commit", () => {
    const r = tool(checkout, head, "noble-400");
    expect(r.code, r.stderr).toBe(0);
    expect(pasted(r.stdout).bbb.installer.commit).toBe(head);
    expect(tool(checkout, head, "trusty-140").stderr).toContain("unknown line 'trusty-140'");
    git(upstream, "rm", "-q", "bbb-install.sh");
    git(upstream, "commit", "-qm", "gone");
    const gone = tool(upstream, "HEAD", "noble-400");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("has no bbb-install.sh");
    expect(tool(scratch, "HEAD").stderr).toContain("is neither a git checkout nor a git directory");
  });
});
