import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { remote } from "@pulumi/command";
import type { Campus } from "../config/campus";
import type { HostSteps } from "../remote/HostStep";
import { base64 } from "../remote/invocation";
import { frontMonitoringFiles, type FrontMonitoringFiles } from "./frontMonitoring";
import { MONITORING_PORTS } from "./monitoringLayout";
import { renderWebConfig } from "./renderWebConfig";
import { renderBbbExporterNginx, renderHtpasswd } from "./renderBbbExporterProxy";
import { renderGrafanaProvisioning } from "./renderGrafanaProvisioning";
import { GRAFANA_IMAGE, imagePins } from "../scalelite/images";

/** A host to monitor: its FQDN and public IPv4, its steps, and the step after which its exporter may listen (its firewall). */
export interface MonitoredHostSteps {
  fqdn: string;
  ipv4: pulumi.Input<string>;
  role: "front" | "standby" | "node";
  steps: HostSteps;
  after: pulumi.Resource[];
}

/** Ten years, as the replication CA (components/scalelite/standby.ts): it never leaves the campus hosts. */
const VALIDITY_HOURS = 10 * 365 * 24;

/**
 * Monitoring of a campus (docs/monitoring.md): a CA of its own, a certificate per host for its exporters,
 * one scrape password (its bcrypt hash in every exporter's web-config), node_exporter on every host
 * (monitoring-node.sh), then Prometheus, Alertmanager and blackbox_exporter on each front
 * (monitoring-front.sh), and with campus.monitoring.grafana Grafana on each front (monitoring-grafana.sh),
 * its admin password bbb-ovh:grafanaAdminPassword or generated here. Nothing when campus.monitoring.enabled is false.
 */
export class CampusMonitoring extends pulumi.ComponentResource {
  readonly frontSteps: remote.Command[] = [];
  /** Grafana's admin password (secret), when campus.monitoring.grafana. */
  readonly grafanaAdminPassword?: pulumi.Output<string>;

  constructor(
    name: string,
    args: { campus: Campus; hosts: MonitoredHostSteps[]; smtpPassword?: pulumi.Output<string>; grafanaAdminPassword?: pulumi.Output<string> },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("bbb-ovh:monitoring:CampusMonitoring", name, {}, opts);
    const { campus, hosts } = args;
    const opt = { parent: this };
    // Scraped by address (renderPrometheusYml.ts MonitoredHost), so the files are known once every host's address is.
    const addresses = pulumi.all(Object.fromEntries(hosts.map((h) => [h.fqdn, h.ipv4])));
    const files = addresses.apply((a) => new Map(frontMonitoringFiles(campus, a).map((f) => [f.fqdn, f])));
    const peer = campus.standbyFront !== undefined;

    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opt);
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        validityPeriodHours: VALIDITY_HOURS,
        allowedUses: ["cert_signing", "crl_signing"],
        subject: { commonName: `${campus.config.id} monitoring CA` },
      },
      opt,
    );
    const password = new random.RandomPassword(`${name}-scrape-password`, { length: 32, special: false }, opt);
    const webConfig = pulumi.secret(password.bcryptHash.apply((hash) => base64(renderWebConfig(hash))));
    const htpasswd = pulumi.secret(password.bcryptHash.apply((hash) => base64(renderHtpasswd(hash))));
    if (campus.config.monitoring.grafana)
      this.grafanaAdminPassword = pulumi.secret(
        args.grafanaAdminPassword ?? new random.RandomPassword(`${name}-grafana-admin-password`, { length: 24, special: false }, opt).result,
      );

    for (const host of hosts) {
      const key = new tls.PrivateKey(`${name}-${host.fqdn}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opt);
      const request = new tls.CertRequest(
        `${name}-${host.fqdn}-csr`,
        { privateKeyPem: key.privateKeyPem, subject: { commonName: host.fqdn }, dnsNames: [host.fqdn], ipAddresses: [host.ipv4] },
        opt,
      );
      const cert = new tls.LocallySignedCert(
        `${name}-${host.fqdn}-cert`,
        {
          certRequestPem: request.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: VALIDITY_HOURS,
          allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        opt,
      );
      const fronts = host.role !== "node";
      const ports =
        host.role === "node" ? [MONITORING_PORTS.nodeExporter, MONITORING_PORTS.bbbExporterTls] : [MONITORING_PORTS.nodeExporter, MONITORING_PORTS.prometheus];
      const exporter = host.steps.run(
        "monitoringNode",
        {
          CA_CERT_B64: ca.certPem.apply(base64),
          TLS_CERT_B64: cert.certPem.apply(base64),
          TLS_KEY_B64: pulumi.secret(key.privateKeyPem.apply(base64)),
          WEB_CONFIG_B64: webConfig,
          SCRAPE_PORTS: ports.join(" "),
          // greenstatic's exporter listens on the node's loopback only; its nginx serves it with this certificate and login.
          EXPORTER_NGINX_B64: host.role === "node" ? base64(renderBbbExporterNginx()) : undefined,
          HTPASSWD_B64: host.role === "node" ? htpasswd : undefined,
        },
        { dependsOn: host.after, parent: this },
      );
      if (!fronts) continue;
      const file = (pick: (f: FrontMonitoringFiles) => string | number) => files.apply((m) => String(pick(m.get(host.fqdn)!)));
      const prometheus = host.steps.run(
        "monitoringFront",
        {
          PROMETHEUS_YML_B64: file((f) => base64(f.prometheusYml)),
          ALERTMANAGER_YML_B64: file((f) => base64(f.alertmanagerYml)),
          BLACKBOX_YML_B64: file((f) => base64(f.blackboxYml)),
          RETENTION_DAYS: file((f) => f.retentionDays),
          DISK_BUDGET_GB: file((f) => f.diskBudgetGb),
          SCRAPE_PASSWORD: pulumi.secret(password.result),
          SMTP_PASSWORD: campus.config.monitoring.smtp?.username ? args.smtpPassword : undefined,
          PEER: peer ? "true" : undefined,
        },
        { dependsOn: [exporter], parent: this },
      );
      this.frontSteps.push(prometheus);
      if (!this.grafanaAdminPassword) continue;
      const provisioning = ca.certPem.apply((caPem) => renderGrafanaProvisioning({ self: host.fqdn, peer, caPem }));
      host.steps.run(
        "monitoringGrafana",
        {
          FQDN: host.fqdn,
          GRAFANA_IMAGE,
          DATASOURCES_YML_B64: provisioning.apply((p) => base64(p.datasources)),
          DASHBOARDS_YML_B64: provisioning.apply((p) => base64(p.dashboards)),
          ADMIN_PASSWORD: this.grafanaAdminPassword,
          SCRAPE_PASSWORD: peer ? pulumi.secret(password.result) : undefined,
          IMAGE_PINS: imagePins([GRAFANA_IMAGE]) || undefined,
        },
        { dependsOn: [prometheus], parent: this },
      );
    }
    this.registerOutputs({});
  }
}
