/**
 * Backups of the Scalelite front, for real: scripts/scalelite-backup.sh over SSH on loopback test hosts,
 * the real restic (Debian's) against a real S3 API server on loopback (moto, with authentication on),
 * and the real PostgreSQL 15 standing in for the database container's server (test/backup/bin/docker
 * names exactly which docker calls it models). Only apt-get, dpkg-query and systemctl are the shared fakes.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { RECORDING_DIR } from "../../components/scalelite/recordingLayout";
import { calls, mode, output, runWatched, tree } from "../support/hostState";
import { connect, FAKE_BIN, killSessions, runStep, startTestHost, type TestHost } from "../support/sshd";
import { flockHeld, waitUntil } from "../support/waitUntil";
import { createCluster, postgresAvailable, removeTemplate, type PgCluster } from "./support/postgres";
import { motoPython, quotaProxy, startS3, type S3Keys, type S3Server } from "./support/s3";
import { ops, scratch } from "../ops/cli";

const BACKUP_BIN = path.resolve(__dirname, "bin");
const python = motoPython();
const RESTIC_PASSWORD = randomBytes(24).toString("hex");
const ready = Boolean(python) && postgresAvailable();

let s3: S3Server;
/** The same server with authentication on, for the credential tests (see support/s3.ts). */
let s3Auth: S3Server;
const hosts: TestHost[] = [];
const clusters: PgCluster[] = [];

beforeAll(async () => {
  if (ready) [s3, s3Auth] = await Promise.all([startS3(python as string, { auth: false }), startS3(python as string, { auth: true })]);
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await Promise.all(clusters.map((c) => c.destroy()));
  await removeTemplate();
  await Promise.all([s3?.stop(), s3Auth?.stop()]);
});

/** Scalelite's tables as db/schema.rb of v1.8.5 declares them (the columns the tests fill). */
const SCHEMA = `
CREATE TABLE recordings (id bigserial PRIMARY KEY, record_id varchar, meeting_id varchar, name varchar, published boolean,
  participants integer, state varchar, starttime timestamp, endtime timestamp, deleted_at timestamp, publish_updated boolean DEFAULT false, protected boolean);
CREATE UNIQUE INDEX index_recordings_on_record_id ON recordings (record_id);
CREATE TABLE playback_formats (id bigserial PRIMARY KEY, recording_id bigint REFERENCES recordings(id), format varchar, url varchar, length integer, processing_time integer);
CREATE TABLE metadata (id bigserial PRIMARY KEY, recording_id bigint REFERENCES recordings(id), key varchar, value varchar);`;

async function newCluster(withSchema: boolean): Promise<PgCluster> {
  const pg = await createCluster();
  clusters.push(pg);
  pg.sql("postgres", "CREATE DATABASE scalelite");
  if (withSchema) pg.sql("scalelite", SCHEMA);
  return pg;
}

async function frontHost(pg: PgCluster): Promise<TestHost> {
  const h = await startTestHost({
    fqdn: "scalelite.campus.example",
    env: { PATH: `${BACKUP_BIN}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`, BACKUP_TEST_PGHOST: pg.socketDir },
  });
  hosts.push(h);
  return h;
}

const backupInputs = (bucket: string, over: Partial<{ endpoint: string; keys: S3Keys; password: string }> = {}): StepInputs => ({
  RESTIC_REPOSITORY: `s3:${over.endpoint ?? s3.endpoint}/${bucket}`,
  RESTIC_PASSWORD: over.password ?? RESTIC_PASSWORD,
  AWS_ACCESS_KEY_ID: (over.keys ?? s3.keys).accessKeyId,
  AWS_SECRET_ACCESS_KEY: (over.keys ?? s3.keys).secretAccessKey,
  AWS_DEFAULT_REGION: "us-east-1",
  RECORDING_DIR,
  SCHEDULE: "*-*-* 02:30:00",
  KEEP_DAILY: "7",
  KEEP_WEEKLY: "4",
  KEEP_MONTHLY: "6",
  MAX_AGE_HOURS: "26",
});

async function sh(h: TestHost, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ssh = await connect(h);
  try {
    const r = await ssh.execCommand(command, { noTrim: true });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  } finally {
    ssh.dispose();
  }
}

/** Ends a process group (a detached child and its children), unless it has ended on its own. */
function endGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGTERM");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

const status = (h: TestHost) => JSON.parse(readFileSync(path.join(h.root, "var/lib/bbb-ovh/backup-status.json"), "utf8"));

