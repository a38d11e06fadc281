import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readStackFile } from "../../components/config/stackFile";
import { scriptBundle } from "../../components/remote/scriptBundle";
import { PLAN_CLI } from "../support/distCli";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");

/** Runs `npm run plan -- ARGS` the way a user does (minus npm): a real process, real exit code. */
async function plan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return planFrom(ROOT, ...args);
}

/** As `npm run plan` from the directory `caller`: npm runs the script in the package root and says where the user was in INIT_CWD. */
async function planFrom(caller: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // The compiled CLI, as `npm run plan` runs it (vitest's globalSetup builds dist/).
    const { stdout, stderr } = await run(process.execPath, [PLAN_CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", INIT_CWD: caller },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** brest's plan, run once for the tests that read it (a plan is about 2 s of CPU). */
let brest: ReturnType<typeof plan> | undefined;
const brestPlan = () => (brest ??= plan("brest"));

describe("npm run plan (a process)", () => {
  it("prints the resource tree, key inputs, outputs and warnings for a stack", async () => {
    const { code, stdout } = await brestPlan();
    expect(code).toBe(0);
    expect(stdout).toMatch(/ovh:Dedicated\/server:Server\s+lb-brest\s+\[protected\]/);
    expect(stdout).toMatch(/bbb-ovh:hosts:DedicatedHost\s+bbb-brest-sbg/);
    expect(stdout).toContain("customizations: [secret]");
    expect(stdout).toMatch(/frontUrl: https:\/\/visio-brest\.isen-ouest\.fr\//);
    expect(stdout).toMatch(/Warnings \(each says what to do\):\n\s+! below the minimum production node[^\n]*; to do: pick a larger model/);
    expect(stdout).toMatch(/\n\s+! [^\n]*with site (strasbourg|roubaix) down \(failover policy 'datacenter'\)/);
    // Recordings: each node's own target on the front, and the spool's space rule.
    expect(stdout).toMatch(/\n {2}bbb-brest-sbg -> visio-brest\.isen-ouest\.fr:\/mnt\/scalelite-recordings\/var\/bigbluebutton\/incoming\/bbb-brest-sbg\n/);
    expect(stdout).toContain("space rule: an archive at most 10 GiB, at most 40 GiB waiting per node, 10 GiB kept free for PostgreSQL and Redis");
    // The installer every node runs, with its commit date; the default pin predates 3.0's release, so the plan says so.
    expect(stdout).toMatch(
      /BigBlueButton installer [^\n]*:\n {2}jammy-300 \(BigBlueButton 3\.0, Ubuntu 22\.04\): bbb-install v3\.0\.x-release at 26ce2d16c2a82ef962d685525b0c20bb89d4d151, committed 2024-02-23, sha256 9654ba2c[0-9a-f]{56}; the project's default pin\n/,
    );
    expect(stdout).toMatch(/\n {2}! the bbb-install pin of jammy-300 \(v3\.0\.x-release at 26ce2d16, committed 2024-02-23\) is \d+ months old, more than 6/);
  });

  it("starts with each host's kind, site, billing and monthly cost, then its steps in order; marks the mock addresses", async () => {
    const { stdout } = await plan("training");
    const hosts = stdout.slice(stdout.indexOf("Hosts ("), stdout.indexOf("Resources in the order"));
    expect(stdout.indexOf("Hosts (")).toBeLessThan(stdout.indexOf("Resources in the order"));
    expect(hosts).toMatch(
      /lb-training \(Scalelite front, visio-training\.isen-ouest\.fr\)\n\s+publicCloud c2-30 in gravelines \(gra11\); hourly billing, \d+\.\d\d EUR a month/,
    );
    expect(hosts).toMatch(/bbb-training-sbg \(BigBlueButton node, bbb1\.training\.isen-ouest\.fr\)\n\s+publicCloud c2-60 in strasbourg \(sbg5\)/);
    // Steps in the order the engine runs them: the node's own chain, registration last on the front.
    const nodeSteps = hosts.match(/bbb-training-sbg [^\n]*\n[^\n]*\n\s+steps: ([^\n]*)/)?.[1].split(" → ") ?? [];
    expect(nodeSteps.indexOf("hostPreflight")).toBeLessThan(nodeSteps.indexOf("bbbInstall"));
    expect(nodeSteps.indexOf("bbbInstall")).toBeLessThan(nodeSteps.indexOf("bbbHealth"));
    const frontSteps = hosts.match(/lb-training [^\n]*\n[^\n]*\n\s+steps: ([^\n]*)/)?.[1].split(" → ") ?? [];
    // Registration ends the Scalelite chain; monitoring follows on the front, after the firewall on nodes.
    expect(frontSteps.slice(-3)).toEqual(["scaleliteRegister", "monitoringNode", "monitoringFront"]);
    // The retirement guard runs only when a node is deleted: listed under the node, not among the front's steps.
    expect(frontSteps.some((s) => s.startsWith("scaleliteRetireNode"))).toBe(false);
    expect(hosts).toMatch(
      /bbb-training-sbg [^\n]*\n[^\n]*\n[^\n]*\n\s+when removed from the stack: kept, running, until it is empty \(scaleliteRetireNode on lb-training, bbbRetire on bbb-training-sbg\)/,
    );
    expect(nodeSteps.some((s) => s.startsWith("bbbRetire"))).toBe(false);
    expect(nodeSteps.indexOf("hostFirewall")).toBeLessThan(nodeSteps.indexOf("monitoringNode"));
    expect(stdout).toMatch(
      /Monitoring \(docs\/monitoring.md\):\n {2}Prometheus \+ Alertmanager on visio-training\.isen-ouest\.fr: samples kept \d+ days within \d+ GB/,
    );
    expect(hosts).toMatch(/Total: \d+\.\d\d EUR a month as planned/);
    expect(stdout).toMatch(/frontIpv4: (192\.0\.2|198\.51\.100|203\.0\.113)\.\d+ {2}\[mock address\]/);
    expect(stdout).toMatch(/frontFqdn: visio-training\.isen-ouest\.fr\n/);
    // Its nodes carry the users with a region down; its warnings are the front, alone in gravelines
    // (README: a stack passes every check only with a standby front in another site), and the default
    // installer pin, older than 6 months.
    const warnings = stdout.slice(stdout.indexOf("\nWarnings"));
    expect(warnings.match(/\n {2}! /g)).toHaveLength(2);
    expect(warnings).toMatch(/single point of failure: the front lb-training .* no standby front in another site/);
    expect(warnings).toMatch(/the bbb-install pin of jammy-300 .* more than 6/);
  });

  it("names each host whose SSH host key is not pinned, with the ssh-keyscan line that pins it (lab: its two nodes)", async () => {
    const { code, stdout } = await plan("lab");
    expect(code).toBe(0);
    const warnings = stdout.slice(stdout.indexOf("\nWarnings"));
    for (const address of ["198.51.100.11", "198.51.100.12"]) expect(warnings).toContain(`\`ssh-keyscan -p 22 -t ed25519 ${address}\`, check its fingerprint`);
    expect(warnings.match(/! host key not pinned: campus\.nodes\[(\d)\]/g)).toEqual([
      "! host key not pinned: campus.nodes[0]",
      "! host key not pinned: campus.nodes[1]",
    ]);
    // Its front's key is in the stack file: not listed.
    expect(warnings).not.toMatch(/host key not pinned: campus\.front/);
  });

  it("shows each order's plan code and options whole, the script bundle's files and hash, in creation order", async () => {
    const { stdout } = await brestPlan();
    // Not cut with an ellipsis: the whole order is there.
    const order = stdout.split("\n").find((l) => l.includes('"planCode":"24rise01"')) as string;
    expect(order).toMatch(/plans: \[.*"dedicated_datacenter","value":"rbx".*"duration":"P1M".*\]$/);
    expect(order).not.toContain("…");
    expect(stdout).toMatch(/planOptions: \[/);
    const bundle = scriptBundle();
    expect(stdout).toContain(`source: scripts/ (${bundle.files.length} files, sha256 ${bundle.hash})`);
    expect(stdout).toContain("  - lib/common.sh");
    // A resource is listed after every resource it depends on and after its parent.
    const numbered = new Map([...stdout.matchAll(/^\s*(\d+)\. \S+ \S+\s+(\S+)/gm)].map((m) => [m[2], Number(m[1])]));
    const at = (name: string) => numbered.get(name) as number;
    expect(at("lb-brest-scaleliteHealth")).toBeGreaterThan(at("lb-brest-scaleliteApp"));
    expect(at("bbb-brest-sbg-bbbInstall")).toBeGreaterThan(at("bbb-brest-sbg-hostPreflight"));
    expect(at("bbb-brest-sbg-hostPreflight")).toBeGreaterThan(at("bbb-brest-sbg"));
  });

  it("--json gives one parseable document with resources, outputs and warnings", async () => {
    const { code, stdout } = await plan("training", "--json");
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.stack).toBe("training");
    const instance = doc.resources.find((r: any) => r.type === "openstack:compute/instance:Instance" && r.name === "bbb-training-sbg");
    expect(instance.inputs.flavorName).toBe("c2-60");
    expect(instance.inputs.userData).toBe("[secret]");
    expect(doc.resources.find((r: any) => r.urn === instance.parent).type).toBe("bbb-ovh:hosts:PublicCloudHost");
    expect(doc.outputs.nodes).toHaveLength(2);
    expect(Array.isArray(doc.warnings)).toBe(true);
  });

  it("says when a value is encrypted in the stack file and plans with a placeholder", async () => {
    const { code, stdout } = await plan("lab", "--json");
    expect(code).toBe(0);
    expect(JSON.parse(stdout).notes).toEqual([expect.stringContaining("bbb-ovh:sshPrivateKey is encrypted")]);
  });

  /** The nantes stack with DNS-01 certificates and the given bbb-ovh:dnsCredentials as Pulumi writes it. */
  function dns01Stack(id: string, dnsCredentials: unknown): string {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const file = path.join(dir, `Pulumi.${id}.yaml`);
    const campus = { ...(readStackFile("nantes").config["bbb-ovh:campus"].value as object), id, certificates: { challenge: "dns-01" } };
    writeFileSync(file, stringify({ config: { "bbb-ovh:dnsCredentials": dnsCredentials, "bbb-ovh:campus": campus } }));
    return file;
  }

  it("plans DNS-01 stacks whose OVH credentials are encrypted, as a whole or key by key, showing them as [secret]", async () => {
    // `pulumi config set --secret bbb-ovh:dnsCredentials '{...}'` encrypts the whole object (secure: at the top);
    // `pulumi config set --secret --path 'bbb-ovh:dnsCredentials.applicationSecret' S` encrypts one key inside it.
    const whole = dns01Stack("dnswhole", { secure: "v1:c2VjcmV0:ZW5jcnlwdGVkLW9iamVjdA==" });
    const inside = dns01Stack("dnsinside", {
      endpoint: "ovh-eu",
      applicationKey: "appkey123",
      applicationSecret: { secure: "v1:aW5zaWRl:c2VjcmV0" },
      consumerKey: { secure: "v1:Y29uc3VtZXI=:a2V5" },
    });
    for (const file of [whole, inside]) {
      const { code, stdout, stderr } = await plan("--stack-file", file, "--json");
      expect(code, stderr).toBe(0);
      expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      const doc = JSON.parse(stdout);
      const certificate = doc.resources.find((r: any) => r.name.endsWith("scaleliteCertificate"));
      expect(certificate, file).toBeDefined();
      expect(JSON.stringify(certificate.inputs)).toContain("[secret]");
      expect(doc.notes).toEqual([expect.stringContaining("bbb-ovh:dnsCredentials is encrypted")]);
      expect(stdout).not.toContain("appkey123");
    }
  });

  it("--mermaid draws Moodle, the front and the nodes grouped by datacenter", async () => {
    const { code, stdout } = await plan("brest", "--mermaid");
    expect(code).toBe(0);
    expect(stdout.split("\n")[0]).toBe("flowchart LR");
    expect(stdout).toContain('subgraph dc_sbg["datacenter sbg"]');
    expect(stdout).toContain('subgraph dc_rbx["datacenter rbx"]');
    expect(stdout).toMatch(/moodle -->.*front/);
    expect(stdout).toMatch(/front -->\|"load ×1"\| bbb_brest_sbg/);
  });

  it("plans a stack file from anywhere with --stack-file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const file = path.join(dir, "Pulumi.elsewhere.yaml");
    const doc = { config: { "bbb-ovh:campus": { ...(readStackFile("nantes").config["bbb-ovh:campus"].value as object), id: "elsewhere" } } };
    writeFileSync(file, stringify(doc));
    const { code, stdout } = await plan("--stack-file", file);
    expect(code).toBe(0);
    expect(stdout).toContain(`Offline plan for stack 'elsewhere' (${file})`);
    // A path relative to where the user typed `npm run plan`, not to the package root npm runs in.
    const relative = await planFrom(dir, "--stack-file", "./Pulumi.elsewhere.yaml", "--json");
    expect(relative.code, relative.stderr).toBe(0);
    expect(JSON.parse(relative.stdout).stackFile).toBe(file);
  });

  it("plans the stack's own installer pin (date unknown, no age warning) and noble-400 as opt-in on Ubuntu 24.04 servers", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const nantes = readStackFile("nantes").config["bbb-ovh:campus"].value as object;
    const pin = { commit: "0123456789abcdef0123456789abcdef01234567", sha256: "ab".repeat(32) };
    const stackWith = (id: string, extra: object) => {
      const file = path.join(dir, `Pulumi.${id}.yaml`);
      writeFileSync(file, stringify({ config: { "bbb-ovh:campus": { ...nantes, id, ...extra } } }));
      return file;
    };
    const own = await plan("--stack-file", stackWith("ownpin", { bbb: { installer: { line: "jammy-300", ...pin } } }), "--json");
    expect(own.code, own.stderr).toBe(0);
    const doc = JSON.parse(own.stdout);
    expect(doc.installer).toEqual({ line: "jammy-300", branch: "v3.0.x-release", ...pin, source: "stack" });
    expect(doc.warnings.filter((w: string) => w.includes("bbb-install pin"))).toEqual([]);
    const install = doc.resources.find((r: any) => r.name.endsWith("-bbbInstall"));
    expect(install.inputs.triggers).toContain(`bbb-install.sh ${pin.commit} sha256 ${pin.sha256}`);
    const text = await plan("--stack-file", stackWith("ownpintext", { bbb: { installer: { line: "jammy-300", ...pin } } }));
    expect(text.stdout).toContain(`bbb-install v3.0.x-release at ${pin.commit}, commit date unknown (campus.bbb.installer.date not given)`);

    const noble = await plan("--stack-file", stackWith("noble", { bbbVersion: "noble-400", bbb: { installer: { line: "noble-400", ...pin } } }), "--json");
    expect(noble.code, noble.stderr).toBe(0);
    const nobleDoc = JSON.parse(noble.stdout);
    expect(nobleDoc.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^line noble-400 .* is opt-in, not confirmed released: .*A line change means new servers/)]),
    );
    // Its dedicated servers are installed with OVH's Ubuntu 24.04 template.
    const servers = nobleDoc.resources.filter((r: any) => r.type === "ovh:Dedicated/server:Server");
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers) expect(server.inputs.os).toBe("ubuntu2404-server_64");

    const missing = await plan("--stack-file", stackWith("noblenopin", { bbbVersion: "noble-400" }));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/campus\.bbb\.installer: line 'noble-400' has no verified bbb-install pin \(branch v4\.0\.x-release\)/);
  });

  it("a bad stack file exits non-zero and lists every problem, without a stack trace", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const file = path.join(dir, "Pulumi.bad.yaml");
    const campus = structuredClone(readStackFile("brest").config["bbb-ovh:campus"].value) as any;
    campus.adminCidrs = ["10.0.0.0/40"];
    campus.nodes[1].fqdn = "bbb2.example.com";
    campus.front.model = "rise-77";
    // A key cut by one character (issue 19, defect 7) and a term that ended: the plan reads the real clock.
    campus.sshPublicKeys = [campus.sshPublicKeys[0].replace(/(AAAA\S+)\S /, "$1 ")];
    campus.term = { end: "2020-06-30" };
    writeFileSync(file, stringify({ config: { "bbb-ovh:moodleSshPrivateKey": { secure: "v1:a2V5:ZW5jcnlwdGVk" }, "bbb-ovh:campus": campus } }));
    const { code, stdout, stderr } = await plan("--stack-file", file);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain("5 problems");
    expect(stderr).toContain("campus.adminCidrs[0]");
    expect(stderr).toContain("campus.nodes[1].fqdn");
    expect(stderr).toContain("campus.front.model");
    expect(stderr).toContain("campus.sshPublicKeys[0]: is not a usable SSH public key: the base64 key is damaged or cut short");
    expect(stderr).toMatch(/campus\.term\.end: 2020-06-30 is in the past \(today is \d{4}-\d\d-\d\d, UTC\)/);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it("BBB_OVH_REIMAGE plans one node's replacement from the node image, and refuses a name that is not such a node, without a stack trace", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const file = path.join(dir, "Pulumi.imaged.yaml");
    const stack = readStackFile("training").config;
    const campus = structuredClone(stack["bbb-ovh:campus"].value) as any;
    campus.nodeImage = { nameRegex: "^bbb-ovh-jammy-300-" };
    writeFileSync(file, stringify({ config: { ...Object.fromEntries(Object.entries(stack).map(([k, v]) => [k, v.value])), "bbb-ovh:campus": campus } }));
    const withReimage = async (node: string) => {
      process.env.BBB_OVH_REIMAGE = node;
      try {
        return await plan("--stack-file", file, "--json");
      } finally {
        delete process.env.BBB_OVH_REIMAGE;
      }
    };
    const planned = await withReimage("bbb-training-gra");
    expect(planned.code, planned.stderr).toBe(0);
    const instances = (JSON.parse(planned.stdout).resources as { type: string; inputs: { name: string }; protect: boolean }[]).filter(
      (r) => r.type === "openstack:compute/instance:Instance",
    );
    expect(instances.map((i) => [i.inputs.name, i.protect]).sort()).toEqual([
      ["bbb1.training.isen-ouest.fr", true],
      ["bbb2.training.isen-ouest.fr", false],
      ["visio-training.isen-ouest.fr", true],
    ]);
    const refused = await withReimage("lb-training");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("BBB_OVH_REIMAGE (environment): 'lb-training' is not a node that boots from campus.nodeImage");
    expect(refused.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it("a newline in a stack string (moodle.dir) is a config problem naming the field, not a crash when a step's stdin is written", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-plan-"));
    const file = path.join(dir, "Pulumi.newline.yaml");
    const brest = readStackFile("brest");
    const campus = structuredClone(brest.config["bbb-ovh:campus"].value) as any;
    campus.moodle.dir = "/var/www/moodle\nPHP=/tmp/evil";
    writeFileSync(file, stringify({ config: { "bbb-ovh:moodleSshPrivateKey": brest.config["bbb-ovh:moodleSshPrivateKey"].value, "bbb-ovh:campus": campus } }));
    const { code, stdout, stderr } = await plan("--stack-file", file);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain("campus.moodle.dir: must be a single line without control characters (found \\n)");
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it("a missing stack and a usage error are told apart by exit code", async () => {
    const missing = await plan("no-such-campus");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such stack file/);
    const usage = await plan();
    expect(usage.code).toBe(2);
    const help = await plan("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 planned; 1 the stack is refused (no such stack file, or every problem of an invalid one listed); 2 usage.");
  });
});
