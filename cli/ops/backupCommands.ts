import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { backupList, backupNow, backupRestore, renderSnapshots, resendKept } from "./backup";
import { EXIT_CODES, OpsError } from "./errors";
import { poolFronts } from "./frontRole";
import type { OpsIO } from "./io";
import { loadTarget, type ConnectionOptions, type OpsTarget } from "./stackSource";

/** A backup of many recordings takes hours; restoring them too. */
const DEFAULT_BACKUP_TIMEOUT_MS = 6 * 3600 * 1000;

interface BackupOptions extends ConnectionOptions {
  json?: boolean;
  backupTimeout: number;
  /** --timeout, which has a default. */
  timeout: number;
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("--backup-timeout must be a positive integer");
  return n;
};

/** A time as ISO 8601 (2026-12-05T03:15:00Z) or Unix seconds, to epoch seconds. */
const sinceTime = (value: string) => {
  const seconds = /^\d+$/.test(value) ? Number(value) : Date.parse(value) / 1000;
  if (!Number.isFinite(seconds)) throw new InvalidArgumentError("--since expects a time: ISO 8601 (2026-12-05T03:15:00Z) or Unix seconds");
  return Math.floor(seconds);
};

/**
 * `backup now|list|restore|resend <stack>` (see cli/ops/backup.ts), registered on the ops program. With a
 * standby front, now, list and restore go to the front that serves, found as the pool runs find it (its
 * timer is the one that backs up: docs/backups.md, "With a standby front").
 */
export function addBackupCommands(
  program: Command,
  withStandby: (cmd: Command) => Command,
  io: OpsIO,
  out: { print: (text: string) => void; json: (value: unknown) => void; exit: (code: number) => void },
): void {
  /** The stack's target on the front that serves; a note on stderr says when that is the standby front. */
  const servingFront = async (stack: string, o: BackupOptions): Promise<OpsTarget> => {
    const { target, notes } = await poolFronts(await loadTarget(stack, o, io), o.timeout);
    for (const note of notes) io.stderr.write(`note: ${note}\n`);
    return target;
  };
  const backup = program.command("backup").description("backups of the front's recordings and database (docs/backups.md)");
  const sub = (name: string, description: string) =>
    withStandby(backup.command(name).description(description)).option(
      "--backup-timeout <ms>",
      "deadline of the backup or restore on the front",
      positiveInt,
      DEFAULT_BACKUP_TIMEOUT_MS,
    );

  sub("now <stack>", "back up the front now (database dump + recordings, then retention), and show the result").action(
    async (stack: string, o: BackupOptions) => {
      const result = await backupNow(await servingFront(stack, o), o.backupTimeout);
      if (o.json) out.json(result);
      else out.print(`${result.summary}\n${result.status.ok ? "ok" : "STALE"}: ${result.status.detail}`);
      if (!result.status.ok) out.exit(EXIT_CODES.unhealthy);
    },
  );

  sub("list <stack>", "the snapshots in the backup repository").action(async (stack: string, o: BackupOptions) => {
    const snapshots = await backupList(await servingFront(stack, o), o.backupTimeout);
    if (o.json) out.json(snapshots);
    else out.print(renderSnapshots(snapshots));
  });

  sub(
    "restore <stack> [snapshot]",
    "rebuild the front's database and recordings from a snapshot (default latest); refuses a front that has data unless --force",
  )
    .option("--force", "restore even over a front that has recordings (they are overwritten)")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (stack: string, snapshot: string | undefined, o: BackupOptions & { force?: boolean; yes?: boolean }) => {
      const text = await backupRestore(
        await servingFront(stack, o),
        snapshot ?? "latest",
        { force: Boolean(o.force), yes: Boolean(o.yes), timeoutMs: o.backupTimeout },
        io,
      );
      if (o.json) out.json({ restored: snapshot ?? "latest", output: text });
      else out.print(text);
    });

  sub(
    "resend <stack>",
    "every node sends the front again the copies it kept of the recordings it delivered since --since (what a restore does for its snapshot's time; the front drops what it holds)",
  )
    .requiredOption("--since <time>", "ISO 8601 or Unix seconds", sinceTime)
    .action(async (stack: string, o: BackupOptions & { since: number }) => {
      const target = await loadTarget(stack, o, io);
      if (!target.campus?.config.recordings)
        throw new OpsError("config", "-", `${target.label} keeps no recordings (campus.recordings): nothing to send again`);
      const result = await resendKept(target, o.since);
      if (o.json) out.json({ since: o.since, ...result });
      else out.print(result.summary);
      if (!result.ok) out.exit(EXIT_CODES.unhealthy);
    });
}
