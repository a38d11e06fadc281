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
import { BINARIES, firingAlerts, pollUntil, rulesFiringAtOnce, samples, Stack } from "../support/monitoringStack";
import { scaleliteTrees, startScalelite, type Scalelite } from "../support/scalelite/harness";
import { FAKE_BIN, freePort } from "../support/sshd";

const trees = scaleliteTrees();
const SCRIPT = path.resolve(__dirname, "../../scripts/scalelite-metrics.sh");
const hasNodeExporter = spawnSync("prometheus-node-exporter", ["--version"]).status === 0;

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
    expect((await scalelite.rake(["poll:all"])).code).toBe(0);
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

  function run(env: Record<string, string>, sleepingList?: string) {
    return spawnSync("bash", [SCRIPT, path.join(dir, "recordings"), ...(sleepingList ? [sleepingList] : [])], {
      encoding: "utf8",
      env: {
        ...process.env,
        TEXTFILE_DIR: path.join(dir, "textfile"),
        BACKUP_STATUS: path.join(dir, "backup-status.json"),
        SPOOL_STATE: path.join(dir, "spool.state"),
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
});
