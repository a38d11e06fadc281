/**
 * The standby front's copy of the recordings, for real: two loopback test hosts (sshd), the primary's
 * spool step with the standby's read-only key line (renderCopyAuthorizedKey) checked by the real sshd and
 * rsync's own rrsync (the pinned trees: Ubuntu 22.04's release 3.2.3 Perl one and its updates' 3.2.7
 * Python one), the standby's copy step, then its pull command (scalelite-recordings-pull.sh) with the
 * real rsync and ssh. The fake systemctl stands in for systemd on both (test/fakes/bin/systemctl).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeStandbyCopy, parseStandbyCopy } from "../../cli/ops/standbyCopy";
import { Progress } from "../../cli/ops/progress";
import { collectStatus, renderStatus } from "../../cli/ops/status";
import type { OpsTarget } from "../../cli/ops/stackSource";
import type { Campus } from "../../components/config/campus";
import { RECORDING_DIR, STANDBY_COPY_DIR, STANDBY_COPY_STATUS } from "../../components/scalelite/recordingLayout";
import { output } from "../support/hostState";
import { shellOn, startTestHost, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";
import { installRecordingsCopy, onHost as on, SPOOL_AUTHORIZED_KEYS, type RecordingsCopy } from "./recordingsCopySetup";

const RRSYNCS = ["rsync-3.2.3", "rsync-3.2.7"].map((name) => ({ name, tree: upstreamTree(name) }));
const ID = "0123456789abcdef0123456789abcdef01234567-1732525200000";

describe.each(RRSYNCS)("the standby front copies the primary's recordings through $name's rrsync", ({ name: rsyncName, tree: rsyncTree }) => {
  describe.skipIf(!rsyncTree)(rsyncName, () => {
    let primary: TestHost;
    let standby: TestHost;
    let keys: string;
    const recordings = (h: TestHost, sub: string) => path.join(on(h, RECORDING_DIR), sub);
    let copy: RecordingsCopy;
    const sshConfig = () => copy.sshConfig;
    const status = () =>
      Object.fromEntries(
        readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split("=", 2) as [string, string]),
      );

    const shell = shellOn;
    const pull = () => copy.pull();
    /** A command run on the standby with the copy key, straight at the primary (what a thief of the key could try). */
    const withCopyKey = (command: string) => shell(standby, `ssh -F ${sshConfig()} ${command}`);

    beforeAll(async () => {
      keys = mkdtempSync(path.join(tmpdir(), "bbb-ovh-copy-keys-"));
      primary = await startTestHost({ fqdn: "lb.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] });
      standby = await startTestHost({ fqdn: "lb-standby.campus.example" });
      copy = await installRecordingsCopy(primary, standby, { keys, rrsyncTree: rsyncTree!, rrsyncName: rsyncName });
      expect(readFileSync(path.join(standby.root, "etc/systemd/system/bbb-ovh-recordings-pull.timer"), "utf8")).toContain("OnUnitActiveSec=5min");
      expect(statSync(path.join(on(standby, STANDBY_COPY_DIR), "id_ed25519")).mode & 0o777).toBe(0o600);

      // A published recording on the primary, as Scalelite's importer leaves it.
      const dir = path.join(recordings(primary, "published"), "presentation", ID);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "metadata.xml"), `<recording><id>${ID}</id></recording>\n`);
      writeFileSync(path.join(dir, "video.webm"), "v1");
      mkdirSync(path.join(recordings(primary, "unpublished"), "presentation", `${ID.slice(0, -1)}1`), { recursive: true });
      writeFileSync(path.join(recordings(primary, "unpublished"), "presentation", `${ID.slice(0, -1)}1`, "metadata.xml"), "<recording/>\n");
    }, 180_000);

    afterAll(async () => {
      await Promise.all([primary, standby].filter(Boolean).map((h) => h.stop()));
      if (keys) rmSync(keys, { recursive: true, force: true });
    });

    it("copies the published and unpublished recordings, and says when it last succeeded", async () => {
      const before = Math.floor(Date.now() / 1000);
      const r = await pull();
      expect(r.code, output(r)).toBe(0);
      expect(r.stdout).toMatch(/copied 3 file\(s\)/);
      expect(readFileSync(path.join(recordings(standby, "published"), "presentation", ID, "video.webm"), "utf8")).toBe("v1");
      expect(existsSync(path.join(recordings(standby, "unpublished"), "presentation", `${ID.slice(0, -1)}1`, "metadata.xml"))).toBe(true);
      const s = status();
      expect(s.last_result).toBe("ok");
      expect(Number(s.last_success)).toBeGreaterThanOrEqual(before);
      // What `ops status` makes of the file the pull wrote.
      const seen = describeStandbyCopy("lb-standby", parseStandbyCopy(readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8")), Date.now() / 1000);
      expect(seen).toEqual({ line: expect.stringMatching(/^recordings copy to lb-standby: ok, \d+ s behind the front \(last run copied 3 file\(s\)\)$/) });
      // A second run has nothing to copy.
      const again = await pull();
      expect(again.stdout).toMatch(/copied 0 file\(s\)/);
    });

    it("ops status reads the copy's status on the standby over SSH and shows how far behind it is", async () => {
      const target: OpsTarget = {
        label: "standby-test",
        nodes: [],
        standby: {
          name: "lb-standby",
          ssh: { host: standby.host, port: standby.port, username: "root", hostKey: standby.hostPublicKey, privateKey: standby.privateKey },
        },
        campus: { config: { recordings: true } } as unknown as Campus,
      };
      const report = await collectStatus(target, { http: { timeoutMs: 5_000 }, commandTimeoutMs: 60_000, concurrency: 2 }, new Progress(process.stderr, false));
      expect(report.standbyCopy).toMatch(/^recordings copy to lb-standby: ok, \d+ s behind the front/);
      expect(report.problems.filter((p) => p.host === standby.host)).toEqual([]);
      expect(renderStatus(report)).toContain("recordings copy to lb-standby: ok");
    });

    it("never deletes on the standby what the primary deleted, and keeps a newer file the standby holds", async () => {
      const video = path.join(recordings(standby, "published"), "presentation", ID, "video.webm");
      writeFileSync(video, "newer on the standby");
      rmSync(path.join(recordings(primary, "unpublished"), "presentation"), { recursive: true });
      const r = await pull();
      expect(r.code, output(r)).toBe(0);
      expect(readFileSync(video, "utf8")).toBe("newer on the standby");
      expect(existsSync(path.join(recordings(standby, "unpublished"), "presentation", `${ID.slice(0, -1)}1`, "metadata.xml"))).toBe(true);
      // An older copy on the standby is brought up to date.
      const old = new Date(Date.now() - 3600_000);
      utimesSync(video, old, old);
      await pull();
      expect(readFileSync(video, "utf8")).toBe("v1");
    });

    it("the copy key reads and can change nothing on the primary: no upload, no delete, no shell", async () => {
      const probe = path.join(keys, "probe");
      writeFileSync(probe, "x");
      await shell(standby, `cp ${probe} /tmp/bbb-ovh-copy-probe-${rsyncName}`);
      const upload = await shell(standby, `rsync --rsh='ssh -F ${sshConfig()}' /tmp/bbb-ovh-copy-probe-${rsyncName} scalelite-front:published/`);
      expect(upload.code).not.toBe(0);
      const wipe = await shell(
        standby,
        `mkdir -p /tmp/empty-${rsyncName} && rsync -r --delete --rsh='ssh -F ${sshConfig()}' /tmp/empty-${rsyncName}/ scalelite-front:published/`,
      );
      expect(wipe.code).not.toBe(0);
      const cmd = await withCopyKey("scalelite-front id");
      expect(cmd.code).not.toBe(0);
      expect(existsSync(path.join(recordings(primary, "published"), `bbb-ovh-copy-probe-${rsyncName}`))).toBe(false);
      expect(readFileSync(path.join(recordings(primary, "published"), "presentation", ID, "video.webm"), "utf8")).toBe("v1");
    });

    it("a copy that fails says so and keeps the time of the last one that succeeded", async () => {
      const lastSuccess = status().last_success;
      const config = readFileSync(sshConfig(), "utf8");
      writeFileSync(sshConfig(), config.replace(`Port ${primary.port}`, "Port 1"));
      try {
        const r = await pull();
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/copying published from the primary front failed; the previous copy stays/);
        expect(status()).toMatchObject({ last_result: "failed", last_success: lastSuccess });
        const seen = describeStandbyCopy("lb-standby", parseStandbyCopy(readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8")), Date.now() / 1000);
        expect(seen.problem).toMatch(/the last recordings copy to lb-standby failed/);
      } finally {
        writeFileSync(sshConfig(), config);
      }
    });

    it("a standby promoted by ops failover (front-role: primary) copies nothing", async () => {
      const role = path.join(standby.root, "var/lib/bbb-ovh/front-role");
      writeFileSync(role, "primary\n");
      try {
        const r = await pull();
        expect(r.code, output(r)).toBe(0);
        expect(status().last_result).toBe("serving");
      } finally {
        writeFileSync(role, "standby\n");
      }
    });

    it("a standby promoted to serve (scalelite.target active) copies nothing", async () => {
      // What `ops failover` leaves: Scalelite's target (installed by scaleliteApp) started on the standby.
      const target = path.join(standby.root, "etc/systemd/system/scalelite.target");
      writeFileSync(target, "[Unit]\nDescription=Scalelite\n");
      const started = await shell(standby, "systemctl start scalelite.target");
      expect(started.code, output(started)).toBe(0);
      try {
        writeFileSync(path.join(recordings(primary, "published"), "presentation", ID, "late.webm"), "late");
        const r = await pull();
        expect(r.code, output(r)).toBe(0);
        expect(r.stdout).toMatch(/it is the primary, nothing to copy/);
        expect(status().last_result).toBe("serving");
        expect(existsSync(path.join(recordings(standby, "published"), "presentation", ID, "late.webm"))).toBe(false);
      } finally {
        await shell(standby, "systemctl stop scalelite.target");
        rmSync(target);
      }
    });
  });
});
