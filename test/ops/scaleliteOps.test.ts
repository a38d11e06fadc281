import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { REFUSED_DIR } from "../../components/scalelite/recordingLayout";
import { BACKLOG_DIR } from "../../cli/ops/recordingHealth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { attachScalelite, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { execOn, startTestHost, type TestHost } from "../support/sshd";
import { ops, scratch } from "./cli";

/**
 * status / drain / undrain / panic against a real sshd on loopback (the front), whose `docker exec
 * scalelite-api bin/rake ...` runs Scalelite v1.8.5's own rake tasks on a real Redis (test/support/scalelite),
 * plus local BBB API servers as the nodes (polled by Scalelite's poller, probed by ops) and as the
 * front's /health_check.
 */
const trees = scaleliteTrees();
const NODES = [
  { name: "bbb-sbg", fqdn: "bbb1.test.example", datacenter: "sbg", secret: "sbg-secret-5e1a" },
  { name: "bbb-rbx", fqdn: "bbb2.test.example", datacenter: "rbx", secret: "rbx-secret-8c4d" },
];
const FAKES = path.join(__dirname, "fakes");

let front: TestHost;
let frontHttp: BbbApiServer;
let nodeHttp: BbbApiServer[];
let env: NodeJS.ProcessEnv;
let keyFile: string;
let scalelite: Scalelite;

const onFront = (command: string, stdin?: string) => execOn(front, command, stdin);

const state = () => scalelite.servers();
const calls = () => readFileSync(path.join(front.root, "fake-calls.log"), "utf8");
// Budgets for a busy machine, where an SSH handshake or a `bin/rake status` (a Ruby start) can take
// seconds; the tests of fast failures assert that they come well before these.
const TIMEOUT_MS = 20_000;
const args = (extra: string[] = []) => [
  "--host",
  front.host,
  "--ssh-port",
  String(front.port),
  "--ssh-key",
  keyFile,
  "--timeout",
  String(TIMEOUT_MS),
  "--command-timeout",
  "120000",
  ...extra,
];

beforeAll(async () => {
  if (!trees) return;
  front = await startTestHost({ fqdn: "visio.test.example" });
  // The fake docker runs a container whose systemd unit is installed.
  mkdirSync(path.join(front.root, "etc/systemd/system"), { recursive: true });
  writeFileSync(path.join(front.root, "etc/systemd/system/scalelite-api.service"), "[Service]\n");
  frontHttp = await startBbbApiServer({ mode: "scalelite", secret: "lb-secret" });
  nodeHttp = await Promise.all(NODES.map((n) => startBbbApiServer({ secret: n.secret, bbbVersion: "3.0.9" })));
  scalelite = await attachScalelite(trees, front);
  keyFile = path.join(scratch(), "id_ed25519");
  writeFileSync(keyFile, front.privateKey, { mode: 0o600 });
  const outputs = path.join(scratch(), "outputs.json");
  writeFileSync(
    outputs,
    JSON.stringify({
      frontUrl: `${frontHttp.url}/bigbluebutton/api`,
      moodleSharedSecret: "lb-secret",
      nodes: NODES.map((n, i) => ({ name: n.name, fqdn: n.fqdn, datacenter: n.datacenter, apiUrl: nodeHttp[i].apiUrl })),
      nodeSecrets: Object.fromEntries(NODES.map((n) => [n.fqdn, n.secret])),
      // Pinned like every Pulumi connection to the front: the tests below only pass if it matches.
      frontHostKey: front.hostPublicKey,
    }),
  );
  env = { PATH: `${FAKES}:/usr/bin:/bin`, FAKE_PULUMI_OUTPUTS: outputs, FAKE_PULUMI_LOG: path.join(scratch(), "pulumi.log") };
});

afterAll(async () => {
  await Promise.all([front?.stop(), frontHttp?.close(), scalelite?.stop(), ...(nodeHttp ?? []).map((n) => n.close())]);
});

