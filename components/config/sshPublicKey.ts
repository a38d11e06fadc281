import { createPublicKey } from "node:crypto";

/**
 * An OpenSSH public key line read the way `ssh-keygen -l -f FILE` (OpenSSH 9.2) reads one: a line the
 * regex accepts can still be dead (a truncated copy, a blob of another type, a point off its curve),
 * and a dead key in campus.sshPublicKeys locks the team out of a new server. Checked here:
 * - the base64 is canonical, as OpenSSH's b64_pton wants it (padding, no stray bits, no missing character);
 * - the blob's own type string is the line's type (or an alias ssh-keygen also takes: rsa-sha2-256/512);
 * - every field of the type is present and nothing follows (sshkey_from_blob refuses trailing bytes);
 * - ed25519: 32 bytes; ECDSA: the curve named in the blob is the type's, the point is uncompressed and on
 *   the curve (checked by OpenSSL through node:crypto, as ssh-keygen checks it with OpenSSL); RSA: n is
 *   a positive mpint of 1024 to 16384 bits (sshkey_check_rsa_length, SSHBUF_MAX_BIGNUM); security keys
 *   (sk-*) carry their application string.
 * ssh2's utils.parseKey (used in deployKey.ts for private keys) is not enough here: it takes a point off
 * its curve, an RSA modulus under 1024 bits, trailing bytes, a certificate blob under the ssh-rsa label,
 * and refuses sk-* keys (test/config/sshPublicKey.test.ts lists where it and ssh-keygen disagree). Certificates and ssh-dss keys, which ssh-keygen reads, are refused on purpose: OpenSSH 9
 * disables DSA and a certificate is not what OVH or OpenStack install.
 * Its own module, without zod, so that `ops` can check a key without loading the schema.
 */
export interface SshPublicKey {
  /** The key type inside the blob (ssh-ed25519, ...). */
  type: string;
  /** The type word the line starts with (after options): the type, or an alias such as rsa-sha2-256. */
  label: string;
  /** authorized_keys options before the key (from="...",no-pty), as written; "" when there are none. */
  options: string;
  comment: string;
  bits: number;
}

export type ParsedSshPublicKey = { key: SshPublicKey } | { problem: string };

const CURVES: Record<string, { name: string; jwk: string; bytes: number; bits: number }> = {
  "ecdsa-sha2-nistp256": { name: "nistp256", jwk: "P-256", bytes: 32, bits: 256 },
  "ecdsa-sha2-nistp384": { name: "nistp384", jwk: "P-384", bytes: 48, bits: 384 },
  "ecdsa-sha2-nistp521": { name: "nistp521", jwk: "P-521", bytes: 66, bits: 521 },
};
const ALIASES: Record<string, string> = { "rsa-sha2-256": "ssh-rsa", "rsa-sha2-512": "ssh-rsa" };
const KEY_TYPES = ["ssh-ed25519", "ssh-rsa", ...Object.keys(CURVES), "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"];
const REFUSED_TYPES: Record<string, string> = {
  "ssh-dss": "is a DSA key, which OpenSSH 9 no longer accepts for login: use an ed25519 key (ssh-keygen -t ed25519)",
};
const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;

class Truncated extends Error {}

/** SSH wire format (RFC 4251 section 5): uint32 length, then that many bytes. */
class Reader {
  private at = 0;
  constructor(private readonly data: Buffer) {}
  string(): Buffer {
    if (this.at + 4 > this.data.length) throw new Truncated();
    const length = this.data.readUInt32BE(this.at);
    if (this.at + 4 + length > this.data.length) throw new Truncated();
    const value = this.data.subarray(this.at + 4, this.at + 4 + length);
    this.at += 4 + length;
    return value;
  }
  get rest(): number {
    return this.data.length - this.at;
  }
}

/** The blob's key material checked for its type; the key's size in bits, or what is wrong. */
function keyMaterial(type: string, blob: Reader): number | string {
  const base = type.replace(/^sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com$/, "$1");
  let bits: number;
  if (base === "ssh-ed25519") {
    if (blob.string().length !== 32) return "the ed25519 key is not 32 bytes long";
    bits = 256;
  } else if (base === "ssh-rsa") {
    const [e, n] = [blob.string(), blob.string()];
    if ((e.length > 0 && e[0] >= 0x80) || (n.length > 0 && n[0] >= 0x80)) return "the RSA key holds a negative number";
    const digits = n.subarray(n.findIndex((b) => b !== 0) === -1 ? n.length : n.findIndex((b) => b !== 0));
    bits = digits.length === 0 ? 0 : (digits.length - 1) * 8 + (32 - Math.clz32(digits[0]));
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) return `the RSA modulus has ${bits} bits; OpenSSH accepts ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`;
  } else {
    const curve = CURVES[base];
    const [name, point] = [blob.string().toString("latin1"), blob.string()];
    if (name !== curve.name) return `the key is on curve '${name}' but labelled ${type}`;
    if (point.length !== 1 + 2 * curve.bytes || point[0] !== 4) return `the ECDSA point is not an uncompressed ${curve.name} point`;
    const coordinate = (from: number) => point.subarray(from, from + curve.bytes).toString("base64url");
    try {
      createPublicKey({ key: { kty: "EC", crv: curve.jwk, x: coordinate(1), y: coordinate(1 + curve.bytes) }, format: "jwk" });
    } catch {
      return `the ECDSA point is not on curve ${curve.name}`;
    }
    bits = curve.bits;
  }
  if (type.startsWith("sk-")) blob.string(); // the FIDO application ("ssh:" by default)
  return bits;
}

