/**
 * Public-key conformance: the REAL `ssh-keygen -l -f` (OpenSSH) parses every public key the program
 * hands to a provider or writes onto a host at first boot: OVH customizations.sshKey, the OpenStack
 * keypair, cloud-init's ssh_authorized_keys and ssh_keys, the post-installation script's admin and host
 * keys, and the deployPublicKey output. For every stack (as shipped and with all hosts on Public Cloud),
 * with a configured operator key and with the key the program generates. A placeholder or a damaged
 * key line there would leave a paid server that nobody can log in to.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";
import { evaluateStack } from "../support/evaluateStack";
import { asPublicCloud, handedPublicKeys } from "../support/hostInputs";
import { STACKS } from "../fuzz/mutations";

const keygen = spawnSync("ssh-keygen", ["-?"], { encoding: "utf8" });
const dir = mkdtempSync(path.join(tmpdir(), "bbb-public-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ssh-keygen's fingerprint line for one public key line, or its complaint. */
function fingerprint(key: string): { ok: boolean; text: string } {
  const file = path.join(dir, "key.pub");
  writeFileSync(file, `${key}\n`);
  const run = spawnSync("ssh-keygen", ["-l", "-f", file], { encoding: "utf8" });
  return { ok: run.status === 0, text: `${run.stdout}${run.stderr}`.trim() };
}

const OPERATOR_KEY = throwawayPrivateKey("operator@conformance");

describe.skipIf(keygen.error !== undefined)("public keys handed to providers parse with ssh-keygen", () => {
  type Case = { label: string; stack: string; secrets: Record<string, string> };
  const cases = STACKS.flatMap((stack): Case[] => [
    { label: `${stack}, configured operator key`, stack, secrets: { "bbb-ovh:sshPrivateKey": OPERATOR_KEY } },
    // lab's hosts exist already: they need the configured key (the stack file carries one, encrypted).
    ...(stack === "lab" ? [] : [{ label: `${stack}, generated deploy key`, stack, secrets: {} as Record<string, string> }]),
  ]);

  it.each(cases)("$label", async ({ stack, secrets }) => {
    const shipped = await evaluateStack(stack, secrets);
    const cloud = await evaluateStack(stack, secrets, asPublicCloud);
    const keys = [...handedPublicKeys(shipped.resources, shipped.outputs), ...handedPublicKeys(cloud.resources, cloud.outputs)];
    expect(keys.some((k) => k.where.includes("OpenStack keypair"))).toBe(true);
    expect(keys.some((k) => k.where.includes("ssh_authorized_keys"))).toBe(true);
    if (stack !== "lab" && stack !== "training") expect(keys.some((k) => k.where.includes("customizations.sshKey"))).toBe(true);
    for (const { where, key } of keys) {
      const result = fingerprint(key);
      expect(result.ok, `${where}: '${key}' -> ${result.text}`).toBe(true);
    }
    if ("bbb-ovh:sshPrivateKey" in secrets) {
      // The key handed over is the operator key's own public half, as ssh-keygen derives it.
      const derived = (publicKeyOfPrivateKey(OPERATOR_KEY) as { publicKey: string }).publicKey;
      const file = path.join(dir, "operator");
      writeFileSync(file, OPERATOR_KEY, { mode: 0o600 });
      const bySshKeygen = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).stdout.trim().split(" ").slice(0, 2).join(" ");
      expect(derived.startsWith(`${bySshKeygen} `)).toBe(true);
      for (const { where, key } of keys.filter(
        (k) => k.where.endsWith("sshKey") || k.where.endsWith("keypair publicKey") || k.where === "output deployPublicKey",
      )) {
        expect(key, where).toBe(derived);
      }
    }
  });
});
