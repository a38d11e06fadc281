/**
 * dedicated-post-install.sh, decoded from the base64 the program sends OVH, run for real over SSH on a
 * loopback sshd host whose /etc/ssh holds the keys a fresh image (or cloud-init's first boot) left there.
 * Checked with the real programs that read its output: ssh-keygen, sshd -T, cloud-init schema.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";
import { encodePostInstallScript } from "../../components/hosts/postInstall";
import { calls, tree } from "../support/hostState";
import { connect, startTestHost, type TestHost } from "../support/sshd";

const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

const HOST_KEY = throwawayPrivateKey("pinned@bbb1");
const HOST_PUB = (publicKeyOfPrivateKey(HOST_KEY) as { publicKey: string }).publicKey.replace(/ \S+$/, " pinned@bbb1");
const ADMIN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd it-team@isen-ouest";
const OTHER_ADMIN = (publicKeyOfPrivateKey(throwawayPrivateKey("x")) as { publicKey: string }).publicKey;
const script = Buffer.from(
  encodePostInstallScript({ hostKey: { privateOpenssh: HOST_KEY, publicOpenssh: `${HOST_PUB}\n` }, adminKeys: [ADMIN, OTHER_ADMIN, ADMIN] }),
  "base64",
).toString("utf8");

/** A host whose /etc/ssh holds an image's keys of every type, and whose sshd unit exists (for the fake systemctl). */
async function freshServer(): Promise<TestHost> {
  const h = await startTestHost({ fqdn: "bbb1.campus.example" });
  hosts.push(h);
  const etcSsh = path.join(h.root, "etc/ssh");
  mkdirSync(etcSsh, { recursive: true });
  for (const type of ["rsa", "ecdsa", "ed25519"]) execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path.join(etcSsh, `ssh_host_${type}_key`)]);
  mkdirSync(path.join(h.root, "usr/lib/systemd/system"), { recursive: true });
  writeFileSync(path.join(h.root, "usr/lib/systemd/system/ssh.service"), "[Service]\nExecStart=/usr/sbin/sshd -D\n");
  return h;
}

async function runScript(h: TestHost): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ssh = await connect(h);
  try {
    return await ssh.execCommand("bash -s", { stdin: script });
  } finally {
    ssh.dispose();
  }
}

describe("dedicated-post-install", () => {
  it("installs the pinned host key (and only it), keeps it through cloud-init, installs the admins' keys, restarts sshd; a second run changes nothing", async () => {
    const h = await freshServer();
    const first = await runScript(h);
    expect(first.code, first.stderr).toBe(0);
    expect(`${first.stdout}${first.stderr}`).not.toContain(HOST_KEY.split("\n")[1]);

    const etcSsh = path.join(h.root, "etc/ssh");
    const keyFile = path.join(etcSsh, "ssh_host_ed25519_key");
    expect(readFileSync(keyFile, "utf8")).toBe(HOST_KEY);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${keyFile}.pub`, "utf8").trim()).toBe(HOST_PUB);
    // The pair matches, as sshd will check: ssh-keygen derives the public key from the private one.
    expect(execFileSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" }).split(" ").slice(0, 2)).toEqual(HOST_PUB.split(" ").slice(0, 2));
    expect([...tree(h).keys()].filter((f) => f.startsWith("etc/ssh/ssh_host_")).sort()).toEqual([
      "etc/ssh/ssh_host_ed25519_key",
      "etc/ssh/ssh_host_ed25519_key.pub",
    ]);

    // cloud-init reads the drop-in at first boot; its own schema check accepts it.
    const dropIn = path.join(h.root, "etc/cloud/cloud.cfg.d/99-bbb-ovh-host-key.cfg");
    const schema = spawnSync("cloud-init", ["schema", "--config-file", dropIn], { encoding: "utf8" });
    if (!schema.error) expect(schema.status, `${schema.stdout}${schema.stderr}`).toBe(0);
    expect(readFileSync(dropIn, "utf8")).toMatch(/^ssh_deletekeys: false$/m);

    // sshd (the real one) reads the admin keys file through the drop-in.
    const config = path.join(h.root, "sshd_config.test");
    writeFileSync(config, `Include ${path.join(etcSsh, "sshd_config.d")}/*.conf\nHostKey ${keyFile}\n`);
    const effective = execFileSync("/usr/sbin/sshd", ["-T", "-f", config], { encoding: "utf8" });
    expect(effective).toMatch(/^authorizedkeysfile \.ssh\/authorized_keys \.ssh\/authorized_keys2 \/etc\/ssh\/bbb-ovh-authorized-keys\/%u$/m);
    expect(readFileSync(path.join(etcSsh, "bbb-ovh-authorized-keys/ubuntu"), "utf8")).toBe(`${ADMIN}\n${OTHER_ADMIN}\n`);
    expect(calls(h).filter((c) => c.startsWith("systemctl"))).toEqual(["systemctl try-restart ssh.service"]);

    const before = tree(h);
    const second = await runScript(h);
    expect(second.code, second.stderr).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(calls(h).filter((c) => c.startsWith("systemctl"))).toHaveLength(1);
  });

  it("converges when killed midway: a run after a partial one ends in the same state", async () => {
    const h = await freshServer();
    // As if the first run died after writing the key: the rest is still to do.
    writeFileSync(path.join(h.root, "etc/ssh/ssh_host_ed25519_key"), HOST_KEY, { mode: 0o600 });
    const run = await runScript(h);
    expect(run.code, run.stderr).toBe(0);
    expect([...tree(h).keys()].filter((f) => f.startsWith("etc/ssh/ssh_host_")).sort()).toEqual([
      "etc/ssh/ssh_host_ed25519_key",
      "etc/ssh/ssh_host_ed25519_key.pub",
    ]);
    expect(readFileSync(path.join(h.root, "etc/ssh/bbb-ovh-authorized-keys/ubuntu"), "utf8")).toContain(ADMIN);
  });
});
