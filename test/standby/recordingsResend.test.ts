/**
 * A recording in flight when the front's site burns: a node delivered it into the front's incoming/ (the
 * mover even handed it to the spool), but Scalelite had not imported it, so the standby's copy of
 * published/ did not have it, and the node had deleted it (Scalelite's post_publish, delete_recording).
 * After `ops failover` promoted the standby, its resend step (cli/ops/recordingsResend.ts, as failover.ts
 * runs it) points each node at the new front and has it send again what it kept and delivered since the new
 * front's last successful copy, less the margin; the new front's mover hands over what it lacks and drops
 * what its copy already brought.
 *
 * Everything is the real program: three loopback sshd test hosts (the front, the standby front, one node),
 * our scaleliteSpool step on both fronts (their real sshd checking the node key's from=/restrict/command=,
 * our receiver, the real rrsync of rsync 3.2.7 from the pinned tree) and their real mover; on the node our
 * real bbbRecordings step, then Scalelite's own scalelite_post_publish.rb of the pinned tree behind our
 * keep hook, run as BigBlueButton's publish worker runs post_publish/*.rb (sorted, `-m <id>`:
 * record-and-playback/core/lib/recordandplayback/workers/base.rb, run_post_scripts). BigBlueButton's
 * recordandplayback library is stubbed (test/fakes/lib), bbb-record and runuser are faked (test/fakes/bin).
 * The importer is modelled by its effect only (published/<format>/<id> extracted from the spool's archive,
 * as lib/recording_importer.rb leaves it; test/conformance/recordingImport.test.ts runs the real one), and
 * the standby's copy by `cp -a` of published/ (test/standby/recordingsCopy.test.ts runs the real pull).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pendingResendProblems, readFrontRecordings } from "../../cli/ops/recordingHealth";
import { resendToNewFront } from "../../cli/ops/failover";
import { finishPendingResend, PENDING_RESEND_IN_HOME, renderRepoint, repointPending } from "../../cli/ops/pendingResend";
import { SLEEPING_LIST_IN_HOME } from "../../components/schedule/sleepingList";
import type { OpsTarget } from "../../cli/ops/stackSource";
import { RESEND_MARGIN_SECONDS, resendRecordings, resendSince, type NewFront, type ResendNode } from "../../cli/ops/recordingsResend";
import { base64 } from "../../components/remote/invocation";
import {
  INCOMING_DIR,
  NODE_KEPT_DIR,
  RECORDING_DIR,
  REFUSED_DIR,
  SPOOL_DIR,
  SPOOL_RECEIVE,
  STANDBY_COPY_STATUS,
  nodeTransferFiles,
  type SpoolLimits,
} from "../../components/scalelite/recordingLayout";
import { renderSpoolAuthorizedKeys, renderTransferKnownHosts } from "../../components/scalelite/renderRecordingTransfer";
import { calls, output } from "../support/hostState";
import { metadataXml, recordId } from "../support/recordingArchives";
import { installRecordingNode } from "../support/recordingNode";
import { execOn, runStep, shellOn, startTestHost, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const scalelite = upstreamTree("scalelite");
const RRSYNC = "rsync-3.2.7";
const rrsyncTree = upstreamTree(RRSYNC);
const SPOOL_AUTHORIZED_KEYS = "var/lib/scalelite-spool/.ssh/authorized_keys";
const MiB = 1024 * 1024;
const LIMITS: SpoolLimits = { maxArchiveBytes: 64 * MiB, senderLimitBytes: 512 * MiB, reserveBytes: 64 * MiB };
/** The node's bounds: small enough that the test can go past them. */
const KEEP = { bytes: 512 * MiB, hours: 168 };
/**
 * Recordings sent again at once, for the measure of what the resend step adds to a failover. Each is one ssh
 * connection and rsync, so the figure is per archive: with 20 the file took twice as long (60 s against 29 s
 * alone) for the same figure (537 ms against 560 ms each).
 */
