/**
 * Our Scalelite exporter (scripts/scalelite-metrics.sh) against a real Redis filled by Scalelite v1.8.5's own
 * models (the harness runs its rake tasks), a temporary recordings tree and backup status file; its output is
 * read by the real node_exporter textfile collector (Debian's prometheus-node-exporter), scraped over loopback.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { postgresInstalled, startPostgres, type Postgres } from "../support/postgres";
import { renderCreditEstimate } from "../../components/monitoring/creditEstimate";
import { BINARIES, firingAlerts, instantQuery, pollUntil, rulesFiringAtOnce, samples, Stack } from "../support/monitoringStack";
import { scaleliteTrees, startScalelite, type Scalelite } from "../support/scalelite/harness";
import { goodArchive, recordId } from "../support/recordingArchives";
import { FAKE_BIN, freePort } from "../support/sshd";

const trees = scaleliteTrees();
const SCRIPT = path.resolve(__dirname, "../../scripts/scalelite-metrics.sh");
const hasNodeExporter = spawnSync("prometheus-node-exporter", ["--version"]).status === 0;
const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const hasJournalRemote = fs.existsSync(JOURNAL_REMOTE);
if (!hasJournalRemote) console.warn("scaleliteMetrics: systemd-journal-remote is not installed: the importer failures test is SKIPPED");
const hasPostgres = postgresInstalled();
if (!hasPostgres)
  console.warn("scaleliteMetrics: PostgreSQL 15 is not installed (Scalelite's importer needs its database): the importer failures test is SKIPPED");
const DAY = 86_400;

/**
 * The lines a process printed, appended to a journal directory as journald files them for a unit's process: a
 * unit's stdout goes to the journal by default (systemd.exec(5), StandardOutput=journal) with the trusted field
 * _SYSTEMD_UNIT that `journalctl --unit` matches. Written by systemd's own systemd-journal-remote from its
 * journal export format (systemd.io JOURNAL_EXPORT_FORMATS), so that the real journalctl reads them back.
 */
