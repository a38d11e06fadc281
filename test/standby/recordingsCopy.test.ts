/**
 * The recordings copy between the two fronts, for real: two loopback test hosts (sshd), each front's spool
 * step with the OTHER front's read-only key line (renderCopyAuthorizedKey) checked by the real sshd and
 * rsync's own rrsync (the pinned trees: Ubuntu 22.04's release 3.2.3 Perl one and its updates' 3.2.7
 * Python one), the copy step on both (recordingsCopySetup.ts, as the drill sets them up), then the pull command (scalelite-recordings-pull.sh) with the real
 * rsync and ssh: first the standby front pulling from the front, then, after the roles swap as `ops
 * failback` swaps them, the front pulling what the standby front published while it served. The two hosts
 * share loopback: each front's connections leave from an address of its own (127.0.0.1 for the front,
 * 127.0.0.2 for the standby, `BindAddress` in its ssh_config), as a real front's leave from its own IPv4,
 * so sshd's `from=` checks them. The fake systemctl stands in for systemd on both (test/fakes/bin/systemctl).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingsCopyVerdict, recordingsPullCommand } from "../../cli/ops/failoverPlan";
import { describeStandbyCopy, parseStandbyCopy } from "../../cli/ops/standbyCopy";
import { Progress } from "../../cli/ops/progress";
import { collectStatus, renderStatus } from "../../cli/ops/status";
import type { OpsTarget } from "../../cli/ops/stackSource";
import type { Campus } from "../../components/config/campus";
import { RECORDING_DIR, STANDBY_COPY_DIR, STANDBY_COPY_STATUS } from "../../components/scalelite/recordingLayout";
import { output } from "../support/hostState";
import { shellOn, startTestHost, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";
import { COPY_ADDRESS, copySshConfig, installRecordingsCopy, onHost, pullOn, SPOOL_AUTHORIZED_KEYS } from "./recordingsCopySetup";

const RRSYNCS = ["rsync-3.2.3", "rsync-3.2.7"].map((name) => ({ name, tree: upstreamTree(name) }));
const ID = "0123456789abcdef0123456789abcdef01234567-1732525200000";
/** A recording the standby front published while it served (after a failover). */
const ID2 = "fedcba9876543210fedcba9876543210fedcba98-1732611600000";

