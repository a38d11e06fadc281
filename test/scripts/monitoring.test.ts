/**
 * monitoring-node.sh and monitoring-front.sh, run over SSH on loopback test hosts (test/support/sshd.ts)
 * with the fake apt-get and systemctl (test/fakes/bin). What they write is then judged by the real
 * programs of Debian 12: node_exporter serves its metrics with the written web-config (TLS + basic
 * auth), promtool and amtool check the fronts' files (the scripts themselves call them before a file
 * replaces the running one).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";
import { frontMonitoringFiles } from "../../components/monitoring/frontMonitoring";
import { EXPORTER_FILES, FRONT_FILES } from "../../components/monitoring/monitoringLayout";
import { renderWebConfig } from "../../components/monitoring/renderWebConfig";
import { base64 } from "../../components/remote/invocation";
import { calls, mode, output, owner, read, tree } from "../support/hostState";
import { freePort, runStep, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const hosts: TestHost[] = [];
const daemons: ChildProcess[] = [];
afterAll(async () => {
  for (const d of daemons) d.kill();
  await Promise.all(hosts.map((h) => h.stop()));
});

const has = (program: string, args: string[]) => spawnSync(program, args, { encoding: "utf8" }).status === 0;
const nodeExporter = has("prometheus-node-exporter", ["--version"]);
if (!nodeExporter) console.warn("monitoring scripts: prometheus-node-exporter is not installed: serving the written web-config is SKIPPED");

const PASSWORD = "scrape-password-for-tests";
/** A bcrypt hash of PASSWORD by the C library's crypt (libxcrypt's $2b$), as Pulumi's random provider makes one. */
const HASH = execFileSync(
  "python3",
  ["-W", "ignore", "-c", `import crypt; print(crypt.crypt(${JSON.stringify(PASSWORD)}, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))`],
  {
    encoding: "utf8",
  },
).trim();

/** A CA and a certificate it signs for FQDN, made by openssl as @pulumi/tls makes them (ECDSA P-256). */
function certificates(dir: string, fqdn: string): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  execFileSync("openssl", ["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=test monitoring CA", "-keyout", f("ca.key"), "-out", f("ca.pem")], {
    stdio: "ignore",
  });
  execFileSync("openssl", ["req", ...ec, "-subj", `/CN=${fqdn}`, "-keyout", f("host.key"), "-out", f("host.csr")], { stdio: "ignore" });
  writeFileSync(f("ext"), `subjectAltName=DNS:${fqdn}\nextendedKeyUsage=serverAuth\n`);
  execFileSync(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      f("host.csr"),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      f("ext"),
      "-out",
      f("host.pem"),
    ],
    {
      stdio: "ignore",
    },
  );
  const r = (n: string) => execFileSync("cat", [f(n)], { encoding: "utf8" });
  return { ca: r("ca.pem"), cert: r("host.pem"), key: r("host.key") };
}

function nodeInputs(h: TestHost, ports = "9100 9688") {
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

describe("monitoring-front.sh", () => {
  const campus = campusOfStackFile(readStackFile("brest"));
  const files = frontMonitoringFiles({
    ...campus,
    config: {
      ...campus.config,
      monitoring: {
        ...campus.config.monitoring,
        smtp: { smarthost: "smtp.isen-ouest.fr:587", from: "alerts@isen-ouest.fr", username: "alerts", requireTls: true },
      },
    },
  })[0];
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