beforeEach(async () => {
  if (!trees) return;
  // Both nodes registered (untagged) and enabled, two lessons on the first, one on the second, placed
  // there by Scalelite (its Meeting records) and running on the nodes; polled once by Scalelite's poller.
  const yaml = `servers:\n${NODES.map((n) => `  ${n.fqdn}:\n    url: https://${n.fqdn}/bigbluebutton/api\n    secret: ${n.secret}\n    enabled: true\n`).join("")}`;
  expect((await scalelite.ruby("RedisStore.with_connection(&:flushdb)")).code).toBe(0);
  NODES.forEach((n, i) => scalelite.route(n.fqdn, nodeHttp[i].url));
  nodeHttp.forEach((n) => n.meetings.clear());
  const lessons: Array<[number, string, number]> = [
    [0, "maths", 25],
    [0, "physics", 18],
    [1, "chemistry", 30],
  ];
  await onFront("docker exec -i scalelite-api bin/rake 'servers:sync[-,force]'", yaml);
  for (const [i, id, users] of lessons) nodeHttp[i].seedMeeting(id, users);
  await scalelite.addMeetings(lessons.map(([i, id]) => [NODES[i].fqdn, id]));
  frontHttp.healthBody = "success";
  nodeHttp.forEach((n) => (n.delayMs = 0));
  await scalelite.pollUntilOnline(
    NODES.map((n) => n.fqdn),
    { bbbVersion: true },
  );
});