let journalEntries = 0;
function appendToJournal(journalDir: string, unit: string, output: string): void {
  fs.mkdirSync(journalDir, { recursive: true });
  const start = Date.now() * 1000;
  const entries = output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      journalEntries += 1;
      return [
        `__REALTIME_TIMESTAMP=${start + journalEntries}`,
        `__MONOTONIC_TIMESTAMP=${journalEntries}`,
        "_BOOT_ID=0123456789abcdef0123456789abcdef",
        `_SYSTEMD_UNIT=${unit}`,
        "SYSLOG_IDENTIFIER=docker",
        `MESSAGE=${line}`,
        "",
        "",
      ].join("\n");
    });
  const r = spawnSync(JOURNAL_REMOTE, [`--output=${path.join(journalDir, "external-importer.journal")}`, "-"], { input: entries.join(""), encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

async function scrape(url: string): Promise<Map<string, number>> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return samples(await res.text());
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!trees || !hasNodeExporter)("the Scalelite textfile exporter, read by node_exporter", () => {
  let scalelite: Scalelite;
  let node: BbbApiServer;
  let exporter: ChildProcess;
  let port: number;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalelite-metrics-"));
    scalelite = await startScalelite(trees!);
    node = await startBbbApiServer({ secret: "node-secret-1", bbbVersion: "3.0.9" });
    scalelite.route("bbb1.campus.example", node.url);
    const yaml = ["servers:", "  bbb1.campus.example:", "    secret: node-secret-1", "  bbb2.campus.example:", "    secret: node-secret-2"].join("\n");
    expect((await scalelite.rake(["servers:sync[-,cordon]"], yaml)).code).toBe(0);
    node.seedMeeting("maths", 25);
    node.seedMeeting("physics", 18);
    await scalelite.pollUntilOnline(["bbb1.campus.example"], { bbbVersion: true });
    expect((await scalelite.rake(["servers:cordon[bbb2.campus.example]"])).code).toBe(0);

    const rec = path.join(dir, "recordings");
    const old = Date.now() / 1000 - 7200;
    fs.mkdirSync(path.join(rec, "spool"), { recursive: true });
    for (const [name, mtime] of [
      ["a.tar", old],
      ["b.tar", Date.now() / 1000 - 60],
    ] as const) {
      fs.writeFileSync(path.join(rec, "spool", name), "x");
      fs.utimesSync(path.join(rec, "spool", name), mtime, mtime);
    }
    fs.writeFileSync(path.join(rec, "spool", ".c.tar.from-bbb1.bbb-ovh-handover"), "x");
    fs.mkdirSync(path.join(rec, "refused", "bbb1.campus.example"), { recursive: true });
    fs.writeFileSync(path.join(rec, "refused", "bbb1.campus.example", "bad.tar"), "x");
    fs.writeFileSync(path.join(rec, "refused", "bbb1.campus.example", "bad.tar.reason"), "reason: broken\n");
    for (const n of ["bbb1.campus.example", "bbb2.campus.example"]) fs.mkdirSync(path.join(rec, "incoming", n), { recursive: true });
    for (const f of ["x.tar", "y.tar", ".x.tar.abc123"]) fs.writeFileSync(path.join(rec, "incoming", "bbb2.campus.example", f), "x");
    // As scripts/scalelite-backup-command.sh's write_status prints it after a failed attempt.
    fs.writeFileSync(
      path.join(dir, "backup-status.json"),
      [
        "{",
        '  "state": "failed",',
        '  "attempt": "2026-12-03T02:00:00Z",',
        '  "attemptEpoch": 1796263200,',
        '  "error": "restic: repository locked",',
        '  "warning": null,',
        '  "lastSuccess": "2026-12-02T02:00:00Z",',
        '  "lastSuccessEpoch": 1796176800,',
        '  "snapshot": "4f2a",',
        '  "bytes": 123456789,',
        '  "added": 2048,',
        '  "maxAgeHours": 30',
        "}",
        "",
      ].join("\n"),
    );

    port = await freePort();
    fs.mkdirSync(path.join(dir, "textfile"));
    exporter = spawn(
      "prometheus-node-exporter",
      [
        `--collector.textfile.directory=${path.join(dir, "textfile")}`,
        "--collector.disable-defaults",
        "--collector.textfile",
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
  });
  afterAll(async () => {
    exporter?.kill("SIGTERM");
    await node?.close();
    await scalelite?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The exporter as its unit runs it: RECORDING_DIR [SLEEPING_LIST [PLAN [CREDIT_ESTIMATE]]]. */
  function run(env: Record<string, string>, ...files: string[]) {
    return runOn(path.join(dir, "recordings"), env, ...files);
  }
  function runOn(recordings: string, env: Record<string, string>, ...files: string[]) {
    return spawnSync("bash", [SCRIPT, recordings, ...files], {
      encoding: "utf8",
      env: {
        ...process.env,
        TEXTFILE_DIR: path.join(dir, "textfile"),
        BACKUP_STATUS: path.join(dir, "backup-status.json"),
        SPOOL_STATE: path.join(dir, "spool.state"),
        IMPORTER_FAILURES: path.join(dir, "importer-failures"),
        // The journal of this test alone (importerJournal), never the machine's.
        JOURNALCTL: `journalctl --directory=${path.join(dir, "journal")}`,
        ...env,
      },
    });
  }

  it("exposes each server, the spool, refused and incoming archives and the last backup", async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = run({ REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` });
    expect(result.status, result.stderr).toBe(0);
    const m = await scrape(`http://127.0.0.1:${port}/metrics`);
    // node_exporter reports a file it could not parse with this set to 1.
    expect(m.get("node_textfile_scrape_error")).toBe(0);
    expect(m.get("scalelite_up")).toBe(1);
    const ids = [...m.keys()].filter((k) => k.startsWith("scalelite_server_enabled{"));
    expect(ids).toHaveLength(2);
    const sample = (name: string, host: string) => {
      const key = [...m.keys()].find((k) => k.startsWith(`${name}{`) && k.includes(`host="${host}"`) && !k.includes("state="));
      return key === undefined ? undefined : m.get(key);
    };
    expect(sample("scalelite_server_enabled", "bbb1.campus.example")).toBe(1);
    expect(sample("scalelite_server_cordoned", "bbb1.campus.example")).toBe(0);
    expect(sample("scalelite_server_online", "bbb1.campus.example")).toBe(1);
    expect(sample("scalelite_server_meetings", "bbb1.campus.example")).toBe(2);
    expect(sample("scalelite_server_users", "bbb1.campus.example")).toBe(43);
    // Scalelite's load: attendees, at least LOAD_MIN_USER_COUNT=15 per fresh meeting, times the multiplier 1.
    expect(sample("scalelite_server_load", "bbb1.campus.example")).toBe(43);
    // Never reached (no route): offline; cordoned by servers:cordon.
    expect(sample("scalelite_server_enabled", "bbb2.campus.example")).toBe(0);
    expect(sample("scalelite_server_cordoned", "bbb2.campus.example")).toBe(1);
    expect(sample("scalelite_server_online", "bbb2.campus.example")).toBe(0);
    expect(
      [...m.keys()].some((k) => k.startsWith("scalelite_server_state{") && k.includes('host="bbb2.campus.example"') && k.includes('state="cordoned"')),
    ).toBe(true);

    expect(m.get("scalelite_spool_archives")).toBe(2);
    const age = m.get("scalelite_spool_oldest_archive_age_seconds")!;
    expect(age).toBeGreaterThanOrEqual(7200 - 5);
    expect(age).toBeLessThan(7200 + 120);
    expect(m.get('bbb_ovh_recordings_refused{node="bbb1.campus.example"}')).toBe(1);
    expect(m.get('bbb_ovh_recordings_incoming{node="bbb1.campus.example"}')).toBe(0);
    expect(m.get('bbb_ovh_recordings_incoming{node="bbb2.campus.example"}')).toBe(2);
    // No such unit on this machine: the importer counts as down.
    expect(m.get("scalelite_importer_up")).toBe(0);
    // The first run has seen nothing before: the importer's clock starts now.
    expect(m.get("scalelite_importer_last_progress_timestamp_seconds")).toBeGreaterThanOrEqual(before);
    // No journal to read: no failure counted, and the counter is there for increase() to start from.
    expect(m.get("scalelite_importer_failures_total")).toBe(0);
    // No plan or credit estimate given: none of their series.
    expect([...m.keys()].filter((k) => /^bbb_ovh_(node_capacity|term_end|credit)/.test(k))).toEqual([]);

    expect(m.get("bbb_ovh_backup_last_success_timestamp_seconds")).toBe(1796176800);
    expect(m.get("bbb_ovh_backup_last_attempt_timestamp_seconds")).toBe(1796263200);
    expect(m.get("bbb_ovh_backup_last_attempt_ok")).toBe(0);
    expect(m.get("bbb_ovh_backup_last_size_bytes")).toBe(123456789);
    expect(m.get("bbb_ovh_backup_last_added_bytes")).toBe(2048);
    expect(m.get("bbb_ovh_backup_max_age_seconds")).toBe(30 * 3600);
    expect(m.get("scalelite_metrics_last_run_timestamp_seconds")).toBeGreaterThanOrEqual(before);
    // No sleeping list given: nobody sleeps.
    expect(sample("bbb_ovh_node_expected_awake", "bbb1.campus.example")).toBe(1);
    expect(sample("bbb_ovh_node_expected_awake", "bbb2.campus.example")).toBe(1);
    expect([...m.keys()].some((k) => k.startsWith("bbb_ovh_node_wake_requested_timestamp_seconds"))).toBe(false);
    // Only the final file is left: the temporary one was renamed.
    expect(fs.readdirSync(path.join(dir, "textfile"))).toEqual(["scalelite.prom"]);
  });

  it("reads the sleeping list ops keeps: asleep is 0, a pending wake is 1 with its time, a missing file is 1", async () => {
    const list = path.join(dir, "schedule-sleeping");
    const sampleOf = (m: Map<string, number>, name: string, host: string) => m.get(`${name}{host="${host}",id="${host}"}`);
    const redis = { REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` };
    // As cli/ops/nodePower.ts saveSleepingList writes it: bbb1 woken (unshelve requested), bbb2 in the old one-id format.
    fs.writeFileSync(list, "bbb1.campus.example wake=1796263200\nbbb2.campus.example\n");
    let result = run(redis, list);
    expect(result.status, result.stderr).toBe(0);
    let m = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(m.get("node_textfile_scrape_error")).toBe(0);
    expect(sampleOf(m, "bbb_ovh_node_expected_awake", "bbb1.campus.example")).toBe(1);
    expect(sampleOf(m, "bbb_ovh_node_wake_requested_timestamp_seconds", "bbb1.campus.example")).toBe(1796263200);
    expect(sampleOf(m, "bbb_ovh_node_expected_awake", "bbb2.campus.example")).toBe(0);
    expect(sampleOf(m, "bbb_ovh_node_wake_requested_timestamp_seconds", "bbb2.campus.example")).toBeUndefined();

    // ops removes the file's last line once the node is enabled again; a removed file means nobody sleeps.
    fs.rmSync(list);
    result = run(redis, list);
    expect(result.status, result.stderr).toBe(0);
    m = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(sampleOf(m, "bbb_ovh_node_expected_awake", "bbb2.campus.example")).toBe(1);
    expect(sampleOf(m, "bbb_ovh_node_wake_requested_timestamp_seconds", "bbb1.campus.example")).toBeUndefined();
  });

  it("gives no backup series on a front whose front-role says standby or fenced: it does not back up, and its old status would age into BackupTooOld", () => {
    const role = path.join(dir, "front-role");
    const textfile = path.join(dir, "textfile-role");
    const backupSeries = (value: string) => {
      fs.writeFileSync(role, `${value}\n`);
      const result = run({ TEXTFILE_DIR: textfile, FRONT_ROLE: role, REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` });
      expect(result.status, result.stderr).toBe(0);
      return fs
        .readFileSync(path.join(textfile, "scalelite.prom"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("bbb_ovh_backup_"));
    };
    expect(backupSeries("standby")).toEqual([]);
    expect(backupSeries("fenced")).toEqual([]);
    // The standby after ops failover serves and backs up: its series are there.
    expect(backupSeries("primary")).toContain("bbb_ovh_backup_last_success_timestamp_seconds 1796176800");
  });

  it("says scalelite_up 0 when Redis does not answer, and still writes the rest", async () => {
    const closed = await freePort();
    const result = run({ REDIS_CLI: `redis-cli -u redis://127.0.0.1:${closed}/0` });
    expect(result.status, result.stderr).toBe(0);
    const m = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(m.get("node_textfile_scrape_error")).toBe(0);
    expect(m.get("scalelite_up")).toBe(0);
    expect([...m.keys()].some((k) => k.startsWith("scalelite_server_"))).toBe(false);
    expect(m.get("scalelite_spool_archives")).toBe(2);
  });

  it("writes its metrics on a front whose spool does not exist yet (before its first recording)", () => {
    const empty = path.join(dir, "no-spool");
    fs.mkdirSync(empty, { recursive: true });
    const textfile = path.join(dir, "textfile-no-spool");
    const result = runOn(empty, { TEXTFILE_DIR: textfile, SPOOL_STATE: path.join(dir, "no-spool.state"), REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toContain("unbound variable");
    const prom = fs.readFileSync(path.join(textfile, "scalelite.prom"), "utf8");
    expect(prom).toMatch(/^scalelite_spool_archives 0$/m);
    expect(prom).toMatch(/^scalelite_spool_oldest_archive_age_seconds 0$/m);
  });

  /**
   * RecordingImporterStuck's second cause on a real Prometheus 2.42 evaluating the rules pack (its `for` set to
   * 0 here; promtool's cases test the `for`): the importer runs (the fake systemctl of test/fakes/bin says its
   * unit is active) but no archive has left the spool for two hours, then one leaves.
   */
  it.skipIf(!fs.existsSync(BINARIES.prometheus))("RecordingImporterStuck fires while no archive leaves the spool, and clears when one does", async () => {
    const stack = new Stack();
    const signal = new AbortController();
    try {
      const root = path.join(dir, "root");
      fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
      fs.writeFileSync(path.join(root, "etc/systemd/system/scalelite-recording-importer.service"), "[Unit]\n");
      const fakes = { BBB_OVH_ROOT: root, PATH: `${FAKE_BIN}:${process.env.PATH}`, REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` };
      expect(spawnSync(path.join(FAKE_BIN, "systemctl"), ["start", "scalelite-recording-importer.service"], { env: { ...process.env, ...fakes } }).status).toBe(
        0,
      );
      // What the state holds after two hours of runs that saw the same two archives (format: importer_progress).
      const stuckSince = Math.floor(Date.now() / 1000) - 7200;
      fs.writeFileSync(path.join(dir, "spool.state"), `${stuckSince}\na.tar\nb.tar\n`);

      const promPort = await freePort();
      stack.startPrometheus(promPort, {
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [rulesFiringAtOnce(stack.dir, "RecordingImporterStuck")],
        scrape_configs: [
          { job_name: "node", honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { host: "lb.campus.example", role: "front" } }] },
        ],
      });
      const stuck = () => firingAlerts(`http://127.0.0.1:${promPort}`, "RecordingImporterStuck");

      const first = run(fakes);
      expect(first.status, first.stderr).toBe(0);
      const m = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(m.get("scalelite_importer_up")).toBe(1);
      expect(m.get("scalelite_importer_last_progress_timestamp_seconds")).toBe(stuckSince);
      await pollUntil(
        async () => ((await stuck())?.length ?? 0) > 0,
        signal.signal,
        () => "RecordingImporterStuck firing",
      );
      expect((await stuck())![0].labels).toMatchObject({ host: "lb.campus.example", severity: "critical" });

      // Scalelite's importer deletes an archive it imported (lib/recording_importer.rb, FileUtils.rm).
      fs.rmSync(path.join(dir, "recordings", "spool", "a.tar"));
      const before = Math.floor(Date.now() / 1000);
      const second = run(fakes);
      expect(second.status, second.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, "spool.state"), "utf8").split("\n")[1]).toBe("b.tar");
      await pollUntil(
        async () => (await stuck())?.length === 0,
        signal.signal,
        () => "RecordingImporterStuck resolved",
      );
      expect((await scrape(`http://127.0.0.1:${port}/metrics`)).get("scalelite_importer_last_progress_timestamp_seconds")).toBeGreaterThanOrEqual(before);
    } finally {
      signal.abort();
      await stack.stop();
    }
  });

  /**
   * The plan the scaleliteMetrics step writes (components/monitoring/renderPlanFile.ts's format) and the credit
   * estimate ops writes (renderCreditEstimate), read back through node_exporter and judged by a real Prometheus
   * 2.42 with the rules pack (BbbNodeOverCapacity's `for` set to 0; promtool tests it).
   */
  it.skipIf(!fs.existsSync(BINARIES.prometheus))(
    "exposes each node's planned capacity, the end of term and ops' credit estimate: BbbNodeOverCapacity and CreditRunsOutBeforeTermEnd fire",
    async () => {
      const stack = new Stack();
      const signal = new AbortController();
      try {
        const redis = { REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` };
        const now = Math.floor(Date.now() / 1000);
        const plan = path.join(dir, "plan");
        const credit = path.join(dir, "credit-estimate");
        // bbb1 carries 43 users (beforeAll): above a planned 40. bbb2 carries none of its 200.
        fs.writeFileSync(plan, `# plan\ncapacity_users bbb1.campus.example 40\ncapacity_users bbb2.campus.example 200\nterm_end ${now + 120 * DAY}\n`);
        fs.writeFileSync(credit, renderCreditEstimate(new Date((now + 100 * DAY) * 1000), new Date((now - 60) * 1000)));
        const result = run(redis, "", plan, credit);
        expect(result.status, result.stderr).toBe(0);
        const m = await scrape(`http://127.0.0.1:${port}/metrics`);
        expect(m.get("node_textfile_scrape_error")).toBe(0);
        expect(m.get('bbb_ovh_node_capacity_users{host="bbb1.campus.example"}')).toBe(40);
        expect(m.get('bbb_ovh_node_capacity_users{host="bbb2.campus.example"}')).toBe(200);
        expect(m.get("bbb_ovh_term_end_timestamp_seconds")).toBe(now + 120 * DAY);
        expect(m.get("bbb_ovh_credit_runs_out_timestamp_seconds")).toBe(now + 100 * DAY);
        expect(m.get("bbb_ovh_credit_estimate_timestamp_seconds")).toBe(now - 60);

        const promPort = await freePort();
        stack.startPrometheus(promPort, {
          global: { scrape_interval: "1s", evaluation_interval: "1s" },
          rule_files: [rulesFiringAtOnce(stack.dir, "BbbNodeOverCapacity")],
          scrape_configs: [
            {
              job_name: "node",
              honor_labels: true,
              static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { host: "lb.campus.example", role: "front" } }],
            },
          ],
        });
        const prom = `http://127.0.0.1:${promPort}`;
        const firing = async (alert: string) => (await firingAlerts(prom, alert)) ?? [];
        await pollUntil(
          async () => (await firing("BbbNodeOverCapacity")).length > 0 && (await firing("CreditRunsOutBeforeTermEnd")).length > 0,
          signal.signal,
          () => "BbbNodeOverCapacity and CreditRunsOutBeforeTermEnd firing",
        );
        expect((await firing("BbbNodeOverCapacity")).map((a) => a.labels.host)).toEqual(["bbb1.campus.example"]);
        expect((await firing("CreditRunsOutBeforeTermEnd"))[0].labels).toMatchObject({ host: "lb.campus.example", severity: "warning" });
        expect(await firing("CreditEstimateStale")).toEqual([]);

        // A later run found nothing spent and nothing expiring: the credit never runs out, the alert clears.
        fs.writeFileSync(credit, renderCreditEstimate(undefined, new Date()));
        expect(run(redis, "", plan, credit).status).toBe(0);
        expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^bbb_ovh_credit_runs_out_timestamp_seconds \+Inf$/m);
        await pollUntil(
          async () => (await firingAlerts(prom, "CreditRunsOutBeforeTermEnd"))?.length === 0,
          signal.signal,
          () => "CreditRunsOutBeforeTermEnd resolved",
        );
      } finally {
        signal.abort();
        await stack.stop();
      }
    },
  );

  /**
   * RecordingArchiveRefused on what Scalelite's own importer does with an archive it cannot import: v1.8.5's
   * recordings:watch (the harness runs it from the pinned tree) fails on a broken tar, logs it and leaves the
   * archive in the spool. Its output goes into a journal as its unit's (appendToJournal), the exporter counts it
   * with the real journalctl, and a real Prometheus 2.42 with the rules pack fires.
   */
  it.skipIf(!fs.existsSync(BINARIES.prometheus) || !hasJournalRemote || !hasPostgres)(
    "counts the archives and formats Scalelite's importer fails on from its unit's journal, once each, and RecordingArchiveRefused and RecordingFormatSkipped fire",
    async () => {
      const stack = new Stack();
      const signal = new AbortController();
      // The importer's rake file loads only with Scalelite's database (test/support/scalelite/rake.rb).
      let pg: Postgres | undefined;
      let importer: Scalelite | undefined;
      const journal = path.join(dir, "journal");
      const unit = "scalelite-recording-importer.service";
      const failures = async () => (await scrape(`http://127.0.0.1:${port}/metrics`)).get("scalelite_importer_failures_total");
      const skippedFormats = async () => (await scrape(`http://127.0.0.1:${port}/metrics`)).get("scalelite_importer_skipped_formats_total");
      try {
        const redis = { REDIS_CLI: `redis-cli -u ${scalelite.redisUrl}` };
        // The importer's start, as its unit's journal holds it before any archive arrives.
        appendToJournal(journal, unit, "I, [2026-12-03T08:00:00.000000 #1]  INFO -- : starting\n");
        expect(run(redis).status).toBe(0);
        expect(await failures()).toBe(0);

        const promPort = await freePort();
        stack.startPrometheus(promPort, {
          global: { scrape_interval: "1s", evaluation_interval: "1s" },
          rule_files: [rulesFiringAtOnce(stack.dir, "RecordingArchiveRefused", "RecordingFormatSkipped")],
          scrape_configs: [
            {
              job_name: "node",
              honor_labels: true,
              static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { host: "lb.campus.example", role: "front" } }],
            },
          ],
        });
        const prom = `http://127.0.0.1:${promPort}`;
        // increase() needs the counter's 0 in Prometheus before the failure.
        await pollUntil(
          async () => (await instantQuery(prom, "scalelite_importer_failures_total").catch(() => [])).length > 0,
          signal.signal,
          () => "Prometheus scraping scalelite_importer_failures_total",
        );

        pg = await startPostgres(["scalelite"]);
        importer = await startScalelite(trees!, undefined, { databaseUrl: pg.url("scalelite") });
        const schema = await importer.rake(["db:prepare"]);
        expect(schema.code, schema.stderr).toBe(0);
        const spool = path.join(dir, "importer", "spool");
        fs.mkdirSync(spool, { recursive: true });
        // The front's recordings tree has the work directory (the spool step lays it out); the importer does not make it.
        fs.mkdirSync(path.join(dir, "importer", "work"));
        fs.writeFileSync(path.join(spool, "broken.tar"), "not a tar archive\n");
        // A good recording whose format directory cannot be made (a file stands in its place, as a broken
        // published tree would): the importer skips the format, and deletes the archive all the same.
        const skippedId = recordId("skipped-format");
        fs.copyFileSync(goodArchive(dir, skippedId), path.join(spool, `${skippedId}.tar`));
        fs.mkdirSync(path.join(dir, "importer", "published"));
        fs.writeFileSync(path.join(dir, "importer", "published", "presentation"), "not a directory\n");
        const watcher = importer.watch(["recordings:watch[false,0.2]"], {
          RECORDING_SPOOL_DIR: spool,
          RECORDING_WORK_DIR: path.join(dir, "importer", "work"),
          RECORDING_PUBLISH_DIR: path.join(dir, "importer", "published"),
          RECORDING_UNPUBLISH_DIR: path.join(dir, "importer", "unpublished"),
          RAILS_LOG_LEVEL: "info",
        });
        let output: string;
        try {
          await pollUntil(
            async () =>
              !watcher.running() ||
              ((watcher.output().match(/Failed to import recording: Failed to extract tar file: /g) ?? []).length >= 2 &&
                /Skipping recording format from /.test(watcher.output())),
            signal.signal,
            () => `two failed imports and a skipped format in the importer's log:\n${watcher.output()}`,
          );
        } finally {
          const stopped = await watcher.stop();
          output = stopped.stdout + stopped.stderr;
          expect(stopped.code, output).toBe(0);
        }
        // Upstream keeps the archive it failed on where it was, and retries it: nothing on disk counts failures.
        expect(fs.readdirSync(spool)).toEqual(["broken.tar"]);
        expect((output.match(/Failed to import recording: Failed to extract tar file: /g) ?? []).length, output).toBeGreaterThanOrEqual(2);
        // Every failure line counts, the skipped recording's own among them when its import fails after the skip.
        const logged = (output.match(/Failed to import recording: /g) ?? []).length;
        const skipped = (output.match(/Skipping recording format from /g) ?? []).length;
        expect(skipped, output).toBe(1);

        appendToJournal(journal, unit, output);
        // Another unit's lines are not the importer's.
        appendToJournal(journal, "scalelite-poller.service", "E, [2026-12-03T08:00:05.000000 #1] ERROR -- : Failed to import recording: not ours\n");
        expect(run(redis).status).toBe(0);
        expect(await failures()).toBe(logged);
        expect(await skippedFormats()).toBe(skipped);
        // Counted once: the next run starts at the cursor the last one saved.
        expect(run(redis).status).toBe(0);
        expect(await failures()).toBe(logged);
        expect(await skippedFormats()).toBe(skipped);

        await pollUntil(
          async () => ((await firingAlerts(prom, "RecordingArchiveRefused"))?.length ?? 0) > 0,
          signal.signal,
          () => "RecordingArchiveRefused firing",
        );
        expect((await firingAlerts(prom, "RecordingArchiveRefused"))![0].labels).toMatchObject({ host: "lb.campus.example", severity: "warning" });
        await pollUntil(
          async () => ((await firingAlerts(prom, "RecordingFormatSkipped"))?.length ?? 0) > 0,
          signal.signal,
          () => "RecordingFormatSkipped firing",
        );
        // The archive was deleted all the same: the format is gone, which only the counter says.
        expect(fs.readdirSync(spool)).toEqual(["broken.tar"]);
      } finally {
        signal.abort();
        await stack.stop();
        await importer?.stop();
        pg?.stop();
      }
    },
  );
});
