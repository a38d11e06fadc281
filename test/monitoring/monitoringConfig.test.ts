import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CampusConfigError, parseCampus } from "../../components/config/campus";
import { campusOfStackFile, knownStacks, readStackFile, secretPresence } from "../../components/config/stackFile";
import { frontMonitoringFiles } from "../../components/monitoring/frontMonitoring";
import { describeMonitoring } from "../../components/monitoring/describeMonitoring";
import { EXPORTER_FILES, FRONT_FILES } from "../../components/monitoring/monitoringLayout";
import { renderAlertmanagerYml } from "../../components/monitoring/renderAlertmanagerYml";
import { renderPrometheusYml } from "../../components/monitoring/renderPrometheusYml";
import { renderWebConfig } from "../../components/monitoring/renderWebConfig";
import { selfSignedCert } from "../support/selfSignedCert";
import { testAddresses } from "../support/campusInput";

// Prometheus's and Alertmanager's own checkers (Debian 12's prometheus 2.42 and prometheus-alertmanager
// 0.25) judge what the program writes on the fronts.
const ROOT = path.join(__dirname, "../..");
const has = (tool: string) => spawnSync(tool, ["--version"], { encoding: "utf8" }).status === 0;
const promtool = has("promtool");
const amtool = has("amtool");
if (!promtool) console.warn("monitoring: promtool is not installed (Debian package prometheus): the prometheus.yml checks are SKIPPED");
if (!amtool) console.warn("monitoring: amtool is not installed (Debian package prometheus-alertmanager): the alertmanager.yml checks are SKIPPED");