describe.each(RRSYNCS)(
  "whichever front is the standby copies the serving front's recordings through $name's rrsync",
  ({ name: rsyncName, tree: rsyncTree }) => {
    describe.skipIf(!rsyncTree)(rsyncName, () => {
      let primary: TestHost;
      let standby: TestHost;
      let keys: string;
      const on = onHost;
      const recordings = (h: TestHost, sub: string) => path.join(on(h, RECORDING_DIR), sub);
      const sshConfig = (h: TestHost = standby) => copySshConfig(h);
      const status = (h: TestHost = standby) =>
        Object.fromEntries(
          readFileSync(on(h, STANDBY_COPY_STATUS), "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split("=", 2) as [string, string]),
        );
      /** The copy's textfile metrics on a front, or undefined when it has none (StandbyRecordingsCopyStale reads them). */
      const metrics = (h: TestHost) => {
        const file = path.join(h.root, "var/lib/prometheus/node-exporter/bbb_ovh_recordings_copy.prom");
        return existsSync(file) ? readFileSync(file, "utf8") : undefined;
      };
      const setRole = (h: TestHost, role: string) => writeFileSync(path.join(h.root, "var/lib/bbb-ovh/front-role"), `${role}\n`);

      const shell = shellOn;
      /** A front's pull, as its unit runs it (or as `ops failback` runs it, with --verify). */
      const pull = (h: TestHost = standby, options = "") => pullOn(h, options);
      /** The command `ops failback` runs on the front coming back (its copy-recordings step after fencing). */
      const verify = (h: TestHost, env = "") => shell(h, `${env}${recordingsPullCommand(true)}`);
      /** A command run on a front with its copy key, straight at the other front (what a thief of the key could try). */
      const withCopyKey = (h: TestHost, command: string) => shell(h, `ssh -F ${sshConfig(h)} ${command}`);
      const published = (h: TestHost, id: string, file: string) => path.join(recordings(h, "published"), "presentation", id, file);

      beforeAll(async () => {
        keys = mkdtempSync(path.join(tmpdir(), "bbb-ovh-copy-keys-"));
        primary = await startTestHost({ fqdn: "lb.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] });
        standby = await startTestHost({ fqdn: "lb-standby.campus.example", extraAuthorizedKeys: [SPOOL_AUTHORIZED_KEYS] });
        await installRecordingsCopy(primary, standby, { keys, rrsyncTree: rsyncTree!, rrsyncName: rsyncName });
        for (const h of [primary, standby]) {
          expect(readFileSync(path.join(h.root, "etc/systemd/system/bbb-ovh-recordings-pull.timer"), "utf8")).toContain("OnUnitActiveSec=5min");
          expect(statSync(path.join(on(h, STANDBY_COPY_DIR), "id_ed25519")).mode & 0o777).toBe(0o600);
        }
        // What the replication steps leave: the standby says so; the front has no role file (primary).
        setRole(standby, "standby");
        // node_exporter's textfile collector directory (monitoringNode makes it on every host).
        for (const h of [primary, standby]) mkdirSync(path.join(h.root, "var/lib/prometheus/node-exporter"), { recursive: true });

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
        expect(readFileSync(published(standby, ID, "video.webm"), "utf8")).toBe("v1");
        expect(existsSync(path.join(recordings(standby, "unpublished"), "presentation", `${ID.slice(0, -1)}1`, "metadata.xml"))).toBe(true);
        const s = status();
        expect(s).toMatchObject({ last_result: "ok", role: "standby" });
        expect(Number(s.last_success)).toBeGreaterThanOrEqual(before);
        // Nothing waited to be imported on the serving front: the run's own start.
        expect(s.pending_since).toBe(s.last_success);
        // What `ops status` makes of the file the pull wrote.
        const seen = describeStandbyCopy("lb-standby", parseStandbyCopy(readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8")), Date.now() / 1000);
        expect(seen).toEqual({
          line: expect.stringMatching(/^recordings copy to lb-standby: ok, \d+ s behind the serving front \(last run copied 3 file\(s\)\)$/),
        });
        expect(metrics(standby)).toContain(`bbb_ovh_recordings_copy_last_success_timestamp_seconds ${s.last_success}\n`);
        // A second run has nothing to copy.
        const again = await pull();
        expect(again.stdout).toMatch(/copied 0 file\(s\)/);
      });

      it("notes the oldest archive the serving front has received and not imported yet (incoming/, spool/), which its copy does not take", async () => {
        // One archive waiting in a node's incoming/ for 5 hours, one in the spool for 2 (an importer stopped),
        // and a transfer under way (rsync's temporary name): the oldest complete one counts.
        const fiveHoursAgo = Math.floor(Date.now() / 1000) - 5 * 3600;
        const waiting = [
          [path.join(recordings(primary, "incoming"), "bbb1", `${ID}.tar`), fiveHoursAgo],
          [path.join(recordings(primary, "spool"), `${ID2}.tar`), fiveHoursAgo + 3 * 3600],
          [path.join(recordings(primary, "incoming"), "bbb1", `.${ID2}.tar.Xy12ab`), fiveHoursAgo - 3600],
        ] as const;
        for (const [file, when] of waiting) {
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, "archive");
          utimesSync(file, when, when);
        }
        const r = await pull();
        expect(r.code, output(r)).toBe(0);
        expect(Number(status().pending_since)).toBe(fiveHoursAgo);
        expect(parseStandbyCopy(readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8"))?.pendingSince).toBe(fiveHoursAgo);
        // An older one held by the serving front's mover out of the copy's sight (under its disk reserve), as its held-since says.
        const heldSince = recordings(primary, "held-since");
        writeFileSync(heldSince, `${fiveHoursAgo - 7200}\n`);
        await pull();
        expect(Number(status().pending_since)).toBe(fiveHoursAgo - 7200);
        // Unreadable as a time: no pending_since rather than a guess.
        writeFileSync(heldSince, "soon\n");
        const unreadable = await pull();
        expect(unreadable.stderr).toContain("warning: cannot read the serving front's held-since");
        expect(status().pending_since).toBe("");
        rmSync(heldSince);
        // Imported meanwhile: the next run is back to its own start.
        for (const [file] of waiting) rmSync(file);
        await pull();
        expect(status().pending_since).toBe(status().last_success);
      });

      it("the serving front never pulls: it says so, and copies nothing of what only the standby holds", async () => {
        mkdirSync(path.dirname(published(standby, ID2, "only-on-standby.webm")), { recursive: true });
        writeFileSync(published(standby, ID2, "only-on-standby.webm"), "s");
        try {
          // No front-role file: the primary `pulumi up` made.
          const r = await pull(primary);
          expect(r.code, output(r)).toBe(0);
          expect(r.stdout).toMatch(/this front is not the standby \(serving\): nothing to copy/);
          expect(status(primary)).toMatchObject({ last_result: "serving", role: "primary", files: "0" });
          // No copy, no lag series: the stale-copy alert cannot fire on the front that serves.
          expect(metrics(primary)).toBeUndefined();
          // --verify (what ops failback runs) refuses on a front that is not the standby.
          const checked = await verify(primary);
          expect(checked.code).toBe(1);
          expect(checked.stderr).toMatch(/this front is not the standby \(serving\): it copies nothing/);
          // A front `ops failover` fenced copies nothing either.
          setRole(primary, "fenced");
          const fenced = await pull(primary);
          expect(fenced.stdout).toMatch(/not the standby \(fenced\)/);
          expect(status(primary)).toMatchObject({ last_result: "fenced", role: "fenced" });
          expect(existsSync(published(primary, ID2, "only-on-standby.webm"))).toBe(false);
        } finally {
          rmSync(path.join(primary.root, "var/lib/bbb-ovh/front-role"), { force: true });
          rmSync(path.dirname(published(standby, ID2, "only-on-standby.webm")), { recursive: true });
        }
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
        const report = await collectStatus(
          target,
          { http: { timeoutMs: 5_000 }, commandTimeoutMs: 60_000, concurrency: 2 },
          new Progress(process.stderr, false),
        );
        expect(report.standbyCopy).toMatch(/^recordings copy to lb-standby: ok, \d+ s behind the serving front/);
        expect(report.problems.filter((p) => p.host === standby.host)).toEqual([]);
        expect(renderStatus(report)).toContain("recordings copy to lb-standby: ok");
      });

      it("never deletes on the standby what the primary deleted, and keeps a newer file the standby holds", async () => {
        const video = published(standby, ID, "video.webm");
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

      it("each front's copy key reads and can change nothing on the other front: no upload, no delete, no shell", async () => {
        for (const [from, to] of [
          [standby, primary],
          [primary, standby],
        ]) {
          const probe = `${keys}/probe-${rsyncName}`;
          writeFileSync(probe, "x");
          const upload = await shell(from, `rsync --rsh='ssh -F ${sshConfig(from)}' ${probe} scalelite-front:published/`);
          expect(upload.code, output(upload)).not.toBe(0);
          const wipe = await shell(
            from,
            `mkdir -p ${keys}/empty-${rsyncName} && rsync -r --delete --rsh='ssh -F ${sshConfig(from)}' ${keys}/empty-${rsyncName}/ scalelite-front:published/`,
          );
          expect(wipe.code, output(wipe)).not.toBe(0);
          const cmd = await withCopyKey(from, "scalelite-front id");
          expect(cmd.code).not.toBe(0);
          expect(existsSync(path.join(recordings(to, "published"), `probe-${rsyncName}`))).toBe(false);
          expect(readFileSync(published(to, ID, "video.webm"), "utf8")).toBe("v1");
        }
      });

      it("a copy key from another address than its front's is refused", async () => {
        // The standby's key from the front's address, and from a third one: sshd's from= refuses it before rrsync runs.
        for (const address of [COPY_ADDRESS.front, "127.0.0.3"]) {
          const r = await shell(
            standby,
            `rsync -r --rsh='ssh -o BindAddress=${address} -F ${sshConfig(standby)}' scalelite-front:published/ ${keys}/elsewhere-${rsyncName}/`,
          );
          expect(r.code, address).not.toBe(0);
          expect(r.stderr, address).toMatch(/Permission denied/);
        }
        // The same key from the standby's own address reads (the rejection above is the address, not the key).
        const own = await shell(standby, `rsync -r --rsh='ssh -F ${sshConfig(standby)}' scalelite-front:published/ ${keys}/own-${rsyncName}/`);
        expect(own.code, output(own)).toBe(0);
      });

      it("a copy that fails says so and keeps the time of the last one that succeeded", async () => {
        const lastSuccess = status().last_success;
        const config = readFileSync(sshConfig(), "utf8");
        writeFileSync(sshConfig(), config.replace(`Port ${primary.port}`, "Port 1"));
        try {
          const r = await pull();
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(/copying published from the serving front failed; the previous copy stays/);
          expect(status()).toMatchObject({ last_result: "failed", last_success: lastSuccess });
          const seen = describeStandbyCopy("lb-standby", parseStandbyCopy(readFileSync(on(standby, STANDBY_COPY_STATUS), "utf8")), Date.now() / 1000);
          expect(seen.problem).toMatch(/the last recordings copy to lb-standby failed/);
        } finally {
          writeFileSync(sshConfig(), config);
        }
      });

      it("a standby promoted by ops failover (front-role: primary) copies nothing", async () => {
        setRole(standby, "primary");
        try {
          const r = await pull();
          expect(r.code, output(r)).toBe(0);
          expect(status().last_result).toBe("serving");
        } finally {
          setRole(standby, "standby");
        }
      });

      it("a standby promoted to serve (scalelite.target active) copies nothing", async () => {
        // What `ops failover` leaves: Scalelite's target (installed by scaleliteApp) started on the standby.
        const target = path.join(standby.root, "etc/systemd/system/scalelite.target");
        writeFileSync(target, "[Unit]\nDescription=Scalelite\n");
        const started = await shell(standby, "systemctl start scalelite.target");
        expect(started.code, output(started)).toBe(0);
        try {
          writeFileSync(published(primary, ID, "late.webm"), "late");
          const r = await pull();
          expect(r.code, output(r)).toBe(0);
          expect(r.stdout).toMatch(/this front is not the standby \(serving\): nothing to copy/);
          expect(status().last_result).toBe("serving");
          expect(existsSync(published(standby, ID, "late.webm"))).toBe(false);
        } finally {
          await shell(standby, "systemctl stop scalelite.target");
          rmSync(target);
        }
      });

      it("after the roles swap (failover, then failback rebuilds the front), the front pulls what the standby published while it served", async () => {
        // ops failover: the standby front serves (front-role primary), the front is fenced.
        setRole(standby, "primary");
        setRole(primary, "fenced");
        mkdirSync(path.dirname(published(standby, ID2, "video.webm")), { recursive: true });
        writeFileSync(published(standby, ID2, "metadata.xml"), `<recording><id>${ID2}</id></recording>\n`);
        writeFileSync(published(standby, ID2, "video.webm"), "published while the standby served");
        // A file only the front holds (the recording it had published but the standby had not copied yet) stays.
        writeFileSync(published(primary, ID, "only-on-front.webm"), "front");
        const fenced = await pull(primary);
        expect(fenced.stdout).toMatch(/not the standby \(fenced\)/);
        expect(existsSync(published(primary, ID2, "video.webm"))).toBe(false);

        // ops failback's rebuild-standby: front-role standby on the front; its copy-recordings step then runs --verify.
        setRole(primary, "standby");
        // A recording published on the serving front while the copy runs (the importer does not wait for it): a
        // stand-in rsync, first on the PATH of this one run, runs the real one, then publishes it after the first
        // tree's copy (not after the listing of what waits to be imported, nor the read of held-since, nor a dry run). The dry run that
        // follows finds it left to copy.
        const late = published(standby, ID2, "late.webm");
        const wrapper = path.join(keys, `rsync-${rsyncName}`);
        mkdirSync(wrapper, { recursive: true });
        writeFileSync(
          path.join(wrapper, "rsync"),
          `#!/bin/sh\n/usr/bin/rsync "$@"; status=$?\ncase " $* " in *" --dry-run "* | *" --list-only "* | *":held-since "*) ;; *) [ -e "${late}" ] || echo late > "${late}" ;; esac\nexit $status\n`,
        );
        chmodSync(path.join(wrapper, "rsync"), 0o755);
        const raced = await verify(primary, `PATH=${wrapper}:$PATH `);
        expect(raced.code, output(raced)).toBe(3);
        expect(raced.stdout).toMatch(/1 file\(s\) still to copy from the serving front/);
        expect(() => recordingsCopyVerdict(raced, "lb-standby", "lb")).toThrow(
          /lb: unhealthy: does not hold every recording lb-standby has \(1 file\(s\) still to copy from lb-standby after a copy\): failback stops before the switch/,
        );

        // Run again (the serving front fenced by then, nothing new): it copies what is left and finds nothing more.
        const r = await verify(primary);
        expect(r.code, output(r)).toBe(0);
        expect(r.stdout).toMatch(/nothing left to copy: this front holds every recording the serving front has/);
        expect(recordingsCopyVerdict(r, "lb-standby", "lb")).toMatch(/; nothing left to copy from lb-standby$/);
        expect(readFileSync(published(primary, ID2, "video.webm"), "utf8")).toBe("published while the standby served");
        expect(readFileSync(published(primary, ID2, "late.webm"), "utf8")).toBe("late\n");
        // No --delete, newer kept: what only the front held is still there, and its own copy of ID is untouched.
        expect(readFileSync(published(primary, ID, "only-on-front.webm"), "utf8")).toBe("front");
        expect(readFileSync(published(primary, ID, "video.webm"), "utf8")).toBe("v1");
        expect(status(primary)).toMatchObject({ last_result: "ok", role: "standby" });

        // Never both ways: the serving standby front copies nothing back, and the front's key still cannot write there.
        const back = await pull(standby);
        expect(back.stdout).toMatch(/not the standby \(serving\)/);
        // The lag series moved with the roles: on the front now, gone from the standby front that serves.
        expect(metrics(standby)).toBeUndefined();
        expect(metrics(primary)).toMatch(/^bbb_ovh_recordings_copy_last_run_ok 1$/m);
        expect(existsSync(published(standby, ID, "only-on-front.webm"))).toBe(false);

        // ops status shows the copy of the front, now the standby, read over SSH from both fronts.
        const sshOf = (h: TestHost) => ({ host: h.host, port: h.port, username: "root", hostKey: h.hostPublicKey, privateKey: h.privateKey });
        const target: OpsTarget = {
          label: "swapped",
          nodes: [],
          ssh: sshOf(primary),
          standby: { name: "lb-standby", ssh: sshOf(standby) },
          campus: { config: { recordings: true }, front: { name: "lb" } } as unknown as Campus,
        };
        const report = await collectStatus(
          target,
          { http: { timeoutMs: 5_000 }, commandTimeoutMs: 60_000, concurrency: 2 },
          new Progress(process.stderr, false),
        );
        expect(report.standbyCopy).toMatch(/^recordings copy to lb: ok, \d+ s behind the serving front \(last run copied \d+ file\(s\)\)$/);
      });
    });
  },
);
