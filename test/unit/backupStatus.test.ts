/** How `ops status` judges the front's backup status file (cli/ops/backup.ts); pure. */
import { describe, expect, it } from "vitest";
import { humanBytes, judgeBackup, type BackupStatusFile } from "../../cli/ops/backup";

const NOW = Date.parse("2026-11-25T10:00:00Z");
const file = (over: Partial<BackupStatusFile>): BackupStatusFile => ({
  state: "ok",
  attempt: "2026-11-25T03:15:00Z",
  attemptEpoch: NOW / 1000 - 6.75 * 3600,
  error: "",
  lastSuccess: "2026-11-25T03:15:00Z",
  lastSuccessEpoch: NOW / 1000 - 6.75 * 3600,
  snapshot: "1a2b3c4d",
  bytes: 5 * 1024 ** 3,
  added: 1024,
  maxAgeHours: 26,
  ...over,
});

describe("the backup's age and size in ops status", () => {
  it("a backup younger than the threshold is healthy, with its age and size", () => {
    expect(judgeBackup(file({}), NOW)).toMatchObject({ ok: true, ageHours: 6.75, detail: "last backup 6.8 h ago (snapshot 1a2b3c4d, 5.0 GiB)" });
  });

  it("older than the threshold (default 26 h, or the stack's) is a problem", () => {
    const old = file({ lastSuccessEpoch: NOW / 1000 - 26.5 * 3600 });
    expect(judgeBackup(old, NOW)).toMatchObject({ ok: false, detail: "last successful backup 26.5 h ago (snapshot 1a2b3c4d, 5.0 GiB), older than 26 h" });
    expect(judgeBackup(old, NOW, 48).ok).toBe(true);
  });

  it("a failed last attempt is told, and no success at all is a problem", () => {
    expect(judgeBackup(file({ state: "failed", error: "restic backup failed: Quota exceeded" }), NOW).detail).toMatch(
      /; the last attempt failed: restic backup failed: Quota exceeded$/,
    );
    expect(judgeBackup(file({ state: "failed", lastSuccessEpoch: null, snapshot: "", bytes: null, error: "pg_dump failed" }), NOW)).toMatchObject({
      ok: false,
      detail: "no successful backup yet (last attempt: pg_dump failed)",
    });
  });

  it("a backup that completed with warnings (restic exit 3) counts as a success and says so", () => {
    const warned = file({ warning: "completed with warnings: 1 files unreadable (vanished or not readable during the backup; first: /var/x.tar)" });
    expect(judgeBackup(warned, NOW)).toMatchObject({
      ok: true,
      detail:
        "last backup 6.8 h ago (snapshot 1a2b3c4d, 5.0 GiB); completed with warnings: 1 files unreadable (vanished or not readable during the backup; first: /var/x.tar)",
    });
  });

  it("sizes read as people read them", () => {
    expect([humanBytes(512), humanBytes(1536), humanBytes(3 * 1024 ** 4)]).toEqual(["512 B", "1.5 KiB", "3.0 TiB"]);
  });
});
