/**
 * Where monitoring lives on the hosts (docs/monitoring.md): the ports, paths and user that the steps
 * scripts/monitoring-front.sh and scripts/monitoring-node.sh write, and that other parts plug into
 * (the Scalelite textfile exporter, greenstatic's bigbluebutton-exporter, the dashboards).
 */
export const MONITORING_PORTS = {
  /** node_exporter on every host, TLS + basic auth (its web-config file). */
  nodeExporter: 9100,
  /** greenstatic/bigbluebutton-exporter's default port, on every node, bound to loopback: it has neither TLS nor a login. */
  bbbExporter: 9688,
  /** BigBlueButton's nginx on every node serving the exporter with TLS + basic auth (the node_exporter's scheme): what the fronts scrape. */
  bbbExporterTls: 9689,
  /** Prometheus on each front; reachable from the other front (TLS + basic auth) only when there is a standby. */
  prometheus: 9090,
  /** Alertmanager on each front, loopback only. */
  alertmanager: 9093,
  /** blackbox_exporter on each front, loopback only. */
  blackbox: 9115,
  /** Grafana on each front (campus.monitoring.grafana): HTTPS, admitted from campus.adminCidrs only. */
  grafana: 3000,
} as const;

/** The scrape login every exporter's web-config accepts (its password: a generated Pulumi secret). */
export const SCRAPE_USER = "prometheus";

/** On every host: the exporter's TLS certificate, key, the campus CA and the web-config file naming them. */
export const EXPORTER_DIR = "/etc/bbb-ovh/monitoring";
export const EXPORTER_FILES = {
  caCert: `${EXPORTER_DIR}/ca.pem`,
  cert: `${EXPORTER_DIR}/exporter.pem`,
  key: `${EXPORTER_DIR}/exporter.key`,
  webConfig: `${EXPORTER_DIR}/web-config.yml`,
} as const;

/** Nodes: the nginx server block serving the BigBlueButton exporter (conf.d is included by Ubuntu's nginx.conf, which BigBlueButton keeps). */
export const BBB_EXPORTER_NGINX_SITE = "/etc/nginx/conf.d/bbb-ovh-exporter.conf";
/**
 * Nodes: the scrape login for that server block (auth_basic_user_file), 0640 root:www-data. nginx's workers
 * read it on each request, as www-data, which cannot enter EXPORTER_DIR (0750 root:prometheus); the
 * certificate and key there are read by nginx's master, as root.
 */
export const BBB_EXPORTER_HTPASSWD = "/etc/nginx/bbb-ovh-exporter.htpasswd";

/** node_exporter's textfile collector directory (Debian's default --collector.textfile.directory). */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

/** On the fronts: Prometheus's, Alertmanager's and blackbox_exporter's files (Debian's default config paths). */
export const FRONT_FILES = {
  prometheusYml: "/etc/prometheus/prometheus.yml",
  rules: "/etc/prometheus/bbb-ovh-rules.yml",
  /** The scrape password, read by Prometheus (basic_auth password_file), never on a command line. */
  scrapePassword: "/etc/prometheus/bbb-ovh-scrape-password",
  alertmanagerYml: "/etc/prometheus/alertmanager.yml",
  /** The SMTP password (Alertmanager's smtp_auth_password_file). */
  smtpPassword: "/etc/prometheus/bbb-ovh-smtp-password",
  blackboxYml: "/etc/prometheus/blackbox.yml",
  prometheusData: "/var/lib/prometheus/metrics2",
} as const;

/**
 * Grafana on the fronts (scripts/monitoring-grafana.sh): host paths, and where its container sees them.
 * The container runs as the image's user 472 (grafana's Dockerfile), which owns the data and TLS copies.
 */
export const GRAFANA_FILES = {
  /** Host: provisioning/{datasources,dashboards}/bbb-ovh.yaml, mounted read-only at the image's provisioning path. */
  provisioning: "/etc/bbb-ovh/grafana/provisioning",
  /** Host: the dashboards JSON (scripts/monitoring/dashboards/), mounted read-only at `dashboardsInContainer`. */
  dashboards: "/etc/bbb-ovh/grafana/dashboards",
  /** Host: copies of the exporter certificate and key, readable by user 472. */
  tls: "/etc/bbb-ovh/grafana/tls",
  /** Host: settings and secrets (0600 root), read by docker (--env-file) only. */
  env: "/etc/default/bbb-ovh-grafana",
  /** Host: Grafana's database and plugins. */
  data: "/var/lib/grafana",
  /** Container: GF_PATHS_PROVISIONING of the image. */
  provisioningInContainer: "/etc/grafana/provisioning",
  dashboardsInContainer: "/etc/grafana/bbb-ovh-dashboards",
  tlsInContainer: "/etc/grafana/bbb-ovh-tls",
} as const;

/** The provisioned Prometheus datasource's uid, which the dashboards' `datasource` variable (type prometheus) picks as the default. */
export const GRAFANA_DATASOURCE_UID = "bbb-ovh-prometheus";

/** The rules pack's always-firing alert (scripts/monitoring/rules.yml): a heartbeat, never an alert to anyone. */
export const WATCHDOG_ALERT = "Watchdog";
