/**
 * The operator key's public half, derived without a Pulumi run: checked against what the real
 * ssh-keygen derives, for the key types and formats ssh-keygen writes, and refused with a reason that
 * never repeats the key for what a Pulumi run cannot use.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ed25519KeyPair, publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";

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

describe("ed25519KeyPair", () => {
  // ops image build gives the builder its host key this way: one OpenSSH cannot load leaves sshd with no
  // host key ("no hostkeys available -- exiting"), and the builder unreachable (a CI failure of imageBuild.test.ts).
  it("gives only pairs OpenSSH reads: 1500 public keys, 1500 fingerprints (ssh2's own generator spoils about 6)", () => {
    const pairs = Array.from({ length: 1500 }, (_, i) => ed25519KeyPair(`host${i}@campus.example`));
    const file = path.join(dir, "pairs.pub");
    writeFileSync(file, pairs.map((p) => p.public).join("\n") + "\n");
    // ssh-keygen -l skips a line it cannot read: one fingerprint per key it read.
    const fingerprints = execFileSync("ssh-keygen", ["-l", "-f", file], { encoding: "utf8" }).trim().split("\n");
    expect(fingerprints).toHaveLength(pairs.length);
    expect(fingerprints[7]).toMatch(/^256 SHA256:\S+ host7@campus\.example \(ED25519\)$/);
    // The private half is the public one's: as ssh-keygen -y derives it.
    const key = path.join(dir, "pair");
    writeFileSync(key, pairs[7].private, { mode: 0o600 });
    expect(blob(execFileSync("ssh-keygen", ["-y", "-f", key], { encoding: "utf8" }).trim())).toBe(blob(pairs[7].public));
  });
});
