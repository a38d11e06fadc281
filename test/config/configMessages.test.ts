import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { CampusConfigError, parseCampus, type SecretPresence } from "../../components/config/campus";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";
import { PRICE_TABLE } from "../../components/planning/prices";
import { PLAN_CLI } from "../support/distCli";

/** Config mistakes as the person fixing a stack file reads them (npm run plan, a real process). */
const ROOT = path.resolve(__dirname, "../..");
const run = promisify(execFile);

async function plan(stackFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [PLAN_CLI, "--stack-file", stackFile], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function stackFile(text: string, stack = "mistakes"): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "bbb-ovh-config-")), `Pulumi.${stack}.yaml`);
  writeFileSync(file, text);
  return file;
}

const lab = () => parse(readFileSync(path.join(ROOT, "stacks/Pulumi.lab.yaml"), "utf8")) as { config: Record<string, any> };
const SECRETS: SecretPresence = { sshPrivateKey: true, turnSecret: false, dnsCredentials: false };

function messageOf(campus: unknown): string {
  try {
    parseCampus(campus, SECRETS);
  } catch (e) {
    if (e instanceof CampusConfigError) return e.message;
    throw e;
  }
  return "";
}

// A throwaway key made for this test only (ssh-keygen -t ed25519), never used anywhere.
const OPENSSH_KEY = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACBZ3lzNn2Rk0pNU4XaTESTONLYTESTONLYTESTONLYTESTONLYAAAAJgAAAAA",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

