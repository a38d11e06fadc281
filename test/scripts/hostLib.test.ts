/**
 * The helpers every host step uses, run by bash itself under a per-test BBB_OVH_ROOT: the shared entry
 * (scripts/lib/common.sh run_step), the reading of a front's role (front_role), where the steps keep their
 * temporary files, and the file-writing helpers (common.sh install_content and install_text, scripts/lib/units.sh
 * install_watched): what they write, what they leave, and when they say something changed.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const LIB = path.resolve(__dirname, "../../scripts/lib");
let root: string;

/** Runs SCRIPT in bash with the two libraries sourced (as a step does), stdin from INPUT. */
function step(script: string, input: string | Buffer = "") {
  const r = spawnSync("bash", ["-c", `set -euo pipefail; source "$1/common.sh"; source "$1/units.sh"; ${script}`, "test-step.sh", LIB], {
    input,
    env: { PATH: process.env.PATH, BBB_OVH_ROOT: root },
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const at = (rel: string) => path.join(root, rel);
const mode = (rel: string) => (statSync(at(rel)).mode & 0o777).toString(8);
const pending = () => (existsSync(at("var/lib/bbb-ovh/test-step.pending-units")) ? readFileSync(at("var/lib/bbb-ovh/test-step.pending-units"), "utf8") : "");

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "bbb-ovh-lib-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("run_step, the entry of every step", () => {
  const entry = (args = "") =>
    `REQUIRED_INPUTS=(FQDN CERT_B64); OPTIONAL_INPUTS=(PORT); main() { echo "main: $IN_FQDN|$IN_CERT|\${IN_PORT:-none}|$#"; }; run_step ${args}`;
  const b64 = Buffer.from("line one\nline two").toString("base64");

  it("reads the inputs from stdin, _B64 ones decoded, and runs main without arguments", () => {
    const r = step(entry(), `FQDN=a.example.org\nCERT_B64=${b64}\n`);
    expect([r.status, r.stdout]).toEqual([0, "main: a.example.org|line one\nline two|none|0\n"]);
  });

  it("names every missing required input at once, as the catalogue does, and runs nothing", () => {
    const r = step(entry(), "PORT=22\n");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("test-step: error: missing input(s): FQDN CERT_B64\n");
  });

  it("-h and --help say how to call the step, reading nothing; OPTIONAL_INPUTS may be left unset", () => {
    for (const flag of ["-h", "--help"]) {
      const r = step(entry(flag), "FQDN=x\n");
      expect([r.status, r.stdout]).toEqual([0, "usage: test-step.sh < inputs   (KEY=VALUE lines: FQDN CERT_B64 [PORT])\n"]);
    }
    const bare = step(`REQUIRED_INPUTS=(FQDN); main() { :; }; run_step --help`);
    expect(bare.stdout).toBe("usage: test-step.sh < inputs   (KEY=VALUE lines: FQDN)\n");
  });

  it("refuses an argument: a value on a command line is what the steps never take", () => {
    // An empty one too, and one after --help: only -h or --help alone asks for the usage.
    for (const args of ["SHARED_SECRET=abc", "''", "'' SHARED_SECRET=abc", "--help SHARED_SECRET=abc"]) {
      const r = step(entry(args), "FQDN=x\nCERT_B64=eA==\n");
      expect(r.status, args).toBe(1);
      expect(r.stdout, args).toBe("");
      expect(r.stderr, args).toContain("test-step: error: takes no arguments: its inputs are KEY=VALUE lines on stdin");
      expect(r.stderr, args).not.toContain("abc");
    }
  });
});

describe("install_content", () => {
  const install = (rel: string, m: string) => `install_content "$BBB_OVH_ROOT/${rel}" ${m} && echo changed || echo unchanged`;

  it("creates the parents and the file with its mode, then says unchanged and leaves no temporary file", () => {
    expect(step(install("etc/a/b/c.conf", "0640"), "x=1\n").stdout).toBe("changed\n");
    expect(readFileSync(at("etc/a/b/c.conf"), "utf8")).toBe("x=1\n");
    expect(mode("etc/a/b/c.conf")).toBe("640");
    chmodSync(at("etc/a/b/c.conf"), 0o666);
    expect(step(install("etc/a/b/c.conf", "0640"), "x=1\n").stdout).toBe("unchanged\n");
    expect(mode("etc/a/b/c.conf")).toBe("640");
    expect(readdirSync(at("etc/a/b"))).toEqual(["c.conf"]);
    expect(step(install("etc/a/b/c.conf", "0600"), "x=2\n").stdout).toBe("changed\n");
    expect([readFileSync(at("etc/a/b/c.conf"), "utf8"), mode("etc/a/b/c.conf")]).toEqual(["x=2\n", "600"]);
  });

  it("keeps any bytes exactly: NUL bytes, no trailing newline", () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x0a, 0x41, 0x00]);
    expect(step(install("var/blob", "0644"), bytes).stdout).toBe("changed\n");
    expect(readFileSync(at("var/blob"))).toEqual(bytes);
    expect(step(install("var/blob", "0644"), bytes).stdout).toBe("unchanged\n");
  });

  it("refuses a relative path, naming it", () => {
    const r = step(`install_content etc/x 0644`, "x\n");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("test-step: error: install_content: 'etc/x' is not an absolute path");
  });
});

