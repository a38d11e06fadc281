/**
 * The operator key's public half, derived without a Pulumi run: checked against what the real
 * ssh-keygen derives, for the key types and formats ssh-keygen writes, and refused with a reason that
 * never repeats the key for what a Pulumi run cannot use.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";

const dir = mkdtempSync(path.join(tmpdir(), "bbb-deploy-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, args: string[]): string {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-C", "me@laptop", "-f", file, ...args]);
  return file;
}

const blob = (line: string) => line.split(" ").slice(0, 2).join(" ");

describe("publicKeyOfPrivateKey", () => {
  it.each([
    ["ed25519 (OpenSSH format)", ["-t", "ed25519", "-N", ""]],
    ["RSA 3072 (OpenSSH format)", ["-t", "rsa", "-b", "3072", "-N", ""]],
    ["RSA 2048 (PEM format)", ["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""]],
    ["ECDSA P-256", ["-t", "ecdsa", "-b", "256", "-N", ""]],
  ])("%s: the same public key as ssh-keygen -y", (name, args) => {
    const file = keygen(name.replace(/\W+/g, "-"), args);
    const derived = publicKeyOfPrivateKey(readFileSync(file, "utf8"));
    expect(derived).toEqual({ publicKey: expect.any(String) });
    const bySshKeygen = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
    expect(blob((derived as { publicKey: string }).publicKey)).toBe(blob(bySshKeygen));
  });

  it("throwaway keys always parse (ssh2's generator writes a malformed key for 1 public key in 256)", () => {
    for (let i = 0; i < 1500; i++) expect(publicKeyOfPrivateKey(throwawayPrivateKey())).toEqual({ publicKey: expect.any(String) });
  });

  it("refuses a passphrase-protected key, saying why, without the key in the message", () => {
    const key = readFileSync(keygen("encrypted", ["-t", "ed25519", "-N", "secret passphrase"]), "utf8");
    const derived = publicKeyOfPrivateKey(key);
    expect(derived).toEqual({ problem: expect.stringMatching(/encrypted with a passphrase/) });
    expect(JSON.stringify(derived)).not.toContain(key.split("\n")[1]);
  });

  it.each([
    ["a public key", () => (publicKeyOfPrivateKey(throwawayPrivateKey()) as { publicKey: string }).publicKey, /is a public key/],
    ["garbage", () => "not a key at all", /not a private key ssh can read/],
    ["an empty value", () => "", /not a private key ssh can read/],
    ["a truncated key", () => throwawayPrivateKey().slice(0, 120), /not a private key ssh can read/],
  ])("refuses %s", (_what, value, reason) => {
    expect(publicKeyOfPrivateKey(value())).toEqual({ problem: expect.stringMatching(reason) });
  });
});
