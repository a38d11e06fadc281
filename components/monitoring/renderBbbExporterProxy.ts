import { BBB_EXPORTER_HTPASSWD, EXPORTER_FILES, MONITORING_PORTS, SCRAPE_USER } from "./monitoringLayout";
import { assertBcrypt } from "./renderWebConfig";

/** Where the proxy finds the host's certificate, key and the scrape login (tests move them under a prefix). */
export interface ExporterProxyFiles {
  cert: string;
  key: string;
  htpasswd: string;
}

/**
 * The server block BigBlueButton's own nginx runs on every node for greenstatic's exporter, which has
 * neither TLS nor a login (prometheus_client's start_http_server) and so listens on 127.0.0.1 only: the
 * scheme of node_exporter's web-config, served by nginx. TLS with the host's certificate of the campus
 * monitoring CA (what the fronts' Prometheus checks, tls_config.ca_file) and basic auth with the scrape
 * login (auth_basic_user_file: nginx checks the bcrypt hash through the system's crypt()). IPv4 only, as
 * the firewall admits the scrapes (from the fronts' IPv4 addresses); a `listen [::]` would stop nginx, and
 * BigBlueButton with it, on a node without IPv6. Anything but /metrics is refused.
 */
export function renderBbbExporterNginx(files: ExporterProxyFiles = { ...EXPORTER_FILES, htpasswd: BBB_EXPORTER_HTPASSWD }): string {
  return [
    "# Written by bbb-ovh (monitoring-node.sh); changes here are overwritten on the next deployment.",
    "# The BigBlueButton exporter (127.0.0.1 only) for the fronts' Prometheus: TLS and the scrape login.",
    "server {",
    `  listen ${MONITORING_PORTS.bbbExporterTls} ssl;`,
    `  ssl_certificate ${files.cert};`,
    `  ssl_certificate_key ${files.key};`,
    "  ssl_protocols TLSv1.2 TLSv1.3;",
    '  auth_basic "bbb-ovh monitoring";',
    `  auth_basic_user_file ${files.htpasswd};`,
    "  access_log off;",
    "  location = /metrics {",
    `    proxy_pass http://127.0.0.1:${MONITORING_PORTS.bbbExporter};`,
    "    proxy_read_timeout 30s;",
    "  }",
    "  location / {",
    "    return 404;",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The scrape login as nginx's auth_basic_user_file takes it: `user:hash`, the hash the web-config's. */
export function renderHtpasswd(bcryptHash: string): string {
  assertBcrypt(bcryptHash, "htpasswd");
  return `${SCRAPE_USER}:${bcryptHash}\n`;
}
