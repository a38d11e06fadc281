/**
 * The standby's replication metrics for real: scripts/scalelite-replication-{primary,standby}.sh over SSH on
 * two loopback test hosts with real PostgreSQL 15 clusters in streaming replication (test/standby/pgFronts.ts),
 * the metrics program the standby step installs (standby-replication-metrics.sh) run on the standby, its
 * textfile read by the real node_exporter and scraped by a real Prometheus 2.42 evaluating the rules pack,
 * in which only StandbyNotStreaming's `for` is set to 0 (promtool's cases in rules.promtest.yml test the
 * `for`; 5 minutes of waiting here would test nothing more).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calls, mode, output, read } from "../support/hostState";
import { BINARIES, firingAlerts, instantQuery, pollUntil, rulesFiringAtOnce, samples, scrape, Stack } from "../support/monitoringStack";
import { freePort, runStep, shellOn } from "../support/sshd";
import { pgReady, PgFronts, until, type PgFront, type TlsFiles } from "./pgFronts";

const STANDBY = "standby.campus.example";
const PROGRAM = "usr/local/sbin/bbb-ovh-replication-metrics";
const missing = [BINARIES.prometheus, BINARIES.nodeExporter].filter((b) => !existsSync(b));
const ready = pgReady && missing.length === 0;
if (!ready) console.warn(`standby replication metrics: SKIPPED (${pgReady ? missing.join(", ") : "PostgreSQL 15 binaries missing"})`);

const epoch = (f: PgFront, expr: string) => Number(f.sql(`SELECT extract(epoch FROM ${expr})::bigint`));

describe.skipIf(!ready)("the standby's replication metrics, from real PostgreSQL 15 replication to a Prometheus alert", () => {
  const fronts = new PgFronts();
  const stack = new Stack();
  const signal = new AbortController();
  let primary: PgFront;
  let standby: PgFront;
  let tls: TlsFiles;
  let step: Awaited<ReturnType<typeof runStep>>;
  let nodeExporter: string;
  let promUrl: string;

  /** Runs the installed program on the standby, then reads node_exporter until it serves this run's file. */
  async function collect(): Promise<Map<string, number>> {
    const started = Math.floor(Date.now() / 1000);
    const run = await shellOn(standby.host, `"$BBB_OVH_ROOT"/${PROGRAM}`);
    expect(run.code, output(run)).toBe(0);
    let m = new Map<string, number>();
    await pollUntil(
      async () => (m = samples(await scrape(nodeExporter))).get("bbb_ovh_standby_metrics_last_run_timestamp_seconds")! >= started,
      signal.signal,
      () => "node_exporter serving the program's new file",
    );
    expect(m.get("node_textfile_scrape_error")).toBe(0);
    return m;
  }

  /**
   * A run taken while the standby has replayed all it received: the primary also writes WAL of its own (a
   * standby snapshot every 15 s: LOG_SNAPSHOT_INTERVAL_MS in bgwriter.c), which a run may catch in flight.
   */
  async function collectCaughtUp(): Promise<Map<string, number>> {
    for (;;) {
      const m = await collect();
      if (m.get("bbb_ovh_standby_replay_lag_bytes") === 0) return m;
    }
  }

  /** Waits until Prometheus has scraped `expr` to a non-empty result. */
  const seen = (expr: string, what: string) =>
    pollUntil(
      async () => (await instantQuery(promUrl, expr)).length > 0,
      signal.signal,
      () => what,
    );

  const firing = async (alert: string) => (await firingAlerts(promUrl, alert)) ?? [];

  beforeAll(async () => {
    [primary, standby] = await Promise.all([fronts.front("primary"), fronts.front("standby")]);
    tls = fronts.certificates();
    primary.sql("CREATE TABLE lessons (id bigserial PRIMARY KEY, note text)");
    const primaryRun = await runStep(primary.host, "scaleliteReplicationPrimary", PgFronts.primaryInputs(tls, "127.0.0.1"));
    expect(primaryRun.code, output(primaryRun)).toBe(0);
    step = await runStep(standby.host, "scaleliteReplicationStandby", PgFronts.standbyInputs(tls, primary));

    const textfileDir = path.join(standby.host.root, "var/lib/prometheus/node-exporter");
    mkdirSync(textfileDir, { recursive: true });
    const exporterPort = await freePort();
    stack.startNodeExporter(exporterPort, textfileDir);
    nodeExporter = `http://127.0.0.1:${exporterPort}/metrics`;
    const rulesFile = rulesFiringAtOnce(stack.dir, "StandbyNotStreaming");
    const promPort = await freePort();
    stack.startPrometheus(promPort, {
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [rulesFile],
      // As the fronts' prometheus.yml scrapes node_exporter (job node, honor_labels, host and role on the target).
      scrape_configs: [
        { job_name: "node", honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${exporterPort}`], labels: { host: STANDBY, role: "front" } }] },
      ],
    });
    promUrl = `http://127.0.0.1:${promPort}`;
  }, 240_000);

  afterAll(async () => {
    signal.abort();
    await stack.stop();
    await fronts.stop();
  });

  it("the standby step installs the program and its every-minute timer, and starts the timer", () => {
    expect(step.code, output(step)).toBe(0);
    expect(read(standby.host, PROGRAM)).toBe(readFileSync(path.resolve(__dirname, "../../scripts/standby-replication-metrics.sh"), "utf8"));
    expect(mode(standby.host, PROGRAM)).toBe("755");
    expect(read(standby.host, "etc/systemd/system/bbb-ovh-replication-metrics.service")).toContain(`ExecStart=/${PROGRAM}\n`);
    expect(read(standby.host, "etc/systemd/system/bbb-ovh-replication-metrics.timer")).toContain("OnUnitActiveSec=1min\n");
    expect(calls(standby.host)).toEqual(expect.arrayContaining(["systemctl start bbb-ovh-replication-metrics.timer"]));
  });

  it("streaming and caught up: lag 0, and StandbyNotStreaming stays quiet in Prometheus", async () => {
    const inserted = Math.floor(Date.now() / 1000);
    primary.sql("INSERT INTO lessons (note) VALUES ('caught up')");
    await until("the standby replays the insert", () => standby.sql("SELECT count(*) FROM lessons") === "1");
    const m = await collectCaughtUp();
    expect(m.get("bbb_ovh_standby_database_up")).toBe(1);
    expect(m.get("bbb_ovh_standby_in_recovery")).toBe(1);
    expect(m.get("bbb_ovh_standby_wal_receiver_streaming")).toBe(1);
    expect(m.get("bbb_ovh_standby_replay_lag_bytes")).toBe(0);
    expect(m.get("bbb_ovh_standby_replication_lag_seconds")).toBe(0);
    // This insert's commit, or a later one of the primary's own (autovacuum commits too).
    expect(m.get("bbb_ovh_standby_last_replay_timestamp_seconds")).toBeGreaterThanOrEqual(inserted - 1);
    expect(m.get("bbb_ovh_standby_last_replay_timestamp_seconds")).toBeLessThanOrEqual(epoch(standby, "pg_last_xact_replay_timestamp()"));
    await seen(`bbb_ovh_standby_wal_receiver_streaming{host="${STANDBY}"} == 1`, "Prometheus scraping streaming=1");
    expect(await firing("StandbyNotStreaming")).toEqual([]);
  });

  it("replay paused while the primary writes: the lag in bytes and seconds is what the standby has not applied", async () => {
    standby.sql("SELECT pg_wal_replay_pause()");
    await until("replay paused", () => standby.sql("SELECT pg_get_wal_replay_pause_state()") === "paused");
    const replayed = epoch(standby, "pg_last_xact_replay_timestamp()");
    primary.sql("INSERT INTO lessons (note) SELECT repeat('x', 1000) FROM generate_series(1, 100)");
    await until("the standby receives WAL it does not replay", () => standby.sql("SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") === "t");
    // The lag in seconds counts from the last replayed commit: wait until it is measurably more than 0.
    await until("3 s since the last replayed commit", () => Date.now() / 1000 - replayed >= 3);
    const m = await collect();
    const now = Math.floor(Date.now() / 1000);
    expect(m.get("bbb_ovh_standby_wal_receiver_streaming")).toBe(1);
    expect(m.get("bbb_ovh_standby_replay_lag_bytes")).toBeGreaterThan(100 * 1000);
    const lag = m.get("bbb_ovh_standby_replication_lag_seconds")!;
    expect(lag).toBeGreaterThanOrEqual(3);
    expect(lag).toBeLessThanOrEqual(now - replayed + 1);
    expect(standby.sql("SELECT count(*) FROM lessons")).toBe("1");

    standby.sql("SELECT pg_wal_replay_resume()");
    await until("the standby catches up", () => standby.sql("SELECT count(*) FROM lessons") === "101");
    await until("all received is replayed", () => standby.sql("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()") === "t");
    const after = await collectCaughtUp();
    expect(after.get("bbb_ovh_standby_replay_lag_bytes")).toBe(0);
    expect(after.get("bbb_ovh_standby_replication_lag_seconds")).toBe(0);
  });

  it("the primary stops: streaming 0, the lag counts from the last replayed commit, and StandbyNotStreaming fires", async () => {
    const replayed = epoch(standby, "pg_last_xact_replay_timestamp()");
    const cut = Date.now();
    primary.crash();
    await until("the WAL receiver stops streaming", () => standby.sql("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") === "0");
    const m = await collect();
    expect(m.get("bbb_ovh_standby_wal_receiver_streaming")).toBe(0);
    expect(m.get("bbb_ovh_standby_in_recovery")).toBe(1);
    const lag = m.get("bbb_ovh_standby_replication_lag_seconds")!;
    expect(lag).toBeGreaterThanOrEqual(Math.floor(cut / 1000) - replayed);
    expect(lag).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) - replayed);
    await pollUntil(
      async () => (await firing("StandbyNotStreaming")).length > 0,
      signal.signal,
      () => "StandbyNotStreaming firing",
    );
    const [alert] = await firing("StandbyNotStreaming");
    expect(alert.labels).toMatchObject({ host: STANDBY, job: "node", severity: "critical" });
    console.log(`standby replication metrics: StandbyNotStreaming firing ${((Date.now() - cut) / 1000).toFixed(1)} s after the primary stopped (for: 0s)`);
  });

  it("the standby's own database down: database_up 0 and streaming 0, still written", async () => {
    standby.crash();
    const m = await collect();
    expect(m.get("bbb_ovh_standby_database_up")).toBe(0);
    expect(m.get("bbb_ovh_standby_wal_receiver_streaming")).toBe(0);
    expect(m.has("bbb_ovh_standby_replication_lag_seconds")).toBe(false);
  });

  it("a front ops failover promoted writes no replication series (nothing to alert on)", async () => {
    writeFileSync(path.join(standby.host.root, "var/lib/bbb-ovh/front-role"), "primary\n");
    const m = await collect();
    expect(m.get("bbb_ovh_standby_promoted")).toBe(1);
    expect([...m.keys()].filter((k) => k.startsWith("bbb_ovh_standby_") && !/^bbb_ovh_standby_(promoted|metrics_last_run)/.test(k))).toEqual([]);
  });
});
