/**
 * Scalelite's own post_publish script (scalelite_post_publish.rb of the pinned tree) on a node test host,
 * run by Debian's ruby, sends a recording over REAL ssh + rsync into the front test host's spool, where
 * the REAL sshd checks the authorized_keys line our front step installed (from=, restrict, command=
 * REAL rrsync -wo). Then what that key must not do: read, write outside the spool, run a command,
 * connect from another address, or talk to a front whose host key is not the pinned one.
 *
 * Both hosts are loopback sshd test hosts (test/support/sshd.ts). The test sshd only lets its login user
 * (root) in, so the spool's authorized_keys is given to root (extraAuthorizedKeys) and the transfer
 * connects as root: every check here is made by sshd and rrsync, not by file permissions.
 * BigBlueButton's recordandplayback library is stubbed (test/fakes/lib/recordandplayback.rb), bbb-record
 * is faked (test/fakes/bin/bbb-record); everything else is the real program.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64 } from "../../components/remote/invocation";
import { POST_PUBLISH, RECORDING_DIR, SPOOL_DIR, nodeTransferFiles } from "../../components/scalelite/recordingLayout";
import { renderSpoolAuthorizedKeys, renderTransferKnownHosts, renderTransferSshConfig } from "../../components/scalelite/renderRecordingTransfer";
import { renderScaleliteYml } from "../../components/scalelite/renderScaleliteYml";
import { installerUrl, renderInstallerFlags } from "../../components/bbb/installerFlags";
import { calls, output, read } from "../support/hostState";
import { connect, runStep, startTestHost, type StepResult, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const tree = upstreamTree("scalelite");
const MEETING = "0123456789abcdef0123456789abcdef01234567-1732525200000";
const SPOOL_AUTHORIZED_KEYS = "var/lib/scalelite-spool/.ssh/authorized_keys";
const FAKE_POST_PUBLISH = readFileSync(path.join(__dirname, "../fakes/downloads/scalelite_post_publish.rb"));

/** An ED25519 key pair as the Pulumi tls provider makes them (OpenSSH format). */
function keyPair(dir: string, name: string): { private: string; public: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { private: readFileSync(file, "utf8").trim(), public: readFileSync(`${file}.pub`, "utf8").trim() };
}