describe("install_text", () => {
  const install = (rel: string, m: string, owner = "") => `install_text "$BBB_OVH_ROOT/${rel}" ${m} "$(cat)" ${owner} && echo changed || echo unchanged`;
  // "$(cat)" drops trailing newlines: the text is given with a final "x", removed in the shell.
  const exact = (rel: string, m: string, owner = "") =>
    `text="$(cat)"; install_text "$BBB_OVH_ROOT/${rel}" ${m} "\${text%x}" ${owner} && echo changed || echo unchanged`;

  it("writes the text exactly, with its mode and owner, then says unchanged and leaves no temporary file", () => {
    const text = "  [Service]\nExecStart=/bin/sh -c 'echo \\n'  \n\n\n";
    expect(step(exact("etc/a/b/c.conf", "0640", "1234:2345"), `${text}x`).stdout).toBe("changed\n");
    expect(readFileSync(at("etc/a/b/c.conf"), "utf8")).toBe(text);
    expect([mode("etc/a/b/c.conf"), statSync(at("etc/a/b/c.conf")).uid, statSync(at("etc/a/b/c.conf")).gid]).toEqual(["640", 1234, 2345]);
    chmodSync(at("etc/a/b/c.conf"), 0o666);
    expect(step(exact("etc/a/b/c.conf", "0640", "1234:2345"), `${text}x`).stdout).toBe("unchanged\n");
    expect(mode("etc/a/b/c.conf")).toBe("640");
    expect(readdirSync(at("etc/a/b"))).toEqual(["c.conf"]);
    expect(step(install("etc/a/b/c.conf", "0600"), "x=2").stdout).toBe("changed\n");
    expect([readFileSync(at("etc/a/b/c.conf"), "utf8"), mode("etc/a/b/c.conf")]).toEqual(["x=2", "600"]);
  });

  it("rewrites a file that holds the same text followed by a NUL byte", () => {
    mkdirSync(at("etc"), { recursive: true });
    writeFileSync(at("etc/x"), "same\0");
    expect(step(install("etc/x", "0644"), "same").stdout).toBe("changed\n");
    expect(readFileSync(at("etc/x"), "utf8")).toBe("same");
  });

  it("refuses a relative path, naming it, and writes nothing", () => {
    const r = step(`install_text etc/x 0644 text`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("test-step: error: install_text: 'etc/x' is not an absolute path");
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("front_role, the one reading of a front's role (ops failover / failback and the standby steps write it)", () => {
  const role = (text?: string) => {
    if (text !== undefined) {
      mkdirSync(at("var/lib/bbb-ovh"), { recursive: true });
      writeFileSync(at("var/lib/bbb-ovh/front-role"), text);
    }
    return step(`printf '[%s]' "$(front_role)"`).stdout;
  };

  it("is what precedes the first white space, and nothing for a front that never switched", () => {
    expect(role()).toBe("[]");
    expect(role("")).toBe("[]");
    expect(role("standby\n")).toBe("[standby]");
    expect(role("fenced")).toBe("[fenced]");
    expect(role("primary  since 2026-12-06\nstandby\n")).toBe("[primary]");
    expect(role(" primary\n")).toBe("[]");
  });

  it("is read nowhere else but in the programs installed alone, which read it the same way", () => {
    const scripts = path.resolve(LIB, "..");
    const readers = readdirSync(scripts)
      .filter((f) => f.endsWith(".sh"))
      .filter((f) => /^[^#]*var\/lib\/bbb-ovh\/front-role/m.test(readFileSync(path.join(scripts, f), "utf8")));
    expect(readers.sort()).toEqual(["scalelite-metrics.sh", "scalelite-recordings-pull.sh", "scalelite-spool-receive.sh", "standby-replication-metrics.sh"]);
    for (const f of readers) {
      const text = readFileSync(path.join(scripts, f), "utf8");
      expect(text, f).not.toMatch(/source .*lib\/common\.sh/);
      expect(text, f).toMatch(/IFS= read -r role <"\$\w+" \|\| true; \}/);
      expect(text, f).toMatch(/\$\{role%%\[\[:space:\]\]\*\}/);
    }
  });
});

describe("where the steps keep their temporary files", () => {
  it("never in /tmp: each names a place of its own (a step cut midway leaves them there, and some hold secrets)", () => {
    const scripts = path.resolve(LIB, "..");
    const shell = [...readdirSync(scripts).filter((f) => f.endsWith(".sh")), ...readdirSync(LIB).map((f) => `lib/${f}`)].filter((f) => f.endsWith(".sh"));
    expect(shell).toContain("lib/apt.sh");
    const bare = shell.filter((f) => /\bmktemp(?: -[a-z]+)*\)/.test(readFileSync(path.join(scripts, f), "utf8")));
    expect(bare).toEqual([]);
  });
});

describe("install_watched", () => {
  const watched = (rel: string) => `install_watched "$BBB_OVH_ROOT/${rel}" 0644 a.service b.timer`;

  it("keeps trailing newlines and backslashes, and queues its units only when the file changed", () => {
    const text = "[Service]\nExecStart=/bin/sh -c 'echo \\n'  \n\n\n";
    expect(step(watched("etc/systemd/system/a.service"), text).status).toBe(0);
    expect(readFileSync(at("etc/systemd/system/a.service"), "utf8")).toBe(text);
    expect(pending()).toBe("a.service\nb.timer\n");
    rmSync(at("var/lib/bbb-ovh/test-step.pending-units"));
    chmodSync(at("etc/systemd/system/a.service"), 0o600);
    expect(step(watched("etc/systemd/system/a.service"), text).status).toBe(0);
    expect(pending()).toBe("");
    expect(mode("etc/systemd/system/a.service")).toBe("644");
    // One newline fewer is a change.
    expect(step(watched("etc/systemd/system/a.service"), text.slice(0, -1)).status).toBe(0);
    expect(readFileSync(at("etc/systemd/system/a.service"), "utf8")).toBe(text.slice(0, -1));
    expect(pending()).toBe("a.service\nb.timer\n");
  });

  it("rewrites an installed file that holds a NUL byte after the same text", () => {
    writeFileSync(at("unit"), Buffer.concat([Buffer.from("same\n"), Buffer.from([0]), Buffer.from("tail")]));
    expect(step(watched("unit"), "same\n").status).toBe(0);
    expect(readFileSync(at("unit"), "utf8")).toBe("same\n");
    expect(pending()).toBe("a.service\nb.timer\n");
  });

  it("refuses content with a NUL byte, naming the file, and writes nothing", () => {
    const r = step(watched("etc/x.conf"), Buffer.from([0x61, 0x00, 0x62]));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("test-step: error: the content for /etc/x.conf has a NUL byte");
    expect(existsSync(at("etc/x.conf"))).toBe(false);
  });
});
