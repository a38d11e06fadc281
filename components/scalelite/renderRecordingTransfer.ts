import { isIP } from "node:net";
import {
  FRONT_ALIAS,
  INCOMING_DIR,
  RECORDING_DIR,
  RRSYNC,
  SPOOL_LIMITS,
  SPOOL_RECEIVE,
  TRANSFER_USER,
  nodeTransferFiles,
  senderTarget,
  type SpoolLimits,
} from "./recordingLayout";

/** A node allowed to send recordings: its addresses (the only sources its key works from) and its transfer key. */
export interface SpoolClient {
  /** Node name, for the key comment and error messages. */
  name: string;
  ipv4: string;
  /** Empty when unknown. */
  ipv6: string;
  /** OpenSSH public key line of the node's transfer key (ssh-ed25519 ...). */
  publicKey: string;
}

const NAME = /^[a-z0-9][a-z0-9.-]*$/;
/** Paths that go unquoted into sshd options, ssh_config and rsync's --rsh: no spaces, quotes or shell syntax. */
const PLAIN_PATH = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const ED25519_KEY = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$/;
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/;

/** The key type and base64 of one OpenSSH public key line, without its comment ("" for several lines). */
const keyPart = (line: string): string => (/[\n\r]/.test(line.trim()) ? "" : line.trim().split(/\s+/).slice(0, 2).join(" "));

function fail(what: string, problems: string[]): void {
  if (problems.length > 0) throw new Error(`${what}: ${problems.join("; ")}`);
}

export interface SpoolKeyOptions {
  /** Where the per-node targets are: `<incomingDir>/<node>`. */
  incomingDir?: string;
  /** The forced command (scripts/scalelite-spool-receive.sh as installed on the front). */
  receiver?: string;
  rrsync?: string;
  limits?: SpoolLimits;
}

/**
 * The authorized_keys of the front's transfer user: one line per node, usable only from that node's own
 * addresses (`from=`), with every SSH feature off (`restrict`: no shell, pty or forwarding, sshd(8)
 * AUTHORIZED_KEYS FILE FORMAT) and forced into the spool receiver with the node's OWN target, which runs
 * rrsync write-only there: a node's key can drop single regular files into its own directory and do
 * nothing else: not read, not delete, not overwrite, not reach another node's directory, not run a
 * command. The line is the same whichever rrsync the front has (3.2.3's Perl one or a Python one):
 * the receiver picks the options that one knows. Sorted by node name, so the same nodes give the same text.
 */
