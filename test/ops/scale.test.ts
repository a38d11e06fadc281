/**
 * `ops scale` as a process, as test/ops/schedule.test.ts runs the schedule: the OVH API peer (instances,
 * shelve/unshelve), the front as a loopback sshd whose `docker exec scalelite-api bin/rake` is Scalelite's
 * own (test/fakes), and each node's BBB API (test/support/bbbApiServer.ts) for meetings and recordings.
 * Four hourly C2-60 nodes, two in Strasbourg and two in Gravelines, failover policy 'datacenter'.
 * Then `ops upgrade` drills over the same pool with lessons running.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import type { OvhApiPeer } from "../support/ovhApiPeer";
import { execOn, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";
import { meets } from "../../components/scaling/decide";
import { BACKLOG_DIR } from "../../cli/ops/recordingHealth";
import { secretFile } from "./cli";
import { PROJECT, poolEnv, startNodePool, startPoolPeer, TEACHING_WEEK, writeTrainingStack } from "./nodePool";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
const NODES = [
  { name: "bbb-sbg-1", fqdn: "bbb1.training.isen-ouest.fr", region: "SBG5", secret: "sbg-secret-1f", ip: "198.51.100.11" },
  { name: "bbb-gra-1", fqdn: "bbb2.training.isen-ouest.fr", region: "GRA11", secret: "gra-secret-2e", ip: "198.51.100.12" },
  { name: "bbb-sbg-2", fqdn: "bbb3.training.isen-ouest.fr", region: "SBG5", secret: "sbg-secret-3d", ip: "198.51.100.13" },
  { name: "bbb-gra-2", fqdn: "bbb4.training.isen-ouest.fr", region: "GRA11", secret: "gra-secret-4c", ip: "198.51.100.14" },
];
// A Wednesday, inside the timetable (Europe/Paris, Monday to Friday 08:00-18:00).
const T0 = Date.parse("2026-11-25T10:00:00+01:00");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

const trees = scaleliteTrees();
let scalelite: Scalelite;
let peer: OvhApiPeer;
let front: TestHost;
let nodeHttp: BbbApiServer[];
let stackFile: string;
/** The same stack with recordings on: nodes send their recordings to the front, and report what they hold. */
let recordingStackFile: string;
let env: Record<string, string>;

const onFront = (command: string, stdin?: string) => execOn(front, command, stdin);
const connection = () => [
  "--host",
  front.host,
  "--ssh-port",
  String(front.port),
  "--ssh-user",
  "root",
  "--ssh-key",
  path.join(env.HOME, "key"),
  "--command-timeout",
  "20000",
];

