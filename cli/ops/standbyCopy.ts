import { STANDBY_COPY_INTERVAL_MINUTES, STANDBY_COPY_STATUS } from "../../components/scalelite/recordingLayout";

/**
 * What a front's recordings copy last did (scripts/scalelite-recordings-pull.sh writes it after each run on
 * both fronts; only the standby copies): its result, the role it saw, and the start of the last run that
 * succeeded, which is how far behind the serving front the standby's recordings are.
 */
export interface StandbyCopy {
  /** ok | failed, or why it copied nothing: serving, or the front-role it has (fenced). */
  lastResult: "ok" | "failed" | "serving" | string;
  /** The front-role the run saw (standby, primary, fenced); absent in files written before it was recorded. */
  role?: string;
  /** Unix time (s) of the last run. */
  lastAttempt?: number;
  /** Unix time (s) the last successful run started: the copy holds everything the front had then. */
  lastSuccess?: number;
  /**
   * Unix time (s) of the oldest archive the serving front had received and not yet imported when that run
   * started (its incoming/ or spool/, which the copy does not take), or that start when there was none;
   * absent when it could not be listed, or in files written before it was recorded.
   */
  pendingSince?: number;
  files?: number;
  bytes?: number;
}

/** The command that prints the status file (BBB_OVH_ROOT is empty on a real front); nothing when no copy ran yet. */
export const STANDBY_COPY_COMMAND = `cat "\${BBB_OVH_ROOT:-}${STANDBY_COPY_STATUS}" 2>/dev/null || true`;

/** Three missed runs in a row: the copy is stuck, whatever the last result said. */
export const STANDBY_COPY_MAX_LAG_SECONDS = 3 * STANDBY_COPY_INTERVAL_MINUTES * 60;

const count = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/** The status file's key=value lines; undefined when there is none (no copy has run). */
export function parseStandbyCopy(text: string): StandbyCopy | undefined {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const lastResult = values.get("last_result");
  if (!lastResult) return undefined;
  return {
    lastResult,
    role: values.get("role") || undefined,
    lastAttempt: count(values.get("last_attempt")),
    lastSuccess: count(values.get("last_success")),
    pendingSince: count(values.get("pending_since")),
    files: count(values.get("files")),
    bytes: count(values.get("bytes")),
  };
}

const ago = (seconds: number) =>
  seconds < 120 ? `${Math.max(0, Math.round(seconds))} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;

/** One line for `ops status`, and the problem it shows, if any. */
export function describeStandbyCopy(standby: string, copy: StandbyCopy | undefined, nowSeconds: number): { line: string; problem?: string } {
  if (!copy) {
    const problem = `no recordings copy has run on ${standby} yet (bbb-ovh-recordings-pull.timer): a failover now would serve no recording published before it`;
    return { line: `recordings copy to ${standby}: never ran`, problem };
  }
  if (copy.lastResult === "serving") return { line: `recordings copy to ${standby}: none, ${standby} serves (promoted by ops failover)` };
  if (copy.lastResult !== "ok" && copy.lastResult !== "failed")
    return { line: `recordings copy to ${standby}: none, ${standby} is ${copy.lastResult} (front-role), not a standby: ops failback makes it one` };
  const lag = copy.lastSuccess === undefined ? undefined : nowSeconds - copy.lastSuccess;
  const behind = lag === undefined ? "never succeeded" : `${ago(lag)} behind the serving front`;
  const line = `recordings copy to ${standby}: ${copy.lastResult === "ok" ? "ok" : copy.lastResult.toUpperCase()}, ${behind}${
    copy.lastResult === "ok" && copy.files !== undefined ? ` (last run copied ${copy.files} file(s))` : ""
  }`;
  if (copy.lastResult !== "ok")
    return {
      line,
      problem: `the last recordings copy to ${standby} failed (journalctl -u bbb-ovh-recordings-pull on ${standby}); its recordings are ${behind}`,
    };
  if (lag === undefined || lag > STANDBY_COPY_MAX_LAG_SECONDS)
    return { line, problem: `the recordings copy to ${standby} is ${behind} (it runs every ${STANDBY_COPY_INTERVAL_MINUTES} minutes): is its timer running?` };
  return { line };
}

/**
 * Whose copy `ops status` shows: the front(s) whose last run saw front-role standby (the front itself after a
 * failback, the standby front otherwise), else the stack's standby front, as before any switch.
 */
export function standbyCopiesToShow<T extends { name: string; copy?: StandbyCopy }>(fronts: readonly T[], stackStandby: string): T[] {
  const standbys = fronts.filter((f) => f.copy?.role === "standby");
  return standbys.length > 0 ? standbys : fronts.filter((f) => f.name === stackStandby);
}
