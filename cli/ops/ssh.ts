import { AsyncLocalStorage } from "node:async_hooks";
import type { NodeSSH } from "node-ssh";
import { classifyError, OpsError } from "./errors";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** PEM/OpenSSH private key text; without it the SSH agent ($SSH_AUTH_SOCK) is used. */
  privateKey?: string;
  agent?: string;
  /** The host's pinned public key line (`ssh-ed25519 AAAA...`); without it no connection is made. */
  hostKey?: string;
  /** Deadline of TCP connect + SSH handshake + authentication (--timeout); the command has its own. */
  connectTimeoutMs?: number;
  /** Which front this is, for the message when its host key is unknown: the standby front's has options of its own. */
  front?: "standby";
}

/** `command` as root on `ssh`'s host: as it is for root, else through `sudo -n sh -c` (no password prompt). */
export const asRoot = (ssh: SshTarget, command: string): string => (ssh.username === "root" ? command : `sudo -n sh -c '${command.replace(/'/g, `'\\''`)}'`);

/** What the operator reads when no host key is known: never trust one silently (docs/ops.md, "Host keys"). */
export function unknownHostKey(target: Pick<SshTarget, "front">): string {
  const [option, output] = target.front === "standby" ? ["--standby-host-key", "standbyHostKey"] : ["--host-key", "frontHostKey"];
  return `the host's SSH key is unknown and ops never trusts one on first sight: pass ${option} 'ssh-ed25519 AAAA...' (compare its fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console), or name a stack whose outputs include ${output}`;
}

/** A host-key check for ssh2: the server's key blob must be the pinned line's. */
function pinnedVerifier(hostKey: string): (key: Buffer) => boolean {
  const blob = Buffer.from(hostKey.trim().split(/\s+/)[1] ?? "", "base64");
  return (key) => blob.length > 0 && key.equals(blob);
}

export interface RemoteResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** `work` or a timeout OpsError after `ms`, whichever comes first; a late failure of `work` is ignored. */
async function within<T>(work: Promise<T>, ms: number, timeout: () => OpsError): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An open connection of an ops run, shared by the commands it sends to one host. */
interface Session {
  ssh: NodeSSH;
  /** Rejects when the connection fails: node-ssh stops listening for errors once connected. */
  lost: Promise<never>;
  /** Commands running on it now, and those waiting for a channel (OpenSSH's MaxSessions is 10 a connection). */
  running: number;
  waiting: Array<() => void>;
  /** Taken out of the run's connections (failed, or a command past its deadline): closed once no command runs on it. */
  retired: boolean;
}

const MAX_CHANNELS = 8;
/** Refused channels asked again on the same connection before the command goes on a new one (5.5 s in all). */
const CHANNEL_RETRIES = 10;

/** ssh2's error when the server refuses to open a channel (RFC 4254 5.1, SSH_MSG_CHANNEL_OPEN_FAILURE). */
const isChannelRefusal = (error: unknown): boolean => error instanceof Error && /Channel open failure/.test(error.message);

/** The connections of the ops run that `runRemote` is called from (withSshSessions), by host, user and keys. */
const runSessions = new AsyncLocalStorage<Map<string, Promise<Session>>>();

/**
 * Runs `work` (one ops run) with one SSH connection per host, opened at the host's first command and closed when
 * `work` ends. An ops run sends tens of commands to a front: each on a connection of its own cost a TCP and SSH
 * handshake (round trips over the WAN, key exchange and authentication) and an sshd process on the host. A
 * connection that fails, ends, or whose command outlives its deadline is closed and forgotten: the next command
 * opens a new one. Outside withSshSessions, each command has a connection of its own.
 */
export async function withSshSessions<T>(work: () => Promise<T>): Promise<T> {
  const sessions = new Map<string, Promise<Session>>();
  try {
    return await runSessions.run(sessions, work);
  } finally {
    for (const session of sessions.values())
      session.then(
        (s) => s.ssh.dispose(),
        () => undefined,
      );
    sessions.clear();
  }
}

async function openSession(target: SshTarget, hostKey: string, label: string, connectMs: number): Promise<Session> {
  // Loaded on first use: ssh2 is a good part of the start-up of commands that never connect (`--help`, size).
  const { NodeSSH } = await import("node-ssh");
  const ssh = new NodeSSH();
  try {
    // ssh2's own readyTimeout is a backstop, a little later, so that the message names --timeout.
    await within(
      ssh.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        agent: target.privateKey ? undefined : target.agent,
        readyTimeout: connectMs + 1_000,
        hostVerifier: pinnedVerifier(hostKey),
        // A kept connection that a NAT or a reboot silently dropped fails within a minute (then its next
        // command goes on a new one) instead of holding that command until its deadline.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
      }),
      connectMs,
      () => new OpsError("timeout", label, `no SSH session within ${connectMs} ms (connect, handshake and authentication; --timeout)`),
    );
  } catch (error) {
    ssh.dispose();
    throw error;
  }
  // A reset would otherwise be an uncaught exception that ends the whole tool.
  const lost = new Promise<never>((_, reject) => ssh.connection?.on("error", reject));
  lost.catch(() => undefined);
  return { ssh, lost, running: 0, waiting: [], retired: false };
}