function ops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OPS_CLI, ...args], { cwd: REPO, env, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const scale = (minutes: number, ...extra: string[]) => scaleStack(stackFile, minutes, ...extra);
async function scaleStack(file: string, minutes: number, ...extra: string[]) {
  const run = await ops(["scale", file, "--at", at(minutes), "--json", ...connection(), ...extra]);
  expect(run.stderr).toBe("");
  return {
    code: run.code,
    report: JSON.parse(run.stdout) as {
      decision: { summary: string; actions: Array<{ node: string; action: string }> };
      steps: Array<{ node: string; step: string; detail: string }>;
      nodes: Array<{ node: string; state: string; users: number }>;
      creditEstimate?: string;
    },
  };
}
/** Scalelite's `rake status` now (one Ruby boot on the front), as a lookup of each node's row. */
const statusRows = async () => {
  const lines = (await onFront("docker exec scalelite-api bin/rake status")).split("\n");
  return (fqdn: string) => lines.find((l) => l.includes(fqdn)) ?? "";
};
const rowOf = async (fqdn: string) => (await statusRows())(fqdn);

beforeAll(async () => {
  if (!trees) return;
  peer = await startPoolPeer(NODES);
  ({ front, nodeHttp, scalelite } = await startNodePool(trees, NODES));
  ({ file: stackFile, recordings: recordingStackFile } = writeTrainingStack(
    "scale",
    (campus) => {
      campus.nodes = NODES.map((n) => ({ name: n.name, fqdn: n.fqdn, kind: "publicCloud", region: n.region, flavor: "c2-60" }));
      campus.timetable = TEACHING_WEEK;
      campus.scaling = { marginUsers: 100, scaleDownAfterMinutes: 30 };
    },
    true,
  ) as { file: string; recordings: string });
  env = poolEnv(front, NODES, nodeHttp, peer);
});

afterAll(async () => {
  await Promise.all([peer?.close(), front?.stop(), scalelite?.stop(), ...(nodeHttp ?? []).map((n) => n.close())]);
});

describe.skipIf(!trees)("ops scale", () => {
  it("a surplus lasting scaleDownAfter: --dry-run says what it would do, then the emptiest node is cordoned, kept while a meeting or a recording is left, then shelved", async () => {
    nodeHttp[0].seedMeeting("maths", 30);
    nodeHttp[1].seedMeeting("physics", 20);
    nodeHttp[2].seedMeeting("english", 10);
    nodeHttp[3].seedMeeting("tutoring", 5);
    // 65 users + 100 margin: with a site down, three nodes still carry 200.
    let { report } = await scale(0);
    expect(report.decision.actions).toEqual([]);
    // Each run (not --dry-run) leaves the credit estimate on the front for its monitoring (cli/ops/creditEstimate.ts).
    expect(report.creditEstimate).toMatch(/^written to the front: /);
    expect(await onFront("cat ~/.bbb-ovh/credit-estimate")).toMatch(/^runs_out (\d+|\+Inf)\nestimated_at \d+$/);
    expect(report.decision.summary).toMatch(/65 user\(s\), need 165 under 'datacenter', carried 400: more than needed; one node goes if it lasts 30 more min/);

    const dry = await scale(31, "--dry-run");
    expect(dry.report.creditEstimate).toBeUndefined();
    expect(dry.report.decision.actions).toEqual([expect.objectContaining({ node: NODES[3].fqdn, action: "cordon" })]);
    expect(dry.report.steps).toEqual([]);
    expect(await rowOf(NODES[3].fqdn)).toMatch(/enabled/);
    expect(peer.state.calls.filter((c) => c.startsWith("POST"))).toEqual([]);

    ({ report } = await scale(31));
    expect(report.steps.find((s) => s.node === NODES[3].fqdn)).toMatchObject({
      step: "cordoned",
      detail: expect.stringMatching(/1 meeting\(s\) still running/),
    });
    expect(await rowOf(NODES[3].fqdn)).toMatch(/cordoned/);
    expect(peer.state.instances[3].status).toBe("ACTIVE");

    // The lesson ends; its recording is still on the node: not shelved.
    nodeHttp[3].meetings.clear();
    nodeHttp[3].recordings.push("rec-tutoring");
    ({ report } = await scale(36));
    expect(report.nodes.find((n) => n.node === NODES[3].fqdn)).toMatchObject({ state: "parked" });
    expect(report.decision.actions).toEqual([]);
    expect(peer.state.instances[3].status).toBe("ACTIVE");

    // Transferred and deleted from the node: shelved. Another node would have to wait its own 30 minutes.
    nodeHttp[3].recordings.length = 0;
    ({ report } = await scale(41));
    expect(report.steps).toContainEqual(expect.objectContaining({ node: NODES[3].fqdn, step: "shelving" }));
    expect(report.decision.summary).toMatch(/one node goes if it lasts 20 more min/);
    expect(peer.state.instances[3].status).toBe("SHELVED_OFFLOADED");
    expect(peer.state.calls.filter((c) => c.endsWith("/shelve"))).toEqual([`POST /cloud/project/${PROJECT}/instance/inst-3/shelve`]);

    // ops status shows the last decision.
    const status = await ops(["status", stackFile, "--json", "--url", nodeHttp[0].url, ...connection()]);
    expect(JSON.parse(status.stdout).front.scaling).toMatchObject({
      at: at(41),
      summary: expect.stringMatching(/one node goes/),
      actions: [expect.objectContaining({ node: NODES[3].fqdn, action: "shelve" })],
    });
  }, 700_000);

  it("when the margin is gone: wakes the shelved spare that restores the policy and, in the same run, enables it once BBB answers", async () => {
    // A burst at 11:00: 175 users + 100 margin > the 200 that one site carries.
    nodeHttp[0].seedMeeting("maths-2", 90);
    nodeHttp[1].seedMeeting("physics-2", 25);
    // The peer's unshelve is ACTIVE at once: the run's first look, a tenth of --wait-serving later (1 s), enables the node.
    const { report } = await scale(60, "--wait-serving", "10");
    expect(report.decision.actions).toEqual([expect.objectContaining({ node: NODES[3].fqdn, action: "wake" })]);
    expect(report.steps.find((s) => s.node === NODES[3].fqdn)).toMatchObject({
      step: "enabled",
      detail: expect.stringMatching(/serving \d+ s after the unshelve request/),
    });
    expect(peer.state.calls.filter((c) => c.endsWith("/unshelve"))).toEqual([`POST /cloud/project/${PROJECT}/instance/inst-3/unshelve`]);
    expect(await rowOf(NODES[3].fqdn)).toMatch(/enabled/);
    expect(await onFront("cat ~/.bbb-ovh/schedule-sleeping")).toBe("");
    // The unshelve starts an hour OVH bills whole: its start is kept for the next runs.
    expect(JSON.parse(await onFront("cat ~/.bbb-ovh/scale-state")).billedSince).toEqual({ [NODES[3].fqdn]: T0 + 60 * 60_000 });

    // The burst ends: 30 minutes later the emptiest node goes, the one just woken. Its hour runs to 12:00 (minute
    // 120): cordoned only, taking no meeting, still up at no cost (it would be shelved in the hour's last 15 minutes).
    nodeHttp[0].meetings.delete("maths-2");
    nodeHttp[1].meetings.delete("physics-2");
    await scale(61);
    const cordoned = (await scale(91)).report;
    expect(cordoned.decision.actions).toEqual([expect.objectContaining({ node: NODES[3].fqdn, action: "cordon" })]);
    expect(cordoned.decision.summary).toContain(`${NODES[3].fqdn} stays up, cordoned, to the end of its paid hour (29 min)`);
    expect(cordoned.steps.find((s) => s.node === NODES[3].fqdn)).toMatchObject({ step: "cordoned", detail: expect.stringMatching(/end of its paid hour/) });
    expect(await rowOf(NODES[3].fqdn)).toMatch(/cordoned/);
    expect(peer.state.calls.filter((c) => c.endsWith("/shelve"))).toHaveLength(1); // test 1's only
    // With recordings on, a run inside the paid hour already notes when the node was first seen empty (the
    // front's clock): a report the node makes after that can let it go in the hour's last 15 minutes.
    const noted = (await scaleStack(recordingStackFile, 92)).report;
    expect(noted.decision.actions).toEqual([]);
    expect(noted.steps.filter((s) => s.node === NODES[3].fqdn)).toEqual([]);
    const [emptiedNode, emptiedAt] = (await onFront("cat ~/.bbb-ovh/emptied")).trim().split(" ");
    expect(emptiedNode).toBe(NODES[3].fqdn);
    expect(Math.abs(Number(emptiedAt) - Date.now() / 1000)).toBeLessThan(300);
    await scaleStack(recordingStackFile, 93);
    expect((await onFront("cat ~/.bbb-ovh/emptied")).trim()).toBe(`${emptiedNode} ${emptiedAt}`); // kept, not moved on
    await onFront("rm -f ~/.bbb-ovh/emptied");

    // Another burst inside that hour: the node is enabled again at once, with no unshelve and no new hour billed.
    nodeHttp[0].seedMeeting("maths-3", 90);
    nodeHttp[1].seedMeeting("physics-3", 25);
    const back = (await scale(100)).report;
    expect(back.decision.actions).toEqual([expect.objectContaining({ node: NODES[3].fqdn, action: "enable" })]);
    expect(back.steps.find((s) => s.node === NODES[3].fqdn)).toMatchObject({ step: "enabled" });
    expect(peer.state.calls.filter((c) => c.endsWith("/unshelve"))).toHaveLength(1);
    expect(await rowOf(NODES[3].fqdn)).toMatch(/enabled/);
    expect(JSON.parse(await onFront("cat ~/.bbb-ovh/scale-state")).billedSince).toEqual({ [NODES[3].fqdn]: T0 + 60 * 60_000 });
    // No meeting was ended anywhere.
    expect(nodeHttp.flatMap((n) => n.calls).filter((c) => c.call === "end")).toEqual([]);

    // More than the whole pool carries: every node is already taking meetings, so the run says SHORT and what to do.
    nodeHttp[2].seedMeeting("amphi", 400);
    const short = await ops(["scale", stackFile, "--at", at(101), "--dry-run", ...connection()]);
    nodeHttp[2].meetings.delete("amphi");
    expect(short.code).toBe(1);
    const [, users, need] = short.stdout.match(/(\d+) user\(s\), need (\d+) under 'datacenter': the whole pool carries only 400; .*\(SHORT\)/) ?? [];
    expect(Number(need)).toBe(Number(users) + 100);
    expect(short.stdout).toContain(
      `  to do: add nodes (npm run ops -- size --users ${need} --rooms 10 --failover datacenter recommends a pool), or lower campus.scaling.marginUsers\n`,
    );
  }, 300_000);

  it("a node of ops' sleeping list enabled again (an undrain) is never shelved as if asleep; a node shelved by someone else is neither woken nor counted", async () => {
    // As ops leaves it when it cordons a node; then an operator runs `ops undrain` (servers:enable).
    nodeHttp[3].meetings.clear();
    await onFront(`printf '%s\\n' '${NODES[3].fqdn}' > ~/.bbb-ovh/schedule-sleeping`);
    expect(await rowOf(NODES[3].fqdn)).toMatch(/enabled/);
    // 10 minutes before the end of the hour it was woken in (the 11:00 one, then 12:00): a parked node would be shelved now.
    const undrained = (await scale(170)).report;
    expect(undrained.nodes.find((n) => n.node === NODES[3].fqdn)).toMatchObject({ state: "enabled" });
    expect(undrained.decision.actions.filter((a) => a.node === NODES[3].fqdn)).toEqual([]);
    expect(undrained.steps.find((s) => s.node === NODES[3].fqdn)).toMatchObject({
      step: "awake",
      detail: expect.stringMatching(/taken off the sleeping list/),
    });
    expect(peer.state.calls.filter((c) => c.endsWith("/shelve"))).toHaveLength(1); // test 1's only
    expect(await onFront("cat ~/.bbb-ovh/schedule-sleeping")).toBe("");

    // An operator drained bbb4 and shelved it by hand (a repair): not on the list, so not ours.
    await onFront(`docker exec scalelite-api bin/rake 'servers:cordon[${NODES[3].fqdn}]'`);
    peer.state.instances[3].status = "SHELVED_OFFLOADED";
    nodeHttp[2].seedMeeting("burst", 150);
    const short = await ops(["scale", stackFile, "--at", at(175), "--json", ...connection()]);
    const report = JSON.parse(short.stdout) as { nodes: Array<{ node: string; state: string }>; decision: { short: boolean } };
    expect(short.code).toBe(1);
    expect(report.nodes.find((n) => n.node === NODES[3].fqdn)).toMatchObject({ state: "held" });
    expect(report.decision.short).toBe(true);
    expect(peer.state.calls.filter((c) => c.endsWith("/unshelve"))).toHaveLength(1); // test 2's only
    nodeHttp[2].meetings.delete("burst");
    peer.state.instances[3].status = "ACTIVE";
    await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${NODES[3].fqdn}]'`);
  }, 300_000);

  it("says which node runs another flavor than the stack names (a flavor change waits for ops upgrade), and when it could not compare", async () => {
    peer.state.flavors = [
      { id: "f-c2-60-gra", name: "c2-60", region: "GRA11" },
      { id: "f-c2-30-gra", name: "c2-30", region: "GRA11" },
    ];
    peer.state.instances[1].flavorId = "f-c2-30-gra";
    peer.state.instances[3].flavorId = "f-c2-60-gra";
    const run = await ops(["scale", stackFile, "--at", at(178), "--dry-run", ...connection()]);
    expect(run.stdout).toContain(`  ${NODES[1].fqdn}: enabled`);
    expect(run.stdout).toMatch(
      new RegExp(`${NODES[1].fqdn.replace(/\./g, "\\.")}: .*runs c2-30, the stack names c2-60: roll it with ops upgrade and BBB_OVH_RESIZE`),
    );
    expect(run.stdout).not.toMatch(new RegExp(`${NODES[3].fqdn.replace(/\./g, "\\.")}: .*runs c2-`));
    // A key without the flavor right: the run goes on and says the check was not made.
    peer.state.flavorForbidden = true;
    const restricted = await ops(["scale", stackFile, "--at", at(178), "--dry-run", ...connection()]);
    peer.state.flavorForbidden = false;
    expect(restricted.stdout).toMatch(/\n {2}flavors not compared with the stack's: /);
    delete peer.state.instances[1].flavorId;
    delete peer.state.instances[3].flavorId;
  }, 120_000);

  it("a node left under the upgrade's check tag (a cut upgrade) takes no lesson: not counted, and the run asks for attention", async () => {
    await onFront(`docker exec scalelite-api bin/rake 'servers:tag[${NODES[3].fqdn},bbb-ovh-upgrade-check]'`);
    const run = await ops(["scale", stackFile, "--at", at(180), "--dry-run", ...connection()]);
    await onFront(`docker exec scalelite-api bin/rake 'servers:tag[${NODES[3].fqdn}]'`);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(`${NODES[3].fqdn.replace(/\./g, "\\.")}: held, .*tagged bbb-ovh-upgrade-check: an ops upgrade was cut during its check`),
    );
  }, 120_000);

  it("while another ops run holds the pool lock, a run changes nothing and says who holds it; --dry-run still answers", async () => {
    await onFront(`mkdir -p ~/.bbb-ovh/pool.lock && echo "0123456789abcdef $(date +%s) ops upgrade, admin-laptop pid 42" > ~/.bbb-ovh/pool.lock/owner`);
    const calls = peer.state.calls.length;
    const refused = await ops(["scale", stackFile, "--at", at(185), ...connection()]);
    const dry = await ops(["scale", stackFile, "--at", at(185), "--dry-run", ...connection()]);
    await onFront("rm -rf ~/.bbb-ovh/pool.lock");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/another ops run changes the pool \(ops upgrade, admin-laptop pid 42, since .*\): nothing was changed/);
    expect(peer.state.calls.slice(calls).filter((c) => c.startsWith("POST"))).toEqual([]);
    expect(dry.stdout).toContain("(dry run: nothing changed)");
  }, 120_000);

  it("a sleeping list or scale state that cannot be read stops the run before any change (read as empty, its nodes would be no one's to wake)", async () => {
    for (const file of ["schedule-sleeping", "scale-state"]) {
      // A directory in the file's place: `cat` fails, as it would on a file it cannot read.
      await onFront(`mkdir -p ~/.bbb-ovh && cd ~/.bbb-ovh && { [ ! -e ${file} ] || mv ${file} ${file}.kept; } && mkdir ${file}`);
      const calls = peer.state.calls.length;
      const run = await ops(["scale", stackFile, "--at", at(185), ...connection()]);
      await onFront(`cd ~/.bbb-ovh && rmdir ${file} && { [ ! -e ${file}.kept ] || mv ${file}.kept ${file}; }`);
      expect(run.code, file).toBe(6); // a remote command failed (cli/ops/errors.ts)
      expect(run.stderr).toMatch(new RegExp(`cannot read ~/\\.bbb-ovh/${file}: .*Is a directory`));
      expect(peer.state.calls.slice(calls).filter((c) => c.startsWith("POST"))).toEqual([]);
    }
    expect(await onFront("ls -d ~/.bbb-ovh/pool.lock 2>/dev/null || echo released")).toMatch(/released/);
  }, 120_000);

  it("schedule apply refuses a stack that scales: two controllers would undo each other", async () => {
    const run = await ops(["schedule", "apply", stackFile, ...connection()]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/campus\.scaling: run `ops scale/);
  });
});

/** `ops upgrade` run in the background; `onStep` sees each progress line as it is printed. */
function upgrade(
  extra: string[],
  onStep: (node: string, step: string, detail: string) => void = () => {},
  stack = stackFile,
): Promise<{
  code: number;
  report: {
    order: string[];
    canary: string;
    upgraded: string[];
    skipped: string[];
    stopped?: string;
    steps: Array<{ node: string; step: string; detail: string }>;
  };
}> {
  return new Promise((resolve, reject) => {
    // Each create through the balancer fake boots Ruby to ask Scalelite's own find_available: at load 12 one
    // check outlasted ops' default 10-s HTTP budget (a CI run), so the drill gives HTTP 60 s. A check that
    // waits for Scalelite in vain fails within 2 minutes, inside each test's budget (the default is 5).
    const child = spawn(
      process.execPath,
      [OPS_CLI, "upgrade", stack, "--json", "--poll", "0.2", "--timeout", "60000", "--check-wait", "2", ...connection(), ...throughBalancer(), ...extra],
      {
        cwd: REPO,
        env,
      },
    );
    let stdout = "";
    let pending = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => {
      pending += c.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^\S+ (\S+): (\w+): (.*)$/.exec(line);
        if (m) onStep(m[1], m[2], m[3]);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, report: JSON.parse(stdout) }));
  });
}
const members = NODES.map((n) => ({ id: n.fqdn, site: n.region === "SBG5" ? "strasbourg" : "gravelines", spec: { cores: 8, ramGb: 60 } }));
const connected = () => nodeHttp.reduce((u, n) => u + [...n.meetings.values()].reduce((s, m) => s + m.participants, 0), 0);
const seededEnds = () => nodeHttp.flatMap((n) => n.calls).filter((c) => c.call === "end" && !/meetingID=bbb-ovh-smoke-/.test(c.query));

/**
 * The front's API for the upgrade's health check: the balancer fake of test/support/bbbApiServer.ts, whose
 * every create is placed by Scalelite's own Server.find_available (the harness), tags included.
 */
let balancer: BbbApiServer | undefined;
const LB_SECRET = "upgrade-drill-loadbalancer-secret";
const throughBalancer = () => ["--url", balancer!.apiUrl, "--secret-file", secretFile(LB_SECRET)];

describe.skipIf(!trees)("ops upgrade drill", () => {
  beforeAll(async () => {
    balancer = await startBbbApiServer({
      mode: "scalelite",
      secret: LB_SECRET,
      servers: NODES.map((n, i) => ({ id: n.fqdn, apiUrl: nodeHttp[i].apiUrl, secret: n.secret, state: "enabled" as const })),
      place: (tag) => scalelite.findAvailable(tag),
    });
  });
  afterAll(() => balancer?.close());

  // Each case starts from the pool Scalelite's poller container keeps (every POLL_INTERVAL, lib/tasks/poll.rake):
  // every node enabled and online. Here nothing polls between runs, so a case whose checks failed on a node
  // (a secret it changed, polls that gave up on a loaded machine) would leave it offline, and the next drill
  // would leave that node alone (a CI run failed so).
  beforeEach(async () => {
    NODES.forEach((n, i) => (nodeHttp[i].secret = n.secret));
    const servers = await scalelite.servers();
    for (const n of NODES.filter((x) => servers[x.fqdn]?.state !== "enabled")) await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${n.fqdn}]'`);
    if (NODES.some((n) => !servers[n.fqdn]?.online)) await scalelite.pollUntilOnline(NODES.map((n) => n.fqdn));
  }, 120_000);

  it("refuses to drain a node when the others would not carry the users connected under the policy: nothing is touched", async () => {
    for (const n of nodeHttp) n.meetings.clear();
    nodeHttp[0].seedMeeting("amphi", 150);
    nodeHttp[1].seedMeeting("lab", 60);
    const run = await upgrade(["--apply", "true"]);
    expect(run.code).not.toBe(0);
    expect(run.report.steps[0]).toMatchObject({
      step: "refused",
      detail: expect.stringMatching(/carry 200 user\(s\) under failover 'datacenter', 210 connected: it stays in the pool/),
    });
    const row = await statusRows();
    for (const n of NODES) expect(row(n.fqdn), n.fqdn).toMatch(/enabled/);
  }, 300_000);

  it("every node, the canary first, lessons running: each drained node waits for its lessons to end, none is ended, capacity never below the policy", async ({
    signal,
  }) => {
    for (const n of nodeHttp) n.meetings.clear();
    NODES.forEach((_, i) => nodeHttp[i].seedMeeting(`lesson-${i}`, [40, 30, 20, 10][i]));
    const log = path.join(env.HOME, "applied.log");
    const drained = new Set<string>();
    const checks: boolean[] = [];
    const run = await upgrade(["--apply", `echo "$BBB_OVH_NODE" >> ${log}; echo "installer re-run on $BBB_OVH_NODE_NAME"`], (node, step) => {
      if (step === "drained") {
        drained.add(node);
        // The others still taking meetings carry everyone connected with a site down.
        checks.push(
          meets(
            members.filter((m) => !drained.has(m.id)),
            connected(),
            { awake: false, policy: "datacenter", marginUsers: 0, marginUnderFailure: true },
          ).ok,
        );
        // The lesson on the drained node ends on its own once the upgrade has looked at the node and seen it running.
        const peer = nodeHttp[NODES.findIndex((n) => n.fqdn === node)];
        const looked = peer.calls.length;
        void waitUntil(() => peer.calls.slice(looked).some((c) => c.call === "getMeetings"), signal).then(
          () => peer.meetings.clear(),
          () => undefined, // the test ended first: its own assertions say why
        );
      }
      if (step === "undrained") drained.delete(node);
    });
    expect(run.code).toBe(0);
    expect(run.report.canary).toBe(NODES[3].fqdn); // the emptiest
    expect(run.report.order).toEqual([NODES[3].fqdn, NODES[2].fqdn, NODES[1].fqdn, NODES[0].fqdn]); // sites take turns
    expect(run.report.upgraded).toEqual(run.report.order);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(run.report.order);
    expect(checks).toEqual([true, true, true, true]);
    for (const fqdn of run.report.order) {
      const steps = run.report.steps.filter((s) => s.node === fqdn);
      expect(steps.map((s) => s.step)).toEqual(["drained", "empty", "applied", "healthy", "undrained"]);
      // Scalelite placed each check on the node just upgraded (the balancer's join redirects there).
      const i = NODES.findIndex((n) => n.fqdn === fqdn);
      expect(steps.find((s) => s.step === "healthy")?.detail).toContain(`through the balancer, placed on ${new URL(nodeHttp[i].apiUrl).host}`);
      expect(nodeHttp[i].calls.some((c) => c.call === "create" && /meetingID=bbb-ovh-smoke-/.test(c.query))).toBe(true);
    }
    // Each node got its own tag (none) back: the check tag takes no lesson and is left nowhere.
    const row = await statusRows();
    for (const n of NODES) expect(row(n.fqdn), n.fqdn).not.toContain("bbb-ovh-upgrade-check");
    expect(await scalelite.findAvailable("bbb-ovh-upgrade-check!")).toMatchObject({ error: expect.stringMatching(/bbb-ovh-upgrade-check/) });
    expect(seededEnds()).toEqual([]);
    for (const n of NODES) expect(row(n.fqdn), n.fqdn).toMatch(/enabled/);
  }, 600_000);

  it("a node still busy at the deadline stays drained with its lesson; a failed apply stops on the canary and leaves the others as they were", async () => {
    for (const n of nodeHttp) n.meetings.clear();
    nodeHttp[3].seedMeeting("long-exam", 5);
    const busy = await upgrade(["--apply", "true", "--drain-timeout", "0.05"]);
    expect(busy.code).not.toBe(0);
    expect(busy.report.steps.at(-1)).toMatchObject({
      node: NODES[3].fqdn,
      step: "timeout",
      detail: expect.stringMatching(/1 meeting\(s\) running after \d+ min: left drained, never ended/),
    });
    expect(nodeHttp[3].meetings.has("long-exam")).toBe(true);
    expect(await rowOf(NODES[3].fqdn)).toMatch(/cordoned/);
    expect(seededEnds()).toEqual([]);
    await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${NODES[3].fqdn}]'`);
    nodeHttp[3].meetings.clear();

    const failed = await upgrade(["--apply", "echo 'bbb-install.sh failed' >&2; exit 3"]);
    expect(failed.code).not.toBe(0);
    expect(failed.report.steps.at(-1)).toMatchObject({
      node: failed.report.canary,
      step: "failed",
      detail: expect.stringMatching(/exited 3: bbb-install.sh failed/),
    });
    expect(failed.report.stopped).toMatch(/stays drained; the other nodes were not touched/);
    const afterFailed = await statusRows();
    for (const n of NODES.filter((x) => x.fqdn !== failed.report.canary)) expect(afterFailed(n.fqdn), n.fqdn).toMatch(/enabled/);
    expect(afterFailed(failed.report.canary)).toMatch(/cordoned/);
    await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${failed.report.canary}]'`);

    // The apply "succeeds" but leaves the node with another secret than Scalelite's: the check through the
    // balancer fails on it, the node stays drained under its own tag, and nothing else is touched.
    // The node is never placed once Scalelite's poll meets the wrong secret: the check then waits out --check-wait
    // before it fails (2 minutes: a CI run spent 150 s here), so this case gives it 15 s, which a failure needs.
    const broken = await upgrade(["--apply", "true", "--check-wait", "0.25"], (node, step) => {
      if (step === "applied") nodeHttp[NODES.findIndex((n) => n.fqdn === node)].secret = "not-the-secret-scalelite-has";
    });
    const canary = NODES.findIndex((n) => n.fqdn === broken.report.canary);
    nodeHttp[canary].secret = NODES[canary].secret;
    expect(broken.code).not.toBe(0);
    expect(broken.report.steps.at(-1)).toMatchObject({
      node: broken.report.canary,
      step: "failed",
      // The check fails where the wrong secret is first met: Scalelite's poll of the node, or the signed calls.
      detail: expect.stringMatching(/^(signed create\/join\/end through the balancer|waiting for Scalelite to place meetings on it) failed: /),
    });
    const afterBroken = await statusRows();
    expect(afterBroken(broken.report.canary)).toMatch(/cordoned/);
    expect(afterBroken(broken.report.canary)).not.toContain("bbb-ovh-upgrade-check");
    for (const n of NODES.filter((x) => x.fqdn !== broken.report.canary)) expect(afterBroken(n.fqdn), n.fqdn).toMatch(/enabled/);
  }, 600_000);

  it("with recordings on, an empty node is replaced only once a report it made after its last lesson counts no recording still being processed", async ({
    signal,
  }) => {
    for (const n of nodeHttp) n.meetings.clear();
    const backlog = path.join(front.root, BACKLOG_DIR);
    mkdirSync(backlog, { recursive: true });
    const log = path.join(env.HOME, "replaced.log");
    rmSync(log, { force: true });
    let sent = false;
    // The apply fails, which ends the drill on the canary: what matters is when it is run.
    const run = await upgrade(
      ["--apply", `echo "$BBB_OVH_NODE" >> ${log}; exit 3`],
      (node, step) => {
        if (step !== "drained") return;
        const i = NODES.findIndex((n) => n.fqdn === node);
        // What the node's retry timer reports (scripts/bbb-node-recording-retry.sh, kept by the front's mover),
        // on the node's clock: its last lesson's recording is still being processed (getRecordings is empty).
        const report = (unsent: number) =>
          writeFileSync(
            path.join(backlog, NODES[i].name),
            `waiting=0 oldest=0 overdue=0 kept=0 kept_bytes=0 resend=0 unsent=${unsent} reported=${Math.floor(Date.now() / 1000) + 600}\n`,
          );
        report(1);
        // Two more looks at the node: the upgrade has read that report at least once in between.
        const looked = nodeHttp[i].calls.filter((c) => c.call === "getRecordings").length;
        void waitUntil(() => nodeHttp[i].calls.filter((c) => c.call === "getRecordings").length >= looked + 2, signal).then(
          () => {
            expect(existsSync(log)).toBe(false);
            sent = true;
            report(0);
          },
          () => undefined, // the test ended first: its own assertions say why
        );
      },
      recordingStackFile,
    );
    rmSync(backlog, { recursive: true });
    expect(sent).toBe(true);
    expect(run.report.steps.filter((s) => s.node === run.report.canary).map((s) => s.step)).toEqual(["drained", "empty", "failed"]);
    expect(readFileSync(log, "utf8").trim()).toBe(run.report.canary);
  }, 300_000);

  it("a check cut midway (a rake that fails) leaves the node drained under its own tag, not enabled under the check tag", async () => {
    const fail = path.join(front.root, "fake-state/knobs/FAKE_DOCKER_FAIL");
    /** An upgrade whose apply arms the fake docker: from then on, each call starting with `prefix` aborts. */
    const cutBy = async (prefix: string) => {
      const run = await upgrade(["--apply", `mkdir -p ${path.dirname(fail)} && printf '${prefix}' > ${fail}`]);
      rmSync(fail, { force: true });
      expect(run.code).not.toBe(0);
      expect(run.report.steps.at(-1)).toMatchObject({ node: run.report.canary, step: "failed" });
      return { report: run.report, detail: run.report.steps.at(-1)?.detail };
    };
    // The check's poll:all aborts.
    const cut = await cutBy("exec scalelite-api bin/rake poll:all");
    expect(cut.detail).toMatch(/bin\/rake poll:all: rake aborted/);
    const row = await statusRows();
    expect(row(cut.report.canary)).toMatch(/cordoned/);
    expect(row(cut.report.canary)).not.toContain("bbb-ovh-upgrade-check");
    await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${cut.report.canary}]'`);

    // Every rake fails: the check cannot start, nor can the node be put back. The report says so, and what to
    // run, instead of the run ending on the error.
    const dead = await cutBy("exec scalelite-api bin/rake");
    expect(dead.detail).toMatch(
      /^enabling it in Scalelite under the check tag failed: .*rake aborted.*; putting it back failed \(.*rake aborted.*\): it may still be enabled under bbb-ovh-upgrade-check, where it takes no lesson: run `ops drain` on it/s,
    );
    expect(dead.report.stopped).toMatch(/see its last step/);
  }, 300_000);

  it("a node Scalelite's poller disabled while it waited empty, whose API answers late after the apply and which a stale poll disables again, is polled and enabled until Scalelite places meetings on it", async ({
    signal,
  }) => {
    for (const n of nodeHttp) n.meetings.clear();
    const flag = path.join(env.HOME, "node-replaced");
    rmSync(flag, { force: true });
    const [canary, next] = NODES.map((n) => n.fqdn);
    const node = nodeHttp[0];
    const secret = node.secret;
    let looked = 0;
    let answered = false;
    // Once the canary is empty, Scalelite's poller (the poller container, every POLL_INTERVAL) disables it, as
    // it does a cordoned server whose load is zero, dropping its load (lib/tasks/poll.rake). Its API then
    // refuses every call (the node being replaced) until Scalelite's first poll since the apply has failed.
    // The second node's apply fails, which ends the drill.
    const run = await upgrade(["--apply", `timeout 60 sh -c 'until [ -f ${flag} ]; do sleep 0.1; done' && [ "$BBB_OVH_NODE" = "${canary}" ]`], (fqdn, step) => {
      if (fqdn !== canary || step !== "empty") return;
      void scalelite
        .pollUntil(`Server.find(${JSON.stringify(canary)}).state == 'disabled'`, `Scalelite disables the empty, cordoned ${canary}`)
        .then(async () => {
          node.secret = "being-replaced";
          looked = node.calls.length;
          writeFileSync(flag, "");
          await waitUntil(() => node.calls.slice(looked).some((c) => c.call === "getMeetings" && !c.accepted), signal);
          // Meanwhile the poller container saves the node as it read it before the enable, cordoned and empty:
          // disabled (lib/tasks/poll.rake). The check enables it again.
          await onFront(`docker exec scalelite-api bin/rake 'servers:disable[${canary}]'`);
          node.secret = secret;
          answered = true;
        })
        .catch(() => undefined); // the test ended first: its own assertions say why
    });
    node.secret = secret;
    const steps = run.report.steps.map((s) => `${s.node}: ${s.step}: ${s.detail}`).join("\n");
    expect(answered, steps).toBe(true);
    expect(run.report.upgraded, steps).toEqual([canary]);
    expect(run.report.steps.filter((s) => s.node === canary).map((s) => s.step)).toEqual(["drained", "empty", "applied", "healthy", "undrained"]);
    // Scalelite's poll was refused first, then one succeeded, then the check's create landed on the node.
    const after = node.calls.slice(looked);
    const refused = after.findIndex((c) => c.call === "getMeetings" && !c.accepted);
    const polled = after.findIndex((c, i) => i > refused && c.call === "getMeetings" && c.accepted);
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(polled).toBeGreaterThan(refused);
    expect(after.findIndex((c) => c.call === "create" && c.accepted)).toBeGreaterThan(polled);
    expect(run.report.steps.at(-1)).toMatchObject({ node: next, step: "failed" });
    expect(await rowOf(canary)).toMatch(/enabled/);
  }, 600_000);

  it("a node drained by someone while the upgrade runs is left drained: never taken, never enabled by it", async () => {
    for (const n of nodeHttp) n.meetings.clear();
    const flag = path.join(env.HOME, "drained-meanwhile");
    rmSync(flag, { force: true });
    // Every node empty: the order is by name, sites taking turns (bbb1, bbb2, bbb3, bbb4). While the canary is
    // applied, an operator runs `ops drain` on the second (servers:cordon); the apply ends once that is done.
    // The third's apply fails, which ends the drill there.
    const [canary, other, third] = NODES.map((n) => n.fqdn);
    // Bounded: were the canary another node (a pool left changed by a failed test), the drill fails in a minute, not at its timeout.
    const run = await upgrade(["--apply", `timeout 60 sh -c 'until [ -f ${flag} ]; do sleep 0.1; done' && [ "$BBB_OVH_NODE" != "${third}" ]`], (node, step) => {
      if (step === "empty" && node === canary)
        void onFront(`docker exec scalelite-api bin/rake 'servers:cordon[${other}]'`).then(() => writeFileSync(flag, ""));
    });
    // On failure, the steps say where the drill went another way.
    const steps = run.report.steps.map((s) => `${s.node}: ${s.step}: ${s.detail}`).join("\n");
    expect(run.report.order.slice(0, 3), steps).toEqual([canary, other, third]);
    expect(run.report.upgraded, steps).toEqual([canary]);
    expect(run.report.steps.filter((s) => s.node === other).map((s) => s.step)).toEqual(["left"]);
    expect(run.report.steps.find((s) => s.node === other)?.detail).toMatch(/^(cordoned|disabled), online in Scalelite since the upgrade began: left as it is/);
    expect(run.report.steps.at(-1)).toMatchObject({ node: third, step: "failed" });
    expect(await rowOf(other)).toMatch(/cordoned|disabled/);
  }, 600_000);
});
