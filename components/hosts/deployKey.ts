/**
 * The public half of the operator's key (bbb-ovh:sshPrivateKey), derived here because it is what OVH
 * (customizations.sshKey) and OpenStack (the keypair) install for the default user: a placeholder there
 * would leave the new server unreachable. ssh2's key parser (already installed with node-ssh) reads the
 * OpenSSH and PEM formats that ssh-keygen writes.
 */
interface ParsedKey {
  type: string;
  isPrivateKey(): boolean;
  getPublicSSH(): Buffer;
}
// ssh2 ships no type declarations; this is the one function used (ssh2 lib/protocol/keyParser.js).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { utils } = require("ssh2") as {
  utils: {
    parseKey(data: string | Buffer): ParsedKey | ParsedKey[] | Error;
    generateKeyPairSync(type: "ed25519", opts?: { comment?: string }): { private: string; public: string };
  };
};

export type DerivedKey = { publicKey: string } | { problem: string };

/** `ssh-ed25519 AAAA... bbb-ovh-operator`, or what is wrong with the key (never the key itself). */
export function publicKeyOfPrivateKey(privateKey: string): DerivedKey {
  const expected =
    "expected an unencrypted OpenSSH private key such as ssh-keygen writes (pulumi config set --secret bbb-ovh:sshPrivateKey < ~/.ssh/id_ed25519)";
  let parsed: ParsedKey | ParsedKey[] | Error;
  try {
    parsed = utils.parseKey(privateKey);
  } catch {
    parsed = new Error("unparseable");
  }
  if (Array.isArray(parsed)) parsed = parsed[0] ?? new Error("empty");
  if (parsed instanceof Error) {
    const reason = /passphrase/i.test(parsed.message) ? "is encrypted with a passphrase, which a Pulumi run cannot type" : "is not a private key ssh can read";
    return { problem: `${reason}; ${expected}` };
  }
  if (!parsed.isPrivateKey()) return { problem: `is a public key; ${expected}` };
  return { publicKey: `${parsed.type} ${parsed.getPublicSSH().toString("base64")} bbb-ovh-operator` };
}

/**
 * A fresh ed25519 key pair in OpenSSH format: the private key as ssh-keygen writes it, the public one as its .pub
 * line (`ssh-ed25519 AAAA... comment`).
 */
export function ed25519KeyPair(comment: string): { private: string; public: string } {
  // ssh2 1.17 drops the leading zero byte of an ed25519 public key that starts with one (1 in 256 keys),
  // writing a key its own parser and OpenSSH reject (mscdex/ssh2 issues 1390, 1513): sshd given such a host
  // key has none and exits. Draw again until it parses.
  for (;;) {
    const key = utils.generateKeyPairSync("ed25519", { comment });
    const derived = publicKeyOfPrivateKey(key.private);
    if ("publicKey" in derived && key.public.startsWith(`${derived.publicKey.split(" ").slice(0, 2).join(" ")} `)) return key;
  }
}

/**
 * A fresh ed25519 key in OpenSSH format, for where the real operator key cannot be read: the offline
 * plan stands it in for an encrypted bbb-ovh:sshPrivateKey, and tests use it as an operator key.
 */
export const throwawayPrivateKey = (comment = "bbb-ovh-throwaway"): string => ed25519KeyPair(comment).private;
