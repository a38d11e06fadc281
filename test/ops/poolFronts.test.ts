/**
 * `ops schedule apply` and `ops scale` (and a drain, and status) on a stack with a standby front, as a process: the run acts on the front that serves
 * (the standby once `ops failover` wrote `primary` in its front-role), and the other front keeps a copy of
 * the sleeping list (and of the scaler's state), so that after a failover the runs on the standby wake the nodes the front put to sleep.
 * Both fronts are loopback sshds whose `docker exec scalelite-api bin/rake` is Scalelite's own (test/fakes),
 * each with its own Redis, as after a failover (which rebuilds the standby's from the stack's servers).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BbbApiServer } from "../support/bbbApiServer";
import { scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import type { OvhApiPeer } from "../support/ovhApiPeer";
import { execOn, startTestHost, type TestHost } from "../support/sshd";
import { ops as opsInProcess, scratch } from "./cli";
import {
  attachPoolScalelite,
  poolEnv,
  startNodePool,
  startPoolPeer,
  MONDAY_EARLY,
  SUNDAY_NIGHT,
  TEACHING_WEEK,
  TRAINING_NODES,
  writeTrainingStack,
} from "./nodePool";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
const NODES = TRAINING_NODES;
// execOn gives what a command printed without its last newline (node-ssh trims it).
const SLEEPING = "~/.bbb-ovh/schedule-sleeping";
const BEHIND = "~/.bbb-ovh/schedule-sleeping.copy-behind";
const SCALE_STATE = "~/.bbb-ovh/scale-state";

const trees = scaleliteTrees();
let scalelite: Scalelite;
let standbyScalelite: Scalelite;
let peer: OvhApiPeer;
let front: TestHost;
let standby: TestHost;
let nodeHttp: BbbApiServer[];
let stackFile: string;
let env: Record<string, string>;

/** The words of an ops command against both fronts, as the timer or an operator gives them. */
const argsOf = (words: string[], standbyHostKey = standby.hostPublicKey) => [
  ...[...words, "--json", "--host", front.host, "--ssh-port", String(front.port), "--ssh-user", "root", "--ssh-key", path.join(env.HOME, "key")],
  ...["--command-timeout", "20000", "--standby-host", standby.host, "--standby-ssh-port", String(standby.port), "--standby-ssh-user", "root"],
  ...["--standby-host-key", standbyHostKey],
];