/**
 * Runs one command on a host over SSH. Two deadlines: connect + handshake + authentication within
 * `connectTimeoutMs` (--timeout; a port that accepts TCP and never speaks SSH costs that, not the
 * command's budget), then the command within `timeoutMs` (--command-timeout). The host key must be
 * pinned. Failures come back as OpsError (DNS, TCP, SSH authentication, timeout) naming the host.
 */
export async function runRemote(target: SshTarget, command: string, timeoutMs: number, stdin?: string): Promise<RemoteResult> {
  const label = target.port === 22 ? target.host : `${target.host}:${target.port}`;
  const hostKey = target.hostKey;
  if (!hostKey) throw new OpsError("config", label, unknownHostKey(target));
  const connectMs = target.connectTimeoutMs ?? timeoutMs;
  const sessions = runSessions.getStore();
  const key = JSON.stringify([target.username, target.host, target.port, hostKey, target.privateKey ?? target.agent ?? ""]);
  // Out of the run's connections at once; closed when no other command of the run still runs on it (a command
  // past its deadline must not cut one beside it that is within its own).
  const forget = (session: Promise<Session>) => {
    if (sessions?.get(key) === session) sessions.delete(key);
    session.then(
      (s) => {
        s.retired = true;
        if (s.running === 0) s.ssh.dispose();
      },
      () => undefined,
    );
  };
  for (let attempt = 1; ; attempt++) {
    const cached = sessions?.get(key);
    const session = cached ?? openSession(target, hostKey, label, connectMs);
    if (!cached) sessions?.set(key, session);
    let s: Session;
    try {
      s = await session;
    } catch (error) {
      forget(session);
      throw classifyError(error, label);
    }
    while (s.running >= MAX_CHANNELS) await new Promise<void>((resolve) => s.waiting.push(resolve));
    s.running++;
    let opened = false;
    try {
      for (let refusals = 0; ; refusals++) {
        try {
          // noTrim: the leading spaces of a first line are columns in tables such as `bin/rake status`.
          const exec = s.ssh.execCommand(command, { stdin, noTrim: true, onChannel: () => (opened = true) });
          const result = await within(Promise.race([exec, s.lost]), timeoutMs, () => {
            forget(session); // its command may still run: the connection goes with it once no other command needs it
            return new OpsError("timeout", label, `the remote command did not finish within ${timeoutMs} ms (--command-timeout)`);
          });
          if (result.code === null) throw new OpsError("command", label, "the connection closed before the command finished");
          return { stdout: result.stdout, stderr: result.stderr, code: result.code };
        } catch (error) {
          // sshd refused the channel: it counts a session against MaxSessions until it has cleaned it up, a moment
          // after its command ended, and a command past its deadline keeps its session there. The connection is
          // sound: the command waits a little, keeping its place, and asks again on it.
          if (opened || refusals >= CHANNEL_RETRIES || !isChannelRefusal(error)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * (refusals + 1)));
        }
      }
    } catch (error) {
      forget(session);
      // A connection kept from an earlier command may have ended since: a command that never got a channel
      // did not run, and goes once more on a new connection.
      if (cached && !opened && attempt === 1 && !(error instanceof OpsError)) continue;
      throw classifyError(error, label);
    } finally {
      s.running--;
      // A command waiting for a channel takes this one's; the connection is closed by the last command on it.
      const next = s.waiting.shift();
      if (next) next();
      else if (!sessions) forget(session);
      else if (s.retired && s.running === 0) s.ssh.dispose();
    }
  }
}

/**
 * Replaces `~/<relative>` of the SSH user with `text`: a temporary file renamed into place, so that what reads
 * it on the host (the front's Scalelite exporter, every minute) never sees half of it. `relative` is one of our
 * constant paths, never user input.
 */
export async function writeHomeFile(target: SshTarget, relative: string, text: string, timeoutMs: number): Promise<RemoteResult> {
  return runRemote(target, homeFileWrite(relative), timeoutMs, text);
}

/** The command writeHomeFile runs: stdin into `~/<relative>`, whole or not at all. */
export function homeFileWrite(relative: string): string {
  const file = `~/${relative}`;
  return `mkdir -p "$(dirname ${file})" && cat > ${file}.new && mv ${file}.new ${file}`;
}

/**
 * `~/<relative>` of the SSH user, "" when it does not exist; a file that exists but cannot be read is an
 * error (read as empty, a list kept there would be taken as empty). `relative` is one of our constant paths.
 */
export async function readHomeFile(target: SshTarget, relative: string, timeoutMs: number): Promise<string> {
  const r = await runRemote(target, `f=~/${relative}; [ ! -e "$f" ] || cat "$f"`, timeoutMs);
  if (r.code !== 0) throw new OpsError("command", target.host, `cannot read ~/${relative}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}
