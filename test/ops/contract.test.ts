import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ops, opsProcess, scratch } from "./cli";

/**
 * The command-line contract of `npm run ops`: usage errors exit 2 with a message, and every option a
 * message, the help or the README names exists on the command it is named for.
 */
const FAKES = path.join(__dirname, "fakes");
const README = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
const OPS_DOC = readFileSync(path.resolve(__dirname, "../../docs/ops.md"), "utf8");
const mentioned = (text: string) => new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));

/** Every command that runs something, as its words: groups (`voucher`, `schedule`) give their subcommands. */
async function commands(prefix: string[] = []): Promise<string[][]> {
  const help = (await ops([...prefix, "--help"])).stdout;
  if (!help.includes("Commands:")) return [prefix];
  const section = help.slice(help.indexOf("Commands:"));
  const names = [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== "help");
  const leaves: string[][] = [];
  for (const name of names) leaves.push(...(await commands([...prefix, name])));
  return leaves;
}

/** The long options a command's --help lists (the option column only, not the descriptions). */
async function optionsOf(command: string[]): Promise<Set<string>> {
  const help = (await ops([...command, "--help"])).stdout;
  return new Set([...help.matchAll(/^ {2}(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1]));
}

describe("ops usage errors exit 2 with a message", () => {
  it.each([
    [["status", "--url", "notaurl"], /--url.*'notaurl' is invalid.*http:\/\/ or https:\/\/ URL/],
    [["smoke", "--url", "ftp://x"], /--url.*'ftp:\/\/x' is invalid.*http:\/\/ or https:\/\/ URL/],
    [["status", "--frobnicate"], /unknown option '--frobnicate'/],
    [["drain", "brest"], /missing required argument 'node'/],
    [["status", "--timeout"], /option '--timeout <ms>' argument missing/],
    [["size", "--users", "10"], /required option '--rooms <n>' not specified/],
    [["status", "--timeout", "soon"], /--timeout must be a positive integer/],
    [["frob"], /unknown command 'frob'/],
    [["status", "--watch", "abc", "--url", "http://127.0.0.1:9/"], /--watch.*'abc' is invalid.*positive integer/],
    [["status", "--host-key", "AAAAC3NzaC1lZDI1NTE5"], /--host-key.*is invalid.*'ssh-ed25519 AAAA/],
    // The right shape, cut by one character (a copy from a terminal): ssh-keygen -l would refuse it too.
    [
      ["status", "--host-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqwwyR602HcJJPl/ifkAw2Wi9NtaKQ3qFqIQnmpB6/"],
      /--host-key.*is invalid.*the base64 key is damaged or cut short.*'ssh-ed25519 AAAA/,
    ],
    [["smoke", "--checksum", "md5"], /'md5' is invalid. Allowed choices are sha1, sha256, sha384, sha512/],
  ])("%j", async (argv, message) => {
    const run = await ops(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe("");
  });

  it("as a process: exit status 2, one line of error, no stack trace", async () => {
    const run = await opsProcess(["smoke", "--url", "notaurl"]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^error: option '--url <url>' argument 'notaurl' is invalid/);
  });

  it("reports a broken stack file as configuration (exit 2) with its line and column", async () => {
    const file = path.join(scratch(), "Pulumi.broken.yaml");
    writeFileSync(file, "config:\n  bbb-ovh:campus: {id: [x\n");
    const run = await ops(["estimate", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:3:1: not valid YAML`);
  });

  it("status with neither a stack nor --url nor --host says what to give, before checking anything", async () => {
    const run = await ops(["status"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("error: configuration: nothing to check: give a stack, or --url (and --host for the front's Scalelite)\n");
    expect(run.stdout).toBe("");
  });

  it("speaks of no host when none is involved", async () => {
    const run = await ops(["smoke", "--url", "http://127.0.0.1:9/", "--secret-file", "/nonexistent/secret"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("error: usage: cannot read the secret file /nonexistent/secret: ENOENT\n");
  });

  it("ends the help with the exit codes on their own line", async () => {
    const run = await ops(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\nexit codes: 0 ok,[^\n]*\n$/);
  });
});

describe("no option is named where it does not exist", () => {
  it("the README's ops examples use only options the command's --help lists", async () => {
    const examples = [...README.matchAll(/^npm run ops -- (.*)$/gm)];
    expect(examples.length).toBeGreaterThan(3);
    const known = await commands();
    for (const [line, rest] of examples) {
      const words = known.find((c) => rest.startsWith(`${c.join(" ")} `) || rest === c.join(" "));
      expect(words, line).toBeDefined();
      const options = await optionsOf(words as string[]);
      for (const option of mentioned(rest)) expect(options, `${line}: ${option}`).toContain(option);
    }
  });

  it("every --option in a command's help and in its error messages exists on that command", async () => {
    const needsNode = new Set(["drain", "undrain", "panic"]);
    for (const words of await commands()) {
      const options = await optionsOf(words);
      const command = words.join(" ");
      const positional = needsNode.has(command) ? ["bbb1.test.example", "--yes"] : [];
      // Inputs that each end in an error message: a stack that does not exist, no stack at all, a front
      // with no secret and no host key, and an unknown option (commander's own suggestion).
      const withConnection = options.has("--url");
      const runs = await Promise.all([
        ops([...words, "--help"]),
        ops([...words, "nosuchstack", ...positional]),
        ops(words),
        ops([
          ...words,
          ...(withConnection
            ? ["nosuchstack", ...positional, "--url", "http://127.0.0.1:9/", "--host", "127.0.0.1", "--ssh-port", "9", "--timeout", "500"]
            : ["lab"]),
        ]),
        ops([...words, "--tim"]),
        // A Pulumi CLI that fails (the fake's "no stack named ..."): its error is passed on.
        ops([...words, "nosuchstack", ...positional], { env: { PATH: `${FAKES}:/usr/bin:/bin`, FAKE_PULUMI_LOG: path.join(scratch(), "pulumi.log") } }),
      ]);
      for (const run of runs) {
        // The one unknown option typed on purpose is quoted back; everything else must exist.
        for (const option of [...mentioned(run.stderr + run.stdout)].filter((o) => o !== "--tim"))
          expect(options, `ops ${command}: ${option} in:\n${run.stderr}${run.stdout}`).toContain(option);
      }
    }
  });
});

describe("docs/ops.md, the reference of every command", () => {
  it("has a row for every command and names every option its --help lists", async () => {
    // The commands table's first column: `backup now\|list\|restore\|resend <stack>` counts for each of the four.
    const table = OPS_DOC.slice(OPS_DOC.indexOf("| command | what it does |"));
    const rows = [...table.slice(0, table.indexOf("\n\n")).matchAll(/^\| `([a-z][^`]*)` \|/gm)].map((m) => m[1].replace(/\\\|/g, "|"));
    const documented = (words: string[]) =>
      rows.some((row) => {
        const [first, second] = row.split(" ");
        return first === words[0] && (words.length === 1 || (second ?? "").split("|").includes(words[1]));
      });
    const missing: string[] = [];
    for (const words of await commands()) {
      if (!documented(words)) missing.push(`command ${words.join(" ")}`);
      for (const option of await optionsOf(words)) if (option !== "--help" && !OPS_DOC.includes(`\`${option}`)) missing.push(`${words.join(" ")} ${option}`);
    }
    expect(missing).toEqual([]);
  });
});
