/**
 * The flags renderInstallerFlags produces, against the REAL bbb-install.sh of each pinned line: its own
 * getopts loop, check_host and check_version (with its check_root and need_pkg) must accept them and
 * reach the point where it would start installing. The script runs in bbb-install-harness.sh (see its
 * header): as `nobody` in new user, mount and network namespaces, /etc/apt and /tmp on tmpfs, the
 * programs its checks call stubbed in bbb-install-stubs/, so it cannot change this machine.
 * Also: the pinned sha256 (installerFlags.ts) is that of the pinned tree's file, and the fake installer
 * (test/fakes/bin/fake-bbb-install) rejects what the real getopts rejects.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderInstallerFlags } from "../../components/bbb/installerFlags";
import { INSTALLER_PINS } from "../../components/bbb/installerPin";
import { parseCampus } from "../../components/config/campus";
import { BBB_LINES, type BbbLine } from "../../components/config/presets";
import { readStackFile, STACK_DIR } from "../../components/config/stackFile";
import { upstreamPins, upstreamTree } from "../support/upstream";

const HERE = __dirname;
const FAKE_INSTALLER = path.resolve(HERE, "../fakes/bin/fake-bbb-install");

/** The pinned tree of the installer of a BBB line (pins.tsv: the bbb-install pin whose ref is the line's branch). */
function treeOf(line: BbbLine): string | undefined {
  const pin = upstreamPins().find((p) => p.url.endsWith("/bbb-install.git") && p.ref === BBB_LINES[line].installerBranch);
  if (!pin)
    process.stderr.write(
      `conformance: SKIPPED, line ${line} has no bbb-install pin in tools/upstream/pins.tsv (no verified commit of ${BBB_LINES[line].installerBranch})\n`,
    );
  return pin && upstreamTree(pin.name);
}
const LINES = Object.keys(BBB_LINES) as BbbLine[];
const trees = Object.fromEntries(LINES.map((line) => [line, treeOf(line)])) as Record<BbbLine, string | undefined>;