describe.skipIf(!tree)("recording transfer: Scalelite's post_publish over ssh + rsync + rrsync", () => {
  let front: TestHost;
  let node: TestHost;
  let keys: string;
  let transfer: StepResult;
  const spool = () => path.join(front.root, SPOOL_DIR);
  const nodeFiles = () => nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer"));

  /** Runs a command in a session of the node test host (PATH, BBB_OVH_ROOT as for the steps). */
  async function onNode(command: string): Promise<StepResult> {
    const ssh = await connect(node);
    try {
      const r = await ssh.execCommand(command, { cwd: "/" });
      return { code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    } finally {
      ssh.dispose();
    }
  }
  const rsh = (config: string, extra = "") => `--rsh='ssh -F ${config}${extra}'`;

  beforeAll(async () => {
    keys = mkdtempSync(path.join(tmpdir(), "bbb-ovh-transfer-keys-"));
    const nodeKey = keyPair(keys, "node");
    const otherKey = keyPair(keys, "other");
    front = await startTestHost({ fqdn: "scalelite.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] });
    node = await startTestHost({ fqdn: "bbb1.campus.example" });

    // The front: our real spool step, with the node allowed from 127.0.0.1 and another from 127.0.0.2 only.
    const authorizedKeys = renderSpoolAuthorizedKeys(spool(), [
      { name: "bbb1", ipv4: "127.0.0.1", ipv6: "", publicKey: nodeKey.public },
      { name: "bbb2", ipv4: "127.0.0.2", ipv6: "", publicKey: otherKey.public },
    ]);
    const spoolStep = await runStep(front, "scaleliteSpool", { RECORDING_DIR, AUTHORIZED_KEYS_B64: base64(authorizedKeys) });
    expect(spoolStep.code, output(spoolStep)).toBe(0);

    // The node: BigBlueButton (fake installer), then our real recordings step with the node's key.
    const install = await runStep(node, "bbbInstall", {
      FQDN: node.fqdn,
      INSTALLER_FLAGS: renderInstallerFlags({ bbbVersion: "jammy-300", fqdn: node.fqdn, email: "ops@campus.example" }).join(" "),
      INSTALLER_URL: installerUrl("v3.0.x-release"),
      // The fake web serves test/fakes/downloads/bbb-install.sh at any commit: its hash is the one to check.
      INSTALLER_SHA256: createHash("sha256").update(readFileSync(path.join(__dirname, "../fakes/downloads/bbb-install.sh"))).digest("hex"),
    });
    expect(install.code, output(install)).toBe(0);
    const files = nodeFiles();
    const recordings = await runStep(node, "bbbRecordings", {
      SSH_CONFIG_B64: base64(renderTransferSshConfig({ address: "127.0.0.1", port: front.port, user: "root", files })),
      KNOWN_HOSTS_B64: base64(renderTransferKnownHosts(front.hostPublicKey)),
      TRANSFER_KEY_B64: base64(nodeKey.private),
      SCALELITE_YML_B64: base64(renderScaleliteYml({ workDir: path.join(node.root, "var/bigbluebutton/recording/scalelite"), sshConfig: files.sshConfig, user: "root" })),
      POST_PUBLISH_URL: POST_PUBLISH.url,
      // The fake web serves test/fakes/downloads for that URL; the real file's hash is checked below.
      POST_PUBLISH_SHA256: createHash("sha256").update(FAKE_POST_PUBLISH).digest("hex"),
    });
    expect(recordings.code, output(recordings)).toBe(0);

    // Then the real post_publish script of the pinned tree in its place, with BigBlueButton's layout.
    const core = path.join(node.root, "usr/local/bigbluebutton/core");
    copyFileSync(path.join(tree!, "bigbluebutton/scalelite_post_publish.rb"), path.join(core, "scripts/post_publish/scalelite_post_publish.rb"));
    mkdirSync(path.join(core, "lib"), { recursive: true });
    copyFileSync(path.join(__dirname, "../fakes/lib/recordandplayback.rb"), path.join(core, "lib/recordandplayback.rb"));
    const bbb = path.join(node.root, "var/bigbluebutton");
    writeFileSync(path.join(core, "scripts/bigbluebutton.yml"), `published_dir: ${bbb}/published\nrecording_dir: ${bbb}/recording\n`);
    mkdirSync(path.join(bbb, "recording/status/published"), { recursive: true });
    mkdirSync(path.join(bbb, `published/presentation/${MEETING}`), { recursive: true });
    writeFileSync(path.join(bbb, `published/presentation/${MEETING}/metadata.xml`), "<recording><id>lesson</id></recording>\n");

    transfer = await onNode(`ruby ${core}/scripts/post_publish/scalelite_post_publish.rb -m ${MEETING} -f presentation`);
  });

  afterAll(async () => {
    await Promise.all([front, node].filter(Boolean).map((h) => h.stop()));
    if (keys) rmSync(keys, { recursive: true, force: true });
  });

  it("pins the very post_publish script of the pinned tree: same commit, same sha256", () => {
    const real = readFileSync(path.join(tree!, "bigbluebutton/scalelite_post_publish.rb"));
    expect(createHash("sha256").update(real).digest("hex")).toBe(POST_PUBLISH.sha256);
    expect(path.basename(tree!)).toBe(`scalelite-${POST_PUBLISH.commit}`);
  });

  it("transfers the recording archive into the front's spool, and nowhere else", () => {
    expect(transfer.code, output(transfer)).toBe(0);
    expect(transfer.stdout).toContain("Recording transferring to Scalelite ends");
    expect(readdirSync(spool())).toEqual([`${MEETING}.tar`]);
    const listing = execFileSync("tar", ["-tf", path.join(spool(), `${MEETING}.tar`)], { encoding: "utf8" });
    expect(listing).toContain(`presentation/${MEETING}/metadata.xml`);
    // Nothing else appeared in the recording tree (only the directories the front step made).
    expect(readdirSync(path.join(front.root, RECORDING_DIR)).sort()).toEqual(["published", "recording", "spool", "unpublished"]);
  });

  it("leaves nothing on the node: the archive is moved, the recording deleted (delete_recording), the sender marked done", () => {
    expect(readdirSync(path.join(node.root, "var/bigbluebutton/recording/scalelite"))).toEqual([]);
    expect(calls(node)).toContain(`bbb-record --delete ${MEETING}`);
    expect(existsSync(path.join(node.root, `var/bigbluebutton/published/presentation/${MEETING}`))).toBe(false);
    expect(read(node, `var/bigbluebutton/recording/status/published/${MEETING}-sender.done`)).toBe(`Published ${MEETING}`);
  });

  it("cannot read from the spool", async () => {
    const r = await onNode(`rsync --no-protect-args ${rsh(nodeFiles().sshConfig)} root@scalelite-front:${MEETING}.tar ${keys}/stolen.tar`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("rrsync error: reading from write-only server is not allowed");
    expect(existsSync(path.join(keys, "stolen.tar"))).toBe(false);
  });

  it("cannot write outside the spool: not by .., not by an absolute path", async () => {
    writeFileSync(path.join(keys, "evil.tar"), "not a recording");
    const config = nodeFiles().sshConfig;
    const up = await onNode(`rsync --no-protect-args ${rsh(config)} ${keys}/evil.tar root@scalelite-front:../escape.tar`);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain("rrsync error: do not use .. in arg");
    const outside = path.join(front.root, "outside.tar");
    await onNode(`rsync --no-protect-args ${rsh(config)} ${keys}/evil.tar root@scalelite-front:${outside}`);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(path.join(front.root, RECORDING_DIR, "escape.tar"))).toBe(false);
    // Whatever rrsync made of the absolute path, it stayed inside the spool.
    const written = execFileSync("find", [front.root, "-name", "outside.tar"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
    for (const file of written) expect(file.startsWith(`${spool()}/`)).toBe(true);
  });

  it("cannot run a command, and rrsync refuses the arguments hidden by --protect-args (hence --no-protect-args)", async () => {
    const config = nodeFiles().sshConfig;
    const shell = await onNode(`ssh -F ${config} root@scalelite-front id`);
    expect(shell.code).not.toBe(0);
    expect(shell.stdout).not.toContain("uid=");
    writeFileSync(path.join(keys, "protected.tar"), "x");
    const hidden = await onNode(`rsync --protect-args ${rsh(config)} ${keys}/protected.tar root@scalelite-front:.`);
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain("option -s has been disabled");
  });

  /** A second set of transfer files on the node (key `keyName`, pinning `pinnedHostKey`), as the recordings step writes them. */
  function transferFilesAt(dir: string, keyName: string, pinnedHostKey: string): ReturnType<typeof nodeTransferFiles> {
    const files = nodeTransferFiles(path.join(node.root, dir));
    mkdirSync(path.dirname(files.key), { recursive: true });
    copyFileSync(path.join(keys, keyName), files.key);
    writeFileSync(files.knownHosts, renderTransferKnownHosts(pinnedHostKey));
    writeFileSync(files.sshConfig, renderTransferSshConfig({ address: "127.0.0.1", port: front.port, user: "root", files }));
    return files;
  }

  it("a key works only from its node's address (from=)", async () => {
    // The other node's key, allowed from 127.0.0.2 only: refused from 127.0.0.1, accepted from 127.0.0.2.
    const files = transferFilesAt("etc/other-node", "other", front.hostPublicKey);
    writeFileSync(path.join(keys, "other-node.tar"), "from bbb2");
    const wrongSource = await onNode(`rsync --no-protect-args ${rsh(files.sshConfig)} ${keys}/other-node.tar root@scalelite-front:.`);
    expect(wrongSource.code).not.toBe(0);
    expect(wrongSource.stderr).toContain("Permission denied");
    expect(existsSync(path.join(spool(), "other-node.tar"))).toBe(false);
    const rightSource = await onNode(`rsync --no-protect-args ${rsh(files.sshConfig, " -o BindAddress=127.0.0.2")} ${keys}/other-node.tar root@scalelite-front:.`);
    expect(rightSource.code, output(rightSource)).toBe(0);
    expect(readFileSync(path.join(spool(), "other-node.tar"), "utf8")).toBe("from bbb2");
  });

  it("refuses a front whose host key is not the pinned one", async () => {
    // The node's own host key pinned in place of the front's: whoever answers is not the pinned front.
    const files = transferFilesAt("etc/wrong-pin", "node", node.hostPublicKey);
    writeFileSync(path.join(keys, "mitm.tar"), "x");
    const r = await onNode(`rsync --no-protect-args ${rsh(files.sshConfig)} ${keys}/mitm.tar root@scalelite-front:.`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Host key verification failed");
  });
});
