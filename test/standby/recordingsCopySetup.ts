/**
 * The standby front's copy of the recordings, set up on two loopback test hosts as the Pulumi program sets
 * it up with campus.recordings and a standbyFront: the spool step on both fronts (one node key line each;
 * the front's also admits the standby's copy key, renderCopyAuthorizedKey, through a pinned rrsync), then
 * the copy step on the standby. Used by the copy's own test and by the failover drill.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { expect } from "vitest";
import { base64 } from "../../components/remote/invocation";
import { nodeTransferFiles, RECORDING_DIR, STANDBY_COPY_DIR } from "../../components/scalelite/recordingLayout";
import {
  renderCopyAuthorizedKey,
  renderSpoolAuthorizedKeys,
  renderTransferKnownHosts,
  renderTransferSshConfig,
} from "../../components/scalelite/renderRecordingTransfer";
import { output } from "../support/hostState";
import { runStep, shellOn, type StepResult, type TestHost } from "../support/sshd";

/** The spool's authorized_keys: the front's sshd must read it (startTestHost's extraAuthorizedKeys). */
export const SPOOL_AUTHORIZED_KEYS = "var/lib/scalelite-spool/.ssh/authorized_keys";

/** A directory of the platform under a test host's root. */
export const onHost = (h: TestHost, dir: string): string => path.join(h.root, dir.replace(/^\//, ""));

export interface RecordingsCopy {
  /** The standby's ssh_config for the copy (under its root). */
  sshConfig: string;
  /** The standby's pull, as bbb-ovh-recordings-pull.service runs it. */
  pull(): Promise<StepResult>;
}

/** An ed25519 key pair made in `dir`. */
export function keyPair(dir: string, name: string): { file: string; private: string; public: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { file, private: readFileSync(file, "utf8"), public: readFileSync(`${file}.pub`, "utf8") };
}

/**
 * Runs the spool step on both fronts and the copy step on the standby; `rrsyncTree` is a pinned rsync tree
 * whose support/rrsync the front's copy key line runs. The standby reaches the front from 127.0.0.1.
 */
export async function installRecordingsCopy(
  primary: TestHost,
  standby: TestHost,
  { keys, rrsyncTree, rrsyncName }: { keys: string; rrsyncTree: string; rrsyncName: string },
): Promise<RecordingsCopy> {
  const node = keyPair(keys, "bbb1");
  const copy = keyPair(keys, "copy");
  const rrsync = path.join(primary.root, `opt/${rrsyncName}/rrsync`);
  mkdirSync(path.dirname(rrsync), { recursive: true });
  copyFileSync(path.join(rrsyncTree, "support/rrsync"), rrsync);
  chmodSync(rrsync, 0o755);

  const nodeLine = (h: TestHost) =>
    renderSpoolAuthorizedKeys([{ name: "bbb1", ipv4: "127.0.0.11", ipv6: "", publicKey: node.public }], {
      incomingDir: onHost(h, `${RECORDING_DIR}/incoming`),
      receiver: onHost(h, "usr/local/lib/bbb-ovh/spool-receive"),
      rrsync,
    });
  const copyLine = renderCopyAuthorizedKey(
    { name: "lb-standby", ipv4: "127.0.0.1", ipv6: "", publicKey: copy.public },
    { recordingDir: onHost(primary, RECORDING_DIR), rrsync },
  );
  const spools = await Promise.all(
    [
      [primary, nodeLine(primary) + copyLine],
      [standby, nodeLine(standby)],
    ].map(([h, lines]) =>
      runStep(h as TestHost, "scaleliteSpool", { RECORDING_DIR, AUTHORIZED_KEYS_B64: base64(lines as string), SENDERS: "bbb1", RESERVE_BYTES: "0" }),
    ),
  );
  for (const spool of spools) expect(spool.code, output(spool)).toBe(0);
  const copyDir = onHost(standby, STANDBY_COPY_DIR);
  const step = await runStep(standby, "scaleliteRecordingsCopy", {
    RECORDING_DIR,
    SSH_CONFIG_B64: base64(renderTransferSshConfig({ address: "127.0.0.1", port: primary.port, user: "root", files: nodeTransferFiles(copyDir) })),
    KNOWN_HOSTS_B64: base64(renderTransferKnownHosts(primary.hostPublicKey)),
    COPY_KEY_B64: base64(copy.private),
  });
  expect(step.code, output(step)).toBe(0);
  const sshConfig = path.join(copyDir, "ssh_config");
  return { sshConfig, pull: () => shellOn(standby, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recordings-pull" ${RECORDING_DIR} ${sshConfig}`) };
}
