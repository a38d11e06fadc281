import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { OpsError } from "./errors";
import { runRemote, type SshTarget } from "./ssh";

/**
 * One ops run at a time changes the pool. `ops scale` (and `ops schedule apply`) decide from one look at
 * Scalelite and then cordon, shelve or wake; `ops upgrade` decides from its own look whether a node may be
 * drained. Two of them deciding from the same look can each take a node away and, together, leave the pool
 * below the failover policy; two scale runs overwrite each other's sleeping list. So each holds this lock,
 * a directory on the front (mkdir is atomic), from its look to its last change. A holder that died leaves it:
 * it is taken over once older than its holder's own bound.
 */
export const POOL_LOCK = "~/.bbb-ovh/pool.lock";

/** How long a scale or schedule run may hold it: its longest wait (a woken node serving, 8 min by default) and more. */
export const POWER_RUN_STALE_MS = 30 * 60_000;

/** What the lock's owner line says of this process. */
export const lockHolder = (command: string): string => `${command}, ${hostname()} pid ${process.pid}`;

export interface PoolLock {
  release(): Promise<void>;
}

/** The lock, or an OpsError naming its holder. `staleMs`: after this, a holder is taken for dead. */
export async function takePoolLock(ssh: SshTarget, who: string, staleMs: number, timeoutMs: number, now = Date.now()): Promise<PoolLock> {
  const token = randomBytes(8).toString("hex");
  const line = `${token} ${Math.floor(now / 1000)} ${who.replace(/[^\w .,:-]/g, "_")}`;
  const stale = Math.floor((now - staleMs) / 1000);
  // Taken when mkdir succeeds; a holder older than `stale` is removed first.
  const command = [
    `mkdir -p ~/.bbb-ovh`,
    `since=$(cut -d' ' -f2 ${POOL_LOCK}/owner 2>/dev/null || true)`,
    `if [ -n "$since" ] && [ "$since" -lt ${stale} ]; then rm -rf ${POOL_LOCK}; fi`,
    `if mkdir ${POOL_LOCK} 2>/dev/null; then printf '%s\\n' '${line}' > ${POOL_LOCK}/owner; echo taken; else cat ${POOL_LOCK}/owner 2>/dev/null; fi`,
  ].join("; ");
  const r = await runRemote(ssh, command, timeoutMs);
  if (r.code !== 0) throw new OpsError("command", ssh.host, `cannot take the pool lock ${POOL_LOCK}: ${r.stderr.trim()}`);
  if (r.stdout.trim() !== "taken") {
    const [, since, ...holder] = r.stdout.trim().split(" ");
    const when = Number(since) > 0 ? new Date(Number(since) * 1000).toISOString() : "an unknown time";
    throw new OpsError(
      "unhealthy",
      ssh.host,
      `another ops run changes the pool (${holder.join(" ") || "holder unknown"}, since ${when}): nothing was changed; run again once it is done (its lock is ${POOL_LOCK} on the front)`,
    );
  }
  return {
    release: async () => {
      await runRemote(ssh, `[ "$(cut -d' ' -f1 ${POOL_LOCK}/owner 2>/dev/null)" = '${token}' ] && rm -rf ${POOL_LOCK}; true`, timeoutMs);
    },
  };
}

/** The lock, waiting up to `waitMs` (a look every `pollMs`) while another run holds it; `onBusy` hears the first refusal. */
export async function waitForPoolLock(
  ssh: SshTarget,
  who: string,
  staleMs: number,
  timeoutMs: number,
  wait: { waitMs: number; pollMs: number; onBusy?: (why: string) => void },
): Promise<PoolLock> {
  const deadline = Date.now() + wait.waitMs;
  let told = false;
  for (;;) {
    try {
      return await takePoolLock(ssh, who, staleMs, timeoutMs);
    } catch (e) {
      if (!(e instanceof OpsError && e.kind === "unhealthy") || Date.now() >= deadline) throw e;
      if (!told) wait.onBusy?.(e.detail);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, wait.pollMs));
    }
  }
}

/** Runs `fn` holding the pool lock, released whatever happens. */
export async function withPoolLock<T>(ssh: SshTarget, who: string, staleMs: number, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = await takePoolLock(ssh, who, staleMs, timeoutMs);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
