import { classifyError, OpsError } from "./errors";
import { asRoot, homeFileWrite, runRemote, type SshTarget } from "./ssh";
import type { OpsTarget } from "./stackSource";

/**
 * What a front is in a pair (campus.standbyFront): `primary` (it serves), `standby` or `fenced`, as
 * `ops failover` / `failback` write it (BBB_OVH_ROOT is empty on a real front). The recordings receiver
 * refuses while it says `standby` or `fenced`; a front that never switched has none.
 */
export const FRONT_ROLE_FILE = "${BBB_OVH_ROOT:-}/var/lib/bbb-ovh/front-role";

const readRole = (ssh: SshTarget) => asRoot(ssh, `f="${FRONT_ROLE_FILE}"; [ ! -e "$f" ] || cat "$f"`);

/** The front's role, read as root as the failover writes it: "" for a front that never switched; unreadable is an error. */
export async function readFrontRole(ssh: SshTarget, timeoutMs: number): Promise<string> {
  const read = await runRemote(ssh, readRole(ssh), timeoutMs);
  if (read.code !== 0) throw new OpsError("command", ssh.host, `cannot read its front-role: ${read.stderr.trim() || `exit ${read.code}`}`);
  return roleOf(read.stdout);
}

/** A front-role file's role: what precedes its first white space, as the host steps read it (front_role in scripts/lib/common.sh). */
export const roleOf = (text: string): string => /^\S*/.exec(text)![0];

/** The front of a pair that does not serve now: it keeps a copy of the pool's state for the day it does. */
export interface OtherFront {
  name: string;
  ssh: SshTarget;
}

/** The fronts a pool run (ops scale, schedule apply) works with. */
export interface PoolFronts {
  /** The stack's target, its `ssh` the front that serves now. */
  target: OpsTarget;
  /** Undefined without a standby front, or when the other front cannot be read this run (a note says why). */
  other?: OtherFront;
  /** What the run's report says about the pair. */
  notes: string[];
  /** The name of the front the run acts on (the stack's front, or its standby front once that serves). */
  serving: string;
}

/**
 * A shell test for the other front, run before its copy is written: it fails, saying why, when that front
 * serves now (a run that chose its front before a failover or failback must not overwrite the list of the one
 * that serves since).
 */
export const notServing = (ssh: SshTarget): string =>
  `role="$(${readRole(ssh)} </dev/null)" && role="\${role%%[[:space:]]*}" && { [ "$role" != primary ] || { echo "it serves now (front-role primary): its own runs keep its list" >&2; false; }; }`;

/**
 * Writes `text` to `~/<relative>` on the other front of a pair, in one command behind notServing, then runs
 * `then` there; an unreachable front is code -1 with the reason, never a throw (the copies are best effort).
 */
export function writeCopyOn(
  other: OtherFront,
  relative: string,
  text: string,
  timeoutMs: number,
  then?: string,
): Promise<{ code: number | null; stderr: string }> {
  const command = `${notServing(other.ssh)} && ${homeFileWrite(relative)}${then ? ` && ${then}` : ""}`;
  return runRemote(other.ssh, command, timeoutMs, text).catch((e: Error) => ({ code: -1, stderr: e.message }));
}

const sameHost = (a: SshTarget, b: SshTarget) => a.host === b.host && a.port === b.port;

/** The stack's front by its name in the stack file, else by the address this run reaches it at. */
const frontNameOf = (target: OpsTarget): string => target.campus?.front.name ?? target.ssh?.host ?? target.label;

/**
 * `--if-serving <front>`, checked before any connection: it names one of the stack's fronts. A timer on each front
 * of a pair runs the pool with its own front's name, so that the one on the front that serves acts, and the
 * other takes over after `ops failover` (docs/scaling.md, "With a standby front").
 */
export function checkIfServing(target: OpsTarget, name: string): void {
  const names = [target.campus?.front.name, target.standby?.name].filter((n): n is string => Boolean(n));
  if (!names.includes(name))
    throw new OpsError(
      "usage",
      "-",
      `--if-serving: expected the name of one of the stack's fronts (${names.length ? names.join(" or ") : "none known without a valid stack file"}), found '${name}'`,
    );
}

/** Why a run given `--if-serving name` does nothing (another front serves), or undefined when it acts. */
export const notServingHere = (fronts: PoolFronts, name: string): string | undefined =>
  fronts.serving === name ? undefined : `${fronts.serving} serves, not ${name} (--if-serving): nothing done here; the runs on ${fronts.serving} act`;

/** What a stack's pair of fronts is this run, read once for the pool runs and the status alike. */
type Pair =
  /** No standby front, or no front to read (the target as it is). */
  | { kind: "single" }
  /** --host names the standby itself: the front's own address is not known to this run. */
  | { kind: "hostIsStandby"; standby: Standby }
  | { kind: "unread"; standby: Standby; ssh: SshTarget; frontName: string; error: unknown }
  | { kind: "read"; standby: Standby; ssh: SshTarget; frontName: string; role: string };
type Standby = NonNullable<OpsTarget["standby"]>;

async function readPair(target: OpsTarget, timeoutMs: number): Promise<Pair> {
  const { standby, ssh } = target;
  if (!standby || !ssh) return { kind: "single" };
  if (sameHost(standby.ssh, ssh)) return { kind: "hostIsStandby", standby };
  const frontName = frontNameOf(target);
  try {
    return { kind: "read", standby, ssh, frontName, role: await readFrontRole(standby.ssh, timeoutMs) };
  } catch (error) {
    return { kind: "unread", standby, ssh, frontName, error };
  }
}

