/**
 * `ops schedule apply` as a process: the OVH API peer (instances, shelve/unshelve, DNS records), the
 * front as a loopback sshd whose `docker exec scalelite-api bin/rake` is Scalelite's (test/fakes), and
 * each node's own BBB API (test/support/bbbApiServer.ts) for meetings and recordings.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BbbApiServer } from "../support/bbbApiServer";
import { scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import type { OvhApiPeer } from "../support/ovhApiPeer";
import { execOn, type TestHost } from "../support/sshd";
import { BACKLOG_DIR } from "../../cli/ops/recordingHealth";
import { PROJECT, poolEnv, startNodePool, startPoolPeer, MONDAY_EARLY, SUNDAY_NIGHT, TEACHING_WEEK, TRAINING_NODES, writeTrainingStack } from "./nodePool";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
const NODES = TRAINING_NODES;

/** Scalelite's own rake tasks and poller behind the front's `docker exec scalelite-api bin/rake`. */
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

function schedule(at: string, stack = stackFile): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    OPS_CLI,
    "schedule",
    "apply",
    stack,
    "--at",
    at,
    "--json",
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
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: REPO, env, timeout: 90_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const steps = (stdout: string) =>
  Object.fromEntries((JSON.parse(stdout).nodes as Array<{ node: string; step: string; detail: string }>).map((d) => [d.node, d]));
const scaleliteState = async () => (await onFront("docker exec scalelite-api bin/rake status")).split("\n");

beforeAll(async () => {
  if (!trees) return;
  peer = await startPoolPeer(NODES, true);
  ({ front, nodeHttp, scalelite } = await startNodePool(trees, NODES));
  ({ file: stackFile, recordings: recordingStackFile } = writeTrainingStack(
    "sched",
    (campus) => (campus.timetable = { ...TEACHING_WEEK, wakeBeforeMinutes: 45, sleepAfterMinutes: 60 }),
    true,
  ) as { file: string; recordings: string });
  env = poolEnv(front, NODES, nodeHttp, peer);
});

afterAll(async () => {
  await Promise.all([peer?.close(), front?.stop(), scalelite?.stop(), ...(nodeHttp ?? []).map((n) => n.close())]);
});

