/**
 * monitoring-node.sh and monitoring-front.sh, run over SSH on loopback test hosts (test/support/sshd.ts)
 * with the fake apt-get and systemctl (test/fakes/bin). What they write is then judged by the real
 * programs of Debian 12: node_exporter serves its metrics with the written web-config (TLS + basic
 * auth), promtool and amtool check the fronts' files (the scripts themselves call them before a file
 * replaces the running one). monitoring-grafana.sh runs with the fake docker (Grafana is no Debian package).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";
import { frontMonitoringFiles } from "../../components/monitoring/frontMonitoring";
import { BBB_EXPORTER_HTPASSWD, BBB_EXPORTER_NGINX_SITE, EXPORTER_FILES, FRONT_FILES, GRAFANA_FILES } from "../../components/monitoring/monitoringLayout";
import { renderBbbExporterNginx, renderHtpasswd } from "../../components/monitoring/renderBbbExporterProxy";
import { renderGrafanaProvisioning } from "../../components/monitoring/renderGrafanaProvisioning";
import { GRAFANA_IMAGE } from "../../components/scalelite/images";
import { renderWebConfig } from "../../components/monitoring/renderWebConfig";
import { base64 } from "../../components/remote/invocation";
import { calls, mode, output, owner, read, tree } from "../support/hostState";
import { freePort, runStep, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";
import { monitoringCerts, SCRAPE_HASH, SCRAPE_PASSWORD } from "../support/monitoringCerts";
import { testAddresses } from "../support/campusInput";

const hosts: TestHost[] = [];
const daemons: ChildProcess[] = [];
afterAll(async () => {
  for (const d of daemons) d.kill();
  await Promise.all(hosts.map((h) => h.stop()));
});

const has = (program: string, args: string[]) => spawnSync(program, args, { encoding: "utf8" }).status === 0;
const nodeExporter = has("prometheus-node-exporter", ["--version"]);
if (!nodeExporter) console.warn("monitoring scripts: prometheus-node-exporter is not installed: serving the written web-config is SKIPPED");

const PASSWORD = SCRAPE_PASSWORD;
const HASH = SCRAPE_HASH;
const certificates = monitoringCerts;

function nodeInputs(h: TestHost, ports = "9100 9689") {
  const c = certificates(path.join(h.root, "..", "certs"), h.fqdn);
  return {
    CA_CERT_B64: base64(c.ca),
    TLS_CERT_B64: base64(c.cert),
    TLS_KEY_B64: base64(c.key),
    WEB_CONFIG_B64: base64(renderWebConfig(HASH)),
    SCRAPE_PORTS: ports,
  };
}

const rel = (p: string) => p.slice(1);
const restarts = (h: TestHost) => calls(h).filter((c) => c.startsWith("systemctl restart"));

describe("monitoring-node.sh", () => {
  it("installs node_exporter, writes its certificate, key and web-config for the prometheus user, points it at them, and changes nothing when run again", async () => {
    const h = await startTestHost({ fqdn: "bbb1.campus.example" });
    hosts.push(h);
    const inputs = nodeInputs(h);
    const first = await runStep(h, "monitoringNode", inputs);
    expect(first.code, output(first)).toBe(0);
    expect(calls(h)).toContain("apt-get -o DPkg::Lock::Timeout=60 install -y -q prometheus-node-exporter");
    expect(mode(h, rel(EXPORTER_FILES.key))).toBe("640");
    expect(owner(h, rel(EXPORTER_FILES.key))).toBe("0:121");
    expect(mode(h, rel(EXPORTER_FILES.webConfig))).toBe("640");
    expect(read(h, rel(EXPORTER_FILES.cert))).toBe(Buffer.from(inputs.TLS_CERT_B64, "base64").toString());
    // Debian 12's node_exporter is 1.5: --web.config.file (the real binary's --help says which).
    expect(read(h, "etc/default/prometheus-node-exporter")).toMatch(
      /^ARGS="--web.listen-address=:9100 --web.config.file=\/etc\/bbb-ovh\/monitoring\/web-config.yml --collector.textfile.directory=\/var\/lib\/prometheus\/node-exporter"$/m,
    );
    expect(restarts(h)).toEqual(["systemctl restart prometheus-node-exporter.service"]);
    expect(output(first)).not.toContain(PASSWORD);

    const before = tree(h);
    const again = await runStep(h, "monitoringNode", inputs);
    expect(again.code, output(again)).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(restarts(h)).toHaveLength(1);
    expect(again.stdout).toContain("already up to date");
  });

  it("refuses inputs that are not PEM, naming them, before installing anything", async () => {
    const h = await startTestHost({ fqdn: "bbb2.campus.example" });
    hosts.push(h);
    const r = await runStep(h, "monitoringNode", { ...nodeInputs(h), TLS_CERT_B64: base64("not a certificate"), SCRAPE_PORTS: "9100;reboot" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/SCRAPE_PORTS must be port numbers/);
    expect(calls(h).filter((c) => c.startsWith("apt-get"))).toEqual([]);
  });

  it.skipIf(!nodeExporter)("writes a web-config on which the real node_exporter serves TLS to the scrape login only", async () => {
    const h = await startTestHost({ fqdn: "bbb3.campus.example" });
    hosts.push(h);
    expect((await runStep(h, "monitoringNode", nodeInputs(h))).code).toBe(0);
    // The file as written, its paths moved under the test host's root (the exporter reads them there).
    const config = path.join(h.root, "web-config.test.yml");
    writeFileSync(config, read(h, rel(EXPORTER_FILES.webConfig)).replaceAll("/etc/", `${h.root}/etc/`));
    const port = await freePort();
    const exporter = spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${port}`, `--web.config.file=${config}`], { stdio: "ignore" });
    daemons.push(exporter);
    const curl = (...args: string[]) =>
      spawnSync(
        "/usr/bin/curl",
        [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "--resolve",
          `${h.fqdn}:${port}:127.0.0.1`,
          "--cacert",
          path.join(h.root, rel(EXPORTER_FILES.caCert)),
          ...args,
          `https://${h.fqdn}:${port}/metrics`,
        ],
        { encoding: "utf8" },
      ).stdout;
    await waitUntil(() => curl("-u", `prometheus:${PASSWORD}`) === "200");
    expect(curl()).toBe("401");
    expect(curl("-u", "prometheus:wrong")).toBe("401");
  });
});

describe("monitoring-node.sh on a node: the BigBlueButton exporter behind nginx", () => {
  const site = renderBbbExporterNginx();
  const proxyInputs = (h: TestHost, overrides: Record<string, string> = {}) => ({
    ...nodeInputs(h),
    EXPORTER_NGINX_B64: base64(site),
    HTPASSWD_B64: base64(renderHtpasswd(HASH)),
    ...overrides,
  });
  const nginxCalls = (h: TestHost) => calls(h).filter((c) => c.startsWith("nginx") || c === "systemctl reload nginx");
  /** BigBlueButton's nginx as bbb-install leaves it: conf.d, and its unit running (the fake systemctl's state). */
  function withNginx(h: TestHost, active: boolean): void {
    mkdirSync(path.join(h.root, "etc/nginx/conf.d"), { recursive: true });
    mkdirSync(path.join(h.root, "lib/systemd/system"), { recursive: true });
    writeFileSync(path.join(h.root, "lib/systemd/system/nginx.service"), "[Service]\nExecStart=/usr/sbin/nginx\n");
    mkdirSync(path.join(h.root, "fake-state/systemd"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/systemd/nginx.service.active"), active ? "active\n" : "inactive\n");
  }

  it("writes the server block and the login nginx's workers read, checks it with nginx -t, reloads nginx once; a second run touches nothing", async () => {
    const h = await startTestHost({ fqdn: "bbb5.campus.example" });
    hosts.push(h);
    withNginx(h, true);
    const inputs = proxyInputs(h);
    const first = await runStep(h, "monitoringNode", inputs);
    expect(first.code, output(first)).toBe(0);
    expect(read(h, rel(BBB_EXPORTER_NGINX_SITE))).toBe(site);
    expect(read(h, rel(BBB_EXPORTER_HTPASSWD))).toBe(`prometheus:${HASH}\n`);
    expect(mode(h, rel(BBB_EXPORTER_HTPASSWD))).toBe("640");
    expect(owner(h, rel(BBB_EXPORTER_HTPASSWD))).toBe(`0:${execFileSync("getent", ["group", "www-data"], { encoding: "utf8" }).split(":")[2]}`);
    expect(nginxCalls(h)).toEqual(["nginx -t", "systemctl reload nginx"]);
    const before = tree(h);
    const again = await runStep(h, "monitoringNode", inputs);
    expect(again.code, output(again)).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(nginxCalls(h)).toHaveLength(2);
  });

  it("puts a server block nginx -t refuses back as it was, and reloads on the next run after a reload that failed", async () => {
    const h = await startTestHost({ fqdn: "bbb6.campus.example" });
    hosts.push(h);
    withNginx(h, false);
    // nginx not running: the reload fails after the files are in place; the next run, nginx up, still reloads.
    expect((await runStep(h, "monitoringNode", proxyInputs(h))).code).not.toBe(0);
    withNginx(h, true);
    const retried = await runStep(h, "monitoringNode", proxyInputs(h));
    expect(retried.code, output(retried)).toBe(0);
    expect(nginxCalls(h).filter((c) => c === "systemctl reload nginx")).toHaveLength(2);

    const broken = await runStep(
      h,
      "monitoringNode",
      proxyInputs(h, { EXPORTER_NGINX_B64: base64(site.replace("auth_basic_user_file", "auth_basic_user_fil")) }),
    );
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/nginx refused the exporter's server block \(put back as it was\):.*unknown directive "auth_basic_user_fil"/);
    expect(read(h, rel(BBB_EXPORTER_NGINX_SITE))).toBe(site);
    expect(nginxCalls(h).filter((c) => c === "systemctl reload nginx")).toHaveLength(2);
  });

  it("refuses a server block without its login, or a node without nginx, before installing anything", async () => {
    const h = await startTestHost({ fqdn: "bbb7.campus.example" });
    hosts.push(h);
    const r = await runStep(h, "monitoringNode", { ...nodeInputs(h), EXPORTER_NGINX_B64: base64(site) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("EXPORTER_NGINX_B64 and HTPASSWD_B64 (user:bcrypt hash) go together");
    const s = await runStep(h, "monitoringNode", proxyInputs(h));
    expect(s.stderr).toContain("/etc/nginx/conf.d is missing");
    expect(calls(h).filter((c) => c.startsWith("apt-get"))).toEqual([]);
  });
});

describe("monitoring-front.sh", () => {
  const campus = campusOfStackFile(readStackFile("brest"));
  const withMail = {
    ...campus,
    config: {
      ...campus.config,
      monitoring: {
        ...campus.config.monitoring,
        smtp: { smarthost: "smtp.isen-ouest.fr:587", from: "alerts@isen-ouest.fr", username: "alerts", requireTls: true },
      },
    },
  };
  const files = frontMonitoringFiles(withMail, testAddresses(withMail))[0];
  const frontInputs = (overrides: Record<string, string> = {}) => ({
    PROMETHEUS_YML_B64: base64(files.prometheusYml),
    ALERTMANAGER_YML_B64: base64(files.alertmanagerYml),
    BLACKBOX_YML_B64: base64(files.blackboxYml),
    RETENTION_DAYS: String(files.retentionDays),
    DISK_BUDGET_GB: String(files.diskBudgetGb),
    SCRAPE_PASSWORD: PASSWORD,
    SMTP_PASSWORD: "smtp-password-for-tests",
    ...overrides,
  });

  it("installs Prometheus, Alertmanager and blackbox_exporter, writes checked configs, the rules pack and the password files, with retention and disk budget; a second run restarts nothing", async () => {
    const h = await startTestHost({ fqdn: campus.front.fqdn });
    hosts.push(h);
    expect((await runStep(h, "monitoringNode", nodeInputs(h, "9100"))).code).toBe(0);
    const first = await runStep(h, "monitoringFront", frontInputs());
    expect(first.code, output(first)).toBe(0);
    expect(calls(h)).toContain("apt-get -o DPkg::Lock::Timeout=60 install -y -q prometheus prometheus-alertmanager prometheus-blackbox-exporter");
    expect(read(h, rel(FRONT_FILES.prometheusYml))).toBe(files.prometheusYml);
    expect(read(h, rel(FRONT_FILES.rules))).toBe(readFileSync(path.join(__dirname, "../../scripts/monitoring/rules.yml"), "utf8"));
    for (const secret of [FRONT_FILES.scrapePassword, FRONT_FILES.smtpPassword, FRONT_FILES.alertmanagerYml]) {
      expect(mode(h, rel(secret)), secret).toBe("640");
      expect(owner(h, rel(secret)), secret).toBe("0:121");
    }
    expect(read(h, rel(FRONT_FILES.scrapePassword))).toBe(PASSWORD);
    // Alertmanager 0.25 (Debian 12) reads the SMTP password from its file: it is not in the config.
    expect(read(h, rel(FRONT_FILES.alertmanagerYml))).toContain(`smtp_auth_password_file: ${FRONT_FILES.smtpPassword}`);
    expect(read(h, rel(FRONT_FILES.alertmanagerYml))).not.toContain("smtp-password-for-tests");
    expect(read(h, "etc/default/prometheus")).toContain(
      `--storage.tsdb.retention.time=${files.retentionDays}d --storage.tsdb.retention.size=${files.diskBudgetGb}GB --web.listen-address=127.0.0.1:9090"`,
    );
    expect(read(h, "etc/default/prometheus-alertmanager")).toContain("--web.listen-address=127.0.0.1:9093 --cluster.listen-address=");
    expect(read(h, "etc/default/prometheus-blackbox-exporter")).toContain("--web.listen-address=127.0.0.1:9115");
    expect(restarts(h).sort()).toEqual([
      "systemctl restart prometheus-alertmanager.service",
      "systemctl restart prometheus-blackbox-exporter.service",
      "systemctl restart prometheus-node-exporter.service",
      "systemctl restart prometheus.service",
    ]);
    expect(output(first)).not.toContain(PASSWORD);

    const before = tree(h);
    const again = await runStep(h, "monitoringFront", frontInputs());
    expect(again.code, output(again)).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(restarts(h)).toHaveLength(4);

    // With a peer front, Prometheus listens on every address behind the exporter's web-config.
    expect((await runStep(h, "monitoringFront", frontInputs({ PEER: "true", RETENTION_DAYS: "90" }))).code).toBe(0);
    expect(read(h, "etc/default/prometheus")).toContain("retention.time=90d");
    expect(read(h, "etc/default/prometheus")).toContain(`--web.listen-address=0.0.0.0:9090 --web.config.file=${EXPORTER_FILES.webConfig}"`);
    expect(restarts(h).filter((c) => c === "systemctl restart prometheus.service")).toHaveLength(2);
  });

  it("with an Alertmanager older than 0.25 (no smtp_auth_password_file), writes the password inline in the private config instead", async () => {
    const h = await startTestHost({ fqdn: "front4.campus.example", env: { FAKE_ALERTMANAGER_VERSION: "0.23.0" } });
    hosts.push(h);
    expect((await runStep(h, "monitoringNode", nodeInputs(h, "9100"))).code).toBe(0);
    const r = await runStep(h, "monitoringFront", frontInputs({ SMTP_PASSWORD: "it's|&\\1 tricky" }));
    expect(r.code, output(r)).toBe(0);
    const config = read(h, rel(FRONT_FILES.alertmanagerYml));
    expect(config).not.toContain("smtp_auth_password_file");
    expect(config).toContain("  smtp_auth_password: 'it''s|&\\1 tricky'\n");
    expect(mode(h, rel(FRONT_FILES.alertmanagerYml))).toBe("640");
    // YAML reads back the exact password.
    expect((parse(config) as { global: Record<string, string> }).global.smtp_auth_password).toBe("it's|&\\1 tricky");
  });

  it("keeps the running configuration when promtool refuses the new one, and says why", async () => {
    const h = await startTestHost({ fqdn: "front2.campus.example" });
    hosts.push(h);
    expect((await runStep(h, "monitoringNode", nodeInputs(h, "9100"))).code).toBe(0);
    expect((await runStep(h, "monitoringFront", frontInputs())).code).toBe(0);
    const broken = files.prometheusYml.replace("scrape_interval: 30s", "scrape_interval: soon");
    const r = await runStep(h, "monitoringFront", frontInputs({ PROMETHEUS_YML_B64: base64(broken) }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/prometheus.yml was refused by promtool/);
    expect(read(h, rel(FRONT_FILES.prometheusYml))).toBe(files.prometheusYml);
  });

  it("stops, naming what is missing, when node_exporter's step has not run on the host", async () => {
    const h = await startTestHost({ fqdn: "front3.campus.example" });
    hosts.push(h);
    const r = await runStep(h, "monitoringFront", frontInputs({ RETENTION_DAYS: "a month" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/RETENTION_DAYS must be a number of days.*ca.pem is missing: monitoring-node.sh has not run/);
  });
});

describe("monitoring-grafana.sh", () => {
  const FRONT = "visio.campus.example";
  const ADMIN = "grafana-admin-password-for-tests";
  const grafanaInputs = (h: TestHost, overrides: Record<string, string> = {}) => {
    const p = renderGrafanaProvisioning({ self: FRONT, peer: "SCRAPE_PASSWORD" in overrides, caPem: read(h, rel(EXPORTER_FILES.caCert)) });
    return {
      FQDN: FRONT,
      GRAFANA_IMAGE,
      DATASOURCES_YML_B64: base64(p.datasources),
      DASHBOARDS_YML_B64: base64(p.dashboards),
      ADMIN_PASSWORD: ADMIN,
      ...overrides,
    };
  };
  const knob = (h: TestHost, name: string, value: string) => {
    mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/knobs", name), value);
  };
  const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
  /** What Grafana's CLI last set as the admin password (the fake docker keeps its hash). */
  const adminPasswordSet = (h: TestHost) => read(h, "fake-state/grafana-admin-password.sha256").trim();
  const resets = (h: TestHost) => calls(h).filter((c) => c.includes("reset-admin-password"));
  const unit = (h: TestHost) => read(h, "etc/systemd/system/bbb-ovh-grafana.service");

  async function front(env: Record<string, string> = {}): Promise<TestHost> {
    const h = await startTestHost({ fqdn: FRONT, env: { RESET_DELAY: "0.1", ...env } });
    hosts.push(h);
    expect((await runStep(h, "monitoringNode", nodeInputs(h, "9100"))).code).toBe(0);
    return h;
  }

  it("runs Grafana's image by a locked digest on the host network over HTTPS, provisioned with the datasource and every dashboard, the admin password through its CLI; a second run changes nothing", async () => {
    const h = await front();
    const inputs = grafanaInputs(h);
    const first = await runStep(h, "monitoringGrafana", inputs);
    expect(first.code, output(first)).toBe(0);
    // Grafana's image, pulled once by tag and then run by the digest recorded in the lock.
    const lock = read(h, "var/lib/bbb-ovh/image-lock");
    const locked = lock.split("\n").find((l) => l.startsWith(`${GRAFANA_IMAGE}@sha256:`));
    expect(locked).toBeDefined();
    const exec = unit(h).match(/^ExecStart=(.*)$/m)![1];
    expect(exec).toContain(" --network host ");
    expect(exec).toContain(` --user 472:0 `);
    expect(exec.endsWith(` ${locked}`)).toBe(true);
    // Each mount's source on the host, by its target in the container.
    const mounts = Object.fromEntries([...exec.matchAll(/--mount type=bind,source=([^,]+),target=([^, ]+)/g)].map((m) => [m[2], m[1]]));
    // The provider's path is a mount of the directory where every shipped dashboard now is.
    const provider = parse(read(h, rel(`${GRAFANA_FILES.provisioning}/dashboards/bbb-ovh.yaml`))).providers[0];
    const shipped = readdirSync(path.join(__dirname, "../../scripts/monitoring/dashboards")).sort();
    const mounted = path.join(h.root, rel(mounts[provider.options.path]));
    expect(readdirSync(mounted).sort()).toEqual(shipped);
    for (const f of shipped)
      expect(readFileSync(path.join(mounted, f), "utf8")).toBe(readFileSync(path.join(__dirname, "../../scripts/monitoring/dashboards", f), "utf8"));
    expect(mounts[GRAFANA_FILES.provisioningInContainer]).toBe(GRAFANA_FILES.provisioning);
    expect(read(h, rel(`${GRAFANA_FILES.provisioning}/datasources/bbb-ovh.yaml`))).toBe(Buffer.from(inputs.DATASOURCES_YML_B64, "base64").toString());
    // HTTPS with the host's monitoring certificate, the key a copy only Grafana's user reads.
    const env = read(h, rel(GRAFANA_FILES.env));
    expect(mode(h, rel(GRAFANA_FILES.env))).toBe("600");
    expect(env).toMatch(/^GF_SERVER_PROTOCOL=https$/m);
    expect(env).toMatch(/^GF_AUTH_ANONYMOUS_ENABLED=false$/m);
    expect(env).toMatch(/^GF_USERS_ALLOW_SIGN_UP=false$/m);
    expect(env).toContain(`GF_SERVER_CERT_KEY=${GRAFANA_FILES.tlsInContainer}/key.pem`);
    expect(env).not.toContain("BBB_OVH_SCRAPE_PASSWORD");
    expect(mounts[GRAFANA_FILES.tlsInContainer]).toBe(GRAFANA_FILES.tls);
    expect(read(h, rel(`${GRAFANA_FILES.tls}/key.pem`))).toBe(read(h, rel(EXPORTER_FILES.key)));
    expect(mode(h, rel(`${GRAFANA_FILES.tls}/key.pem`))).toBe("600");
    expect(owner(h, rel(`${GRAFANA_FILES.tls}/key.pem`))).toBe("472:0");
    expect(owner(h, rel(GRAFANA_FILES.data))).toBe("472:0");
    const grafanaRestarts = () => restarts(h).filter((c) => c.includes("grafana"));
    expect(grafanaRestarts()).toEqual(["systemctl restart bbb-ovh-grafana.service"]);
    // The admin password: on the CLI's stdin (docker exec -i), never in an argv or the output.
    expect(resets(h)).toEqual(["docker exec -i bbb-ovh-grafana grafana cli admin reset-admin-password --password-from-stdin"]);
    expect(adminPasswordSet(h)).toBe(sha256(ADMIN));
    expect(calls(h).join("\n")).not.toContain(ADMIN);
    expect(output(first)).not.toContain(ADMIN);

    const before = tree(h);
    const again = await runStep(h, "monitoringGrafana", inputs);
    expect(again.code, output(again)).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(grafanaRestarts()).toHaveLength(1);
    expect(resets(h)).toHaveLength(1);
    expect(calls(h).filter((c) => c.startsWith("docker pull"))).toHaveLength(1);
  });

  it("sets a changed admin password once Grafana's CLI accepts it, and still sets it on the next run after giving up", async () => {
    const h = await front({ RESET_ATTEMPTS: "3" });
    expect((await runStep(h, "monitoringGrafana", grafanaInputs(h))).code).toBe(0);
    // Beside a standby, the datasource's login goes into the env file with the new password.
    knob(h, "FAKE_GRAFANA_CLI_REFUSALS", "2");
    const changed = await runStep(h, "monitoringGrafana", grafanaInputs(h, { ADMIN_PASSWORD: "second-admin-password", SCRAPE_PASSWORD: PASSWORD }));
    expect(changed.code, output(changed)).toBe(0);
    expect(resets(h)).toHaveLength(4);
    expect(adminPasswordSet(h)).toBe(sha256("second-admin-password"));
    expect(read(h, rel(GRAFANA_FILES.env))).toContain(`BBB_OVH_SCRAPE_PASSWORD=${PASSWORD}\n`);
    expect(parse(read(h, rel(`${GRAFANA_FILES.provisioning}/datasources/bbb-ovh.yaml`))).datasources[0].url).toBe("https://127.0.0.1:9090");

    // Grafana never takes it within the attempts: the step fails, and the next run sets it although its env file is written.
    knob(h, "FAKE_GRAFANA_CLI_REFUSALS", "1000");
    const third = grafanaInputs(h, { ADMIN_PASSWORD: "third-admin-password", SCRAPE_PASSWORD: PASSWORD });
    const refused = await runStep(h, "monitoringGrafana", third);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Grafana's CLI did not set the admin password after 3 attempts");
    expect(adminPasswordSet(h)).toBe(sha256("second-admin-password"));
    knob(h, "FAKE_GRAFANA_CLI_REFUSALS", "0");
    const again = await runStep(h, "monitoringGrafana", third);
    expect(again.code, output(again)).toBe(0);
    expect(adminPasswordSet(h)).toBe(sha256("third-admin-password"));
    expect(output(again)).not.toContain("third-admin-password");
  });

  it("stops, naming every problem, before installing anything", async () => {
    const h = await startTestHost({ fqdn: "front4.campus.example" });
    hosts.push(h);
    const p = renderGrafanaProvisioning({ self: FRONT, peer: false, caPem: "" });
    const r = await runStep(h, "monitoringGrafana", {
      FQDN: FRONT,
      GRAFANA_IMAGE,
      DATASOURCES_YML_B64: base64(p.datasources),
      DASHBOARDS_YML_B64: base64(p.dashboards),
      ADMIN_PASSWORD: "short",
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ADMIN_PASSWORD must be one word of at least 12 characters.*exporter\.\{pem,key\} are missing: monitoring-node.sh has not run/);
    expect(calls(h).filter((c) => c.startsWith("apt-get") || c.startsWith("docker"))).toEqual([]);
  });
});