describe.skipIf(!trees)("ops status", () => {
  it("shows one row per node with Scalelite's view and the node's own API, exit 0 when healthy", async () => {
    const run = await ops(["status", "opstest", "--json", ...args()], { env });
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.front.healthCheck).toMatchObject({ ok: true, detail: "success" });
    expect(report.nodes).toEqual([
      expect.objectContaining({
        name: "bbb-sbg",
        fqdn: "bbb1.test.example",
        datacenter: "sbg",
        online: "online",
        state: "enabled",
        meetings: 2,
        users: 43,
        bbbVersion: "3.0.9",
        probe: expect.objectContaining({ ok: true }),
      }),
      expect.objectContaining({ name: "bbb-rbx", datacenter: "rbx", online: "online", state: "enabled", meetings: 1, users: 30 }),
    ]);
    expect(report.healthy).toBe(true);
    // Read-only: the only rake task run is `status`, and the node probes are signed getMeetings.
    expect(calls()).toMatch(/docker exec scalelite-api bin\/rake status\n$/);
    expect(nodeHttp[0].calls.at(-1)).toMatchObject({ call: "getMeetings", accepted: true });
    expect(run.stdout).not.toMatch(/sbg-secret|rbx-secret|lb-secret/);
  });

  it("prints a table for people and progress per host only on a terminal", async () => {
    const run = await ops(["status", "opstest", ...args()], { env, tty: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/bbb-sbg[\s\S]*sbg[\s\S]*online[\s\S]*enabled/);
    expect(run.stdout).toMatch(/healthy\n$/);
    expect(run.stderr).toMatch(/ok 127\.0\.0\.1: bin\/rake status/);
    expect(run.stderr).toMatch(/ok 127\.0\.0\.1:\d+: getMeetings/);
  });

  it("shows the front's image lock when it can read it, and says nothing of it when there is none", async () => {
    const lock = path.join(front.root, "var/lib/bbb-ovh/image-lock");
    const lines = [`postgres:16@sha256:${"1".repeat(64)}`, `redis:7@sha256:${"2".repeat(64)}`];
    mkdirSync(path.dirname(lock), { recursive: true });
    writeFileSync(lock, `# Images of this front by digest, written by bbb-ovh.\n${lines.join("\n")}\n`, { mode: 0o644 });
    try {
      const json = await ops(["status", "opstest", "--json", ...args()], { env });
      expect(json.code, json.stdout + json.stderr).toBe(0);
      expect(JSON.parse(json.stdout).front.images).toEqual(lines);
      const table = await ops(["status", "opstest", ...args()], { env });
      expect(table.stdout).toContain(`images (/var/lib/bbb-ovh/image-lock):\n  ${lines[0]}\n  ${lines[1]}\n`);
    } finally {
      rmSync(lock);
    }
    const without = await ops(["status", "opstest", "--json", ...args()], { env });
    expect(without.code, without.stdout + without.stderr).toBe(0);
    expect(JSON.parse(without.stdout).front.images).toBeUndefined();
    expect(JSON.parse(without.stdout).problems).toEqual([]);
  });

  it("counts the archives the front refused per node and shows each node's recording backlog", async () => {
    const refused = path.join(front.root, REFUSED_DIR, "bbb-sbg");
    const backlog = path.join(front.root, BACKLOG_DIR);
    mkdirSync(refused, { recursive: true });
    mkdirSync(backlog, { recursive: true });
    writeFileSync(path.join(refused, "20261202T101010Z-a1b2c3-evil.tar"), "x");
    writeFileSync(path.join(refused, "20261202T101010Z-a1b2c3-evil.tar.reason"), "node: bbb-sbg\nreason: not a regular file\n");
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(path.join(backlog, "bbb-sbg"), `waiting=2 oldest=${now - 5400} overdue=0 reported=${now - 60}\n`);
    writeFileSync(path.join(backlog, "bbb-rbx"), `waiting=0 oldest=0 overdue=0 reported=${now - 60}\n`);
    try {
      const run = await ops(["status", "opstest", "--json", ...args()], { env });
      const report = JSON.parse(run.stdout);
      expect(report.nodes.map((n: { recordings?: string }) => n.recordings)).toEqual(["2 waiting, oldest 1.5 h", "none waiting"]);
      expect(report.recordings).toEqual([
        expect.objectContaining({ node: "bbb-rbx", refused: 0, waiting: 0 }),
        expect.objectContaining({ node: "bbb-sbg", refused: 1, waiting: 2 }),
      ]);
      expect(report.problems).toEqual([
        { host: "bbb-sbg", kind: "unhealthy", message: `recordings: 1 recording archive(s) refused, kept in ${REFUSED_DIR}/bbb-sbg with a .reason file each` },
      ]);
      expect(run.code).toBe(1);
    } finally {
      rmSync(path.join(front.root, REFUSED_DIR), { recursive: true });
      rmSync(backlog, { recursive: true });
    }
  });

  it("is unhealthy (exit 1) when Scalelite marks a node offline or /health_check is not `success`", async () => {
    // bbb2's getMeetings now fails: Scalelite's poller takes it offline after two failed polls.
    scalelite.route("bbb2.test.example", undefined);
    await onFront("docker exec scalelite-api bin/rake poll:all");
    await onFront("docker exec scalelite-api bin/rake poll:all");
    frontHttp.healthBody = "Health Check Failure: Redis::CannotConnectError";
    const run = await ops(["status", "opstest", "--json", ...args()], { env });
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.problems).toEqual([
      { host: frontHttp.host, kind: "unhealthy", message: expect.stringMatching(/Redis::CannotConnectError/) },
      { host: "bbb2.test.example", kind: "unhealthy", message: expect.stringMatching(/offline/) },
    ]);
  });

  it("costs one timeout, not one per host, when nodes are slow (exit 5)", async () => {
    // The timeout is larger than one `bin/rake status` (a Ruby start), which runs alongside the probes.
    nodeHttp.forEach((n) => (n.delayMs = 3 * TIMEOUT_MS));
    const run = await ops(["status", "opstest", "--json", ...args()], { env });
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout);
    expect(report.problems.map((p: { kind: string }) => p.kind)).toEqual(["timeout", "timeout"]);
    expect(report.nodes[0].probe).toMatchObject({ ok: false, detail: expect.stringMatching(/timeout/) });
    // Scalelite's own view is still shown.
    expect(report.nodes[0]).toMatchObject({ online: "online", meetings: 2 });
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS * 2);
  });

  it("names a wrong node secret as a checksum error (exit 4)", async () => {
    nodeHttp[1].secret = "rotated";
    try {
      const run = await ops(["status", "opstest", "--json", ...args()], { env });
      expect(run.code).toBe(4);
      expect(JSON.parse(run.stdout).problems).toEqual([{ host: nodeHttp[1].host, kind: "checksum", message: expect.stringMatching(/checksumError/) }]);
    } finally {
      nodeHttp[1].secret = NODES[1].secret;
    }
  });

  it("refuses a front whose host key is not the pinned one, before running anything (exit 4)", async () => {
    const impostorKey = path.join(scratch(), "impostor");
    const { execFileSync } = await import("node:child_process");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", impostorKey]);
    const before = calls();
    const run = await ops(["status", "opstest", "--json", ...args(["--host-key", readFileSync(`${impostorKey}.pub`, "utf8").trim()])], { env });
    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout).problems[0]).toMatchObject({
      host: `127.0.0.1:${front.port}`,
      kind: "ssh-auth",
      message: expect.stringMatching(/not the pinned one/),
    });
    expect(calls()).toBe(before);
  });

  it("names SSH failures: a refused key (exit 4) and a dead port (exit 3)", async () => {
    const otherKey = path.join(scratch(), "other");
    const { execFileSync } = await import("node:child_process");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const auth = await ops(["status", "opstest", "--json", ...args(["--ssh-key", otherKey])], { env });
    expect(auth.code).toBe(4);
    expect(JSON.parse(auth.stdout).problems[0]).toMatchObject({ host: `127.0.0.1:${front.port}`, kind: "ssh-auth" });
    const dead = await startBbbApiServer({ secret: "x" });
    await dead.close();
    const tcp = await ops(["status", "opstest", "--json", ...args(["--ssh-port", String(dead.port)])], { env });
    expect(tcp.code).toBe(3);
    expect(JSON.parse(tcp.stdout).problems[0]).toMatchObject({ host: `127.0.0.1:${dead.port}`, kind: "tcp" });
    expect(tcp.elapsedMs).toBeLessThan(TIMEOUT_MS); // refused at once, not waited for
  });

  it("refreshes with --watch until stopped", async () => {
    // Stopped once two reports are out (each one a `bin/rake status`, a Ruby start: slow on a busy machine).
    const stop = new AbortController();
    const onStdout = (out: string) => (out.match(/"checkedAt"/g)?.length ?? 0) >= 2 && stop.abort();
    const run = await ops(["status", "opstest", "--json", "--watch", "1", ...args()], { env, signal: stop.signal, onStdout });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout.match(/"checkedAt"/g)?.length).toBeGreaterThanOrEqual(2);
  });
});