describe.skipIf(!trees)("ops schedule apply", () => {
  it("at night: cordons a node, keeps it up while a meeting runs or a recording is left, never shelves the last enabled node, then shelves", async () => {
    nodeHttp[0].seedMeeting("late-lesson", 4);
    const first = await schedule(SUNDAY_NIGHT);
    expect(first.stderr).toBe("");
    let s = steps(first.stdout);
    expect(s[NODES[0].fqdn]).toMatchObject({ step: "cordoned", detail: expect.stringMatching(/1 meeting\(s\) still running: not shelved/) });
    expect(s[NODES[1].fqdn]).toMatchObject({ step: "skipped", detail: expect.stringMatching(/the last enabled node/) });
    expect(peer.state.instances[0].status).toBe("ACTIVE");
    expect((await scaleliteState()).find((l) => l.includes(NODES[0].fqdn))).toMatch(/cordoned/);
    // The run holds the OVH key: it leaves the credit estimate on the front for its monitoring, on the real clock
    // (not --at). The peer's project spends nothing and has no credit that expires: it never runs out.
    expect(JSON.parse(first.stdout).creditEstimate).toMatch(/^written to the front: nothing is being spent/);
    const [runsOut, estimatedAt] = (await onFront("cat ~/.bbb-ovh/credit-estimate")).trim().split("\n");
    expect(runsOut).toBe("runs_out +Inf");
    expect(Number(estimatedAt.replace(/^estimated_at /, ""))).toBeGreaterThan(Date.now() / 1000 - 300);

    // The lesson ended; a recording is still being processed. This run's key lacks the credit rights (a key
    // restricted to the schedule's calls, docs/vouchers.md): the schedule still runs, says why no estimate was
    // written, and leaves the last one to age (CreditEstimateStale).
    nodeHttp[0].meetings.clear();
    nodeHttp[0].recordings.push("rec-1");
    peer.state.creditForbidden = true;
    const second = await schedule(SUNDAY_NIGHT);
    peer.state.creditForbidden = false;
    s = steps(second.stdout);
    expect(s[NODES[0].fqdn]).toMatchObject({ step: "cordoned", detail: expect.stringMatching(/1 recording\(s\) still on the node/) });
    expect(peer.state.instances[0].status).toBe("ACTIVE");
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).creditEstimate).toMatch(/^not refreshed: .*403/);
    expect((await onFront("cat ~/.bbb-ovh/credit-estimate")).trim().split("\n")[1]).toBe(estimatedAt);

    // Transferred (and deleted from the node, delete_recording: true): shelve.
    nodeHttp[0].recordings.length = 0;
    s = steps((await schedule(SUNDAY_NIGHT)).stdout);
    expect(s[NODES[0].fqdn].step).toBe("shelving");
    expect(peer.state.instances[0].status).toBe("SHELVED_OFFLOADED");
    expect(peer.state.calls).toContain(`POST /cloud/project/${PROJECT}/instance/inst-0/shelve`);
    // Idempotent: the next run only reports.
    s = steps((await schedule(SUNDAY_NIGHT)).stdout);
    expect(s[NODES[0].fqdn].step).toBe("asleep");
    expect(peer.state.calls.filter((c) => c.endsWith("/shelve"))).toHaveLength(1);
  }, 240_000);

  it("before the first lesson: unshelves, then enables once BBB answers; a node an operator drained stays drained", async () => {
    expect((await onFront("cat ~/.bbb-ovh/schedule-sleeping")).trim()).toBe(NODES[0].fqdn);
    const before = Math.floor(Date.now() / 1000);
    const first = await schedule(MONDAY_EARLY);
    expect(steps(first.stdout)[NODES[0].fqdn].step).toBe("unshelving");
    expect(peer.state.instances[0].status).toBe("ACTIVE");
    // Woken, not yet enabled: the front's exporter reads the pending wake (bbb_ovh_node_expected_awake 1).
    const [id, wake] = (await onFront("cat ~/.bbb-ovh/schedule-sleeping")).trim().split(" ");
    expect(id).toBe(NODES[0].fqdn);
    expect(Number(wake.replace(/^wake=/, ""))).toBeGreaterThanOrEqual(before);
    expect(Number(wake.replace(/^wake=/, ""))).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const second = await schedule(MONDAY_EARLY);
    expect(steps(second.stdout)[NODES[0].fqdn]).toMatchObject({ step: "enabled" });
    expect(second.code).toBe(0);
    expect((await scaleliteState()).find((l) => l.includes(NODES[0].fqdn))).toMatch(/enabled/);
    expect(await onFront("cat ~/.bbb-ovh/schedule-sleeping")).toBe("");
    // The second node was never put to sleep by the schedule: nothing to do for it.
    expect(steps(second.stdout)[NODES[1].fqdn].step).toBe("awake");
    // An operator drains it for maintenance: the schedule does not enable it behind their back.
    await onFront(`docker exec scalelite-api bin/rake 'servers:cordon[${NODES[1].fqdn}]'`);
    expect(steps((await schedule(MONDAY_EARLY)).stdout)[NODES[1].fqdn]).toMatchObject({ step: "awake", detail: expect.stringMatching(/cordoned/) });
    expect((await scaleliteState()).find((l) => l.includes(NODES[1].fqdn))).toMatch(/cordoned/);
    await onFront(`docker exec scalelite-api bin/rake 'servers:enable[${NODES[1].fqdn}]'`);
  }, 240_000);

  it("with recordings on: a node is shelved only once a report it made after its last lesson counts no recording still being processed", async () => {
    // Both nodes enabled, no meeting, getRecordings empty: what getRecordings shows says the first could sleep.
    const backlog = path.join(front.root, BACKLOG_DIR);
    mkdirSync(backlog, { recursive: true });
    // What the node's retry timer reports (scripts/bbb-node-recording-retry.sh, kept by the front's mover).
    const report = (reported: number, unsent: number) =>
      writeFileSync(path.join(backlog, NODES[0].name), `waiting=0 oldest=0 overdue=0 kept=0 kept_bytes=0 resend=0 unsent=${unsent} reported=${reported}\n`);
    report(Math.floor(Date.now() / 1000) - 30, 0); // made while its last lesson may still have been running
    let s = steps((await schedule(SUNDAY_NIGHT, recordingStackFile)).stdout);
    expect(s[NODES[0].fqdn]).toMatchObject({
      step: "cordoned",
      detail: expect.stringMatching(/waiting for its first recording report made after its last meeting/),
    });
    const [id, since] = (await onFront("cat ~/.bbb-ovh/emptied")).trim().split(" ");
    expect(id).toBe(NODES[0].fqdn);
    const emptied = Number(since);
    expect(Math.abs(emptied - Date.now() / 1000)).toBeLessThan(300); // the front's clock
    // The next report: a recording of its last lesson is still being processed (getRecordings does not list it yet).
    report(emptied + 120, 1);
    s = steps((await schedule(SUNDAY_NIGHT, recordingStackFile)).stdout);
    expect(s[NODES[0].fqdn]).toMatchObject({ step: "cordoned", detail: expect.stringMatching(/1 recording\(s\) on the node not yet at the front/) });
    expect(peer.state.instances[0].status).toBe("ACTIVE");
    // Processed and sent: shelved, and its empty time forgotten.
    report(emptied + 720, 0);
    s = steps((await schedule(SUNDAY_NIGHT, recordingStackFile)).stdout);
    expect(s[NODES[0].fqdn].step).toBe("shelving");
    expect(peer.state.instances[0].status).toBe("SHELVED_OFFLOADED");
    expect((await onFront("cat ~/.bbb-ovh/emptied")).trim()).toBe("");
    rmSync(backlog, { recursive: true });

    // A failover while it slept could not point it at the new front (cli/ops/pendingResend.ts): the wake does,
    // before it enables the node; this stack's nodes have no SSH host key in its outputs, so the wake says why
    // not, and the node stays listed for the next one.
    const pending = { to: { name: "lb-standby", ipv4: "127.0.0.1", sshPort: 22, hostKey: "ssh-ed25519 AAAA" }, since: 1, nodes: [NODES[0].name] };
    await onFront(`mkdir -p ~/.bbb-ovh && cat > ~/.bbb-ovh/resend-pending`, JSON.stringify(pending));
    expect(steps((await schedule(MONDAY_EARLY, recordingStackFile)).stdout)[NODES[0].fqdn].step).toBe("unshelving");
    expect(steps((await schedule(MONDAY_EARLY, recordingStackFile)).stdout)[NODES[0].fqdn]).toMatchObject({
      step: "enabled",
      detail: expect.stringMatching(
        /; still to point at lb-standby after the failover it missed: no SSH host key .*\(the next wake, or ops repoint, tries again\)$/,
      ),
    });
    expect(JSON.parse(await onFront("cat ~/.bbb-ovh/resend-pending"))).toEqual(pending);
    await onFront("rm ~/.bbb-ovh/resend-pending");
  }, 240_000);

  it("never shelves a monthly-billed instance", async () => {
    peer.state.instances[1].monthlyBilling = { since: "2026-11-01T00:00:00Z", status: "ok" };
    const s = steps((await schedule(SUNDAY_NIGHT)).stdout);
    expect(s[NODES[1].fqdn]).toMatchObject({ step: "skipped", detail: expect.stringMatching(/monthly-billed/) });
    peer.state.instances[1].monthlyBilling = null;
    // Put node 0 back to sleep for the next test.
    for (let i = 0; i < 2 && peer.state.instances[0].status === "ACTIVE"; i++) await schedule(SUNDAY_NIGHT);
    expect(peer.state.instances[0].status).toBe("SHELVED_OFFLOADED");
  }, 240_000);

  it("when the public IP changed across unshelve: repoints DNS, keeps the node cordoned, says what to run, exit 1", async () => {
    peer.state.instances[0].ipAfterUnshelve = "198.51.100.99";
    await schedule(MONDAY_EARLY); // unshelve
    const run = await schedule(MONDAY_EARLY);
    expect(run.code).toBe(1);
    expect(steps(run.stdout)[NODES[0].fqdn]).toMatchObject({
      step: "ip-changed",
      detail: expect.stringMatching(/from 198\.51\.100\.11 to 198\.51\.100\.99.*pulumi up --refresh --stack/),
    });
    expect(peer.state.records.find((r) => r.id === 500)?.target).toBe("198.51.100.99");
    expect(peer.state.calls).toContain("POST /domain/zone/isen-ouest.fr/refresh");
    expect((await scaleliteState()).find((l) => l.includes(NODES[0].fqdn))).toMatch(/cordoned/);
  }, 240_000);
});