// A directory `nobody` can read (mkdtemp makes 0700 ones): the harness, its stubs and each installer.
const stage = mkdtempSync(path.join(tmpdir(), "bbb-install-conformance-"));
chmodSync(stage, 0o755);
cpSync(path.join(HERE, "bbb-install-harness.sh"), path.join(stage, "harness.sh"));
cpSync(path.join(HERE, "bbb-install-stubs"), path.join(stage, "stubs"), { recursive: true });
for (const line of LINES) {
  if (!trees[line]) continue;
  mkdirSync(path.join(stage, line));
  cpSync(path.join(trees[line]!, "bbb-install.sh"), path.join(stage, line, "bbb-install.sh"));
}
execFileSync("chmod", ["-R", "a+rX", stage]);
afterAll(() => rmSync(stage, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
}

/** The real installer of LINE with these arguments, stopped where it would start installing. */
function realInstaller(line: BbbLine, argv: string[]): Run {
  const r = spawnSync(
    "runuser",
    [
      "-u",
      "nobody",
      "--",
      "unshare",
      "--user",
      "--map-root-user",
      "--mount",
      "--net",
      "bash",
      path.join(stage, "harness.sh"),
      path.join(stage, line, "bbb-install.sh"),
      path.join(stage, "stubs"),
      ...argv,
    ],
    { encoding: "utf8", cwd: "/", timeout: 30_000 },
  );
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The fake installer with these arguments, on a scratch root (only its option parsing matters here). */
function fakeInstaller(argv: string[]): Run {
  const root = mkdtempSync(path.join(tmpdir(), "fake-bbb-install-"));
  try {
    mkdirSync(path.join(root, "fake-state"));
    writeFileSync(path.join(root, "fake-state/arch"), "x86_64\n");
    const fakeBin = path.dirname(FAKE_INSTALLER);
    // -h: stop right after the options (both print their usage and exit 0 there).
    const r = spawnSync("bash", [FAKE_INSTALLER, ...argv], {
      encoding: "utf8",
      env: { ...process.env, BBB_OVH_ROOT: root, PATH: `${fakeBin}:${process.env.PATH}` },
    });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const reached = (run: Run) => /^HARNESS-REACHED-INSTALL (.*)$/m.exec(run.out)?.[1];
const ALL_SECRETS = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true };

/** Every node of every stack under stacks/, with the flags the program would pass. */
function stackTargets(): { label: string; line: BbbLine; flags: string[] }[] {
  const stacks = readdirSync(STACK_DIR).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
  return stacks.flatMap((file) => {
    const campus = parseCampus(readStackFile(path.join(STACK_DIR, file)).config["bbb-ovh:campus"].value, ALL_SECRETS);
    return campus.nodes.map((node) => ({
      label: `${file} ${node.name}`,
      line: campus.config.bbbVersion,
      flags: renderInstallerFlags({ bbbVersion: campus.config.bbbVersion, fqdn: node.fqdn, email: campus.config.adminEmail }),
    }));
  });
}

/** Every line with names and emails at the edges of what renderInstallerFlags accepts. */
function edgeTargets(): { label: string; line: BbbLine; flags: string[] }[] {
  const names = ["a.example.org", `${"b".repeat(63)}.${"c".repeat(60)}.example.org`, "bbb-1.sub-2.campus.example.fr"];
  const emails = ["ops@example.org", "first.last+bbb@mail.campus.example.fr", "x_y@example.org"];
  return LINES.flatMap((line) =>
    names.flatMap((fqdn, i) => [{ label: `${line} ${fqdn} ${emails[i]}`, line, flags: renderInstallerFlags({ bbbVersion: line, fqdn, email: emails[i] }) }]),
  );
}

describe("the pinned installers are the ones the nodes get", () => {
  for (const line of LINES) {
    it.skipIf(!trees[line])(`${line}: the pinned sha256 and commit are those of the pinned tree's bbb-install.sh`, () => {
      const branch = BBB_LINES[line].installerBranch;
      const file = readFileSync(path.join(trees[line]!, "bbb-install.sh"));
      expect(createHash("sha256").update(file).digest("hex")).toBe(INSTALLER_PINS[branch].sha256);
      expect(readFileSync(path.join(trees[line]!, ".bbb-ovh-pin"), "utf8").trim()).toBe(INSTALLER_PINS[branch].commit);
    });
  }
});

describe("renderInstallerFlags against the real bbb-install.sh", () => {
  const targets = [...stackTargets(), ...edgeTargets()];
  for (const target of targets) {
    it.skipIf(!trees[target.line])(`accepts ${target.label}: ${target.flags.join(" ")}`, () => {
      const run = realInstaller(target.line, target.flags);
      const parsed = reached(run);
      expect(parsed, run.out).toBeDefined();
      const value = (flag: string) => target.flags[target.flags.indexOf(flag) + 1];
      expect(parsed).toBe(`VERSION=${value("-v")} HOST=${value("-s")} EMAIL=${value("-e")} UFW=true DISTRO=${value("-v").split("-")[0]}`);
      expect(run.out).toContain(`HARNESS-APT-SOURCE deb https://ubuntu.bigbluebutton.org/${value("-v")} bigbluebutton-${value("-v").split("-")[0]} main`);
    });
  }

  it.skipIf(!trees["jammy-300"])("the harness does see rejections: a wrong line, -l, a missing argument", () => {
    expect(reached(realInstaller("jammy-300", ["-w", "-v", "focal-270", "-s", "a.example.org", "-e", "o@example.org"]))).toBeUndefined();
    // getopts (not silent) prints these itself; the script's `\?` branch then adds "Invalid option".
    expect(realInstaller("jammy-300", ["-l", "-v", "jammy-300"]).out).toMatch(/illegal option -- l\nbbb-install: Invalid option/);
    expect(realInstaller("jammy-300", ["-v", "jammy-300", "-s"]).out).toMatch(/option requires an argument -- s\nbbb-install: Invalid option/);
  });
});

describe.skipIf(!trees["jammy-300"])("the fake installer parses options like the real one", () => {
  const cases: string[][] = [
    ["-l", "-h"],
    ["-z", "-h"],
    ["-w", "-q", "-h"],
    ["-h", "-s"],
    ["-w", "-s"],
    ["-a", "-h"],
    ["-w", "-x", "-j", "-i", "-h"],
    ["-w", "-v", "jammy-300", "-s", "a.example.org", "-e", "o@example.org", "-h"],
  ];
  for (const argv of cases) {
    it(`${argv.join(" ")}: accepted or rejected by both`, () => {
      const real = realInstaller("jammy-300", argv);
      const fake = fakeInstaller(argv);
      expect(fake.code, `real: ${real.out}\nfake: ${fake.out}`).toBe(real.code);
      expect(/Invalid option/.test(fake.out)).toBe(/Invalid option/.test(real.out));
    });
  }
});
