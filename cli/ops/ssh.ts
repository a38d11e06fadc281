import { NodeSSH } from "node-ssh";
import { classifyError, OpsError } from "./errors";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** PEM/OpenSSH private key text; without it the SSH agent ($SSH_AUTH_SOCK) is used. */
  privateKey?: string;
  agent?: string;
  /** The host's pinned public key line (`ssh-ed25519 AAAA...`); without it any key is accepted. */
  hostKey?: string;
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

/**
 * Runs one command on a host over SSH, within a deadline that covers connect, authentication and
 * the command itself: a dead host costs one timeout. Failures come back as OpsError (DNS, TCP, SSH
 * authentication, timeout) naming the host.
 */
export async function runRemote(target: SshTarget, command: string, timeoutMs: number, stdin?: string): Promise<RemoteResult> {
  const ssh = new NodeSSH();
  const label = target.port === 22 ? target.host : `${target.host}:${target.port}`;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OpsError("timeout", label, `no answer over SSH within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const run = (async () => {
      await ssh.connect({ host: target.host, port: target.port, username: target.username, privateKey: target.privateKey, agent: target.privateKey ? undefined : target.agent, readyTimeout: timeoutMs, hostVerifier: target.hostKey ? pinnedVerifier(target.hostKey) : undefined });
      // node-ssh stops listening for errors once connected: a reset mid-command would otherwise be
      // an uncaught exception that ends the whole tool.
      const lost = new Promise<never>((_, reject) => ssh.connection?.on("error", reject));
      lost.catch(() => undefined);
      // noTrim: the leading spaces of a first line are columns in tables such as `bin/rake status`.
      const result = await Promise.race([ssh.execCommand(command, { stdin, noTrim: true }), lost]);
      if (result.code === null) throw new OpsError("command", label, "the connection closed before the command finished");
      return result;
    })();
    run.catch(() => undefined); // settled by the race below; keep a late failure from going unhandled
    const result = await Promise.race([run, deadline]);
    return { stdout: result.stdout, stderr: result.stderr, code: result.code };
  } catch (error) {
    throw classifyError(error, label);
  } finally {
    clearTimeout(timer);
    ssh.dispose();
  }
}
