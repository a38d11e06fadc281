/**
 * `ops status`'s firing alerts: the real Alertmanager (Debian's prometheus-alertmanager) with alerts and a
 * silence posted to its API v2, read over SSH through a real sshd, as on the front.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERTMANAGER_CONFIG, describeAlert, firingAlerts, type FiringAlert } from "../../cli/ops/alerts";
import { OpsError } from "../../cli/ops/errors";
import type { SshTarget } from "../../cli/ops/ssh";
import { renderStatus, type StatusReport } from "../../cli/ops/status";
import { freePort, startTestHost, type TestHost } from "../support/sshd";

const hasAlertmanager = spawnSync("prometheus-alertmanager", ["--version"]).status === 0;
const TIMEOUT_MS = 60_000;

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.ok, `${url}: HTTP ${res.status} ${await res.text()}`).toBe(true);
}

describe.skipIf(!hasAlertmanager)("ops status reads Alertmanager's firing alerts on the front", () => {
  let dir: string;
  let am: ChildProcess;
  let url: string;
  let host: TestHost;
  let ssh: SshTarget;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "alertmanager-"));
    fs.writeFileSync(path.join(dir, "alertmanager.yml"), "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n");
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    am = spawn(
      "prometheus-alertmanager",
      [
        `--config.file=${path.join(dir, "alertmanager.yml")}`,
        `--storage.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
      ],
      { stdio: "ignore" },
    );
    for (;;) {
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    host = await startTestHost({ fqdn: "lb.campus.example" });
    ssh = { host: host.host, port: host.port, username: "root", hostKey: host.hostPublicKey, privateKey: host.privateKey };
  });
  afterAll(async () => {
    am?.kill("SIGTERM");
    await host?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("says nothing when the front has no Alertmanager configured", async () => {
    expect(await firingAlerts(ssh, TIMEOUT_MS, url)).toBeUndefined();
  });

  it("lists the firing alerts, not the silenced ones nor the Watchdog, oldest first", async () => {
    fs.mkdirSync(path.join(host.root, path.dirname(ALERTMANAGER_CONFIG)), { recursive: true });
    fs.writeFileSync(path.join(host.root, ALERTMANAGER_CONFIG), "# installed\n");
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    await post(`${url}/api/v2/alerts`, [
      {
        labels: { alertname: "BackupTooOld", host: "lb.campus.example", severity: "critical" },
        annotations: { summary: "The last successful backup of lb.campus.example is 1d 4h old" },
        startsAt: "2026-12-03T05:00:00Z",
        endsAt,
      },
      {
        labels: { alertname: "NodeDown", instance: "bbb1.campus.example:9100", host: "bbb1.campus.example", severity: "critical" },
        annotations: { summary: "bbb1.campus.example does not answer its metrics scrape" },
        startsAt: "2026-12-03T04:00:00Z",
        endsAt,
      },
      { labels: { alertname: "HostCpuHigh", host: "bbb2.campus.example" }, startsAt: "2026-12-03T03:00:00Z", endsAt },
      // The rules pack's heartbeat, firing always while the alerting works: never listed as a problem.
      { labels: { alertname: "Watchdog", severity: "none" }, startsAt: "2026-12-03T02:00:00Z", endsAt },
    ]);
    await post(`${url}/api/v2/silences`, {
      matchers: [{ name: "alertname", value: "HostCpuHigh", isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt,
      createdBy: "test",
      comment: "known",
    });
    let alerts: FiringAlert[] | undefined;
    // Alertmanager marks the silenced alert as it applies the silence: wait until it has.
    for (;;) {
      alerts = await firingAlerts(ssh, TIMEOUT_MS, url);
      if (alerts?.length === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(alerts).toEqual([
      {
        name: "NodeDown",
        instance: "bbb1.campus.example:9100",
        since: "2026-12-03T04:00:00.000Z",
        severity: "critical",
        summary: "bbb1.campus.example does not answer its metrics scrape",
      },
      {
        name: "BackupTooOld",
        instance: "lb.campus.example",
        since: "2026-12-03T05:00:00.000Z",
        severity: "critical",
        summary: "The last successful backup of lb.campus.example is 1d 4h old",
      },
    ]);
    const report: StatusReport = {
      target: "campus",
      checkedAt: "2026-12-03T06:00:00Z",
      front: { host: "lb.campus.example", healthCheck: { ok: true, ms: 12 }, scalelite: { ok: true } },
      nodes: [],
      alerts,
      problems: [{ host: "lb.campus.example", kind: "unhealthy", message: "2 alert(s) firing in Alertmanager" }],
      healthy: false,
    };
    const text = renderStatus(report);
    expect(text).toContain("alerts firing:\n  NodeDown [critical] bbb1.campus.example:9100 since 2026-12-03T04:00:00.000Z");
    expect(text).toContain("\n  BackupTooOld [critical] lb.campus.example since 2026-12-03T05:00:00.000Z: The last successful backup");
    expect(describeAlert(alerts![0])).toBe(
      "NodeDown [critical] bbb1.campus.example:9100 since 2026-12-03T04:00:00.000Z: bbb1.campus.example does not answer its metrics scrape",
    );
  });

  it("reports an Alertmanager that does not answer as a problem, without crashing", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const error = await firingAlerts(ssh, TIMEOUT_MS, closed).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).kind).toBe("unhealthy");
    expect((error as OpsError).detail).toMatch(/^Alertmanager \(http:\/\/127\.0\.0\.1:\d+ on the front\) does not answer: curl: \(7\)/);
  });
});