/**
 * With a standby front (campus.standbyFront), the pool runs act on the front that serves: the standby front
 * once `ops failover` made it so (its front-role says primary, until `ops failback`), else the front. So the
 * timer that runs them needs no change after a failover, and the standby's copy of the sleeping list
 * (cli/ops/nodePower.ts) tells it which nodes ops put to sleep. A standby that cannot be read leaves the
 * run on the front, and the report says so. `copies`: what the run writes onto the other front (ops scale,
 * schedule apply), which its notes then speak of; the others (drain, upgrade, repoint) copy nothing and
 * only need the front that serves.
 */
export async function poolFronts(target: OpsTarget, timeoutMs: number, copies?: string): Promise<PoolFronts> {
  const pair = await readPair(target, timeoutMs);
  if (pair.kind === "single") return { target, notes: [], serving: frontNameOf(target) };
  const { standby } = pair;
  if (pair.kind === "hostIsStandby")
    return {
      target,
      serving: standby.name,
      notes: [
        `--host is the standby front ${standby.name}: this run acts on it${copies ? ` and keeps no copy of ${copies} on the front (without --host, it keeps one)` : ""}`,
      ],
    };
  if (pair.kind === "unread") {
    const { ssh } = pair;
    const reason = (pair.error as Error).message;
    // Were the standby to serve (a failover), the front is fenced: a run there would act on a stopped Scalelite.
    const frontRole = await readFrontRole(ssh, timeoutMs);
    if (frontRole === "fenced" || frontRole === "standby")
      throw new OpsError(
        "config",
        ssh.host,
        `this front does not serve (front-role ${frontRole}) and the standby front ${standby.name} could not be read (${reason}): nothing done; check the standby front (after ops failover it serves)`,
      );
    const lacks = copies
      ? `, and the standby's copy of ${copies} is not brought up to date (after a failover, its runs would start from an older copy, or none)`
      : "";
    return {
      target,
      serving: pair.frontName,
      notes: [`the standby front ${standby.name} could not be read (${reason}): this run acts on ${pair.frontName}${lacks}`],
    };
  }
  if (pair.role !== "primary") return { target, other: { name: standby.name, ssh: standby.ssh }, notes: [], serving: pair.frontName };
  return {
    target: swapped(target, standby, pair.ssh),
    other: { name: pair.frontName, ssh: pair.ssh },
    serving: standby.name,
    notes: [`the standby front ${standby.name} serves (ops failover; until ops failback): this run acts on it`],
  };
}

/** The pair as it serves after `ops failover`: the standby front read as the front, the front as its standby. */
function swapped(target: OpsTarget, standby: Standby, ssh: SshTarget): OpsTarget {
  return {
    ...target,
    ssh: standby.ssh,
    frontName: standby.name,
    frontIpv4: standby.ipv4,
    frontIpv6: standby.ipv6,
    standby: { name: target.campus?.front.name ?? ssh.host, ssh, ipv4: target.frontIpv4, ipv6: target.frontIpv6 },
  };
}

/** What a standby front's front-role says of it when it does not say primary (the front is then read as the front). */
const STANDBY_ROLES: Record<string, string> = {
  "": "has never switched (no front-role)",
  standby: "is its standby (front-role standby)",
  fenced: "is fenced (front-role fenced: its Scalelite stays stopped)",
};

/** The pair as `ops status` reads it. */
export interface StatusFronts {
  target: OpsTarget;
  note?: string;
  /** Which front is read as the front, and what the standby's front-role says, for the report (a stack with a standby front). */
  pair?: string;
  /** The standby front did not answer: a problem of the pair, which the status lists (and reads nothing more there). */
  standbyUnread?: OpsError;
}

/**
 * For `ops status`, which reports rather than acts: once the standby front serves (its front-role says primary),
 * it is read as the front and the front as its standby; else the target as it is. A standby that cannot be
 * read leaves the status on the front, and is a problem: the pair's failover target is not known to work, and
 * were it serving (after ops failover) this status would be reading the fenced front.
 */
export async function statusFronts(target: OpsTarget, timeoutMs: number): Promise<StatusFronts> {
  const pair = await readPair(target, timeoutMs);
  if (pair.kind === "single" || pair.kind === "hostIsStandby") return { target };
  const { standby } = pair;
  if (pair.kind === "unread") {
    const error = classifyError(pair.error, standby.ssh.host);
    return {
      target,
      standbyUnread: new OpsError(
        error.kind,
        error.host,
        `the standby front ${standby.name} could not be read (${error.detail}): this status reads ${pair.frontName}; were ${standby.name} serving (after ops failover), ${pair.frontName} is fenced and what it says is not the campus's`,
      ),
    };
  }
  if (pair.role !== "primary")
    return {
      target,
      pair: `${pair.frontName} is read as the front: the standby front ${standby.name} ${STANDBY_ROLES[pair.role] ?? `says front-role ${pair.role}`}`,
    };
  return {
    target: swapped(target, standby, pair.ssh),
    note: `the standby front ${standby.name} serves (ops failover; until ops failback): read as the front`,
    pair: `the standby front ${standby.name} serves (front-role primary: since ops failover, until ops failback) and is read as the front; ${pair.frontName} is the other`,
  };
}