/** An ops command against both fronts, as its own process. */
function ops(words: string[], standbyHostKey?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = argsOf(words, standbyHostKey);
  return new Promise((resolve) => {
    execFile(process.execPath, [OPS_CLI, ...args], { cwd: REPO, env, timeout: 90_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const schedule = (at: string, standbyHostKey?: string) => ops(["schedule", "apply", stackFile, "--at", at], standbyHostKey);
type Run = Awaited<ReturnType<typeof schedule>>;
function report(run: Run): { nodes: Array<{ node: string; step: string; detail: string }>; notes: string[] } {
  if (!run.stdout) throw new Error(`no report (exit ${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}
const stepOf = (run: Run, node: number) => report(run).nodes.find((d) => d.node === NODES[node].fqdn);
const stateIn = async (host: TestHost, node: number) =>
  (await execOn(host, "docker exec scalelite-api bin/rake status")).split("\n").find((l) => l.includes(NODES[node].fqdn));
const setRole = (host: TestHost, role: string) => {
  mkdirSync(path.join(host.root, "var/lib/bbb-ovh"), { recursive: true });
  writeFileSync(path.join(host.root, "var/lib/bbb-ovh/front-role"), `${role}\n`);
};

beforeAll(async () => {
  if (!trees) return;
  peer = await startPoolPeer(NODES, true);
  ({ front, nodeHttp, scalelite } = await startNodePool(trees, NODES));
  // The standby front: ops logs in with the same key; Scalelite installed, with the stack's servers enabled (what
  // a failover's rebuild of its Redis from the stack leaves).
  standby = await startTestHost({ fqdn: "visio-standby.isen-ouest.fr", extraAuthorizedKeys: ["ops.pub"] });
  const keyFile = path.join(scratch(), "ops");
  writeFileSync(keyFile, front.privateKey, { mode: 0o600 });
  writeFileSync(path.join(standby.root, "ops.pub"), execFileSync("ssh-keygen", ["-y", "-f", keyFile]));
  standbyScalelite = await attachPoolScalelite(trees, standby, NODES, nodeHttp);

  stackFile = writeTrainingStack("pair", (campus) => {
    campus.timetable = { ...TEACHING_WEEK, wakeBeforeMinutes: 45, sleepAfterMinutes: 60 };
    campus.standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
  }).file;
  env = poolEnv(front, NODES, nodeHttp, peer);
});

afterAll(async () => {
  await Promise.all([peer?.close(), front?.stop(), standby?.stop(), scalelite?.stop(), standbyScalelite?.stop(), ...(nodeHttp ?? []).map((n) => n.close())]);
});

describe.skipIf(!trees)("the pool runs with a standby front", () => {
  it("acts on the front while it serves; the standby keeps a copy of the sleeping list, brought up to date when it missed a change", async () => {
    let run = await schedule(SUNDAY_NIGHT);
    for (let i = 0; i < 3 && stepOf(run, 0)?.step !== "shelving"; i++) run = await schedule(SUNDAY_NIGHT);
    expect(stepOf(run, 0), run.stdout).toMatchObject({ step: "shelving" });
    expect(run.code).toBe(0);
    expect(report(run).notes).toEqual([]);
    expect(peer.state.instances[0].status).toMatch(/^SHELVED/);
    expect(await stateIn(front, 0)).toMatch(/cordoned/);
    expect(await execOn(front, `cat ${SLEEPING}`)).toBe(NODES[0].fqdn);
    expect(await execOn(standby, `cat ${SLEEPING}`)).toBe(NODES[0].fqdn);

    // The timer on the standby front gives its own name: the front serves, so that run does nothing. A name that
    // is neither front's is refused before any connection.
    const idle = await ops(["schedule", "apply", stackFile, "--at", SUNDAY_NIGHT, "--if-serving", "lb-standby"]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(JSON.parse(idle.stdout)).toEqual({
      acted: false,
      serving: "lb-training",
      summary: "lb-training serves, not lb-standby (--if-serving): nothing done here; the runs on lb-training act",
    });
    const unknown = await ops(["scale", stackFile, "--if-serving", "lb-nowhere"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toMatch(/--if-serving: expected the name of one of the stack's fronts \(lb-training or lb-standby\), found 'lb-nowhere'/);

    // The standby misses a change: here its copy is gone, and it cannot be read (not the pinned host key). The
    // run goes on with the front, and says what the standby lacks.
    await execOn(standby, `rm ${SLEEPING}`);
    run = await schedule(SUNDAY_NIGHT, front.hostPublicKey);
    expect(run.code, run.stderr).toBe(0);
    expect(stepOf(run, 0)).toMatchObject({ step: "asleep" });
    expect(report(run).notes).toEqual([
      expect.stringMatching(/^the standby front lb-standby could not be read \(.*host key.*\): this run acts on lb-training, and the standby's copy/),
    ]);
    expect(await execOn(standby, `test -e ${SLEEPING} && echo kept || echo missing`)).toBe("missing");
    // ops status lists such a standby as one problem of the pair, and reads the front.
    const status = await ops(["status", stackFile], front.hostPublicKey);
    const problems = (JSON.parse(status.stdout) as { problems: Array<{ kind: string; message: string }> }).problems;
    expect(problems.filter((p) => p.message.includes("lb-standby"))).toEqual([
      {
        host: `${standby.host}:${standby.port}`,
        kind: "ssh-auth",
        message: expect.stringMatching(
          /^the standby front lb-standby could not be read \(.*host key.*\): this status reads lb-training; were lb-standby serving/,
        ),
      },
    ]);
    expect(status.code).not.toBe(0);
    expect(status.stderr).not.toMatch(/^note:/m);
    // The next run that reaches it writes the copy, though it changes nothing.
    run = await schedule(SUNDAY_NIGHT);
    expect(stepOf(run, 0)).toMatchObject({ step: "asleep" });
    expect(report(run).notes).toEqual([]);
    expect(await execOn(standby, `cat ${SLEEPING}`)).toBe(NODES[0].fqdn);

    // A copy that cannot be written (here ~/.bbb-ovh is a file) is named; the run goes on, the next one tries again.
    await execOn(standby, "mv ~/.bbb-ovh ~/.bbb-ovh.d && touch ~/.bbb-ovh");
    run = await schedule(SUNDAY_NIGHT);
    await execOn(standby, "rm ~/.bbb-ovh && mv ~/.bbb-ovh.d ~/.bbb-ovh");
    expect(run.code, run.stderr).toBe(0);
    expect(stepOf(run, 0)).toMatchObject({ step: "asleep" });
    expect(report(run).notes).toEqual([
      expect.stringMatching(/^the copy of the sleeping list on lb-standby is not up to date \(cannot write it: .*\): were that front to serve now/),
    ]);
    // The front marks its copy as behind: its list is the newer one. Its next run takes nothing from the stale copy,
    // not even a shelved node there that its own list lacks (one it woke, that an operator has shelved since, is
    // the operator's), writes the copy, and clears the mark.
    expect(await execOn(front, `test -e ${BEHIND} && echo marked`)).toBe("marked");
    await execOn(standby, `printf '%s\n' ${NODES[0].fqdn} ${NODES[1].fqdn} > ${SLEEPING}`);
    peer.state.instances[1].status = "SHELVED_OFFLOADED";
    run = await schedule(SUNDAY_NIGHT);
    peer.state.instances[1].status = "ACTIVE";
    expect(report(run).notes).toEqual([]);
    expect(await execOn(front, `cat ${SLEEPING}`)).toBe(NODES[0].fqdn);
    expect(await execOn(standby, `cat ${SLEEPING}`)).toBe(NODES[0].fqdn);
    expect(await execOn(front, `test -e ${BEHIND} || echo cleared`)).toBe("cleared");
  }, 240_000);

  it("after a failover, the runs act on the standby front, which wakes the node the front put to sleep", async () => {
    // What ops failover leaves: the standby says primary, the front (fenced) keeps its Scalelite stopped. Here the
    // standby also lacks the front's last change (its copy was not written before the front went down): the
    // node the front shelved is on the front's copy only.
    setRole(standby, "primary");
    setRole(front, "fenced");
    await execOn(standby, `rm ${SLEEPING}`);
    // The timer on the fenced front (its machine back, or never down) stands aside: the standby serves.
    const aside = await ops(["schedule", "apply", stackFile, "--at", MONDAY_EARLY, "--if-serving", "lb-training"]);
    expect(aside.code, aside.stderr).toBe(0);
    expect(JSON.parse(aside.stdout)).toMatchObject({ acted: false, serving: "lb-standby" });
    expect(await execOn(standby, `test -e ${SLEEPING} && echo written || echo none`)).toBe("none");
    expect(peer.state.instances[0].status).toMatch(/^SHELVED/);
    // The standby's timer gives its own name, and acts.
    const first = await ops(["schedule", "apply", stackFile, "--at", MONDAY_EARLY, "--if-serving", "lb-standby"]);
    expect(report(first).notes).toEqual([
      expect.stringMatching(/^the standby front lb-standby serves \(ops failover; until ops failback\): this run acts on it$/),
      `${NODES[0].fqdn}: shelved, and on the copy of the sleeping list on lb-training but not on this front's: taken onto it (put to sleep by ops when lb-training served)`,
    ]);
    expect(stepOf(first, 0), first.stdout).toMatchObject({ step: "unshelving" });
    expect(await execOn(standby, `cat ${SLEEPING}`)).toMatch(new RegExp(`^${NODES[0].fqdn.replace(/\./g, "\\.")} wake=\\d+$`));
    // The front keeps the copy now, for the day it serves again (ops failback).
    expect(await execOn(front, `cat ${SLEEPING}`)).toBe(await execOn(standby, `cat ${SLEEPING}`));

    // Its address changed while shelved: the run says to refresh the stack, but not while the standby serves (a
    // refresh would point the service's name back at the fenced front).
    const ip = peer.state.instances[0].ip;
    peer.state.instances[0].ip = "198.51.100.99";
    const changed = await schedule(MONDAY_EARLY);
    peer.state.instances[0].ip = ip;
    expect(stepOf(changed, 0)).toMatchObject({
      step: "ip-changed",
      detail: expect.stringMatching(
        /pulumi up --refresh .* Not while the standby front lb-standby serves: the refresh would also point visio-training\.isen-ouest\.fr back at lb-training .*run ops failback first/,
      ),
    });

    const second = await schedule(MONDAY_EARLY);
    expect(stepOf(second, 0)).toMatchObject({ step: "enabled" });
    expect(second.code, second.stdout).toBe(0);
    expect(await stateIn(standby, 0)).toMatch(/enabled/);
    // The fenced front's Scalelite was not touched.
    expect(await stateIn(front, 0)).toMatch(/cordoned/);
    expect(await execOn(standby, `cat ${SLEEPING}`)).toBe("");
    expect(await execOn(front, `cat ${SLEEPING}`)).toBe("");

    // The standby cannot be read and the front is fenced: the run does nothing rather than drive a stopped Scalelite.
    const blind = await schedule(MONDAY_EARLY, front.hostPublicKey);
    expect(blind.code).toBe(2);
    expect(blind.stderr).toMatch(/this front does not serve \(front-role fenced\) and the standby front lb-standby could not be read .*: nothing done/);

    // A copy is never written onto a front that says it serves (a run that chose its front before a switch).
    setRole(front, "primary");
    await execOn(front, `echo ${NODES[1].fqdn} > ${SLEEPING}`);
    const guarded = await schedule(MONDAY_EARLY);
    setRole(front, "fenced");
    expect(report(guarded).notes[1]).toMatch(
      /^the copy of the sleeping list on lb-training is not up to date \(cannot write it: it serves now \(front-role primary\)/,
    );
    expect(await execOn(front, `cat ${SLEEPING}`)).toBe(NODES[1].fqdn);

    // ops repoint finds the serving front as the pool runs do: without --standby it reads the standby's list
    // (none here), not the fenced front, which would refuse.
    const repoint = await ops(["repoint", stackFile]);
    expect(repoint.code, repoint.stderr).toBe(0);
    expect(repoint.stderr).toMatch(/^note: the standby front lb-standby serves \(ops failover; until ops failback\): this run acts on it\n$/);
    expect(JSON.parse(repoint.stdout)).toMatchObject({ nodes: [], ok: true });

    // An operator's drain goes to the Scalelite that serves too.
    const drain = await ops(["drain", stackFile, NODES[1].name, "--yes"]);
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stderr).toMatch(/^note: the standby front lb-standby serves \(ops failover; until ops failback\): this run acts on it\n$/);
    expect(await stateIn(standby, 1)).toMatch(/cordoned/);
    expect(await stateIn(front, 1)).toMatch(/enabled/);

    // ops status reads the pair as it serves: the standby's Scalelite, where the drain landed. And it compares the
    // fronts' image locks: one tag locked to two builds means the failover changed the build the campus runs.
    const lock = (host: TestHost, digit: string) =>
      writeFileSync(path.join(host.root, "var/lib/bbb-ovh/image-lock"), `postgres:16@sha256:${"0".repeat(64)}\nredis:7@sha256:${digit.repeat(64)}\n`);
    lock(front, "a");
    lock(standby, "b");
    const status = await ops(["status", stackFile]);
    expect(status.stderr).toMatch(/^note: the standby front lb-standby serves \(ops failover; until ops failback\): read as the front\n/);
    const statusReport = JSON.parse(status.stdout) as { nodes: Array<{ fqdn: string; state?: string }>; problems: Array<{ message: string }> };
    const rows = statusReport.nodes;
    expect(rows.find((n) => n.fqdn === NODES[1].fqdn)?.state).toBe("cordoned");
    expect(rows.find((n) => n.fqdn === NODES[0].fqdn)?.state).toBe("enabled");
    expect(statusReport.problems.filter((p) => p.message.startsWith("the fronts lock")).map((p) => p.message)).toEqual([
      expect.stringMatching(
        new RegExp(`^the fronts lock different builds of redis:7: sha256:${"b".repeat(64)} on lb-standby, sha256:${"a".repeat(64)} on lb-training; `),
      ),
    ]);
    lock(standby, "a");
    const agreeing = JSON.parse((await ops(["status", stackFile])).stdout) as { problems: Array<{ message: string }> };
    expect(agreeing.problems.filter((p) => p.message.startsWith("the fronts lock"))).toEqual([]);
  }, 240_000);

  it("ops scale keeps a copy of its state on the other front: after a failover, the standby's runs go on with the paid hours the front's runs counted", async () => {
    // The pair as after ops failback: the front serves; both nodes enabled in both Scalelites, none asleep.
    setRole(front, "primary");
    setRole(standby, "standby");
    for (const host of [front, standby]) {
      for (const node of NODES) await execOn(host, `docker exec scalelite-api bin/rake 'servers:enable[${node.fqdn}]'`);
      await execOn(host, `mkdir -p ~/.bbb-ovh && : > ${SLEEPING}`);
    }
    // Online in both, as each front's poller container keeps them (nothing polls here between runs).
    for (const s of [scalelite, standbyScalelite]) await s.pollUntilOnline(NODES.map((n) => n.fqdn));
    const scaling = writeTrainingStack("pairscale", (campus) => {
      campus.timetable = TEACHING_WEEK;
      campus.scaling = { marginUsers: 0, scaleDownAfterMinutes: 30 };
      campus.standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
    }).file;
    const scale = (at: string) => ops(["scale", scaling, "--at", at]);
    // What an earlier run left on the front: ops woke the first node at 07:00, its hours are billed from then.
    const woke = Date.parse("2026-11-30T07:00:00+01:00");
    await execOn(front, `mkdir -p ~/.bbb-ovh && echo '${JSON.stringify({ surplusSince: null, billedSince: { [NODES[0].fqdn]: woke } })}' > ${SCALE_STATE}`);
    await execOn(standby, `rm -f ${SCALE_STATE}`);

    const onFront = await scale("2026-11-30T10:00:00+01:00");
    expect(onFront.code, onFront.stdout + onFront.stderr).toBe(0);
    expect(report(onFront).notes).toEqual([]);
    const kept = await execOn(front, `cat ${SCALE_STATE}`);
    expect(JSON.parse(kept).billedSince).toEqual({ [NODES[0].fqdn]: woke });
    expect(await execOn(standby, `cat ${SCALE_STATE}`)).toBe(kept);

    // After a failover the run on the standby reads its copy: the node's paid hour is still known there.
    setRole(standby, "primary");
    setRole(front, "fenced");
    const onStandby = await scale("2026-11-30T10:10:00+01:00");
    expect(onStandby.code, onStandby.stdout + onStandby.stderr).toBe(0);
    expect(report(onStandby).notes).toEqual([expect.stringMatching(/^the standby front lb-standby serves/)]);
    const carried = JSON.parse(await execOn(standby, `cat ${SCALE_STATE}`));
    expect(carried).toEqual({ ...JSON.parse(kept), billedSince: { [NODES[0].fqdn]: woke } });
    expect(await execOn(front, `cat ${SCALE_STATE}`)).toBe(await execOn(standby, `cat ${SCALE_STATE}`));

    // Never onto a front that says it serves (a run that chose its front before a switch): a note, the run goes on.
    setRole(front, "primary");
    await execOn(front, `echo '{}' > ${SCALE_STATE}`);
    const guarded = await scale("2026-11-30T10:20:00+01:00");
    setRole(front, "fenced");
    expect(guarded.code, guarded.stdout + guarded.stderr).toBe(0);
    expect(report(guarded).notes.at(-1)).toMatch(
      /^the copy of the scale state on lb-training is not up to date \(cannot write it: it serves now \(front-role primary\)/,
    );
    expect(await execOn(front, `cat ${SCALE_STATE}`)).toBe("{}");
  }, 240_000);

  it("ops status --watch reads the pair again at each refresh: a failover made during the watch is followed", async () => {
    // The front serves; a node is cordoned in the standby's Scalelite only, so each report shows whose it read.
    setRole(front, "primary");
    setRole(standby, "standby");
    for (const node of NODES) await execOn(front, `docker exec scalelite-api bin/rake 'servers:enable[${node.fqdn}]'`);
    await execOn(standby, `docker exec scalelite-api bin/rake 'servers:cordon[${NODES[1].fqdn}]'`);
    const stop = new AbortController();
    // After the first report, the failover's roles; stopped once a report has come after them.
    const onStdout = (out: string) => {
      const reports = out.match(/"checkedAt"/g)?.length ?? 0;
      if (reports === 1) {
        setRole(standby, "primary");
        setRole(front, "fenced");
      }
      if (reports >= 2) stop.abort();
    };
    const watch = await opsInProcess(argsOf(["status", stackFile, "--watch", "1"]), { env, signal: stop.signal, onStdout });
    const reports = watch.stdout.split(/^(?=\{)/m).map((r) => JSON.parse(r) as { nodes: Array<{ fqdn: string; state?: string }>; pair?: string });
    const stateOf = (report: (typeof reports)[number]) => report.nodes.find((n) => n.fqdn === NODES[1].fqdn)?.state;
    expect(reports.length, watch.stderr).toBeGreaterThanOrEqual(2);
    expect(stateOf(reports[0])).toBe("enabled");
    expect(reports.slice(1).map(stateOf)).toEqual(reports.slice(1).map(() => "cordoned"));
    // Each report says which front it read, and why.
    expect(reports[0].pair).toBe("lb-training is read as the front: the standby front lb-standby is its standby (front-role standby)");
    expect(reports.at(-1)?.pair).toBe(
      "the standby front lb-standby serves (front-role primary: since ops failover, until ops failback) and is read as the front; lb-training is the other",
    );
    // The note once, when the pair changed.
    expect(watch.stderr.match(/^note: .*$/gm)).toEqual(["note: the standby front lb-standby serves (ops failover; until ops failback): read as the front"]);
    await execOn(standby, `docker exec scalelite-api bin/rake 'servers:enable[${NODES[1].fqdn}]'`);
  }, 240_000);
});
