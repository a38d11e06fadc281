/**
 * Host keys against cloud-init's REAL ssh module (cc_ssh.handle of Debian's cloud-init 22.4), run in a
 * private mount namespace where /etc/ssh is a scratch directory (and /root an empty tmpfs, since the
 * module also writes authorized keys), so the machine's own keys are never touched:
 * - a dedicated server: OVH passes its installation to cloud-init's config-drive datasource, whose
 *   first boot deletes every host key unless told otherwise. Whether our post-installation script ran
 *   before that boot or after it, the pinned key is what sshd offers afterwards, and nothing else is.
 * - a Public Cloud instance: the user data we render makes cc_ssh install our key and generate no other.
 * Without the script's drop-in the key does not survive (checked too, so the test can fail).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderCloudInit } from "../../components/hosts/cloudInit";
import { publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";
import { renderPostInstallScript } from "../../components/hosts/postInstall";
import { FAKE_BIN } from "../support/sshd";

const CC_SSH = "/usr/lib/python3/dist-packages/cloudinit/config/cc_ssh.py";
const usable =
  process.getuid?.() === 0 && spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0 && spawnSync("test", ["-f", CC_SSH]).status === 0;

const HOST_KEY = throwawayPrivateKey("pinned@host");
const HOST_PUB = `${(publicKeyOfPrivateKey(HOST_KEY) as { publicKey: string }).publicKey.replace(/ \S+$/, "")} pinned@host`;
const ADMIN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd it-team@isen-ouest";
// What OVH's config drive may carry besides: the deploy key for the default user (never host keys).
const OVH_USER_DATA = `#cloud-config\nssh_authorized_keys:\n  - ${ADMIN}\n`;

const work = mkdtempSync(path.join(tmpdir(), "bbb-cc-ssh-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs cc_ssh.handle with the merged configs (first wins, as cloud-init merges user data over cloud.cfg.d) on ROOT/etc/ssh. */
function cloudInitSshModule(root: string, configs: string[]): void {
  const files = configs.map((c, i) => {
    const f = path.join(root, `cfg-${i}.yaml`);
    writeFileSync(f, c);
    return f;
  });
  const python = [
    "import logging, sys",
    "from cloudinit import util",
    "from cloudinit.config import cc_ssh",
    "class Datasource:",
    "    def publish_host_keys(self, keys): pass",
    "class Cloud:",
    "    datasource = Datasource()",
    "    distro = None",
    "    def get_public_ssh_keys(self): return []",
    "cfg = util.mergemanydict([util.load_yaml(open(f).read()) or {} for f in sys.argv[1:]])",
    "cc_ssh.handle('ssh', cfg, Cloud(), logging.getLogger(), [])",
  ].join("\n");
  const shell = `mount --bind "$1" /etc/ssh && mount -t tmpfs tmpfs /root && shift && exec python3 -c "$0" "$@"`;
  execFileSync("unshare", ["-m", "--propagation", "private", "sh", "-c", shell, python, path.join(root, "etc/ssh"), ...files], { stdio: "pipe" });
}

/** A server root whose /etc/ssh holds an image's keys (what the installer leaves before first boot). */
function imageRoot(name: string, withKeys: boolean): string {
  const root = path.join(work, name);
  mkdirSync(path.join(root, "etc/ssh"), { recursive: true });
  if (withKeys)
    for (const type of ["rsa", "ecdsa", "ed25519"])
      execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path.join(root, "etc/ssh", `ssh_host_${type}_key`)]);
  return root;
}

function postInstall(root: string): void {
  const script = renderPostInstallScript({ hostKey: { privateOpenssh: HOST_KEY, publicOpenssh: HOST_PUB }, adminKeys: [ADMIN] });
  execFileSync("bash", ["-s"], {
    input: script,
    env: { ...process.env, BBB_OVH_ROOT: root, PATH: `${FAKE_BIN}:${process.env.PATH}` },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

const hostKeys = (root: string) =>
  readdirSync(path.join(root, "etc/ssh"))
    .filter((f) => f.startsWith("ssh_host_"))
    .sort();
const offered = (root: string) => readFileSync(path.join(root, "etc/ssh/ssh_host_ed25519_key"), "utf8");
const dropIn = (root: string) => readFileSync(path.join(root, "etc/cloud/cloud.cfg.d/99-bbb-ovh-host-key.cfg"), "utf8");

describe.skipIf(!usable)("host keys through cloud-init's ssh module (cc_ssh, cloud-init 22.4)", () => {
  it("dedicated, script before the first boot: the drop-in keeps the pinned key and no other is generated", () => {
    const root = imageRoot("before", true);
    postInstall(root);
    cloudInitSshModule(root, [OVH_USER_DATA, dropIn(root)]);
    expect(offered(root)).toBe(HOST_KEY);
    expect(hostKeys(root)).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
  });

  it("without the drop-in the first boot would replace the pinned key (why the script writes it)", () => {
    const root = imageRoot("no-drop-in", true);
    postInstall(root);
    cloudInitSshModule(root, [OVH_USER_DATA]);
    expect(offered(root)).not.toBe(HOST_KEY);
    expect(hostKeys(root)).toContain("ssh_host_rsa_key");
  });

  it("dedicated, script after cloud-init's first boot: it replaces what cc_ssh generated, leaving only the pinned key", () => {
    const root = imageRoot("after", true);
    cloudInitSshModule(root, [OVH_USER_DATA]);
    expect(hostKeys(root)).toContain("ssh_host_ecdsa_key");
    postInstall(root);
    expect(offered(root)).toBe(HOST_KEY);
    expect(hostKeys(root)).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
    // A later boot of the same instance keeps it (cc_ssh is per-instance, but a new instance id would rerun it).
    cloudInitSshModule(root, [OVH_USER_DATA, dropIn(root)]);
    expect(offered(root)).toBe(HOST_KEY);
  });

  it("Public Cloud: our user data makes cc_ssh install exactly our key", () => {
    const root = imageRoot("cloud", true);
    cloudInitSshModule(root, [
      renderCloudInit({
        hostname: "bbb1",
        fqdn: "bbb1.campus.example",
        authorizedKeys: [ADMIN],
        hostKey: { privateOpenssh: HOST_KEY, publicOpenssh: `${HOST_PUB}\n` },
      }),
    ]);
    expect(offered(root)).toBe(HOST_KEY);
    expect(readFileSync(path.join(root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8").trim()).toBe(HOST_PUB);
    expect(hostKeys(root)).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
  });
});