export function renderSpoolAuthorizedKeys(clients: readonly SpoolClient[], options: SpoolKeyOptions = {}): string {
  const { incomingDir = INCOMING_DIR, receiver = SPOOL_RECEIVE, rrsync = RRSYNC, limits = SPOOL_LIMITS } = options;
  const problems: string[] = [];
  if (!PLAIN_PATH.test(incomingDir)) problems.push(`incoming directory '${incomingDir}' must be an absolute path of plain characters without a trailing slash`);
  if (!PLAIN_PATH.test(receiver)) problems.push(`receiver '${receiver}' must be an absolute path of plain characters`);
  if (!PLAIN_PATH.test(rrsync)) problems.push(`rrsync '${rrsync}' must be an absolute path of plain characters`);
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive whole number of bytes`);
  if (clients.length === 0) problems.push("no node: nobody could send recordings");
  const seen = new Set<string>();
  const lines: [string, string][] = [];
  for (const client of clients) {
    const where = `${client.name}`;
    if (!NAME.test(client.name)) problems.push(`node name '${client.name}' must be lowercase letters, digits, '.' or '-'`);
    if (seen.has(client.name)) problems.push(`${where}: listed twice`);
    seen.add(client.name);
    const sources: string[] = [];
    if (isIP(client.ipv4) !== 4) problems.push(`${where}: '${client.ipv4}' is not an IPv4 address`);
    else sources.push(client.ipv4);
    if (client.ipv6 !== "") {
      if (isIP(client.ipv6) !== 6) problems.push(`${where}: '${client.ipv6}' is not an IPv6 address`);
      else sources.push(client.ipv6.toLowerCase());
    }
    const key = keyPart(client.publicKey);
    if (!ED25519_KEY.test(key)) problems.push(`${where}: the transfer key must be an OpenSSH ssh-ed25519 public key`);
    const command = [receiver, senderTarget(client.name, incomingDir), limits.maxArchiveBytes, limits.senderLimitBytes, limits.reserveBytes, rrsync].join(" ");
    lines.push([client.name, `from="${sources.join(",")}",restrict,command="${command}" ${key} bbb-ovh-recordings@${client.name}`]);
  }
  fail("recording spool authorized_keys", problems);
  return lines
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, line]) => `${line}\n`)
    .join("");
}

/** The standby front that copies the recordings: its addresses and the public key of its copy key. */
export type CopyReader = SpoolClient;

/**
 * The primary front's authorized_keys line for its standby's recordings copy: from the standby's own
 * addresses only, every SSH feature off, forced into rrsync read-only (`-ro`, which both the Perl rrsync of
 * rsync 3.2.3 and the Python one of 3.2.4+ accept) on the recordings directory: the standby reads, and can
 * change nothing on the primary.
 */
export function renderCopyAuthorizedKey(reader: CopyReader, options: { recordingDir?: string; rrsync?: string } = {}): string {
  const { recordingDir = RECORDING_DIR, rrsync = RRSYNC } = options;
  const problems: string[] = [];
  if (!PLAIN_PATH.test(recordingDir)) problems.push(`recording directory '${recordingDir}' must be an absolute path of plain characters`);
  if (!PLAIN_PATH.test(rrsync)) problems.push(`rrsync '${rrsync}' must be an absolute path of plain characters`);
  if (!NAME.test(reader.name)) problems.push(`standby name '${reader.name}' must be lowercase letters, digits, '.' or '-'`);
  const sources: string[] = [];
  if (isIP(reader.ipv4) !== 4) problems.push(`${reader.name}: '${reader.ipv4}' is not an IPv4 address`);
  else sources.push(reader.ipv4);
  if (reader.ipv6 !== "") {
    if (isIP(reader.ipv6) !== 6) problems.push(`${reader.name}: '${reader.ipv6}' is not an IPv6 address`);
    else sources.push(reader.ipv6.toLowerCase());
  }
  const key = keyPart(reader.publicKey);
  if (!ED25519_KEY.test(key)) problems.push(`${reader.name}: the copy key must be an OpenSSH ssh-ed25519 public key`);
  fail("recordings copy authorized_keys", problems);
  return `from="${sources.join(",")}",restrict,command="${rrsync} -ro ${recordingDir}" ${key} bbb-ovh-recordings-copy@${reader.name}\n`;
}

export interface TransferSshConfigArgs {
  /** The front's address the node connects to (its IPv4: the node's IPv4 is then the source `from=` checks). */
  address: string;
  /** The port the front's sshd listens on (sshPortOf, components/hosts/sshPort.ts). */
  port: number;
  user?: string;
  files?: ReturnType<typeof nodeTransferFiles>;
}

/**
 * The ssh_config the post_publish script's rsync uses (`--rsh=ssh -F <this file>`, see renderScaleliteYml):
 * the front under the alias FRONT_ALIAS, our transfer key only, and the front's pinned host key only
 * (StrictHostKeyChecking yes, no global known_hosts, no prompt), so a man in the middle is refused.
 */
export function renderTransferSshConfig(args: TransferSshConfigArgs): string {
  const { address, port, user = TRANSFER_USER, files = nodeTransferFiles() } = args;
  const problems: string[] = [];
  if (isIP(address) === 0) problems.push(`front address '${address}' is not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`port ${port} is not a TCP port`);
  if (!USER.test(user)) problems.push(`'${user}' is not a Unix user name`);
  for (const path of Object.values(files)) if (!PLAIN_PATH.test(path)) problems.push(`'${path}' must be an absolute path of plain characters`);
  fail("recording transfer ssh_config", problems);
  return [
    "# bbb-ovh: how post_publish's rsync reaches the Scalelite front's spool (docs/recordings.md)",
    `Host ${FRONT_ALIAS}`,
    `  HostName ${address}`,
    `  Port ${port}`,
    `  User ${user}`,
    `  IdentityFile ${files.key}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${files.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    `  HostKeyAlias ${FRONT_ALIAS}`,
    "  StrictHostKeyChecking yes",
    "  CheckHostIP no",
    "  UpdateHostKeys no",
    "  BatchMode yes",
    "  ConnectTimeout 30",
    "  ServerAliveInterval 30",
    "",
  ].join("\n");
}

/** The known_hosts line pinning the front's host key under FRONT_ALIAS (the HostKeyAlias of the ssh_config). */
export function renderTransferKnownHosts(frontHostKey: string): string {
  const key = keyPart(frontHostKey);
  if (!HOST_KEY.test(key)) throw new Error("recording transfer known_hosts: the front's host key must be an OpenSSH public key line (ssh-ed25519 AAAA...)");
  return `${FRONT_ALIAS} ${key}\n`;
}
