import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { ops, scratch, secretFile } from "./cli";
import { selfSignedCert } from "../support/selfSignedCert";

const LB_SECRET = "lb-secret-0f3c9a7e5d1b";
const NODE_SECRETS = ["node-a-secret-71c2", "node-b-secret-93de"];
const FAKES = path.join(__dirname, "fakes");

let nodes: BbbApiServer[];
let front: BbbApiServer;

beforeAll(async () => {
  nodes = await Promise.all(NODE_SECRETS.map((secret) => startBbbApiServer({ secret, bbbVersion: "3.0.9" })));
  front = await startBbbApiServer({
    mode: "scalelite",
    secret: LB_SECRET,
    servers: nodes.map((n, i) => ({ id: `bbb${i + 1}.test.example`, apiUrl: n.apiUrl, secret: NODE_SECRETS[i], state: "enabled" as const })),
  });
});

afterAll(async () => {
  await Promise.all([front, ...nodes].map((s) => s?.close()));
});

const smoke = (args: string[], secret = LB_SECRET) =>
  ops(["smoke", "--url", front.url, "--secret-file", secretFile(secret), "--json", "--timeout", "1500", ...args]);

describe("ops smoke through the balancer", () => {
  it("creates, joins (balancer then node), reads and ends a meeting, timing each step", async () => {
    const run = await smoke([]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.ok).toBe(true);
    expect(report.steps.map((s: { step: string }) => s.step)).toEqual(["create", "join moderator", "join attendee", "getMeetingInfo", "end"]);
    for (const s of report.steps) expect(s).toMatchObject({ ok: true, ms: expect.any(Number) });
    expect(report.steps[1].detail).toMatch(/^accepted by 127\.0\.0\.1:\d+$/);
    expect(nodes.map((n) => n.host)).toContain(report.landedOn.host);
    // The meeting really went to that node, and is gone everywhere afterwards.
    const landed = nodes.find((n) => n.host === report.landedOn.host) as BbbApiServer;
    expect(landed.calls.filter((c) => c.accepted).map((c) => c.call)).toEqual(expect.arrayContaining(["create", "join", "getMeetingInfo", "end"]));
    expect(front.meetings.size).toBe(0);
    expect(landed.meetings.size).toBe(0);
    expect(run.stdout).not.toContain(LB_SECRET);
  });

  it.each(["sha1", "sha256", "sha512"])("signs with %s, which Scalelite accepts", async (algorithm) => {
    const run = await smoke(["--checksum", algorithm]);
    expect(run.code).toBe(0);
    const checksum = new URLSearchParams(front.calls.at(-1)?.query).get("checksum") as string;
    expect(checksum.length).toBe({ sha1: 40, sha256: 64, sha512: 128 }[algorithm]);
  });

  it("reports sha384 as a checksum error through Scalelite, which cannot infer it", async () => {
    const run = await smoke(["--checksum", "sha384"]);
    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout).failure).toMatchObject({ host: front.host, kind: "checksum" });
  });

  it("signs sha384 that a BBB server itself accepts", async () => {
    const direct = await ops(["smoke", "--url", nodes[0].url, "--secret-file", secretFile(NODE_SECRETS[0]), "--checksum", "sha384", "--json"]);
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout).steps[1].detail).toMatch(/redirected to 127\.0\.0\.1/);
  });

  it("names a wrong secret as a checksum error (exit 4) and creates nothing", async () => {
    const run = await smoke([], "not-the-secret");
    expect(run.code).toBe(4);
    const report = JSON.parse(run.stdout);
    expect(report.failure).toMatchObject({ host: front.host, kind: "checksum", message: expect.stringMatching(/checksumError/) });
    expect(report.steps).toEqual([expect.objectContaining({ step: "create", ok: false })]);
    expect(front.calls.at(-1)).toMatchObject({ call: "create", accepted: false });
    expect(run.stdout + run.stderr).not.toContain("not-the-secret");
  });

  it("fails at create with the node's checksumError when the balancer holds a stale secret for the nodes", async () => {
    const saved = front.servers.map((s) => s.secret);
    front.servers.forEach((s) => (s.secret = "stale"));
    try {
      const run = await smoke([]);
      expect(run.code).toBe(4);
      const report = JSON.parse(run.stdout);
      // Scalelite forwards create signed with the node's secret and relays the node's FAILED answer.
      expect(report.steps).toEqual([expect.objectContaining({ step: "create", ok: false })]);
      expect(report.failure).toMatchObject({ kind: "checksum", message: expect.stringMatching(/create: checksumError/) });
      expect(nodes.some((n) => n.calls.at(-1)?.call === "create" && n.calls.at(-1)?.accepted === false)).toBe(true);
      expect(nodes.every((n) => n.meetings.size === 0)).toBe(true);
    } finally {
      front.servers.forEach((s, i) => (s.secret = saved[i]));
      front.meetings.clear();
    }
  });

  it("times out on a slow balancer within the deadline (exit 5)", async () => {
    // Far beyond the 600-ms deadline: a loaded machine's CLI start alone took seconds (issue 20).
    front.delayMs = 15_000;
    try {
      const run = await ops(["smoke", "--url", front.url, "--secret-file", secretFile(LB_SECRET), "--json", "--timeout", "600"]);
      expect(run.code).toBe(5);
      expect(JSON.parse(run.stdout).failure).toMatchObject({ host: front.host, kind: "timeout" });
      // Gave up before the balancer's answer: the bound is that answer (15 s), not the deadline plus a guess at how
      // long node takes to start the CLI, which a loaded machine stretches past a second.
      expect(run.elapsedMs).toBeLessThan(front.delayMs);
    } finally {
      front.delayMs = 0;
    }
  });

  it("names a dead host (TCP, exit 3) and an unknown name (DNS, exit 3)", async () => {
    const dead = await startBbbApiServer({ secret: LB_SECRET });
    await dead.close();
    const tcp = await ops(["smoke", "--url", dead.url, "--secret-file", secretFile(LB_SECRET), "--json", "--timeout", "1500"]);
    expect(tcp.code).toBe(3);
    expect(JSON.parse(tcp.stdout).failure).toMatchObject({ host: dead.host, kind: "tcp" });
    const dns = await ops(["smoke", "--url", "https://no-such-host.invalid", "--secret-file", secretFile(LB_SECRET), "--json", "--timeout", "1500"]);
    expect(dns.code).toBe(3);
    expect(JSON.parse(dns.stdout).failure).toMatchObject({ host: "no-such-host.invalid", kind: "dns" });
  });

  it("reads the endpoint and secret from `pulumi stack output` when the Pulumi CLI is on PATH", async () => {
    const dir = scratch();
    const outputs = path.join(dir, "outputs.json");
    const log = path.join(dir, "pulumi.log");
    writeFileSync(
      outputs,
      JSON.stringify({
        frontUrl: `${front.url}/bigbluebutton/`,
        moodleSharedSecret: LB_SECRET,
        nodes: nodes.map((n, i) => ({ name: `node-${i}`, fqdn: `bbb${i}.test.example`, datacenter: ["sbg", "rbx"][i], apiUrl: n.apiUrl })),
      }),
    );
    const run = await ops(["smoke", "campus-x", "--json"], { env: { PATH: `${FAKES}:/usr/bin:/bin`, FAKE_PULUMI_OUTPUTS: outputs, FAKE_PULUMI_LOG: log } });
    expect(run.code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("stack output --show-secrets --json --stack campus-x\n");
    const report = JSON.parse(run.stdout);
    expect(report.endpoint).toBe(front.apiUrl);
    // The node is named by the stack's outputs, with its datacenter.
    expect(report.landedOn).toMatchObject({ name: expect.stringMatching(/^node-[01]$/), datacenter: expect.stringMatching(/^(sbg|rbx)$/) });
  });

  it("refuses to run without a secret, and reads one from stdin", async () => {
    const none = await ops(["smoke", "--url", front.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no shared secret: give --secret-file/);
    const stdin = await ops(["smoke", "--url", front.url, "--secret-file", "-", "--json"], { stdin: `${LB_SECRET}\n` });
    expect(stdin.code).toBe(0);
  });

  it("prints a table with the landing node for people, and per-step progress only on a terminal", async () => {
    const run = await ops(["smoke", "--url", front.url, "--secret-file", secretFile(LB_SECRET)], { tty: true });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/landed on: 127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/PASSED/);
    expect(run.stderr).toMatch(/ok 127\.0\.0\.1:\d+: create \(\d+ ms\)/);
    const piped = await ops(["smoke", "--url", front.url, "--secret-file", secretFile(LB_SECRET)]);
    expect(piped.stderr).toBe("");
  });
});

describe("ops smoke over TLS", () => {
  let tls: BbbApiServer | undefined;
  let caFile = "";
  beforeAll(async () => {
    const dir = scratch();
    const key = path.join(dir, "key.pem");
    caFile = path.join(dir, "cert.pem");
    selfSignedCert({ key, cert: caFile });
    tls = await startBbbApiServer({ secret: LB_SECRET, tls: { key: readFileSync(key, "utf8"), cert: readFileSync(caFile, "utf8") } });
  });
  afterAll(() => tls?.close());

  it("names an untrusted certificate as a TLS failure, and trusts it with --ca", async () => {
    const url = (tls as BbbApiServer).url;
    const untrusted = await ops(["smoke", "--url", url, "--secret-file", secretFile(LB_SECRET), "--json"]);
    expect(untrusted.code).toBe(3);
    expect(JSON.parse(untrusted.stdout).failure.kind).toBe("tls");
    const trusted = await ops(["smoke", "--url", url, "--secret-file", secretFile(LB_SECRET), "--ca", caFile, "--json"]);
    expect(trusted.code).toBe(0);
  });
});