const MEASURED = 5;

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe.skipIf(!scalelite || !rrsyncTree)("a recording delivered to the front but not yet imported when its site burns", () => {
  let front: TestHost;
  let standby: TestHost;
  let node: TestHost;
  let keys: string;
  const bbb = () => path.join(node.root, "var/bigbluebutton");
  const kept = (id: string) => path.join(node.root, NODE_KEPT_DIR, `${id}.tar`);
  const senderDone = (id: string) => path.join(bbb(), `recording/status/published/${id}-sender.done`);
  const spoolTar = (h: TestHost, id: string) => path.join(h.root, SPOOL_DIR, `${id}.tar`);
  const published = (h: TestHost, id: string) => path.join(h.root, RECORDING_DIR, "published/presentation", id);
  const refusedOn = (h: TestHost) => (existsSync(path.join(h.root, REFUSED_DIR, "bbb1")) ? readdirSync(path.join(h.root, REFUSED_DIR, "bbb1")) : []);
  /** A front's mover, as its unit runs it. */
  const move = (h: TestHost) => execOn(h, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-mover" ${RECORDING_DIR} ${LIMITS.reserveBytes}`);
  /** What Scalelite's importer leaves of a spool archive (lib/recording_importer.rb): published/<format>/<id>, the archive gone. */
  const importOn = (h: TestHost, id: string) => {
    execFileSync("tar", ["-xf", spoolTar(h, id), "-C", path.join(h.root, RECORDING_DIR, "published")]);
    rmSync(spoolTar(h, id));
  };
  /** The standby's copy of one published recording (the pull copies published/ whole with rsync -a). */
  const copyToStandby = (id: string) => execFileSync("cp", ["-a", published(front, id), path.dirname(published(standby, id))]);

  /**
   * BigBlueButton publishes recording `id` on the node (published/presentation/<id>, its .done status) and
   * its publish worker runs every post_publish/*.rb in sorted order with `-m <id>`: our keep hook, then
   * Scalelite's script, which sends the archive to the front the node points at and deletes the recording.
   */
  async function publishOnNode(id: string, bytes = 64 * 1024): Promise<void> {
    const dir = path.join(bbb(), "published/presentation", id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "metadata.xml"), metadataXml(id));
    execFileSync("sh", ["-c", `head -c ${bytes} /dev/urandom > "$1"`, "sh", path.join(dir, "video.webm")]);
    writeFileSync(path.join(bbb(), `recording/status/published/${id}-presentation.done`), "Published");
    const core = path.join(node.root, "usr/local/bigbluebutton/core/scripts");
    const worker = await shellOn(node, `cd ${core} && for script in post_publish/*.rb; do ruby "$script" -m ${id} -f presentation || exit 1; done`);
    expect(worker.code, output(worker)).toBe(0);
  }

  const nodes = (): ResendNode[] => [
    { name: "bbb1", ssh: { host: node.host, port: node.port, username: "root", privateKey: node.privateKey, hostKey: node.hostPublicKey } },
  ];
  /** How ops logs in to the standby front (its test sshd's login user). */
  const standbySsh = () => ({ host: standby.host, port: standby.port, username: "root", privateKey: standby.privateKey, hostKey: standby.hostPublicKey });
  const newFront = (port = standby.port): NewFront => ({ name: "lb-standby", ipv4: "127.0.0.1", sshPort: port, hostKey: standby.hostPublicKey });

  beforeAll(async () => {
    keys = mkdtempSync(path.join(tmpdir(), "bbb-ovh-resend-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bbb1", "-f", path.join(keys, "bbb1")]);
    const publicKey = readFileSync(path.join(keys, "bbb1.pub"), "utf8").trim();
    [front, standby, node] = await Promise.all([
      startTestHost({ fqdn: "visio.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] }),
      startTestHost({ fqdn: "visio-standby.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] }),
      startTestHost({ fqdn: "bbb1.campus.example" }),
    ]);
    // Both fronts: our spool step with the node's key (the standby has it too: it serves after a failover),
    // behind the pinned tree's rrsync.
    for (const f of [front, standby]) {
      const rrsync = path.join(f.root, `opt/${RRSYNC}/rrsync`);
      mkdirSync(path.dirname(rrsync), { recursive: true });
      copyFileSync(path.join(rrsyncTree!, "support/rrsync"), rrsync);
      chmodSync(rrsync, 0o755);
      const authorizedKeys = renderSpoolAuthorizedKeys([{ name: "bbb1", ipv4: "127.0.0.1", ipv6: "", publicKey }], {
        incomingDir: path.join(f.root, INCOMING_DIR),
        receiver: path.join(f.root, SPOOL_RECEIVE),
        rrsync,
        limits: LIMITS,
      });
      const spool = await runStep(f, "scaleliteSpool", {
        RECORDING_DIR,
        AUTHORIZED_KEYS_B64: base64(authorizedKeys),
        SENDERS: "bbb1",
        RESERVE_BYTES: String(LIMITS.reserveBytes),
      });
      expect(spool.code, output(spool)).toBe(0);
      mkdirSync(path.join(f.root, RECORDING_DIR, "published/presentation"), { recursive: true });
    }
    // The node: BigBlueButton (fake installer), our recordings step pointing at the front, Scalelite's own post_publish.
    await installRecordingNode(node, { front, transferKey: readFileSync(path.join(keys, "bbb1"), "utf8"), scaleliteTree: scalelite!, keep: KEEP });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([front, standby, node].filter(Boolean).map((h) => h.stop()));
    if (keys) rmSync(keys, { recursive: true, force: true });
  });

  const old = recordId("resend-old");
  const copied = recordId("resend-copied");
  const inFlight = recordId("resend-in-flight");
  let copyStarted = 0;

  it("the node keeps a copy of each archive it delivers, byte for byte the archive the front received, after Scalelite's script deleted the recording", async () => {
    await publishOnNode(old);
    expect(calls(node)).toContain(`bbb-record --delete ${old}`);
    expect(existsSync(path.join(bbb(), "published/presentation", old))).toBe(false);
    expect(existsSync(senderDone(old))).toBe(true);
    expect(existsSync(kept(old))).toBe(true);
    const received = path.join(front.root, INCOMING_DIR, "bbb1", `${old}.tar`);
    expect(sha256(kept(old))).toBe(sha256(received));
    expect(await move(front)).toContain(`handed over ${old}.tar from bbb1`);
    importOn(front, old);
    copyToStandby(old);
    // Delivered well before the standby's last copy (out of the resend's reach).
    const longAgo = Date.now() / 1000 - 3 * RESEND_MARGIN_SECONDS;
    utimesSync(senderDone(old), longAgo, longAgo);
  });

  it("the site burns with one recording imported and copied, and one delivered and handed to the spool but not imported: after the failover both are sent again, the new front takes the missing one and drops the one it holds", async () => {
    await publishOnNode(copied);
    expect(await move(front)).toContain(`handed over ${copied}.tar from bbb1`);
    importOn(front, copied);
    // The standby's last successful copy starts: it holds everything the front published then.
    copyStarted = Math.floor(Date.now() / 1000);
    copyToStandby(copied);
    await publishOnNode(inFlight);
    expect(await move(front)).toContain(`handed over ${inFlight}.tar from bbb1`);
    expect(existsSync(spoolTar(front, inFlight))).toBe(true);
    // The fire: the front's site is gone, with its spool; the node deleted the recording after delivery.
    await front.stop();
    expect(existsSync(path.join(bbb(), "published/presentation", inFlight))).toBe(false);
    expect(existsSync(published(standby, inFlight))).toBe(false);

    // What the standby's pull wrote of that copy (scripts/scalelite-recordings-pull.sh); it serves now.
    mkdirSync(path.dirname(path.join(standby.root, STANDBY_COPY_STATUS)), { recursive: true });
    writeFileSync(
      path.join(standby.root, STANDBY_COPY_STATUS),
      `last_attempt=${copyStarted + 300}\nlast_result=serving\nrole=primary\nlast_success=${copyStarted}\nfiles=0\nbytes=0\n`,
    );
    // ops failover's resend step, as it runs it once the signed check passed through the standby.
    const started = performance.now();
    const detail = await resendToNewFront(nodes(), { name: "lb-standby", ipv4: "127.0.0.1", ssh: standbySsh() }, 120_000);
    const resendMs = performance.now() - started;
    const since = new Date(resendSince(copyStarted) * 1000).toISOString();
    expect(resendSince(copyStarted)).toBe(copyStarted - RESEND_MARGIN_SECONDS);
    expect(detail).toBe(`1 of 1 node(s) now send to lb-standby; 2 kept archive(s) sent again (delivered since ${since})`);
    const moved = await move(standby);
    expect(moved).toContain(`handed over ${inFlight}.tar from bbb1`);
    expect(moved).toContain(`${copied}.tar from bbb1 dropped: the front already holds that very recording`);
    expect(moved).not.toContain(old);
    expect(refusedOn(standby)).toEqual([]);
    expect(sha256(spoolTar(standby, inFlight))).toBe(sha256(kept(inFlight)));
    console.log(`resend after the cut: 2 kept archives sent again to the new front in ${Math.round(resendMs)} ms (repoint included)`);
  }, 120_000);

  it("the node now sends new recordings to the new front, with the new front's host key pinned", async () => {
    const after = recordId("resend-after");
    await publishOnNode(after);
    expect(readdirSync(path.join(standby.root, INCOMING_DIR, "bbb1"))).toEqual([`${after}.tar`]);
    expect(readFileSync(path.join(node.root, "etc/bbb-ovh/recording-transfer/known_hosts"), "utf8")).toBe(renderTransferKnownHosts(standby.hostPublicKey));
    expect(await move(standby)).toContain(`handed over ${after}.tar from bbb1`);
  });

  it("a front restored from a backup lacks what was delivered after the snapshot: the nodes send their copies again to the front they send to, not repointed", async () => {
    const lost = recordId("restore-lost");
    const snapshotTime = Math.floor(Date.now() / 1000);
    await publishOnNode(lost);
    expect(await move(standby)).toContain(`handed over ${lost}.tar from bbb1`);
    importOn(standby, lost);
    // The front is lost and restored from the snapshot taken just before: the recording is in neither.
    rmSync(published(standby, lost), { recursive: true });
    const transfer = path.join(node.root, "etc/bbb-ovh/recording-transfer");
    const before = ["ssh_config", "known_hosts", "front-by-ops"].map((f) => readFileSync(path.join(transfer, f), "utf8"));
    // What ops backup restore (and ops backup resend) run: the nodes' copies since the snapshot less the margin.
    const outcomes = await resendRecordings(nodes(), undefined, resendSince(snapshotTime), 120_000);
    expect(outcomes).toEqual([expect.objectContaining({ node: "bbb1", ok: true })]);
    expect(outcomes[0].resent).toBeGreaterThanOrEqual(1);
    expect(["ssh_config", "known_hosts", "front-by-ops"].map((f) => readFileSync(path.join(transfer, f), "utf8"))).toEqual(before);
    const moved = await move(standby);
    expect(moved).toContain(`handed over ${lost}.tar from bbb1`);
    expect(sha256(spoolTar(standby, lost))).toBe(sha256(kept(lost)));
    expect(refusedOn(standby)).toEqual([]);
    importOn(standby, lost);
  }, 120_000);

  it("a resend that cannot reach the new front is marked; the retry timer sends it once the front answers, and the node reports its copies", async () => {
    const since = resendSince(copyStarted);
    const unreachable = await resendRecordings(nodes(), newFront(1), since, 120_000);
    // Pointed there all the same (a failover lists it for no wake: its retry timer sends what failed).
    expect(unreachable[0]).toMatchObject({ ok: false, repointed: true, resent: 0 });
    expect(unreachable[0].failed).toBeGreaterThanOrEqual(2);
    expect(existsSync(`${kept(inFlight)}.resend`)).toBe(true);
    // Pointed back at the answering front (nothing new to send: a since in the future), then the timer's run.
    const repointed = await resendRecordings(nodes(), newFront(), Math.floor(Date.now() / 1000) + 3600, 120_000);
    expect(repointed[0]).toMatchObject({ ok: true, resent: 0 });
    const timer = await shellOn(node, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-keep" prune ${KEEP.bytes} ${KEEP.hours}`);
    expect(timer.code, output(timer)).toBe(0);
    expect(timer.stdout).toContain(`resent ${inFlight}`);
    expect(existsSync(`${kept(inFlight)}.resend`)).toBe(false);
    expect(await move(standby)).toContain(`duplicate of ${inFlight}.tar from bbb1 dropped`);
    expect(refusedOn(standby)).toEqual([]);
    // The retry timer's report carries the copies the node keeps, as ops status reads them.
    const retry = await shellOn(node, `GRACE_SECONDS=0 "$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-retry"`);
    expect(retry.code, output(retry)).toBe(0);
    await move(standby);
    const [health] = (await readFrontRecordings(standbySsh(), 20_000)).nodes;
    const keptFiles = readdirSync(path.join(node.root, NODE_KEPT_DIR)).filter((f) => f.endsWith(".tar"));
    expect(health.kept).toEqual({ count: keptFiles.length, bytes: expect.any(Number), resend: 0 });
    expect(health.kept?.bytes).toBeGreaterThan(0);
  }, 120_000);

  it("a node asleep during the failover is pointed at the new front, and sends again, when a run wakes it", async () => {
    const config = nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer")).sshConfig;
    // Before the failover the node sends to the old front.
    const oldFront: NewFront = { name: "lb", ipv4: "127.0.0.1", sshPort: front.port, hostKey: front.hostPublicKey };
    expect((await resendRecordings(nodes(), oldFront, Math.floor(Date.now() / 1000) + 3600, 120_000))[0].ok).toBe(true);
    expect(readFileSync(config, "utf8")).toMatch(new RegExp(`^ {2}Port ${front.port}$`, "m"));
    // The failover's resend step cannot reach it (asleep: no SSH): the new front keeps it listed.
    const detail = await resendToNewFront([{ name: "bbb1" }], { name: "lb-standby", ipv4: "127.0.0.1", ssh: standbySsh() }, 120_000);
    expect(detail).toMatch(
      /^0 of 1 node\(s\) now send to lb-standby; 0 kept archive\(s\) sent again; not done on bbb1: no SSH host key for it in the stack's outputs: not reached \(delivered since [^)]*\); a node not pointed at lb-standby is pointed there by the run of ops scale or schedule apply that wakes it, or by ops repoint once it answers$/,
    );
    expect(JSON.parse(await execOn(standby, `cat ~/${PENDING_RESEND_IN_HOME}`))).toMatchObject({ to: newFront(), nodes: ["bbb1"] });
    // ops status reads it with the rest of the recordings' state, and names the node as a problem.
    const listed = await readFrontRecordings(standbySsh(), 20_000);
    expect(pendingResendProblems(listed.pending)).toEqual([
      { node: "bbb1", message: expect.stringMatching(/^still sends to the old front since the failover to lb-standby/) },
    ]);
    // What stepToAwake runs once it has enabled the woken node: pointed at the new front, its copies marked
    // for its retry timer (the wake does not wait for the transfers), which then sends them.
    const woken = (await finishPendingResend(standbySsh(), nodes()[0], 20_000))?.detail ?? "";
    expect(woken).toMatch(/^pointed at lb-standby after the failover it missed, [1-9]\d* kept archive\(s\) marked for its retry timer/);
    expect(readFileSync(config, "utf8")).toMatch(new RegExp(`^ {2}Port ${standby.port}$`, "m"));
    const marked = readdirSync(path.join(node.root, NODE_KEPT_DIR)).filter((f) => f.endsWith(".tar.resend"));
    expect(marked.length).toBe(Number(/, (\d+) kept archive/.exec(woken)?.[1]));
    const timer = await shellOn(node, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-keep" prune ${KEEP.bytes} ${KEEP.hours}`);
    expect(timer.code, output(timer)).toBe(0);
    expect(readdirSync(path.join(node.root, NODE_KEPT_DIR)).filter((f) => f.endsWith(".tar.resend"))).toEqual([]);
    expect(await execOn(standby, `ls -a ~/.bbb-ovh`)).not.toContain("resend-pending");
    // Nothing listed any more: the next wake does nothing, and ops status has nothing to say.
    expect(await finishPendingResend(standbySsh(), nodes()[0], 20_000)).toBeUndefined();
    expect((await readFrontRecordings(standbySsh(), 20_000)).pending).toBeUndefined();
    await move(standby);
  }, 120_000);

  it("a node down during the failover is pointed at the new front by ops repoint once it answers; a listed node the stack no longer has stays listed", async () => {
    const config = nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer")).sshConfig;
    // A lesson's recording delivered before the fire (where the node sends now), of which it keeps a copy.
    await publishOnNode(recordId("while-down"));
    const oldFront: NewFront = { name: "lb", ipv4: "127.0.0.1", sshPort: front.port, hostKey: front.hostPublicKey };
    expect((await resendRecordings(nodes(), oldFront, Math.floor(Date.now() / 1000) + 3600, 120_000))[0].ok).toBe(true);
    // The failover reaches neither: bbb1 is down, bbb9 has been removed from the stack since.
    await resendToNewFront([{ name: "bbb1" }, { name: "bbb9" }], { name: "lb-standby", ipv4: "127.0.0.1", ssh: standbySsh() }, 120_000);
    // The stack as ops reads it after the fire: the standby front serves now, and holds the list (ops repoint
    // --standby); the old front is gone (no SSH host for it: without --standby there is none to read).
    const stack = (ssh?: ResendNode["ssh"]): OpsTarget => ({
      label: "campus",
      standby: { name: "lb-standby", ssh: standbySsh() },
      nodes: [{ name: "bbb1", fqdn: "bbb1.campus.example", apiUrl: "https://bbb1.campus.example/bigbluebutton/api", ssh }],
    });
    await expect(repointPending(stack(nodes()[0].ssh), 20_000)).rejects.toThrow(/no SSH host for the front: give --host/);
    // A front that no longer serves (a list left there would point its nodes at a front refusing recordings).
    const roleFile = path.join(standby.root, "var/lib/bbb-ovh/front-role");
    const role = existsSync(roleFile) ? readFileSync(roleFile, "utf8") : undefined;
    mkdirSync(path.dirname(roleFile), { recursive: true });
    writeFileSync(roleFile, "fenced\n");
    await expect(repointPending(stack(nodes()[0].ssh), 20_000, true)).rejects.toThrow(
      /this front does not serve \(front-role fenced\): after ops failback the front serves: run it without --standby/,
    );
    if (role === undefined) rmSync(roleFile);
    else writeFileSync(roleFile, role);
    expect(JSON.parse(await execOn(standby, `cat ~/${PENDING_RESEND_IN_HOME}`)).nodes).toEqual(["bbb1", "bbb9"]);
    // Still down (ops cannot reach it): both stay listed.
    const down = await repointPending(stack(undefined), 20_000, true);
    expect(down).toMatchObject({
      to: "lb-standby",
      ok: false,
      nodes: [
        { node: "bbb1", ok: false },
        { node: "bbb9", ok: false },
      ],
    });
    expect(JSON.parse(await execOn(standby, `cat ~/${PENDING_RESEND_IN_HOME}`)).nodes).toEqual(["bbb1", "bbb9"]);
    // Asleep: it does not answer and is on the serving front's sleeping list; left to the run that wakes it.
    await execOn(standby, `mkdir -p ~/.bbb-ovh && echo bbb1.campus.example > ~/${SLEEPING_LIST_IN_HOME}`);
    const asleep = await repointPending(stack(undefined), 20_000, true);
    expect(asleep.nodes[0]).toEqual({
      node: "bbb1",
      asleep: true,
      ok: true,
      detail: expect.stringMatching(/^asleep \(.+\): the run of ops scale or schedule apply that wakes it points it at lb-standby$/),
    });
    expect(renderRepoint({ ...asleep, nodes: [asleep.nodes[0]], ok: true })).toMatch(
      /\nevery listed node that is awake now sends to lb-standby; the 1 asleep are pointed there when woken\n$/,
    );
    expect(JSON.parse(await execOn(standby, `cat ~/${PENDING_RESEND_IN_HOME}`)).nodes).toEqual(["bbb1", "bbb9"]);
    expect(readFileSync(config, "utf8")).not.toMatch(new RegExp(`^ {2}Port ${standby.port}$`, "m"));
    // On the list but answering, with a repoint that fails there (here the host reached is not a node): a failure.
    const failing = await repointPending(stack(standbySsh()), 20_000, true);
    expect(failing.nodes[0]).toMatchObject({ node: "bbb1", ok: false, detail: expect.stringMatching(/^still to point at lb-standby/) });
    expect(failing.nodes[0].asleep).toBeUndefined();
    expect(failing.ok).toBe(false);
    // Back, though still on the list (a node cordoned on its way to sleep answers): pointed at the new front, its
    // copies marked for its retry timer; bbb9 is left for an operator.
    const back = await repointPending(stack(nodes()[0].ssh), 20_000, true);
    await execOn(standby, `rm ~/${SLEEPING_LIST_IN_HOME}`);
    expect(back.nodes[0]).toMatchObject({
      node: "bbb1",
      ok: true,
      detail: expect.stringMatching(/^pointed at lb-standby after the failover it missed, [1-9]\d* kept archive/),
    });
    expect(back.nodes[1]).toMatchObject({ node: "bbb9", ok: false, detail: expect.stringMatching(/^not a node of this stack: left listed/) });
    expect(renderRepoint(back)).toMatch(/\n1 node\(s\) still listed: run this again once they answer/);
    expect(readFileSync(config, "utf8")).toMatch(new RegExp(`^ {2}Port ${standby.port}$`, "m"));
    expect(JSON.parse(await execOn(standby, `cat ~/${PENDING_RESEND_IN_HOME}`)).nodes).toEqual(["bbb9"]);
    expect(pendingResendProblems((await readFrontRecordings(standbySsh(), 20_000)).pending).map((p) => p.node)).toEqual(["bbb9"]);
    const timer = await shellOn(node, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-keep" prune ${KEEP.bytes} ${KEEP.hours}`);
    expect(timer.code, output(timer)).toBe(0);
    expect(readdirSync(path.join(node.root, NODE_KEPT_DIR)).filter((f) => f.endsWith(".tar.resend"))).toEqual([]);
    await execOn(standby, `rm ~/${PENDING_RESEND_IN_HOME}`);
    expect(renderRepoint(await repointPending(stack(nodes()[0].ssh), 20_000, true))).toMatch(/^no node is listed/);
    await move(standby);
  }, 120_000);

  it("keeps the copies within their bounds, oldest delivered first, never one still to send again", async () => {
    const dir = path.join(node.root, "var/bigbluebutton/bounds");
    mkdirSync(dir, { recursive: true });
    const now = Date.now() / 1000;
    // Five 1 MiB copies delivered 4.5, 3.5, 2.5, 1.5, 0.5 hours ago; the oldest still to be sent again.
    const ids = Array.from({ length: 5 }, (_, i) => recordId("bounds", i));
    ids.forEach((id, i) => {
      const file = path.join(dir, `${id}.tar`);
      execFileSync("sh", ["-c", `head -c ${MiB} /dev/urandom > "$1"`, "sh", file]);
      const when = now - (4.5 - i) * 3600;
      utimesSync(file, when, when);
    });
    writeFileSync(path.join(dir, `${ids[0]}.tar.resend`), "");
    // The front does not answer meanwhile (port 1): the timer's run cannot send that one.
    const config = nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer")).sshConfig;
    const working = readFileSync(config, "utf8");
    writeFileSync(config, working.replace(/^ {2}Port \d+$/m, "  Port 1"));
    const prune = (bytes: number, hours: number) =>
      shellOn(node, `KEPT_DIR="${dir}" "$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-keep" prune ${bytes} ${hours}`);
    const left = () =>
      readdirSync(dir)
        .filter((f) => f.endsWith(".tar"))
        .sort();
    // Space: 2.5 MiB keeps the two newest (and the one still to send).
    const bySpace = await prune(2.5 * MiB, 100);
    expect(bySpace.code, output(bySpace)).toBe(0);
    expect(left()).toEqual([ids[0], ids[3], ids[4]].map((id) => `${id}.tar`).sort());
    expect(bySpace.stdout).toContain(`no longer kept: ${ids[1]}.tar`);
    // Time counts from the delivery (sender.done) when there is one: a copy made 5 h ago, delivered just now.
    const late = recordId("bounds-late");
    execFileSync("sh", ["-c", `head -c 1024 /dev/urandom > "$1"`, "sh", path.join(dir, `${late}.tar`)]);
    utimesSync(path.join(dir, `${late}.tar`), now - 5 * 3600, now - 5 * 3600);
    writeFileSync(senderDone(late), `Published ${late}`);
    // Time: past 1 h only the newest stays (and the one still to send, and the one delivered late).
    await prune(100 * MiB, 1);
    expect(left()).toEqual([ids[0], ids[4], late].map((id) => `${id}.tar`).sort());
    expect(existsSync(path.join(dir, `${ids[0]}.tar.resend`))).toBe(true);
    writeFileSync(config, working);
    rmSync(dir, { recursive: true });
  });

  it(`measures what the resend step adds to a failover for ${MEASURED} recordings`, async () => {
    // What the earlier tests delivered counts as delivered long before: only these are in the resend's reach.
    const status = path.join(bbb(), "recording/status/published");
    const longAgo = Date.now() / 1000 - 3 * RESEND_MARGIN_SECONDS;
    for (const f of readdirSync(status).filter((f) => f.endsWith("-sender.done"))) utimesSync(path.join(status, f), longAgo, longAgo);
    const since = Math.floor(Date.now() / 1000) - 600;
    const ids = Array.from({ length: MEASURED }, (_, i) => recordId("measured", i));
    for (const id of ids) await publishOnNode(id, MiB);
    await move(standby);
    // Handed over already: a third front would take them; the standby's mover drops them as duplicates after the same checks.
    const started = performance.now();
    const outcomes = await resendRecordings(nodes(), newFront(), since, 300_000);
    const resendMs = performance.now() - started;
    expect(outcomes[0]).toMatchObject({ ok: true, resent: MEASURED });
    const moveStarted = performance.now();
    const moved = await move(standby);
    const moveMs = performance.now() - moveStarted;
    expect(moved.match(/dropped/g)).toHaveLength(MEASURED);
    console.log(
      `resend measure: ${MEASURED} recordings of 1 MiB sent again by one node in ${(resendMs / 1000).toFixed(1)} s ` +
        `(${Math.round(resendMs / MEASURED)} ms each: one ssh + rsync per archive over loopback); the new front's mover checked them in ${(moveMs / 1000).toFixed(1)} s`,
    );
  }, 300_000);
});