/** Recordings as the front holds them: files with the owners and modes Scalelite and the nodes give them. */
function writeRecordings(h: TestHost, records: string[], bytes = 2048): void {
  const base = path.join(h.root, RECORDING_DIR.slice(1));
  const file = (rel: string, content: Buffer | string, fileMode: number, uid: number, gid: number) => {
    const full = path.join(base, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
    chmodSync(full, fileMode);
    chownSync(full, uid, gid);
  };
  for (const sub of ["published", "unpublished", "spool"]) {
    mkdirSync(path.join(base, sub), { recursive: true });
    chmodSync(path.join(base, sub), 0o775);
    chownSync(path.join(base, sub), 1000, 2000);
  }
  for (const id of records) {
    file(`published/presentation/${id}/metadata.xml`, `<recording><id>${id}</id></recording>\n`, 0o644, 1000, 2000);
    file(`published/presentation/${id}/video/webcams.webm`, randomBytes(bytes), 0o640, 1000, 2000);
    chmodSync(path.join(base, `published/presentation/${id}`), 0o750);
    chownSync(path.join(base, `published/presentation/${id}`), 1000, 2000);
  }
  // Another format's folder of the first recording, as unpublished (a restore sets aside folders of recordings its database does not list).
  const hidden = records[0] ?? "hidden-1";
  file(`unpublished/podcast/${hidden}/metadata.xml`, `<recording><id>${hidden}</id></recording>\n`, 0o600, 1001, 1001);
  file(`spool/${records[0] ?? "x"}.tar`, randomBytes(512), 0o664, 998, 2000);
  // Delivered, not yet in the spool: in a node's target, and staged by the mover (root's only) under its reserve.
  file(`incoming/bbb1/${records[1] ?? "y"}.tar`, randomBytes(256), 0o644, 997, 997);
  // A transfer in flight: rsync's receiver writes .<name>.XXXXXX and renames it once whole (receiver.c, get_tmpname).
  file(`incoming/bbb1/.${records[0] ?? "x"}.tar.q8Zr1x`, randomBytes(128), 0o600, 997, 997);
  file(`.checking/bbb2/${records[2] ?? "z"}.tar`, randomBytes(256), 0o644, 0, 0);
  chmodSync(path.join(base, ".checking"), 0o700);
}

function insertRows(pg: PgCluster, records: string[]): void {
  for (const [i, id] of records.entries()) {
    pg.sql(
      "scalelite",
      `INSERT INTO recordings (record_id, meeting_id, name, published, participants, state, starttime, endtime)
       VALUES ('${id}', 'meeting-${i}', 'Lesson ${i} é', true, ${i + 3}, 'published', '2026-11-0${(i % 9) + 1} 10:00', '2026-11-0${(i % 9) + 1} 11:00');
       INSERT INTO playback_formats (recording_id, format, url, length) SELECT id, 'presentation', '/playback/presentation/2.3/${id}', ${60 + i} FROM recordings WHERE record_id = '${id}';
       INSERT INTO metadata (recording_id, key, value) SELECT id, 'bbb-context', 'course ${i}' FROM recordings WHERE record_id = '${id}';`,
    );
  }
}

/** Every entry under the recording directory: path -> type, mode, owner, and a content digest for files. */
function recordingTree(h: TestHost): Map<string, string> {
  const out = new Map<string, string>();
  const base = path.join(h.root, RECORDING_DIR.slice(1));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const st = lstatSync(full);
      const content = st.isFile() ? readFileSync(full).toString("base64") : "";
      out.set(path.relative(base, full), `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? "dir" : content}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(base);
  return out;
}

const rows = (pg: PgCluster) => ({
  recordings: pg.sql("scalelite", "SELECT record_id, meeting_id, name, published, participants, state, starttime, endtime FROM recordings ORDER BY record_id"),
  formats: pg.sql("scalelite", "SELECT r.record_id, f.format, f.url, f.length FROM playback_formats f JOIN recordings r ON r.id = f.recording_id ORDER BY 1"),
  metadata: pg.sql("scalelite", "SELECT r.record_id, m.key, m.value FROM metadata m JOIN recordings r ON r.id = m.recording_id ORDER BY 1"),
});

// Each scenario below has its own test host, PostgreSQL cluster and bucket, so they run side by side
// (concurrent), each one's tests in order where they build on each other (it.sequential). Most of their
// time is waiting: the full bucket alone spends about a minute in restic 0.14's own retries of each
// refused upload (10 tries, exponential backoff: internal/backend/backend_retry.go), which the others use.
// The killed backup runs alone, before the others (describe.sequential): it kills restic while it uploads,
// a moment this process must catch as it passes, which synchronous work of a scenario beside it (psql, the
// process listing) could delay past that moment.
describe.skipIf(!ready)("backups of the Scalelite front (restic + S3 + PostgreSQL, for real)", { concurrent: true }, () => {
  describe.sequential("a backup killed midway", () => {
    it("the next run completes and restic check is clean", async ({ signal }) => {
      const pg = await newCluster(true);
      const h = await frontHost(pg);
      expect((await runStep(h, "scaleliteBackup", backupInputs("interrupted"))).code).toBe(0);
      const records = Array.from({ length: 12 }, (_, i) => `big-${i}`);
      writeRecordings(h, records, 4 * 1024 * 1024);
      insertRows(pg, records);
      const running = sh(h, "bbb-ovh-backup run");
      // Wait until restic is uploading, then kill everything the session started.
      const uploading = () =>
        readdirSync("/proc").some((pid) => {
          try {
            return (
              /^\d+$/.test(pid) &&
              readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("restic\0backup") &&
              readFileSync(`/proc/${pid}/environ`).includes(h.root)
            );
          } catch {
            return false;
          }
        });
      await waitUntil(uploading, signal, 50);
      await new Promise((r) => setTimeout(r, 300));
      expect(killSessions(h)).toBeGreaterThan(0);
      await running;
      expect(status(h).state).toBe("running");

      // restic's output went to the backup's 0700 directory, not /tmp: the killed run left its files there.
      const backupDir = path.join(h.root, "var/lib/bbb-ovh/backup");
      const leftovers = () => readdirSync(backupDir).filter((f) => /^restic\.\w{6}$/.test(f));
      const killedRuns = leftovers();
      expect(killedRuns.length).toBeGreaterThan(0);

      const next = await sh(h, "bbb-ovh-backup run");
      expect(next.code, next.stderr).toBe(0);
      expect(status(h)).toMatchObject({ state: "ok" });
      const check = await sh(h, "bbb-ovh-backup check");
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toMatch(/no errors were found/);
      // A run leaves none of its own, and removes those of a killed run once they are a day old.
      expect(leftovers()).toEqual(killedRuns);
      const dayAndMinuteAgo = new Date(Date.now() - 1441 * 60_000);
      for (const f of killedRuns) utimesSync(path.join(backupDir, f), dayAndMinuteAgo, dayAndMinuteAgo);
      expect((await sh(h, "bbb-ovh-backup run")).code).toBe(0);
      expect(leftovers()).toEqual([]);
    });
  });

  describe("a spool archive that vanishes during the backup (the importer removes them every minute)", () => {
    it("restic exits 3: the snapshot is kept and counted, the status says so, retention still runs", async () => {
      const pg = await newCluster(true);
      const h = await frontHost(pg);
      expect((await runStep(h, "scaleliteBackup", backupInputs("vanish"))).code).toBe(0);
      writeRecordings(h, ["v-1"]);
      insertRows(pg, ["v-1"]);
      const first = await sh(h, "bbb-ovh-backup run");
      expect(first.code, first.stderr).toBe(0);
      expect(status(h).state).toBe("ok");

      // New spool archives (restic reads new files; unchanged ones it skips): a few thousand, then one sorted last.
      const spool = path.join(h.root, RECORDING_DIR.slice(1), "spool");
      for (let i = 0; i < 3000; i++) writeFileSync(path.join(spool, `${String(i).padStart(5, "0")}.tar`), randomBytes(256));
      const doomed = path.join(spool, "zz-imported.tar");
      writeFileSync(doomed, randomBytes(256));
      // restic lists a directory, then reads its files in name order: once it opens the first archive, the
      // listing holds zz-imported.tar, which is removed while restic works through the others. The watcher
      // removes it itself, at once: this process's event loop may be held up by the scenarios beside this one.
      const watcher = spawn(
        "bash",
        [
          "-c",
          'inotifywait -m -e open --format "%e %f" "$1" | while read -r line; do [[ $line == *ISDIR* ]] && continue; rm -- "$2"; echo "$line"; break; done',
          "watch-spool",
          spool,
          doomed,
        ],
        { stdio: ["ignore", "pipe", "pipe"], detached: true },
      );
      await new Promise<void>((resolve, reject) => {
        watcher.on("error", reject);
        watcher.stderr.on("data", (d: Buffer) => d.toString().includes("Watches established") && resolve());
      });
      let removedAfter: string | undefined;
      createInterface({ input: watcher.stdout }).on("line", (line) => (removedAfter ??= line));
      try {
        const run = await sh(h, "bbb-ovh-backup run");
        expect(removedAfter, "restic never opened a spool archive").toBeDefined();
        expect(run.code, run.stderr).toBe(0);
        expect(run.stderr).toMatch(
          /warning: snapshot [0-9a-f]{8} completed with warnings: 1 files unreadable \(vanished or not readable during the backup; first: \S+\/spool\/zz-imported\.tar\)/,
        );
        const st = status(h);
        expect(st).toMatchObject({ state: "ok", error: "" });
        expect(st.warning).toMatch(/^completed with warnings: 1 files unreadable/);
        expect(st.snapshot).not.toBe("");
        // Retention ran (--keep-daily keeps the day's last snapshot): only the new snapshot is left.
        const list = JSON.parse((await sh(h, "bbb-ovh-backup list --json")).stdout) as Array<{ short_id: string }>;
        expect(list.map((x) => x.short_id)).toEqual([st.snapshot]);
      } finally {
        // The whole pipeline, unless it ended already (inotifywait ends at its first write after the loop).
        endGroup(watcher.pid!);
      }
    }, 300_000);
  });

  describe("the host step", () => {
    let h: TestHost;
    const listings: string[] = [];
    let firstCalls: string[];
    let treeAfterFirst: Map<string, string>;
    let second: Awaited<ReturnType<typeof runStep>>;

    beforeAll(async () => {
      const pg = await newCluster(true);
      h = await frontHost(pg);
      const first = await runWatched(h, "scaleliteBackup", backupInputs("step"), listings);
      expect(first.code, output(first)).toBe(0);
      firstCalls = calls(h);
      treeAfterFirst = tree(h);
      second = await runWatched(h, "scaleliteBackup", backupInputs("step"), listings);
    });

    it.sequential("installs restic from Ubuntu's packages, writes the settings 0600 and the timer, starts only the timer", () => {
      expect(firstCalls.filter((c) => /^apt-get .*install -y -q restic$/.test(c))).toHaveLength(1);
      for (const file of ["etc/bbb-ovh/backup/password", "etc/bbb-ovh/backup/repository.env", "etc/bbb-ovh/backup/policy.env"])
        expect(mode(h, file)).toBe("600");
      expect(mode(h, "etc/bbb-ovh/backup")).toBe("700");
      expect(readFileSync(path.join(h.root, "etc/bbb-ovh/backup/password"), "utf8")).toBe(RESTIC_PASSWORD);
      const timer = readFileSync(path.join(h.root, "etc/systemd/system/bbb-ovh-backup.timer"), "utf8");
      expect(timer).toMatch(/^OnCalendar=\*-\*-\* 02:30:00$/m);
      expect(timer).toMatch(/^Persistent=true$/m);
      expect(firstCalls).toContain("systemctl start bbb-ovh-backup.timer");
      expect(firstCalls.some((c) => c.includes("bbb-ovh-backup.service") && /start|restart/.test(c))).toBe(false);
    });

    it.sequential("initialises the repository once: restic opens it with the stored password", async () => {
      const r = await sh(
        h,
        "set -a; . $BBB_OVH_ROOT/etc/bbb-ovh/backup/repository.env; RESTIC_PASSWORD_FILE=$BBB_OVH_ROOT/etc/bbb-ovh/backup/password restic cat config",
      );
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).id).toMatch(/^[0-9a-f]{64}$/);
    });

    it.sequential("a second run changes nothing on the host", () => {
      expect(second.code, output(second)).toBe(0);
      expect(tree(h)).toEqual(treeAfterFirst);
      const secondCalls = calls(h).slice(firstCalls.length);
      expect(secondCalls.filter((c) => /^(apt-get install|systemctl (start|restart|enable|daemon-reload))/.test(c))).toEqual([]);
    });

    it.sequential("a deployment while a (long) backup runs does not fail on the backup's lock: it checks the repository and goes on", async ({ signal }) => {
      // The nightly backup holds the host's backup lock for hours on a big campus; `pulumi up` re-runs this step meanwhile.
      // Held until the step is over, however slow the machine.
      const release = path.join(h.root, "release-backup-lock");
      const holder = sh(h, `flock $BBB_OVH_ROOT/var/lib/bbb-ovh/backup.lock sh -c 'until [ -e ${release} ]; do sleep 0.1; done'`);
      await waitUntil(() => flockHeld(path.join(h.root, "var/lib/bbb-ovh/backup.lock")), signal);
      const during = await runStep(h, "scaleliteBackup", backupInputs("step"));
      writeFileSync(release, "");
      expect(during.code, output(during)).toBe(0);
      expect(during.stdout).toContain("a backup or restore is running");
      await holder;
    });

    it.sequential("never shows a secret in the process listing", () => {
      const all = listings.join("\n");
      expect(all).not.toContain(RESTIC_PASSWORD);
      expect(all).not.toContain(s3.keys.secretAccessKey);
    });
  });

  describe("restore drill: back up a front, lose it, restore onto a fresh host", () => {
    const records = ["rec-a1", "rec-b2", "rec-c3"];
    let before: Map<string, string>;
    /** rsync's temporary files of transfers in flight: not backed up (the nodes send those again). */
    let inFlight: string[];
    let beforeRows: ReturnType<typeof rows>;
    let fresh: TestHost;
    let freshPg: PgCluster;
    let refusedEmpty: Awaited<ReturnType<typeof sh>>;
    let restored: Awaited<ReturnType<typeof sh>>;

    beforeAll(async () => {
      const pg = await newCluster(true);
      const old = await frontHost(pg);
      expect((await runStep(old, "scaleliteBackup", backupInputs("drill"))).code).toBe(0);
      writeRecordings(old, records);
      insertRows(pg, records);
      const run = await sh(old, "bbb-ovh-backup run");
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(status(old)).toMatchObject({ state: "ok", error: "" });
      before = recordingTree(old);
      inFlight = [...before.keys()].filter((k) => /^incoming\/[^/]+\/\.[^/]+\.[A-Za-z0-9]{6}$/.test(k));
      for (const k of inFlight) before.delete(k);
      beforeRows = rows(pg);
      // The fire: the front and its database are gone.
      await old.stop();
      await pg.destroy();

      // A fresh front as `pulumi up` rebuilds it: Scalelite's empty schema, empty recording directories.
      freshPg = await newCluster(true);
      fresh = await frontHost(freshPg);
      expect((await runStep(fresh, "scaleliteBackup", backupInputs("drill"))).code).toBe(0);
      refusedEmpty = await sh(fresh, "bbb-ovh-backup run");
      // Scalelite runs on the rebuilt front (the fake systemctl's state): the restore must stop it and start it again.
      writeFileSync(path.join(fresh.root, "etc/systemd/system/scalelite.target"), "[Unit]\n");
      mkdirSync(path.join(fresh.root, "fake-state/systemd"), { recursive: true });
      writeFileSync(path.join(fresh.root, "fake-state/systemd/scalelite.target.active"), "active\n");
      restored = await sh(fresh, "bbb-ovh-backup restore");
    });

    it.sequential("the first backup recorded its time, size and snapshot", () => {
      expect(before.size).toBeGreaterThan(10);
      expect(JSON.parse(beforeRows.recordings ? "3" : "0")).toBe(3);
    });

    it.sequential("the empty new front refuses to back itself up over the real backup", () => {
      expect(refusedEmpty.code).not.toBe(0);
      expect(refusedEmpty.stderr).toMatch(/no recordings but the latest backup holds 3: restore it first/);
      expect(status(fresh).state).toBe("failed");
    });

    it.sequential("restores every file (content, mode, owner) and every row", () => {
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/3 recording\(s\) in the database/);
      expect(inFlight).toEqual([`incoming/bbb1/.${records[0]}.tar.q8Zr1x`]);
      expect(recordingTree(fresh)).toEqual(before);
      expect(rows(freshPg)).toEqual(beforeRows);
    });

    it.sequential("stops Scalelite while restoring and starts it again", () => {
      const systemctl = calls(fresh).filter((c) => c.startsWith("systemctl ") && c.includes("scalelite.target"));
      expect(systemctl).toEqual(["systemctl is-active --quiet scalelite.target", "systemctl stop scalelite.target", "systemctl start scalelite.target"]);
    });

    it.sequential("leaves no database dump behind", () => {
      expect(readdirSync(path.join(fresh.root, "var/lib/bbb-ovh/backup"))).toEqual([]);
    });

    it.sequential("refuses to restore over a front that has data, unless --force", async () => {
      const again = await sh(fresh, "bbb-ovh-backup restore");
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/already has data \(3 recording\(s\) in the database, \d+ file\(s\).*pass --force/);
      // A recording imported after the snapshot: its row goes with the restore, so its files are set aside
      // (never deleted), and the copy its node sends again is imported anew instead of dropped as held.
      const late = path.join(fresh.root, RECORDING_DIR.slice(1), "published/presentation/rec-late");
      mkdirSync(late, { recursive: true });
      writeFileSync(path.join(late, "metadata.xml"), "<recording><id>rec-late</id></recording>\n");
      insertRows(freshPg, ["rec-late"]);
      const forced = await sh(fresh, "bbb-ovh-backup restore latest --force");
      expect(forced.code, forced.stderr).toBe(0);
      expect(rows(freshPg)).toEqual(beforeRows);
      const snapshot = /restored snapshot ([0-9a-f]{8})/.exec(forced.stdout)?.[1];
      const aside = new RegExp(
        `set aside 1 recording folder\\(s\\) the restored database does not list, in ${RECORDING_DIR}/set-aside/(${snapshot}-\\d{8}T\\d{6}Z):`,
      ).exec(forced.stdout)?.[1];
      expect(aside, forced.stdout).toBeDefined();
      expect(existsSync(late)).toBe(false);
      expect(readFileSync(path.join(fresh.root, RECORDING_DIR.slice(1), `set-aside/${aside}/published/presentation/rec-late/metadata.xml`), "utf8")).toContain(
        "rec-late",
      );
      // What the snapshot and the database both hold stays in place.
      for (const id of records) expect(existsSync(path.join(fresh.root, RECORDING_DIR.slice(1), `published/presentation/${id}`))).toBe(true);
      expect(existsSync(path.join(fresh.root, RECORDING_DIR.slice(1), `unpublished/podcast/${records[0]}`))).toBe(true);
    });

    it.sequential("a restore that fails leaves the database as it was and Scalelite running", async () => {
      // A view on recordings that the dump does not know: pg_restore --clean cannot drop the table.
      freshPg.sql("scalelite", "CREATE VIEW recent AS SELECT record_id FROM recordings");
      const rowsBefore = rows(freshPg);
      const callsBefore = calls(fresh).length;
      const failed = await sh(fresh, "bbb-ovh-backup restore latest --force");
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(/pg_restore into scalelite failed: the database is unchanged/);
      expect(rows(freshPg)).toEqual(rowsBefore);
      expect(
        calls(fresh)
          .slice(callsBefore)
          .filter((c) => /scalelite\.target/.test(c)),
      ).toEqual(["systemctl is-active --quiet scalelite.target", "systemctl stop scalelite.target", "systemctl start scalelite.target"]);
      freshPg.sql("scalelite", "DROP VIEW recent");
    });

    it.sequential("backs up again once restored", async () => {
      const r = await sh(fresh, "bbb-ovh-backup run");
      expect(r.code, r.stderr).toBe(0);
      const list = await sh(fresh, "bbb-ovh-backup list --json");
      // --keep-daily keeps the last snapshot of each day: today's is the new one.
      const snapshots = JSON.parse(list.stdout) as Array<{ short_id: string; tags: string[] }>;
      expect(snapshots.map((s) => s.short_id)).toEqual([status(fresh).snapshot]);
      expect(snapshots[0].tags).toContain("recordings:3");
    });
  });

  describe("refused credentials and a full bucket", () => {
    it("wrong S3 keys stop the step with a clear message and keep the working settings", async () => {
      const pg = await newCluster(true);
      const h = await frontHost(pg);
      const good = { endpoint: s3Auth.endpoint, keys: s3Auth.keys };
      const first = await runStep(h, "scaleliteBackup", backupInputs("creds", good));
      expect(first.code, output(first)).toBe(0);
      const settings = readFileSync(path.join(h.root, "etc/bbb-ovh/backup/repository.env"), "utf8");
      for (const keys of [
        { ...s3Auth.keys, secretAccessKey: "not-the-secret-key-at-all" },
        { accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: "x" },
      ]) {
        const wrong = await runStep(h, "scaleliteBackup", backupInputs("creds", { ...good, keys }));
        expect(wrong.code).not.toBe(0);
        expect(wrong.stderr).toMatch(/cannot open the backup repository: .*(signature|Access Key Id|Access Denied).*\(the S3 credentials were refused/);
        expect(readFileSync(path.join(h.root, "etc/bbb-ovh/backup/repository.env"), "utf8")).toBe(settings);
      }
    });

    it("a wrong repository password stops the step with a clear message; backups go on with the right one", async () => {
      const pg = await newCluster(true);
      const h = await frontHost(pg);
      expect((await runStep(h, "scaleliteBackup", backupInputs("password"))).code).toBe(0);
      const badPassword = await runStep(h, "scaleliteBackup", backupInputs("password", { password: "another-password" }));
      expect(badPassword.code).not.toBe(0);
      expect(badPassword.stderr).toMatch(/wrong password or no key found \(the repository password/);
      const run = await sh(h, "bbb-ovh-backup run");
      expect(run.code, run.stderr).toBe(0);
    });

    it("a full bucket fails the backup clearly; the repository stays sound and the next run succeeds", async () => {
      const pg = await newCluster(true);
      const h = await frontHost(pg);
      const proxy = await quotaProxy(s3.endpoint, 1e12);
      try {
        const inputs = backupInputs("full", { endpoint: proxy.endpoint });
        expect((await runStep(h, "scaleliteBackup", inputs)).code).toBe(0);
        writeRecordings(h, ["first"]);
        insertRows(pg, ["first"]);
        expect((await sh(h, "bbb-ovh-backup run")).code).toBe(0);
        const good = status(h);

        writeRecordings(h, ["second", "third"], 3 * 1024 * 1024);
        insertRows(pg, ["second", "third"]);
        proxy.setBudget(proxy.uploaded() + 64 * 1024);
        const full = await sh(h, "bbb-ovh-backup run");
        expect(full.code).not.toBe(0);
        expect(full.stderr).toMatch(/restic backup failed .*Quota exceeded.*bucket is full/);
        expect(status(h)).toMatchObject({ state: "failed", lastSuccess: good.lastSuccess, snapshot: good.snapshot });
        expect(status(h).error).toMatch(/Quota exceeded/);

        proxy.setBudget(1e12);
        const check = await sh(h, "bbb-ovh-backup check");
        expect(check.code, check.stdout + check.stderr).toBe(0);
        const next = await sh(h, "bbb-ovh-backup run");
        expect(next.code, next.stderr).toBe(0);
        expect(status(h).snapshot).not.toBe(good.snapshot);
      } finally {
        await proxy.stop();
      }
    }, 300_000);
  });

  describe("npm run ops -- backup now|list|restore, and ops status", () => {
    let h: TestHost;
    let pg: PgCluster;
    let stackFile: string;
    let args: string[];

    beforeAll(async () => {
      pg = await newCluster(true);
      h = await frontHost(pg);
      expect((await runStep(h, "scaleliteBackup", backupInputs("ops"))).code).toBe(0);
      writeRecordings(h, ["ops-1", "ops-2"]);
      insertRows(pg, ["ops-1", "ops-2"]);
      // The training stack (Public Cloud: backups go to Object Storage) with campus.backup on.
      const doc = parse(readFileSync(path.resolve(__dirname, "../../stacks/Pulumi.training.yaml"), "utf8"));
      doc.config["bbb-ovh:campus"].backup = { maxAgeHours: 26 };
      stackFile = path.join(scratch(), "Pulumi.opsbackup.yaml");
      writeFileSync(stackFile, stringify(doc));
      const keyFile = path.join(scratch(), "key");
      writeFileSync(keyFile, h.privateKey, { mode: 0o600 });
      args = [
        "--host",
        h.host,
        "--ssh-port",
        String(h.port),
        "--ssh-user",
        "root",
        "--ssh-key",
        keyFile,
        "--host-key",
        h.hostPublicKey,
        // Budgets for a busy machine (an SSH handshake took over 1.5 s in CI at load 4+).
        "--timeout",
        "20000",
        "--command-timeout",
        "60000",
      ];
    });

    it.sequential("ops status fails while no backup has run", async () => {
      const run = await ops(["status", stackFile, "--json", ...args]);
      const report = JSON.parse(run.stdout);
      expect(report.problems).toContainEqual(
        expect.objectContaining({ kind: "command", message: expect.stringMatching(/no backup has run on this host yet/) }),
      );
    });

    it.sequential("backup now backs up and reports age and size; backup list shows the snapshot", async () => {
      const now = await ops(["backup", "now", stackFile, ...args]);
      expect(now.code, now.stderr).toBe(0);
      expect(now.stdout).toMatch(/^ok: last backup 0\.0 h ago \(snapshot [0-9a-f]{8}, [\d.]+ KiB\)$/m);
      const list = await ops(["backup", "list", stackFile, ...args]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain(status(h).snapshot);
      expect(list.stdout).toMatch(/│ 2\s+│/);
    });

    it.sequential("with a standby front, only the front that serves backs up: a standby or fenced front's run skips", async () => {
      // Both fronts of a pair have the timer; the front-role the replication steps and ops failover write decides.
      const role = path.join(h.root, "var/lib/bbb-ovh/front-role");
      const before = status(h);
      try {
        for (const notServing of ["standby", "fenced"]) {
          writeFileSync(role, `${notServing}\n`);
          const skipped = await sh(h, "bbb-ovh-backup run");
          expect(skipped.code, skipped.stderr).toBe(0);
          expect(skipped.stdout).toContain(`skipped: this front does not serve (front-role ${notServing}); the front that serves backs up`);
          expect(status(h)).toEqual(before);
        }
        // The standby after ops failover: it serves, and backs up into the same repository.
        writeFileSync(role, "primary\n");
        const served = await sh(h, "bbb-ovh-backup run");
        expect(served.code, served.stderr).toBe(0);
        expect(status(h)).toMatchObject({ state: "ok" });
        expect(status(h).snapshot).not.toBe(before.snapshot);
      } finally {
        rmSync(role, { force: true });
      }
    });

    it.sequential("ops status shows the last backup, and fails once it is older than maxAgeHours", async () => {
      const fresh = JSON.parse((await ops(["status", stackFile, "--json", ...args])).stdout);
      expect(fresh.backup).toMatchObject({ ok: true, maxAgeHours: 26, snapshot: status(h).snapshot });
      expect(fresh.problems.filter((p: { message: string }) => /backup/.test(p.message))).toEqual([]);
      // 27 hours later: the status file's last success, moved back in time.
      const file = path.join(h.root, "var/lib/bbb-ovh/backup-status.json");
      const st = status(h);
      writeFileSync(file, JSON.stringify({ ...st, lastSuccessEpoch: st.lastSuccessEpoch - 27 * 3600 }, null, 2));
      // (The test front has no web server or nodes, so other problems are reported too: the exit code is
      // that of the first; the backup's own problem is the one looked for.)
      const stale = await ops(["status", stackFile, ...args]);
      expect(stale.code).not.toBe(0);
      expect(stale.stdout).toMatch(/^backup: STALE: last successful backup 27\.0 h ago .*older than 26 h/m);
      expect(stale.stdout).toMatch(/unhealthy: backup: last successful backup 27\.0 h ago/);
    });

    it.sequential("backup restore asks first, refuses a front with data, and restores with --force", async () => {
      const asked = await ops(["backup", "restore", stackFile, ...args]);
      expect(asked.code).toBe(2);
      expect(asked.stderr).toMatch(/pass --yes/);
      const refused = await ops(["backup", "restore", stackFile, "--yes", ...args]);
      expect(refused.code).toBe(6);
      expect(refused.stderr).toMatch(/bbb-ovh-backup restore: this front already has data \(2 recording\(s\).*pass --force/);
      pg.sql("scalelite", "DELETE FROM metadata; DELETE FROM playback_formats; DELETE FROM recordings WHERE record_id = 'ops-2'");
      // With recordings on, the nodes are asked to send again what they delivered since the snapshot, less an
      // hour (test/standby/recordingsResend.test.ts runs that on a node); this stack's nodes have no host key in
      // its outputs, so each is named as not reached, with the command to run once it is.
      const doc = parse(readFileSync(stackFile, "utf8"));
      doc.config["bbb-ovh:campus"].recordings = true;
      const withRecordings = path.join(scratch(), "Pulumi.opsbackuprec.yaml");
      writeFileSync(withRecordings, stringify(doc));
      const [snapshot] = JSON.parse((await ops(["backup", "list", stackFile, "--json", ...args])).stdout) as Array<{ time: string; short_id: string }>;
      const forced = await ops(["backup", "restore", withRecordings, "latest", "--force", "--yes", ...args]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(/restored snapshot [0-9a-f]{8}: 2 recording\(s\) in the database/);
      const since = new Date((Math.floor(Date.parse(snapshot.time) / 1000) - 3600) * 1000).toISOString();
      expect(forced.stdout).toContain(
        `recordings delivered since ${since}: 0 of 2 node(s) reached, sending to ${h.host}; 0 kept archive(s) sent again; not done on bbb-training-sbg: no SSH host key`,
      );
      expect(forced.stdout).toContain(`(run ops backup resend ${withRecordings} --since ${since} again once they answer`);
      expect(pg.sql("scalelite", "SELECT count(*) FROM recordings")).toBe("2");
      const bad = await ops(["backup", "restore", stackFile, "x; rm -rf /", "--yes", ...args]);
      expect(bad.code).toBe(2);
    });

    it.sequential("the newest snapshot is chosen by time over every host (a rebuilt front may have another name)", async () => {
      // An older snapshot from another front, listed in a group of its own by restic.
      const older = await sh(
        h,
        `set -a; . $BBB_OVH_ROOT/etc/bbb-ovh/backup/repository.env; export RESTIC_PASSWORD_FILE=$BBB_OVH_ROOT/etc/bbb-ovh/backup/password; ` +
          `cd $BBB_OVH_ROOT && restic backup --host old-front --time "2020-01-01 00:00:00" --tag scalelite --tag recordings:7 etc/bbb-ovh/backup/policy.env`,
      );
      expect(older.code, older.stderr).toBe(0);
      pg.sql("scalelite", "DELETE FROM metadata; DELETE FROM playback_formats; DELETE FROM recordings");
      await sh(h, `rm -rf $BBB_OVH_ROOT${RECORDING_DIR}/published/* $BBB_OVH_ROOT${RECORDING_DIR}/unpublished/* $BBB_OVH_ROOT${RECORDING_DIR}/spool/*`);
      const refused = await sh(h, "bbb-ovh-backup run");
      expect(refused.stderr).toMatch(/no recordings but the latest backup holds 2:/);
      const restored = await sh(h, "bbb-ovh-backup restore");
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/2 recording\(s\) in the database/);
    });
  });
});
