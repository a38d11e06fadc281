/**
 * The recordings copy between the two fronts, set up on two loopback test hosts as the Pulumi program sets
 * it up with campus.recordings and a standbyFront: the spool step on both fronts (one node key line each,
 * and the OTHER front's copy key, renderCopyAuthorizedKey, through a pinned rrsync), then the copy step on
 * both (the copy follows the roles: whichever front is the standby pulls). The two hosts share loopback:
 * each front's connections leave from an address of its own (`BindAddress` in its ssh_config: 127.0.0.1
 * for the front, 127.0.0.2 for the standby), as a real front's leave from its own IPv4, so sshd's `from=`
 * checks them. Used by the copy's own test and by the failover drill.
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

/** The spool's authorized_keys: each front's sshd must read it (startTestHost's extraAuthorizedKeys). */
export const SPOOL_AUTHORIZED_KEYS = "var/lib/scalelite-spool/.ssh/authorized_keys";

/** Each front's own source address on loopback (see above). */
export const COPY_ADDRESS = { front: "127.0.0.1", standby: "127.0.0.2" } as const;

/** A directory of the platform under a test host's root. */
export const onHost = (h: TestHost, dir: string): string => path.join(h.root, dir.replace(/^\//, ""));

/** A front's ssh_config for the copy (under its root), as the copy step installs it. */
export const copySshConfig = (h: TestHost): string => path.join(onHost(h, STANDBY_COPY_DIR), "ssh_config");

/** A front's pull, as bbb-ovh-recordings-pull.service runs it; `env` prefixes the command (`X=y `). */
export const pullOn = (h: TestHost, env = ""): Promise<StepResult> =>
  shellOn(h, `${env}"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recordings-pull" ${RECORDING_DIR} ${copySshConfig(h)}`);

/** An ed25519 key pair made in `dir`. */
export function keyPair(dir: string, name: string): { file: string; private: string; public: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { file, private: readFileSync(file, "utf8"), public: readFileSync(`${file}.pub`, "utf8") };
}

/**
 * Runs the spool step and the copy step on both fronts, each admitting the other's copy key from the other's
 * address; `rrsyncTree` is a pinned rsync tree whose support/rrsync the copy key lines run. The fronts'
 * names (the key lines' comments) default to lb and lb-standby.
 */
export async function installRecordingsCopy(
  primary: TestHost,
  standby: TestHost,
  {
    keys,
    rrsyncTree,
    rrsyncName,
    names = { front: "lb", standby: "lb-standby" },
  }: {
    keys: string;
    rrsyncTree: string;
    rrsyncName: string;
    names?: { front: string; standby: string };
  },
): Promise<void> {
  const node = keyPair(keys, "bbb1");
  const fronts = [
    { h: primary, name: names.front, address: COPY_ADDRESS.front, key: keyPair(keys, `copy-${names.front}`), other: standby },
    { h: standby, name: names.standby, address: COPY_ADDRESS.standby, key: keyPair(keys, `copy-${names.standby}`), other: primary },
  ];
  const rrsyncOn = (h: TestHost) => {
    const rrsync = path.join(h.root, `opt/${rrsyncName}/rrsync`);
    mkdirSync(path.dirname(rrsync), { recursive: true });
    copyFileSync(path.join(rrsyncTree, "support/rrsync"), rrsync);
    chmodSync(rrsync, 0o755);
    return rrsync;
  };
  const spools = await Promise.all(
    fronts.map(({ h, other }) => {
      const rrsync = rrsyncOn(h);
      const nodeLine = renderSpoolAuthorizedKeys([{ name: "bbb1", ipv4: "127.0.0.11", ipv6: "", publicKey: node.public }], {
        incomingDir: onHost(h, `${RECORDING_DIR}/incoming`),
        receiver: onHost(h, "usr/local/lib/bbb-ovh/spool-receive"),
        rrsync,
      });
      // This front admits the OTHER front's copy key, from the other front's address only.
      const reader = fronts.find((f) => f.h === other)!;
      const copyLine = renderCopyAuthorizedKey(
        { name: reader.name, ipv4: reader.address, ipv6: "", publicKey: reader.key.public },
        { recordingDir: onHost(h, RECORDING_DIR), rrsync },
      );
      return runStep(h, "scaleliteSpool", { RECORDING_DIR, AUTHORIZED_KEYS_B64: base64(nodeLine + copyLine), SENDERS: "bbb1", RESERVE_BYTES: "0" });
    }),
  );
  for (const spool of spools) expect(spool.code, output(spool)).toBe(0);
  const steps = await Promise.all(
    fronts.map(({ h, address, key, other }) => {
      const config = renderTransferSshConfig({ address: "127.0.0.1", port: other.port, user: "root", files: nodeTransferFiles(onHost(h, STANDBY_COPY_DIR)) });
      return runStep(h, "scaleliteRecordingsCopy", {
        RECORDING_DIR,
        SSH_CONFIG_B64: base64(`${config}  BindAddress ${address}\n`),
        KNOWN_HOSTS_B64: base64(renderTransferKnownHosts(other.hostPublicKey)),
        COPY_KEY_B64: base64(key.private),
      });
    }),
  );
  for (const step of steps) expect(step.code, output(step)).toBe(0);
}