describe("YAML syntax errors keep their place", () => {
  it("names file:line:column and shows the line with a caret", async () => {
    const file = stackFile("config:\n  bbb-ovh:campus:\n    id: lab\n    nodes: [a, b\n    front: x\n");
    const { code, stderr } = await plan(file);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^${file.replace(/[.]/g, "\\.")}:5:5: not valid YAML: `));
    expect(stderr).toContain("    front: x\n    ^");
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("unknown keys get a suggestion when one is close", () => {
  it("in a plan of a stack file, at every level", async () => {
    const doc = lab();
    const campus = doc.config["bbb-ovh:campus"];
    campus.adminCidr = campus.adminCidrs;
    delete campus.adminCidrs;
    campus.front.hostkey = campus.front.hostKey;
    delete campus.front.hostKey;
    campus.nodes[1].sshuser = "ubuntu";
    campus.expected.concurentUsers = 5;
    campus.frobnicate = true;
    const { code, stderr } = await plan(stackFile(stringify(doc), "lab"));
    expect(code).toBe(1);
    expect(stderr).toContain("campus: unknown keys 'adminCidr' (did you mean 'adminCidrs'?), 'frobnicate'");
    expect(stderr).toContain("campus.front: unknown key 'hostkey' (did you mean 'hostKey'?)");
    expect(stderr).toContain("campus.nodes[1]: unknown key 'sshuser' (did you mean 'sshUser'?)");
    expect(stderr).toContain("campus.expected: unknown key 'concurentUsers' (did you mean 'concurrentUsers'?)");
  });

  it("suggests only keys valid for the host's kind", () => {
    const campus = lab().config["bbb-ovh:campus"];
    campus.nodes[0].regio = "SBG5"; // a publicCloud key, one letter off, on an existing host
    campus.nodes[0].sshPrt = 22;
    const message = messageOf(campus);
    expect(message).toContain("unknown keys 'regio', 'sshPrt' (did you mean 'sshPort'?)");
  });
});

describe("a private key in clear text in a stack file is refused", () => {
  it("as the value of a config key: names it and gives the exact command", async () => {
    const doc = lab();
    delete doc.config["bbb-ovh:sshPrivateKey"];
    doc.config["bbb-ovh:sshPrivateKey"] = OPENSSH_KEY;
    const { code, stderr, stdout } = await plan(stackFile(stringify(doc), "lab"));
    expect(code).toBe(1);
    expect(stderr).toContain("bbb-ovh:sshPrivateKey holds a private key in clear text");
    expect(stderr).toContain("pulumi config set --secret --stack lab bbb-ovh:sshPrivateKey < FILE_HOLDING_THE_KEY");
    expect(stderr + stdout).not.toContain("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
  });

  it("anywhere inside another value, PEM keys included", () => {
    const doc = lab();
    doc.config["bbb-ovh:campus"].moodle = { ssh: { key: "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----" } };
    const file = stackFile(stringify(doc), "lab");
    expect(() => readStackFile(file)).toThrow(
      /bbb-ovh:campus\.moodle\.ssh\.key holds a private key in clear text[\s\S]*pulumi config set --secret --stack lab bbb-ovh:sshPrivateKey < FILE_HOLDING_THE_KEY/,
    );
  });

  it("leaves encrypted values and public keys alone", () => {
    expect(() => readStackFile(path.join(ROOT, "stacks/Pulumi.lab.yaml"))).not.toThrow();
  });
});

describe("price figures cite sources that exist", () => {
  it.each(Object.entries(PRICE_TABLE))("%s: a URL, or a path in this repository", (_, entry) => {
    const urls = entry.source.match(/https:\/\/\S+[^\s.,;)]/g) ?? [];
    // Anything that looks like a file name must be one of ours (users cannot open the authors' notes).
    const files = entry.source.match(/[\w./-]+\.(md|ts|yaml|json)\b/g) ?? [];
    for (const f of files) expect(existsSync(path.join(ROOT, f)), `${f} is cited but not in the repository`).toBe(true);
    expect(urls.length + files.length, "no URL and no repository path").toBeGreaterThan(0);
  });
});

describe("a value of the wrong kind, or out of bounds, says what was expected and what was found", () => {
  const problems = (change: (campus: any) => void): string => {
    const doc = lab();
    change(doc.config["bbb-ovh:campus"]);
    return messageOf(doc.config["bbb-ovh:campus"]);
  };

  it.each<[string, (c: any) => void, string]>([
    ["a number for an object", (c) => (c.front = 5), "campus.front: expected a mapping (key: value lines), found the number 5"],
    ["text for a list", (c) => (c.adminCidrs = "10.0.0.0/8"), "campus.adminCidrs: expected a list, found a text value"],
    ["text for a number", (c) => (c.expected.concurrentUsers = "sixty"), "campus.expected.concurrentUsers: expected a number, found a text value"],
    ["a decimal for a whole number", (c) => (c.dns.ttl = 1.5), "campus.dns.ttl: expected a whole number, found the decimal number 1.5"],
    ["null for a host", (c) => (c.nodes[0] = null), "campus.nodes[0]: expected a mapping (key: value lines), found an empty value (null)"],
    ["a boolean for text", (c) => (c.id = true), "campus.id: expected a text value, found true"],
  ])("%s", (_, change, expected) => {
    const message = problems(change);
    expect(message).toContain(expected);
    expect(message).not.toMatch(/is required/);
  });

  it("a missing value is still 'is required', with what it should be", () => {
    expect(problems((c) => delete c.dns)).toContain("campus.dns: is required (a mapping (key: value lines))");
  });

  it.each<[string, (c: any) => void, string]>([
    ["too big", (c) => (c.expected.concurrentUsers = 1e9), "campus.expected.concurrentUsers: expected at most 100000, found 1000000000"],
    ["too small", (c) => (c.dns.ttl = 5), "campus.dns.ttl: expected at least 60, found 5"],
    ["too long", (c) => (c.label = "x".repeat(500)), "campus.label: expected at most 120 characters, found 500"],
    [
      "neither form of a union",
      (c) => (c.timetable = { timezone: "Europe/Paris", slots: [{ days: ["mon"], from: "08:00", to: "18:00" }], closed: [7] }),
      "campus.timetable.closed[0]: expected a text value or a mapping (key: value lines), found the number 7",
    ],
    ["a word not in the list", (c) => (c.front.kind = "vps"), "campus.front.kind: expected kind to be one of dedicated, publicCloud, existing, found 'vps'"],
  ])("never in the schema library's words: %s", (_, change, expected) => {
    const message = problems(change);
    expect(message).toContain(expected);
    expect(message).not.toMatch(/Invalid input|Too big|Too small|Invalid option/);
  });

  it("a trailing dot on the DNS zone is one message, not one per host name", () => {
    const message = problems((c) => (c.dns.zone = `${c.dns.zone}.`));
    expect(message).toMatch(/^invalid campus configuration \(1 problem\):\n {2}- campus\.dns\.zone: ends with a dot: write the zone without its final '\.'/);
  });
});

describe("a misnamed campus key or stack gets a 'did you mean'", () => {
  it("`campus:` instead of `bbb-ovh:campus`", () => {
    const doc = lab();
    doc.config.campus = doc.config["bbb-ovh:campus"];
    delete doc.config["bbb-ovh:campus"];
    const file = readStackFile(stackFile(stringify(doc), "lab"));
    expect(() => campusOfStackFile(file)).toThrow("bbb-ovh:campus: is required: the file has 'campus' (did you mean 'bbb-ovh:campus'?");
  });

  it("a mistyped stack name, with the stacks there are", () => {
    expect(() => readStackFile("brset")).toThrow(/Pulumi\.brset\.yaml: no such stack file \(did you mean 'brest'\?\); the stacks are: brest, lab, /);
    expect(() => readStackFile("zzzzzz")).toThrow(/no such stack file; the stacks are: brest/);
  });
});