/** One key as sshkey_read reads it: type word, blanks, base64 blob, then an optional comment. */
function readKey(text: string, options: string): ParsedSshPublicKey {
  const match = /^([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+(.*))?$/.exec(text);
  if (!match) return { problem: "expected a key type, a space and the base64 key (ssh-ed25519 AAAA... comment)" };
  const [, label, encoded, comment = ""] = match;
  if (REFUSED_TYPES[label]) return { problem: REFUSED_TYPES[label] };
  if (/-cert-v0[01]@openssh\.com$/.test(label)) return { problem: "is an SSH certificate; give the key itself (the .pub file ssh-keygen writes)" };
  const type = ALIASES[label] ?? label;
  if (!KEY_TYPES.includes(type)) return { problem: `unknown key type '${label.slice(0, 40)}'; expected one of ${KEY_TYPES.join(", ")}` };
  const blob = Buffer.from(encoded, "base64");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || blob.toString("base64") !== encoded || blob.length === 0)
    return { problem: "the base64 key is damaged or cut short (a character missing, added or changed): copy the whole line again from the .pub file" };
  const reader = new Reader(blob);
  try {
    const inner = reader.string().toString("latin1");
    if (inner !== type) return { problem: `the key inside is of type '${inner.slice(0, 40)}' but the line says ${label}` };
    const bits = keyMaterial(type, reader);
    if (typeof bits === "string") return { problem: bits };
    if (reader.rest !== 0) return { problem: "the key has extra bytes after its last field: copy the whole line again from the .pub file" };
    return { key: { type, label, options, comment, bits } };
  } catch (e) {
    if (!(e instanceof Truncated)) throw e;
    return { problem: `the ${type} key is cut short: a field is missing; copy the whole line again from the .pub file` };
  }
}

/** authorized_keys options before the key: up to the first blank outside double quotes (sshkey_advance_past_options). */
function splitOptions(line: string): { options: string; rest: string } | undefined {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && line[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === " " || c === "\t")) return { options: line.slice(0, i), rest: line.slice(i + 1) };
  }
  return undefined;
}

/** A public key line (one line of a .pub or authorized_keys file), or why ssh-keygen -l would refuse it. */
export function parseSshPublicKey(line: string): ParsedSshPublicKey {
  if (/[\r\n]/.test(line)) return { problem: "must be a single line" };
  const text = line.replace(/^[ \t]+/, "");
  if (text === "" || text.startsWith("#")) return { problem: "is empty or a comment; expected a key line such as 'ssh-ed25519 AAAA... comment'" };
  const direct = readKey(text, "");
  if ("key" in direct) return direct;
  // Like ssh-keygen: a line that does not read as a key may start with options, the key being the rest
  // after one blank. When that fails too, the problem of the line read as a key says more.
  const withOptions = splitOptions(text);
  const after = withOptions && readKey(withOptions.rest, withOptions.options);
  return after && "key" in after ? after : direct;
}

/**
 * What is wrong with a key line a stack hands to OVH, OpenStack or cloud-init, or undefined: a key
 * ssh-keygen reads, written as the .pub file has it (no authorized_keys options: the providers take
 * the key alone; the type as the key's own, not an alias).
 */
export function sshPublicKeyProblem(line: string): string | undefined {
  const parsed = parseSshPublicKey(line);
  if ("problem" in parsed) return `is not a usable SSH public key: ${parsed.problem}`;
  const { key } = parsed;
  if (key.options !== "")
    return "starts with authorized_keys options; give the key line alone ('ssh-ed25519 AAAA... comment'): OVH and OpenStack install it as is";
  if (key.label !== key.type) return `is labelled ${key.label}; write the key's own type, ${key.type}, as the .pub file does`;
  if (line !== line.trim()) return "has blanks before or after the key line; remove them";
  return undefined;
}