describe.skipIf(!trees)("ops drain / undrain / panic", () => {
  it("drains a node by its stack name: cordoned, lessons still running, status still healthy", async () => {
    const run = await ops(["drain", "opstest", "bbb-sbg", "--yes", ...args()], { env });
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/bbb1\.test\.example cordoned \(2 meeting\(s\), 43 user\(s\) still there\)/);
    expect((await state())["bbb1.test.example"].state).toBe("cordoned");
    expect(calls()).toContain("docker exec scalelite-api bin/rake servers:cordon\\[bbb1.test.example\\]");
    const status = JSON.parse((await ops(["status", "opstest", "--json", ...args()], { env })).stdout);
    expect(status.nodes[0]).toMatchObject({ state: "cordoned", meetings: 2 });
    expect(status.healthy).toBe(true);
  });

  it("undrains it again", async () => {
    await ops(["drain", "opstest", "bbb1.test.example", "--yes", ...args()], { env });
    const run = await ops(["undrain", "opstest", "bbb-sbg", "--yes", "--json", ...args()], { env });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ action: "undrain", node: "bbb1.test.example", task: "servers:enable", after: { state: "enabled" } });
    expect((await state())["bbb1.test.example"].state).toBe("enabled");
  });

  it("asks first: refuses without a terminal, stops on 'n', proceeds on 'y'", async () => {
    const piped = await ops(["drain", "opstest", "bbb-sbg", ...args()], { env });
    expect(piped.code).toBe(2);
    expect(piped.stderr).toMatch(/pass --yes/);
    const no = await ops(["drain", "opstest", "bbb-sbg", ...args()], { env, tty: true, stdin: "n\n" });
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/Cordon bbb1\.test\.example\? .*running lessons continue \(2 meeting\(s\), 43 user\(s\) on it now\)/);
    expect((await state())["bbb1.test.example"].state).toBe("enabled");
    const yes = await ops(["drain", "opstest", "bbb-sbg", ...args()], { env, tty: true, stdin: "y\n" });
    expect(yes.code).toBe(0);
    expect((await state())["bbb1.test.example"].state).toBe("cordoned");
  });

  it("panics a node that is gone: its meetings are cleared and it is disabled; status then says so", async () => {
    const run = await ops(["panic", "opstest", "bbb-rbx", "--yes", "--json", ...args()], { env });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ task: "servers:panic", clearedMeetings: ["chemistry"] });
    expect((await state())["bbb2.test.example"].state).toBe("disabled");
    // Scalelite's panic also ended the lesson on the node.
    expect(nodeHttp[1].meetings.has("chemistry")).toBe(false);
    const status = await ops(["status", "opstest", "--json", ...args()], { env });
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout).problems).toContainEqual({ host: "bbb2.test.example", kind: "unhealthy", message: expect.stringMatching(/disabled/) });
  });

  it("refuses a node that is not the stack's before connecting; reports Scalelite's own error for an unknown server id; refuses ids that are not ids", async () => {
    const before = calls();
    const notOurs = await ops(["drain", "opstest", "bbb9.test.example", "--yes", ...args()], { env });
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toMatch(/'bbb9\.test\.example' is not a node of opstest \(did you mean 'bbb[12]\.test\.example'\?\)/);
    expect(calls()).toBe(before);
    // Without a stack (options only, no Pulumi CLI), a server id goes to Scalelite as it is.
    const unknown = await ops(["drain", "nostack", "bbb9.test.example", "--yes", "--url", frontHttp.url, "--host-key", front.hostPublicKey, ...args()]);
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toMatch(/127\.0\.0\.1: remote command: bin\/rake servers:cordon: ERROR: No server found with id: bbb9\.test\.example/);
    const bad = await ops(["drain", "opstest", "x;rm -rf /", "--yes", ...args()], { env });
    expect(bad.code).toBe(2);
  });
});