const work = mkdtempSync(path.join(tmpdir(), "bbb-ovh-monitoring-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The rendered file with its absolute paths moved under DIR, where the files it names are written, so promtool checks them too. */
function underRoot(dir: string, text: string): string {
  const moved = text.replaceAll("/etc/", `${dir}/etc/`);
  mkdirSync(path.join(dir, path.dirname(FRONT_FILES.rules)), { recursive: true });
  mkdirSync(path.join(dir, path.dirname(EXPORTER_FILES.caCert)), { recursive: true });
  copyFileSync(path.join(ROOT, "scripts/monitoring/rules.yml"), path.join(dir, FRONT_FILES.rules));
  writeFileSync(path.join(dir, FRONT_FILES.scrapePassword), "not-a-real-password\n");
  writeFileSync(path.join(dir, FRONT_FILES.smtpPassword), "not-a-real-password\n");
  selfSignedCert({ key: path.join(dir, "ca.key"), cert: path.join(dir, EXPORTER_FILES.caCert), name: "campus CA" });
  return moved;
}

const hosts = [
  { fqdn: "scalelite.campus.example", role: "front" as const, address: "192.0.2.10" },
  { fqdn: "standby.campus.example", role: "standby" as const, address: "198.51.100.20" },
  { fqdn: "bbb1.campus.example", role: "node" as const, address: "203.0.113.31" },
  { fqdn: "bbb2.campus.example", role: "node" as const, address: "203.0.113.32" },
];

interface ScrapeConfig {
  job_name: string;
  scheme?: string;
  honor_labels?: boolean;
  basic_auth?: { username: string; password_file: string };
  tls_config?: { ca_file: string; server_name?: string };
  static_configs: Array<{ targets: string[]; labels: Record<string, string> }>;
}
const jobs = (yml: string) => new Map((parse(yml) as { scrape_configs: ScrapeConfig[] }).scrape_configs.map((j) => [j.job_name, j]));
const targets = (job: ScrapeConfig | undefined) => (job?.static_configs ?? []).flatMap((s) => s.targets.map((t) => `${t} ${s.labels.host}`));

describe("prometheus.yml", () => {
  const yml = renderPrometheusYml({
    campusId: "brest",
    self: "scalelite.campus.example",
    hosts,
    serviceFqdn: "scalelite.campus.example",
    peer: "standby.campus.example",
  });
  const byJob = jobs(yml);

  it("scrapes node_exporter on every host and the BigBlueButton exporter (through each node's nginx) over HTTPS with the scrape login, at each host's address, labelled with its name", () => {
    // By address: the front's name is the service's, which ops failover points at the standby front.
    expect(targets(byJob.get("node"))).toEqual(hosts.map((h) => `${h.address}:9100 ${h.fqdn}`));
    expect(targets(byJob.get("bbb"))).toEqual(["203.0.113.31:9689 bbb1.campus.example", "203.0.113.32:9689 bbb2.campus.example"]);
    for (const job of ["node", "bbb", "prometheus_peer"]) {
      const j = byJob.get(job)!;
      expect(j.scheme, job).toBe("https");
      expect(j.tls_config?.ca_file, job).toBe(EXPORTER_FILES.caCert);
      expect(j.basic_auth, job).toEqual({ username: "prometheus", password_file: FRONT_FILES.scrapePassword });
    }
    // The Scalelite textfile exporter's series carry each node's own host label.
    expect(byJob.get("node")?.honor_labels).toBe(true);
    expect(yml).not.toMatch(/password:/);
  });

  it("probes each node's API and the certificate of the front's and every node's HTTPS name through the local blackbox exporter", () => {
    expect(targets(byJob.get("bbb_api"))).toEqual([
      "https://bbb1.campus.example/bigbluebutton/api bbb1.campus.example",
      "https://bbb2.campus.example/bigbluebutton/api bbb2.campus.example",
    ]);
    expect(targets(byJob.get("https"))).toEqual([
      "https://scalelite.campus.example/ scalelite.campus.example",
      "https://bbb1.campus.example/ bbb1.campus.example",
      "https://bbb2.campus.example/ bbb2.campus.example",
    ]);
    expect(yml).toContain("replacement: 127.0.0.1:9115");
  });

  it("reads the rules pack, alerts its own Alertmanager on loopback and watches the other front's Prometheus", () => {
    const doc = parse(yml) as { rule_files: string[]; alerting: unknown; global: { external_labels: Record<string, string> } };
    expect(doc.rule_files).toEqual([FRONT_FILES.rules]);
    expect(doc.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:9093"] }] }] });
    expect(doc.global.external_labels).toEqual({ campus: "brest", monitor: "scalelite.campus.example" });
    expect(targets(byJob.get("prometheus_peer"))).toEqual(["198.51.100.20:9090 standby.campus.example"]);
    // Its own Prometheus, behind the same web-config as the peer sees, checked against its own name.
    expect(byJob.get("prometheus")?.tls_config?.server_name).toBe("scalelite.campus.example");
    const alone = jobs(
      renderPrometheusYml({ campusId: "brest", self: "scalelite.campus.example", hosts: hosts.slice(0, 1), serviceFqdn: "scalelite.campus.example" }),
    );
    expect([...alone.keys()]).toEqual(["node", "https", "prometheus", "alertmanager"]);
    expect(alone.get("prometheus")?.scheme).toBeUndefined();
  });

  it("refuses, all at once, a bad name, a host listed twice, a front not among the hosts, a peer that is not the other front and a host without an IPv4", () => {
    expect(() =>
      renderPrometheusYml({
        campusId: "x",
        self: "other.campus.example",
        hosts: [...hosts, hosts[2], { fqdn: "Bad Name", role: "node", address: "2001:db8::1" }],
        serviceFqdn: "scalelite.campus.example",
        peer: "bbb9.campus.example",
      }),
    ).toThrow(
      /'Bad Name' is not a host name.*listed twice: bbb1.campus.example.*'other.campus.example' is not among the hosts.*peer 'bbb9.campus.example'.*Bad Name: '2001:db8::1' is not an IPv4 address/,
    );
  });
});

describe("alertmanager.yml", () => {
  const smtp = { smarthost: "smtp.campus.example:587", from: "alerts@campus.example", username: "alerts", requireTls: true };

  it("mails the admin through the stack's SMTP server, the password read from a file, and posts to the webhook when one is set", () => {
    const doc = parse(renderAlertmanagerYml({ to: "it@campus.example", smtp, webhookUrl: "https://chat.campus.example/hook" })) as {
      global: Record<string, unknown>;
      receivers: Array<Record<string, unknown>>;
      route: { receiver: string };
    };
    expect(doc.global).toEqual({
      smtp_smarthost: "smtp.campus.example:587",
      smtp_from: "alerts@campus.example",
      smtp_require_tls: true,
      smtp_auth_username: "alerts",
      smtp_auth_password_file: FRONT_FILES.smtpPassword,
    });
    expect(doc.route.receiver).toBe("admin");
    expect(doc.receivers).toEqual([
      {
        name: "admin",
        email_configs: [{ to: "it@campus.example", send_resolved: true }],
        webhook_configs: [{ url: "https://chat.campus.example/hook", send_resolved: true }],
      },
      { name: "heartbeat" },
    ]);
    const anonymous = parse(renderAlertmanagerYml({ to: "it@campus.example", smtp: { ...smtp, username: undefined } })) as { global: Record<string, unknown> };
    expect(Object.keys(anonymous.global)).not.toContain("smtp_auth_password_file");
  });

  it("refuses a bad address, smarthost and webhook all at once", () => {
    expect(() => renderAlertmanagerYml({ to: "nobody", smtp: { ...smtp, smarthost: "smtp.campus.example" }, webhookUrl: "ftp://x" })).toThrow(
      /'nobody' is not a mail address.*smarthost 'smtp.campus.example' is not host:port.*webhook 'ftp:\/\/x'/,
    );
  });

  it("routes the Watchdog to the heartbeat every 5 minutes, never to the admin; without a heartbeat, to a receiver that sends nothing", () => {
    type Doc = { route: { routes: Array<Record<string, unknown>> }; receivers: Array<Record<string, unknown>> };
    const doc = parse(renderAlertmanagerYml({ to: "it@campus.example", smtp, heartbeatUrl: "https://hc.example/ping/abc" })) as Doc;
    expect(doc.route.routes).toEqual([
      { matchers: ['alertname="Watchdog"'], receiver: "heartbeat", group_wait: "0s", group_interval: "1m", repeat_interval: "5m" },
    ]);
    expect(doc.receivers[1]).toEqual({ name: "heartbeat", webhook_configs: [{ url: "https://hc.example/ping/abc", send_resolved: false }] });
    const without = parse(renderAlertmanagerYml({ to: "it@campus.example", smtp })) as Doc;
    expect(without.receivers[1]).toEqual({ name: "heartbeat" });
    expect(() => renderAlertmanagerYml({ to: "it@campus.example", heartbeatUrl: "ftp://x" })).toThrow(/the heartbeat 'ftp:\/\/x' is not an http\(s\) URL/);
  });

  it.skipIf(!amtool)("amtool routes the Watchdog to the heartbeat only, and every other alert to the admin", () => {
    const dir = path.join(work, "am-routes");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "alertmanager.yml");
    writeFileSync(file, underRoot(dir, renderAlertmanagerYml({ to: "it@campus.example", smtp, heartbeatUrl: "https://hc.example/ping/abc" })));
    const route = (...labels: string[]) => spawnSync("amtool", ["config", "routes", "test", `--config.file=${file}`, ...labels], { encoding: "utf8" });
    expect(route("alertname=Watchdog", "severity=none").stdout.trim()).toBe("heartbeat");
    expect(route("alertname=NodeDown", "host=bbb1.campus.example", "severity=critical").stdout.trim()).toBe("admin");
  });

  it.skipIf(!amtool)("is accepted by amtool check-config, with and without mail and webhook", () => {
    for (const [i, args] of [
      { smtp, webhookUrl: "https://chat.campus.example/hook", heartbeatUrl: "https://hc.example/ping/abc" },
      { smtp: { ...smtp, username: undefined } },
      {},
    ].entries()) {
      const dir = path.join(work, `am${i}`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, "alertmanager.yml");
      writeFileSync(file, underRoot(dir, renderAlertmanagerYml({ to: "it@campus.example", ...args })));
      const run = spawnSync("amtool", ["check-config", file], { encoding: "utf8" });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    }
  });
});

describe("campus.monitoring", () => {
  const file = readStackFile("brest");
  const raw = file.config["bbb-ovh:campus"].value as Record<string, unknown>;
  const problems = (monitoring: unknown, smtpPassword: boolean) => {
    try {
      parseCampus({ ...raw, monitoring }, { ...secretPresence(file), smtpPassword });
      return [];
    } catch (e) {
      if (!(e instanceof CampusConfigError)) throw e;
      return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it("is on by default, keeping 30 days within 10 GB, without mail until smtp is set", () => {
    expect(parseCampus(raw, secretPresence(file)).config.monitoring).toEqual({ enabled: true, retentionDays: 30, diskBudgetGb: 10, grafana: false });
  });

  it("needs bbb-ovh:smtpPassword when the SMTP server wants a login, and reports every bad field at once", () => {
    const smtp = { smarthost: "smtp.isen-ouest.fr:587", from: "alerts@isen-ouest.fr", username: "alerts" };
    expect(problems({ smtp }, true)).toEqual([]);
    expect(problems({ smtp }, false)).toEqual([expect.stringMatching(/^bbb-ovh:smtpPassword: is required when campus.monitoring.smtp.username is set/)]);
    expect(problems({ smtp: { ...smtp, username: undefined } }, false)).toEqual([]);
    expect(problems({ enabled: false, smtp }, false)).toEqual([]);
    const bad = problems({ retentionDays: 0, diskBudgetGb: 1.5, smtp: { smarthost: "smtp.isen-ouest.fr", from: "alerts" }, webhookUrl: "ftp://x" }, false);
    expect(bad.map((p) => p.split(":")[0]).sort()).toEqual(
      [
        "campus.monitoring.diskBudgetGb",
        "campus.monitoring.retentionDays",
        "campus.monitoring.smtp.from",
        "campus.monitoring.smtp.smarthost",
        "campus.monitoring.webhookUrl",
      ].sort(),
    );
  });
});

describe("the plan's monitoring lines", () => {
  it("say where Prometheus runs, how long it keeps, where mail goes, or that monitoring is off", () => {
    const campus = campusOfStackFile(readStackFile("brest"));
    const withMail = {
      ...campus,
      standbyFront: { ...campus.front, fqdn: "standby.isen-ouest.fr" },
      config: {
        ...campus.config,
        monitoring: {
          ...campus.config.monitoring,
          retentionDays: 90,
          diskBudgetGb: 40,
          smtp: { smarthost: "smtp.isen-ouest.fr:587", from: "a@isen-ouest.fr", username: "alerts", requireTls: true },
        },
      },
    };
    const text = describeMonitoring(withMail).join("\n");
    expect(text).toContain(`on ${campus.front.fqdn} and standby.isen-ouest.fr, each watching the other: samples kept 90 days within 40 GB`);
    expect(text).toContain(`mailed to ${campus.config.adminEmail} through smtp.isen-ouest.fr:587 as alerts (password: bbb-ovh:smtpPassword)`);
    expect(text).not.toContain("Grafana");
    const grafana = { ...withMail, config: { ...withMail.config, monitoring: { ...withMail.config.monitoring, grafana: true } } };
    const lines = describeMonitoring(grafana).join("\n");
    expect(lines).toContain(`on https://${campus.front.fqdn}:3000/ and https://standby.isen-ouest.fr:3000/: from campus.adminCidrs only`);
    expect(lines).toContain("dashboards platform, node, recordings, budget");
    expect(lines).toContain("password bbb-ovh:grafanaAdminPassword, or generated (pulumi stack output --show-secrets grafanaAdminPassword)");
    const off = { ...campus, config: { ...campus.config, monitoring: { ...campus.config.monitoring, enabled: false } } };
    expect(describeMonitoring(off)).toEqual([expect.stringMatching(/^Monitoring: off/)]);
    expect(frontMonitoringFiles(off, testAddresses(off))).toEqual([]);
  });
});

describe("web-config", () => {
  it("names the exporter's certificate and key and one bcrypt user, and refuses anything but a bcrypt hash", () => {
    const hash = `$2a$10$${"a".repeat(53)}`;
    expect(parse(renderWebConfig(hash))).toEqual({
      tls_server_config: { cert_file: EXPORTER_FILES.cert, key_file: EXPORTER_FILES.key, min_version: "TLS12" },
      basic_auth_users: { prometheus: hash },
    });
    expect(() => renderWebConfig("plain-password")).toThrow(/not a bcrypt hash/);
  });
});

describe.each(knownStacks())("the shipped stack %s", (stack) => {
  const campus = campusOfStackFile(readStackFile(stack));
  const files = frontMonitoringFiles(campus, testAddresses(campus));

  it("monitors every host from the front, and from the standby front when it has one", () => {
    expect(files.map((f) => f.fqdn)).toEqual([campus.front.fqdn, ...(campus.standbyFront ? [campus.standbyFront.fqdn] : [])]);
    for (const f of files) {
      expect(targets(jobs(f.prometheusYml).get("node")).map((t) => t.split(" ")[1])).toEqual(
        [campus.front, ...(campus.standbyFront ? [campus.standbyFront] : []), ...campus.nodes].map((h) => h.fqdn),
      );
      expect(f.retentionDays).toBe(campus.config.monitoring.retentionDays);
    }
  });

  it("is described in the plan with its retention, disk budget and where alerts go", () => {
    const text = describeMonitoring(campus).join("\n");
    const m = campus.config.monitoring;
    if (!m.enabled) return expect(text).toMatch(/Monitoring: off/);
    expect(text).toContain(`kept ${m.retentionDays} days within ${m.diskBudgetGb} GB`);
    expect(text).toContain(m.smtp ? `mailed to ${campus.config.adminEmail}` : "NOT mailed");
  });

  it.skipIf(!promtool)("has a prometheus.yml that promtool check config accepts, with the rules pack it names", () => {
    for (const f of files) {
      const dir = path.join(work, `${stack}-${f.fqdn}`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, "prometheus.yml");
      writeFileSync(file, underRoot(dir, f.prometheusYml));
      const run = spawnSync("promtool", ["check", "config", file], { encoding: "utf8" });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/SUCCESS: \d+ rules found/);
    }
  });

  it.skipIf(!amtool)("has an alertmanager.yml that amtool check-config accepts", () => {
    for (const f of files) {
      const dir = path.join(work, `${stack}-${f.fqdn}-am`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, "alertmanager.yml");
      writeFileSync(file, underRoot(dir, f.alertmanagerYml));
      const run = spawnSync("amtool", ["check-config", file], { encoding: "utf8" });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    }
  });
});
