/**
 * Recordings from many nodes to the Scalelite front, for real: Scalelite's own post_publish script (the
 * pinned tree's scalelite_post_publish.rb, run by Debian's ruby) and plain rsync as that script calls it,
 * over REAL ssh + rsync into the front test host, where the REAL sshd checks the authorized_keys lines our
 * front step installed (from=, restrict, command= our spool receiver, which runs the REAL rrsync of the
 * pinned rsync tree: 3.2.3's Perl one, as Ubuntu 22.04 released, and 3.2.7's Python one, as its updates
 * ship). Then the front's mover (our script, run as its unit runs it) checks what arrived and hands it to
 * the spool. Each test names what a node must not be able to do, and tries it.
 *
 * Both hosts are loopback sshd test hosts (test/support/sshd.ts). The test sshd only lets its login user
 * (root) in, so the spool's authorized_keys is given to root (extraAuthorizedKeys) and every transfer
 * connects as root: every check here is made by sshd, the receiver, rrsync and the mover, not by file
 * permissions. Nodes are told apart by their source address (127.0.0.x, BindAddress) and key.
 * BigBlueButton's recordandplayback library is stubbed (test/fakes/lib/recordandplayback.rb), bbb-record
 * is faked (test/fakes/bin/bbb-record); everything else is the real program.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64 } from "../../components/remote/invocation";
import {
  INCOMING_DIR,
  POST_PUBLISH,
  RECORDING_DIR,
  REFUSED_DIR,
  SPOOL_DIR,
  SPOOL_RECEIVE,
  nodeTransferFiles,
  type SpoolLimits,
} from "../../components/scalelite/recordingLayout";
import {
  renderSpoolAuthorizedKeys,
  renderTransferKnownHosts,
  renderTransferSshConfig,
  type SpoolClient,
} from "../../components/scalelite/renderRecordingTransfer";
import { calls, output, read } from "../support/hostState";
import { waitUntil } from "../support/waitUntil";
import { craftedArchive, goodArchive, metadataXml, recordId, recordingMembers } from "../support/recordingArchives";
import { installRecordingNode } from "../support/recordingNode";
import { execOn, runStep, shellOn, startTestHost, type StepResult, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const scalelite = upstreamTree("scalelite");
const RRSYNCS = ["rsync-3.2.3", "rsync-3.2.7"].map((name) => ({ name, tree: upstreamTree(name) }));
const MEETING = "0123456789abcdef0123456789abcdef01234567-1732525200000";
const SPOOL_AUTHORIZED_KEYS = "var/lib/scalelite-spool/.ssh/authorized_keys";
const MiB = 1024 * 1024;
/** Small limits, so that a full node target and an oversized archive take seconds to make. */
const LIMITS: SpoolLimits = { maxArchiveBytes: 8 * MiB, senderLimitBytes: 20 * MiB, reserveBytes: 64 * MiB };
const NODES = Array.from({ length: 10 }, (_, i) => ({ name: `bbb${i + 1}`, ipv4: i === 0 ? "127.0.0.1" : `127.0.0.${10 + i}` }));

