/**
 * A BigBlueButton node test host as the recording tests need it: BigBlueButton by the fake installer, our
 * real bbbRecordings step sending to `front` (the test sshd's login user stands for the spool user), then
 * Scalelite's own post_publish script of the pinned tree in place of the fake download, with BigBlueButton's
 * layout for it (bigbluebutton.yml's published_dir and recording_dir, the published status directory) and
 * its recordandplayback library stubbed (test/fakes/lib/recordandplayback.rb).
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { renderInstallerFlags } from "../../components/bbb/installerFlags";
import { INSTALLER_PINS, installerUrl } from "../../components/bbb/installerPin";
import { base64 } from "../../components/remote/invocation";
import { NODE_KEEP, POST_PUBLISH, nodeTransferFiles } from "../../components/scalelite/recordingLayout";
import { renderTransferKnownHosts, renderTransferSshConfig } from "../../components/scalelite/renderRecordingTransfer";
import { renderScaleliteYml } from "../../components/scalelite/renderScaleliteYml";
import { output } from "./hostState";
import { runStep, type TestHost } from "./sshd";

const FAKES = path.join(__dirname, "../fakes");

export interface RecordingNodeArgs {
  front: TestHost;
  /** The node's transfer key (OpenSSH private key text). */
  transferKey: string;
  /** The pinned Scalelite tree (upstreamTree("scalelite")). */
  scaleliteTree: string;
  keep?: { bytes: number; hours: number };
}

export async function installRecordingNode(node: TestHost, { front, transferKey, scaleliteTree, keep }: RecordingNodeArgs): Promise<void> {
  const install = await runStep(node, "bbbInstall", {
    FQDN: node.fqdn,
    INSTALLER_FLAGS: renderInstallerFlags({ bbbVersion: "jammy-300", fqdn: node.fqdn, email: "ops@campus.example" }).join(" "),
    INSTALLER_URL: installerUrl(INSTALLER_PINS["v3.0.x-release"]),
    // The fake web serves test/fakes/downloads/bbb-install.sh at any commit: its hash is the one to check.
    INSTALLER_SHA256: createHash("sha256")
      .update(readFileSync(path.join(FAKES, "downloads/bbb-install.sh")))
      .digest("hex"),
  });
  expect(install.code, output(install)).toBe(0);
  const bbb = path.join(node.root, "var/bigbluebutton");
  const files = nodeTransferFiles(path.join(node.root, "etc/bbb-ovh/recording-transfer"));
  const recordings = await runStep(node, "bbbRecordings", {
    SSH_CONFIG_B64: base64(renderTransferSshConfig({ address: "127.0.0.1", port: front.port, user: "root", files })),
    KNOWN_HOSTS_B64: base64(renderTransferKnownHosts(front.hostPublicKey)),
    TRANSFER_KEY_B64: base64(transferKey),
    SCALELITE_YML_B64: base64(renderScaleliteYml({ workDir: path.join(bbb, "recording/scalelite"), sshConfig: files.sshConfig, user: "root" })),
    POST_PUBLISH_URL: POST_PUBLISH.url,
    // The fake web serves test/fakes/downloads for that URL; the real file replaces it below.
    POST_PUBLISH_SHA256: createHash("sha256")
      .update(readFileSync(path.join(FAKES, "downloads/scalelite_post_publish.rb")))
      .digest("hex"),
    KEEP_BYTES: String(keep?.bytes ?? NODE_KEEP.maxBytes),
    KEEP_HOURS: String(keep?.hours ?? NODE_KEEP.maxHours),
  });
  expect(recordings.code, output(recordings)).toBe(0);
  const core = path.join(node.root, "usr/local/bigbluebutton/core");
  copyFileSync(path.join(scaleliteTree, "bigbluebutton/scalelite_post_publish.rb"), path.join(core, "scripts/post_publish/scalelite_post_publish.rb"));
  mkdirSync(path.join(core, "lib"), { recursive: true });
  copyFileSync(path.join(FAKES, "lib/recordandplayback.rb"), path.join(core, "lib/recordandplayback.rb"));
  writeFileSync(path.join(core, "scripts/bigbluebutton.yml"), `published_dir: ${bbb}/published\nrecording_dir: ${bbb}/recording\n`);
  mkdirSync(path.join(bbb, "recording/status/published"), { recursive: true });
}