/** An ED25519 key pair as the Pulumi tls provider makes them (OpenSSH format). */
function keyPair(dir: string, name: string): { private: string; public: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { private: readFileSync(file, "utf8").trim(), public: readFileSync(`${file}.pub`, "utf8").trim() };
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe.each(RRSYNCS)("recordings over ssh + rsync + $name's rrsync, through the spool receiver and the mover", ({ name: rsyncName, tree: rsyncTree }) => {
  describe.skipIf(!scalelite || !rsyncTree)(`${rsyncName}`, () => {
    let front: TestHost;
    let node: TestHost;
    let keys: string;
    let transfer: StepResult;
    const spool = () => path.join(front.root, SPOOL_DIR);
    const incoming = (n: string) => path.join(front.root, INCOMING_DIR, n);
    const refused = (n: string) => path.join(front.root, REFUSED_DIR, n);
    const ledger = (id: string) => path.join(front.root, "var/lib/bbb-ovh/recordings/delivered", id);
    const nodeFiles = () => nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer"));
    const spoolTars = () =>
      readdirSync(spool())
        .filter((f) => f.endsWith(".tar"))
        .sort();
    const reasons = (n: string) =>
      existsSync(refused(n))
        ? readdirSync(refused(n))
            .filter((f) => f.endsWith(".reason"))
            .map((f) => readFileSync(path.join(refused(n), f), "utf8"))
        : [];

    /** Runs a command in a session of the node test host (PATH, BBB_OVH_ROOT as for the steps). */
    const onNode = (command: string) => shellOn(node, command);
    const rsh = (config: string, extra = "") => `--rsh='ssh -F ${config}${extra}'`;

    /** A second set of transfer files on the node (key `keyName`, pinning `pinnedHostKey`), as the recordings step writes them. */
    function transferFilesAt(dir: string, keyName: string, pinnedHostKey: string): ReturnType<typeof nodeTransferFiles> {
      const files = nodeTransferFiles(path.join(node.root, dir));
      mkdirSync(path.dirname(files.key), { recursive: true });
      copyFileSync(path.join(keys, keyName), files.key);
      chmodSync(files.key, 0o600);
      writeFileSync(files.knownHosts, renderTransferKnownHosts(pinnedHostKey));
      writeFileSync(files.sshConfig, renderTransferSshConfig({ address: "127.0.0.1", port: front.port, user: "root", files }));
      return files;
    }

    interface Send {
      node: string;
      file: string;
      /** More rsync options. */
      rsync?: string;
      /** A shell line around the transfer, RSYNC standing for it (e.g. a timeout). */
      shell?: string;
    }

    /**
     * Node `node` sends `file` the way scalelite_post_publish.rb does (rsync --verbose --remove-source-files,
     * then scalelite.yml's --no-protect-args and --rsh), from a copy so the test keeps the original.
     */
    function sendCommand({ node: n, file, rsync = "", shell }: Send): string {
      const at = NODES.find((x) => x.name === n)!;
      const files = transferFilesAt(`etc/node-${n}`, n, front.hostPublicKey);
      const copy = path.join(mkdtempSync(path.join(keys, "send-")), path.basename(file));
      execFileSync("cp", ["-P", file, copy]);
      const command = `rsync --verbose --remove-source-files --no-protect-args ${rsync} ${rsh(files.sshConfig, ` -o BindAddress=${at.ipv4}`)} ${copy} root@scalelite-front:.`;
      return shell ? shell.replace("RSYNC", command) : command;
    }

    /** The transfers, all at once (or one after the other), from ONE session of the node host; stdout and stderr together in `stderr`. */
    async function sendAll(sends: Send[], { together = true } = {}): Promise<StepResult[]> {
      const dir = mkdtempSync(path.join(keys, "batch-"));
      const lines = sends.map((one, i) => `{ ${sendCommand(one)} >${dir}/out.${i} 2>&1; echo $? >${dir}/rc.${i}; }${together ? " &" : ""}`);
      await onNode([...lines, "wait"].join("\n"));
      return sends.map((_, i) => ({
        code: Number(readFileSync(path.join(dir, `rc.${i}`), "utf8")),
        signal: null,
        stdout: "",
        stderr: readFileSync(path.join(dir, `out.${i}`), "utf8"),
      }));
    }
    const send = async (n: string, file: string, options: Omit<Send, "node" | "file"> = {}) => (await sendAll([{ node: n, file, ...options }]))[0];

    /** The front's mover, as its unit runs it (bbb-ovh-recording-mover RECORDING_DIR RESERVE_BYTES). */
    const move = (reserve = LIMITS.reserveBytes) => execOn(front, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-mover" ${RECORDING_DIR} ${reserve}`);

    beforeAll(async () => {
      keys = mkdtempSync(path.join(tmpdir(), "bbb-ovh-transfer-keys-"));
      const clients: SpoolClient[] = NODES.map((n) => ({ ...n, ipv6: "", publicKey: keyPair(keys, n.name).public }));
      keyPair(keys, "full");
      front = await startTestHost({ fqdn: "scalelite.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] });
      node = await startTestHost({ fqdn: "bbb1.campus.example" });

      // The front: its rrsync is the pinned tree's (Ubuntu installs it executable at /usr/bin/rrsync; there
      // the fake apt-get of the spool step leaves an empty stand-in).
      const rrsync = path.join(front.root, `opt/${rsyncName}/rrsync`);
      mkdirSync(path.dirname(rrsync), { recursive: true });
      copyFileSync(path.join(rsyncTree!, "support/rrsync"), rrsync);
      chmodSync(rrsync, 0o755);
      const options = { incomingDir: path.join(front.root, INCOMING_DIR), receiver: path.join(front.root, SPOOL_RECEIVE), rrsync, limits: LIMITS };
      const authorizedKeys = renderSpoolAuthorizedKeys(clients, options);
      const senders = [...NODES.map((n) => n.name), "full"].join(" ");
      const spoolStep = await runStep(front, "scaleliteSpool", {
        RECORDING_DIR,
        AUTHORIZED_KEYS_B64: base64(authorizedKeys),
        SENDERS: senders,
        RESERVE_BYTES: String(LIMITS.reserveBytes),
      });
      expect(spoolStep.code, output(spoolStep)).toBe(0);
      // One more node, "full", from 127.0.0.99, whose line asks for more free space than any disk has.
      const full = renderSpoolAuthorizedKeys([{ name: "full", ipv4: "127.0.0.99", ipv6: "", publicKey: readFileSync(path.join(keys, "full.pub"), "utf8") }], {
        ...options,
        limits: { ...LIMITS, reserveBytes: 2 ** 52 },
      });
      writeFileSync(path.join(front.root, SPOOL_AUTHORIZED_KEYS), authorizedKeys + full);
      NODES.push({ name: "full", ipv4: "127.0.0.99" });

      // The node: BigBlueButton (fake installer), our real recordings step with bbb1's key, Scalelite's own post_publish.
      await installRecordingNode(node, { front, transferKey: readFileSync(path.join(keys, "bbb1"), "utf8"), scaleliteTree: scalelite! });
      const core = path.join(node.root, "usr/local/bigbluebutton/core");
      const bbb = path.join(node.root, "var/bigbluebutton");
      mkdirSync(path.join(bbb, `published/presentation/${MEETING}`), { recursive: true });
      writeFileSync(path.join(bbb, `published/presentation/${MEETING}/metadata.xml`), metadataXml(MEETING));

      transfer = await onNode(`ruby ${core}/scripts/post_publish/scalelite_post_publish.rb -m ${MEETING} -f presentation`);
    }, 180_000);

    afterAll(async () => {
      await Promise.all([front, node].filter(Boolean).map((h) => h.stop()));
      if (keys) rmSync(keys, { recursive: true, force: true });
      NODES.splice(10);
    });

    // What rrsync itself enforces is tested with both rrsyncs. Tests of our own programs (the node's retry, the
    // mover, the receiver under a burst), whose transfers merely pass through rrsync, run once, with the rrsync
    // that fronts run today (3.2.7, as Ubuntu 22.04's updates ship it): twice they cost a quarter of this file.
    const ownProgramsToo = rsyncName === "rsync-3.2.7";
    const itOurs = (name: string, test: () => Promise<void>) => (ownProgramsToo ? it(name, test) : undefined);

    it("pins the very post_publish script of the pinned tree: same commit, same sha256", () => {
      const real = readFileSync(path.join(scalelite!, "bigbluebutton/scalelite_post_publish.rb"));
      expect(createHash("sha256").update(real).digest("hex")).toBe(POST_PUBLISH.sha256);
      expect(path.basename(scalelite!)).toBe(`scalelite-${POST_PUBLISH.commit}`);
    });

    it("Scalelite's post_publish sends the archive into the node's own target; the mover hands it to the spool", async () => {
      expect(transfer.code, output(transfer)).toBe(0);
      expect(transfer.stdout).toContain("Recording transferring to Scalelite ends");
      expect(readdirSync(incoming("bbb1"))).toEqual([`${MEETING}.tar`]);
      expect(spoolTars()).toEqual([]);
      const moved = await move();
      expect(moved).toContain(`handed over ${MEETING}.tar from bbb1`);
      expect(spoolTars()).toEqual([`${MEETING}.tar`]);
      expect(readdirSync(incoming("bbb1"))).toEqual([]);
      expect(readFileSync(ledger(MEETING), "utf8")).toMatch(/^bbb1 [0-9a-f]{64}\n$/);
      const listing = execFileSync("tar", ["-tf", path.join(spool(), `${MEETING}.tar`)], { encoding: "utf8" });
      expect(listing).toContain(`presentation/${MEETING}/metadata.xml`);
    });

    it("leaves nothing on the node: the archive is moved, the recording deleted (delete_recording), the sender marked done", () => {
      expect(readdirSync(path.join(node.root, "var/bigbluebutton/recording/scalelite"))).toEqual([]);
      expect(calls(node)).toContain(`bbb-record --delete ${MEETING}`);
      expect(existsSync(path.join(node.root, `var/bigbluebutton/published/presentation/${MEETING}`))).toBe(false);
      expect(read(node, `var/bigbluebutton/recording/status/published/${MEETING}-sender.done`)).toBe(`Published ${MEETING}`);
    });

    itOurs("a recording the front did not get is sent again by the node's retry, with backoff, and reported until it is", async () => {
      const bbb = path.join(node.root, "var/bigbluebutton");
      const id = recordId("retry");
      mkdirSync(path.join(bbb, `published/presentation/${id}`), { recursive: true });
      writeFileSync(path.join(bbb, `published/presentation/${id}/metadata.xml`), metadataXml(id));
      writeFileSync(path.join(bbb, `recording/status/published/${id}-presentation.done`), "Published");
      const config = nodeFiles().sshConfig;
      const working = readFileSync(config, "utf8");
      const retry = (env = "") => onNode(`GRACE_SECONDS=0 ${env} "$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-retry"`);
      // The front does not answer (port 1): the attempt fails, the recording stays, the next try is later.
      writeFileSync(config, working.replace(/^ {2}Port \d+$/m, "  Port 1"));
      const failed = await retry();
      expect(failed.code, output(failed)).toBe(0);
      expect(failed.stdout).toContain(`attempt 1 for ${id} failed`);
      expect(failed.stdout).toContain("could not report the backlog to the front");
      const state = path.join(node.root, "var/lib/bbb-ovh-recording-retry", id);
      const [attempts, next] = readFileSync(state, "utf8").trim().split(" ").map(Number);
      expect(attempts).toBe(1);
      expect(next - Date.now() / 1000).toBeGreaterThan(500);
      expect(existsSync(path.join(bbb, `published/presentation/${id}`))).toBe(true);
      // Within its backoff nothing is tried, even with the front back.
      writeFileSync(config, working);
      expect((await retry()).stdout).not.toContain(`for ${id}`);
      // Past the deadline it is reported overdue; once its next try is due, it goes, and only then leaves the node.
      const overdue = await retry("DEADLINE_HOURS=0");
      expect(overdue.stdout).toContain(`ERROR: recording ${id} was published`);
      await move();
      expect(readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8")).toMatch(
        /^waiting=1 oldest=\d+ overdue=1 kept=0 kept_bytes=0 resend=0 unsent=1 failed=0 reported=\d+\n$/,
      );
      writeFileSync(state, "1 0\n");
      const sent = await retry();
      expect(sent.stdout).toContain(`sent ${id} to the front after 2 more attempt(s)`);
      expect(existsSync(path.join(bbb, `published/presentation/${id}`))).toBe(false);
      expect(existsSync(state)).toBe(false);
      await move();
      expect(spoolTars()).toContain(`${id}.tar`);
      expect(readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8")).toMatch(
        /^waiting=0 oldest=0 overdue=0 kept=0 kept_bytes=0 resend=0 unsent=0 failed=0 reported=\d+\n$/,
      );
    });

    itOurs("reports the recordings still being processed, from the end of their meeting, in a report timed before it looked", async () => {
      const status = path.join(node.root, "var/bigbluebutton/recording/status");
      const ended = recordId("processing");
      mkdirSync(path.join(status, "recorded"), { recursive: true });
      writeFileSync(path.join(status, `recorded/${ended}.done`), ""); // bbb-web, as the meeting ended
      const before = Math.floor(Date.now() / 1000);
      const run = await onNode(`"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-retry"`);
      expect(run.code, output(run)).toBe(0);
      await move();
      const line = readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8");
      expect(line).toMatch(/^waiting=0 oldest=0 overdue=0 kept=0 kept_bytes=0 resend=0 unsent=1 failed=0 reported=\d+\n$/);
      const reported = Number(/reported=(\d+)/.exec(line)?.[1]);
      expect(reported).toBeGreaterThanOrEqual(before);
      expect(reported).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      // rap-starter queues its archive job (raw/<id> created, recorded/<id>.done removed): still counted.
      // Another one's processing failed: counted, and counted as failed.
      const broken = recordId("processing", 1);
      mkdirSync(path.join(node.root, "var/bigbluebutton/recording/raw", ended), { recursive: true });
      rmSync(path.join(status, `recorded/${ended}.done`));
      mkdirSync(path.join(status, "archived"), { recursive: true });
      mkdirSync(path.join(status, "processed"), { recursive: true });
      writeFileSync(path.join(status, `archived/${broken}.done`), "");
      writeFileSync(path.join(status, `processed/${broken}-presentation.fail`), "");
      const failing = await onNode(`"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-retry"`);
      expect(failing.stdout).toContain("ERROR: 1 recording(s) failed processing here");
      await move();
      expect(readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8")).toMatch(/ unsent=2 failed=1 reported=/);
      rmSync(path.join(status, `archived/${broken}.done`));
      rmSync(path.join(status, `processed/${broken}-presentation.fail`));
      // Processed, published and sent: no longer counted.
      mkdirSync(path.join(status, "published"), { recursive: true });
      writeFileSync(path.join(status, `archived/${ended}.done`), "");
      writeFileSync(path.join(status, `published/${ended}-presentation.done`), "");
      writeFileSync(path.join(status, `published/${ended}-sender.done`), "");
      expect((await onNode(`"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-retry"`)).code).toBe(0);
      await move();
      expect(readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8")).toMatch(/ unsent=0 failed=0 reported=/);
    });

    itOurs("keeps the newest backlog report of a node, also among reports sent within one second", async () => {
      const second = Math.floor(Date.now() / 1000) + 100;
      const reports: Array<[string, string]> = [
        [`backlog-${second}.000000002.txt`, "waiting=2 oldest=7 overdue=1"],
        [`backlog-${second}.000000001.txt`, "waiting=1 oldest=7 overdue=0"],
        [`backlog-${second}.txt`, "waiting=9 oldest=7 overdue=9"],
      ];
      for (const [name, line] of reports) writeFileSync(path.join(incoming("bbb1"), name), `${line}\n`);
      await move();
      expect(readFileSync(path.join(front.root, "var/lib/bbb-ovh/recordings/backlog/bbb1"), "utf8")).toBe(`waiting=2 oldest=7 overdue=1 reported=${second}\n`);
      expect(readdirSync(incoming("bbb1"))).toEqual([]);
    });

    it.each(ownProgramsToo ? [2, 10] : [2])("%i nodes sending at once, and three archives of one node at once: every archive arrives, once", async (count) => {
      const work = mkdtempSync(path.join(keys, "burst-"));
      const archives = NODES.slice(0, count).flatMap((n, i) =>
        Array.from({ length: i === 1 ? 3 : 1 }, (_, k) => ({ node: n.name, file: goodArchive(work, recordId(`burst-${count}-${n.name}`, k)) })),
      );
      // sshd drops unauthenticated connections past MaxStartups (default 10:30:100, sshd_config(5)): a
      // node whose connection was dropped sends again, as its retry timer does; nothing else may fail.
      let pending = archives;
      let dropped = 0;
      for (let round = 0; round < 5 && pending.length > 0; round++) {
        const results = await sendAll(pending);
        results.forEach(
          (r, i) => r.code === 0 || expect(r.stderr, `${pending[i].node}: ${output(r)}`).toMatch(/kex_exchange_identification|Connection (closed|reset)/),
        );
        const failed = pending.filter((_, i) => results[i].code !== 0);
        dropped += failed.length;
        pending = failed;
      }
      expect(pending).toEqual([]);
      const before = spoolTars().length;
      await move();
      const ids = archives.map((a) => path.basename(a.file));
      expect(spoolTars()).toEqual(expect.arrayContaining(ids));
      expect(spoolTars()).toHaveLength(before + ids.length);
      for (const a of archives) {
        expect(sha256(path.join(spool(), path.basename(a.file)))).toBe(sha256(a.file));
        expect(readFileSync(ledger(path.basename(a.file, ".tar")), "utf8").split(" ")[0]).toBe(a.node);
      }
      // Every node sends its archives again (a retry after a lost answer): nothing arrives twice.
      const again = await sendAll(archives, { together: false });
      again.forEach((r) => expect(r.code, output(r)).toBe(0));
      const moved = await move();
      expect(moved.match(/duplicate of .* dropped/g)).toHaveLength(archives.length);
      expect(spoolTars()).toHaveLength(before + ids.length);
      console.log(
        `${rsyncName}: ${archives.length} archives sent by ${count} nodes at once (${dropped} connection(s) dropped by sshd and sent again), ${ids.filter((id) => spoolTars().includes(id)).length} arrived, ${archives.length} resent whole, 0 duplicates in the spool`,
      );
    });

    it("a node cannot read, delete, link, send trees, or write outside its own target", async () => {
      const work = mkdtempSync(path.join(keys, "attack-"));
      const victim = goodArchive(work, recordId("victim"));
      expect((await send("bbb2", victim)).code).toBe(0);
      const victimFile = path.join(incoming("bbb2"), path.basename(victim));
      const victimSha = sha256(victimFile);
      const config = transferFilesAt("etc/node-bbb3", "bbb3", front.hostPublicKey).sshConfig;
      const as3 = (args: string) => onNode(`rsync --no-protect-args ${rsh(config, " -o BindAddress=127.0.0.12")} ${args}`);
      const attempts: [string, StepResult, string][] = [];
      // Read what another node sent.
      attempts.push(["read", await as3(`root@scalelite-front:../bbb2/ ${work}/stolen/`), "reading is not allowed"]);
      // Overwrite another node's archive: by .., and by an absolute path.
      const forged = craftedArchive(work, path.basename(victim), recordingMembers(path.basename(victim, ".tar")));
      attempts.push(["overwrite by ..", await as3(`${forged} root@scalelite-front:../bbb2/`), "do not use .. in"]);
      const absolute = await as3(`${forged} root@scalelite-front:${victimFile}`);
      attempts.push(["overwrite by absolute path", absolute, ""]);
      // Delete what is there.
      mkdirSync(path.join(work, "empty"));
      attempts.push(["--delete", await as3(`-r --delete ${work}/empty/ root@scalelite-front:.`), "deleting is not allowed"]);
      attempts.push(["--delete on ../bbb2", await as3(`-d --delete ${work}/empty/ root@scalelite-front:../bbb2/`), "deleting is not allowed"]);
      // A symlink to /etc/shadow, a device, a directory tree.
      symlinkSync("/etc/shadow", path.join(work, "evil.tar"));
      attempts.push(["symlink", await as3(`--links ${work}/evil.tar root@scalelite-front:.`), "only regular files are accepted"]);
      attempts.push(["devices", await as3(`-D ${forged} root@scalelite-front:.`), "only regular files are accepted"]);
      mkdirSync(path.join(work, "tree/a/b"), { recursive: true });
      writeFileSync(path.join(work, "tree/a/b/c.tar"), "x");
      attempts.push(["tree", await as3(`-r ${work}/tree root@scalelite-front:.`), "no directories"]);
      attempts.push(["--mkpath", await as3(`--mkpath ${forged} root@scalelite-front:a/b/`), "no directories"]);
      attempts.push(["--inplace", await as3(`--inplace ${forged} root@scalelite-front:.`), "written whole or not at all"]);
      // A shell, and the arguments hidden from rrsync by --protect-args.
      attempts.push(["shell", await onNode(`ssh -F ${config} -o BindAddress=127.0.0.12 root@scalelite-front id`), ""]);
      attempts.push([
        "--protect-args",
        await onNode(`rsync --protect-args ${rsh(config, " -o BindAddress=127.0.0.12")} ${forged} root@scalelite-front:.`),
        "invalid rsync command",
      ]);
      for (const [what, r, message] of attempts) {
        expect(r.code, `${what}: ${output(r)}`).not.toBe(0);
        expect(r.stdout, what).not.toContain("uid=");
        if (message) expect(r.stderr, what).toContain(message);
      }
      expect(existsSync(path.join(work, "stolen"))).toBe(false);
      // bbb2's archive is untouched, and the absolute path stayed inside bbb3's own target, if anywhere.
      expect(sha256(victimFile)).toBe(victimSha);
      expect(readdirSync(incoming("bbb2"))).toEqual([path.basename(victim)]);
      const written = execFileSync("find", [front.root, "-name", path.basename(victim), "-not", "-path", `${spool()}/*`], { encoding: "utf8" })
        .trim()
        .split("\n")
        .filter(Boolean);
      for (const file of written) expect(file === victimFile || file.startsWith(`${incoming("bbb3")}/`), file).toBe(true);
      console.log(`${rsyncName}: ${attempts.length} transfer attacks refused`);
    });

    itOurs("the mover refuses every hostile archive, keeps it aside with its reason, and hands over nothing of it", async () => {
      const work = mkdtempSync(path.join(keys, "hostile-"));
      await move(); // bbb2's victim archive of the previous test goes first: bbb3 now claims its id
      const victimId = recordId("victim");
      expect(existsSync(ledger(victimId))).toBe(true);
      const id = (n: number) => recordId("hostile", n);
      const hostile: [string, string][] = [
        ["another node's recording id", craftedArchive(work, `${victimId}.tar`, recordingMembers(victimId))],
        [
          "setuid member",
          craftedArchive(work, `${id(1)}.tar`, [...recordingMembers(id(1)), { name: `presentation/${id(1)}/run`, mode: 0o4755, content: "#!/bin/sh" }]),
        ],
        [
          "world-writable member",
          craftedArchive(work, `${id(2)}.tar`, [...recordingMembers(id(2)), { name: `presentation/${id(2)}/open`, mode: 0o666, content: "x" }]),
        ],
        [
          "symlink member",
          craftedArchive(work, `${id(3)}.tar`, [
            ...recordingMembers(id(3)),
            { name: `presentation/${id(3)}/shadow`, type: "symlink", linkname: "/etc/shadow" },
          ]),
        ],
        [
          "hard link member",
          craftedArchive(work, `${id(4)}.tar`, [...recordingMembers(id(4)), { name: `presentation/${id(4)}/hard`, type: "hardlink", linkname: "etc/passwd" }]),
        ],
        ["device member", craftedArchive(work, `${id(5)}.tar`, [...recordingMembers(id(5)), { name: `presentation/${id(5)}/dev`, type: "chr" }])],
        [
          "../ member",
          craftedArchive(work, `${id(6)}.tar`, [
            ...recordingMembers(id(6)),
            { name: `presentation/${id(6)}/../../../etc/cron.d/evil`, content: "* * * * * root sh" },
          ]),
        ],
        ["absolute member", craftedArchive(work, `${id(7)}.tar`, [...recordingMembers(id(7)), { name: "/etc/cron.d/evil", content: "x" }])],
        ["member outside its recording", craftedArchive(work, `${id(8)}.tar`, [...recordingMembers(id(8)), ...recordingMembers(victimId)])],
        ["mismatched recording id", craftedArchive(work, `${id(9)}.tar`, recordingMembers(id(9), id(10)))],
        ["not a recording id", craftedArchive(work, "lesson.tar", recordingMembers("lesson"))],
        ["not a tar", (writeFileSync(path.join(work, `${id(11)}.tar`), "MZ not a tar"), path.join(work, `${id(11)}.tar`))],
      ];
      const sent = await sendAll(
        hostile.map(([, file]) => ({ node: "bbb3", file })),
        { together: false },
      );
      sent.forEach((r, i) => expect(r.code, `${hostile[i][0]}: ${output(r)}`).toBe(0));
      // What an unprotected rrsync could have let in: a symlink, a directory tree, a setuid file.
      symlinkSync("/etc/shadow", path.join(incoming("bbb3"), "evil.tar"));
      mkdirSync(path.join(incoming("bbb3"), `${id(12)}.tar/presentation`), { recursive: true });
      const setuid = goodArchive(work, id(13));
      copyFileSync(setuid, path.join(incoming("bbb3"), `${id(13)}.tar`));
      chmodSync(path.join(incoming("bbb3"), `${id(13)}.tar`), 0o4777);
      const spoolBefore = spoolTars();
      const out = await move();
      expect(readdirSync(incoming("bbb3"))).toEqual([]);
      const why = reasons("bbb3").join("\n");
      expect(reasons("bbb3")).toHaveLength(hostile.length + 2);
      for (const reason of [
        `recording ${victimId} was delivered by node bbb2, not by bbb3`,
        "is setuid or setgid",
        "is world-writable",
        "is not a regular file or directory",
        "is not a plain relative path",
        `is outside <format>/${id(8)}/`,
        `names recording '${id(10)}', not ${id(9)}`,
        "the name is not <recording id>.tar",
        "not a tar archive",
        "reason: not a regular file",
      ])
        expect(why).toContain(reason);
      // The setuid archive file itself is a good recording: handed over, readable by the importer, setuid gone.
      expect(spoolTars()).toEqual([...spoolBefore, `${id(13)}.tar`].sort());
      expect(statSync(path.join(spool(), `${id(13)}.tar`)).mode & 0o7777).toBe(0o644);
      // Refused files are kept, never deleted; bbb2's delivery is unchanged.
      expect(readdirSync(refused("bbb3")).filter((f) => !f.endsWith(".reason"))).toHaveLength(hostile.length + 2);
      expect(readFileSync(ledger(victimId), "utf8").split(" ")[0]).toBe("bbb2");
      expect(out).toContain("REFUSED from bbb3");
      console.log(`${rsyncName}: ${hostile.length + 2} hostile archives refused by the mover, 0 handed over`);
    });

    it("a transfer cut midway leaves nothing under the archive's name; sent again, it arrives whole, once", async () => {
      const work = mkdtempSync(path.join(keys, "cut-"));
      const archive = goodArchive(work, recordId("cut"), 6 * MiB);
      // 6 MiB at 500 KiB/s takes about 12 s: cut after 2 s.
      const cut = await send("bbb4", archive, { rsync: "--bwlimit=500", shell: "timeout -s KILL 2 RSYNC" });
      expect(cut.code).not.toBe(0);
      expect(existsSync(path.join(incoming("bbb4"), path.basename(archive)))).toBe(false);
      await move();
      expect(spoolTars()).not.toContain(path.basename(archive));
      const retried = await send("bbb4", archive);
      expect(retried.code, output(retried)).toBe(0);
      await move();
      expect(sha256(path.join(spool(), path.basename(archive)))).toBe(sha256(archive));
    });

    it("a full spool: an archive over the size cap fails, a node over its limit and a disk under its reserve are refused, the mover holds", async () => {
      const work = mkdtempSync(path.join(keys, "full-"));
      const big = goodArchive(work, recordId("big"), 9 * MiB);
      const tooBig = await send("bbb5", big);
      expect(tooBig.code, output(tooBig)).not.toBe(0);
      expect(existsSync(path.join(incoming("bbb5"), path.basename(big)))).toBe(false);
      // bbb6 fills its 20 MiB: three 7 MiB archives go (the limit is checked before each transfer), the fourth is refused.
      const many = [0, 1, 2, 3].map((k) => goodArchive(work, recordId("many", k), 7 * MiB));
      for (const r of await sendAll(
        many.slice(0, 3).map((file) => ({ node: "bbb6", file })),
        { together: false },
      ))
        expect(r.code, output(r)).toBe(0);
      const over = await send("bbb6", many[3]);
      expect(over.code).not.toBe(0);
      expect(over.stderr).toContain("this node's spool holds");
      // A line whose reserve no disk has: nothing is written.
      const reserve = await send("full", goodArchive(work, recordId("full")));
      expect(reserve.code).not.toBe(0);
      expect(reserve.stderr).toContain("below its reserve");
      expect(readdirSync(incoming("full"))).toEqual([]);
      // The mover keeps the reserve too: with less free than asked, it hands nothing over.
      const held = await move(2 ** 52);
      expect(held).toContain("HOLDING");
      expect(readdirSync(incoming("bbb6"))).toHaveLength(3);
      // One an earlier run staged before the reserve was reached waits in .checking, where the standby's
      // read-only copy cannot look: the oldest such archive's time is left, readable, in held-since.
      const heldSince = path.join(incoming("bbb6"), "../../held-since");
      const staged = path.join(incoming("bbb6"), "../../.checking/bbb6", path.basename(many[0]));
      const stagedAt = Math.floor(Date.now() / 1000) - 3600;
      mkdirSync(path.dirname(staged), { recursive: true });
      renameSync(path.join(incoming("bbb6"), path.basename(many[0])), staged);
      utimesSync(staged, stagedAt, stagedAt);
      await move(2 ** 52);
      expect(readFileSync(heldSince, "utf8")).toBe(`${stagedAt}\n`);
      expect(statSync(heldSince).mode & 0o777).toBe(0o644);
      await move();
      expect(readdirSync(incoming("bbb6"))).toEqual([]);
      expect(existsSync(staged)).toBe(false);
      expect(existsSync(heldSince)).toBe(false);
      // While a run checks what it staged (the archive check held here until released), held-since already
      // counts it: a standby's pull in between sees it neither in incoming/ nor in the spool.
      const checker = path.join(front.root, "usr/local/lib/bbb-ovh/recording_archive_check.py");
      const release = path.join(work, "release");
      copyFileSync(checker, `${checker}.real`);
      writeFileSync(
        checker,
        `import os, sys, time\nwhile not os.path.exists(${JSON.stringify(release)}):\n    time.sleep(0.02)\nos.execv(sys.executable, [sys.executable, ${JSON.stringify(`${checker}.real`)}] + sys.argv[1:])\n`,
      );
      try {
        const late = path.join(incoming("bbb6"), path.basename(many[1]));
        copyFileSync(many[1], late);
        utimesSync(late, stagedAt - 600, stagedAt - 600);
        const running = move();
        await waitUntil(() => existsSync(heldSince));
        expect(readFileSync(heldSince, "utf8")).toBe(`${stagedAt - 600}\n`);
        writeFileSync(release, "");
        await running;
        expect(existsSync(heldSince)).toBe(false);
      } finally {
        copyFileSync(`${checker}.real`, checker);
        rmSync(`${checker}.real`);
      }
      expect((await send("bbb6", many[3])).code).toBe(0);
    });

    it("a front that does not serve (fenced by ops failover, or the standby) takes no recording: the node keeps it", async () => {
      const work = mkdtempSync(path.join(keys, "role-"));
      const archive = goodArchive(work, recordId("role"));
      const role = path.join(front.root, "var/lib/bbb-ovh/front-role");
      mkdirSync(path.dirname(role), { recursive: true });
      await move();
      for (const r of ["fenced", "standby"]) {
        writeFileSync(role, `${r}\n`);
        const refused = await send("bbb6", archive);
        expect(refused.code, r).not.toBe(0);
        expect(refused.stderr).toContain(`this front is the ${r} one: it takes no recording`);
        expect(readdirSync(incoming("bbb6")), r).toEqual([]);
      }
      writeFileSync(role, "primary\n");
      const taken = await send("bbb6", archive);
      rmSync(role);
      expect(taken.code, output(taken)).toBe(0);
      expect(readdirSync(incoming("bbb6"))).toEqual([path.basename(archive)]);
    });

    it("a key works only from its node's address (from=), and only with the pinned front host key", async () => {
      const files = transferFilesAt("etc/node-bbb2", "bbb2", front.hostPublicKey);
      writeFileSync(path.join(keys, "other-node.tar"), "from bbb2");
      const wrongSource = await onNode(`rsync --no-protect-args ${rsh(files.sshConfig)} ${keys}/other-node.tar root@scalelite-front:.`);
      expect(wrongSource.code).not.toBe(0);
      expect(wrongSource.stderr).toContain("Permission denied");
      const pinnedWrong = transferFilesAt("etc/wrong-pin", "bbb1", node.hostPublicKey);
      const mitm = await onNode(`rsync --no-protect-args ${rsh(pinnedWrong.sshConfig)} ${keys}/other-node.tar root@scalelite-front:.`);
      expect(mitm.code).not.toBe(0);
      expect(mitm.stderr).toContain("Host key verification failed");
    });
  });
});
