import { isIP } from "node:net";
import { stringify } from "yaml";
import { EXPORTER_FILES, FRONT_FILES, MONITORING_PORTS, SCRAPE_USER } from "./monitoringLayout";

export type MonitoredRole = "front" | "standby" | "node";

export interface MonitoredHost {
  fqdn: string;
  role: MonitoredRole;
  /**
   * Its public IPv4, what its exporters are scraped at (their certificates name it beside the FQDN): the front's
   * FQDN is also the service's name, which `ops failover` points at the standby front, and a scrape by name would
   * then reach the standby front under the front's label, or nothing while DNS does not answer.
   */
  address: string;
}

export interface PrometheusYmlArgs {
  campusId: string;
  /** The front this Prometheus runs on (its FQDN), the `monitor` label of what it sends. */
  self: string;
  /** Every host of the campus: the front, the standby front if any, the nodes. */
  hosts: readonly MonitoredHost[];
  /** The name the campus's Scalelite answers on (https://<front>/), probed for its certificate. */
  serviceFqdn: string;
  /** The other front's Prometheus (its FQDN, among the hosts), scraped so that each front notices the other's monitoring stopping. */
  peer?: string;
  scrapeIntervalSeconds?: number;
}

const dnsName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** How every exporter is reached: HTTPS checked against the campus CA, with the scrape login (renderWebConfig). */
const remoteScrape = {
  scheme: "https",
  tls_config: { ca_file: EXPORTER_FILES.caCert },
  basic_auth: { username: SCRAPE_USER, password_file: FRONT_FILES.scrapePassword },
};

/**
 * blackbox_exporter's usual relabelling (its README, "Prometheus Configuration"): the URL becomes the
 * probe's target parameter, the probe goes to the local exporter, and `host` says which host it is about.
 */
function probeJob(job: string, module: string, targets: { url: string; host: string }[]) {
  return {
    job_name: job,
    metrics_path: "/probe",
    params: { module: [module] },
    static_configs: targets.map(({ url, host }) => ({ targets: [url], labels: { host } })),
    relabel_configs: [
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: `127.0.0.1:${MONITORING_PORTS.blackbox}` },
    ],
  };
}

/**
 * /etc/prometheus/prometheus.yml of a front. Job names and the `host` label are what the rules pack
 * (scripts/monitoring/rules.yml) reads: `node` (node_exporter on every host, including both fronts),
 * `bbb` (the BigBlueButton exporter on every node), `bbb_api` (blackbox, each node's API) and `https`
 * (blackbox, the certificate of every HTTPS name). `node` honours the labels it scrapes, so that the
 * textfile collector's series (the Scalelite exporter's, one per node) keep their own `host`.
 */
export function renderPrometheusYml(args: PrometheusYmlArgs): string {
  const { campusId, self, hosts, serviceFqdn, peer, scrapeIntervalSeconds = 30 } = args;
  const problems: string[] = [];
  for (const name of [self, serviceFqdn, ...(peer ? [peer] : []), ...hosts.map((h) => h.fqdn)])
    if (!dnsName.test(name)) problems.push(`'${name}' is not a host name`);
  const fqdns = hosts.map((h) => h.fqdn);
  const repeated = fqdns.filter((f, i) => fqdns.indexOf(f) !== i);
  if (repeated.length > 0) problems.push(`hosts listed twice: ${[...new Set(repeated)].join(", ")}`);
  if (!fqdns.includes(self)) problems.push(`this front '${self}' is not among the hosts`);
  if (peer !== undefined && (!fqdns.includes(peer) || peer === self)) problems.push(`the peer '${peer}' must be the other front among the hosts`);
  for (const h of hosts) if (isIP(h.address) !== 4) problems.push(`${h.fqdn}: '${h.address}' is not an IPv4 address`);
  if (!Number.isInteger(scrapeIntervalSeconds) || scrapeIntervalSeconds < 5 || scrapeIntervalSeconds > 300)
    problems.push(`the scrape interval must be 5 to 300 seconds, got ${scrapeIntervalSeconds}`);
  if (problems.length > 0) throw new Error(`prometheus.yml: ${problems.join("; ")}`);

  const nodes = hosts.filter((h) => h.role === "node");
  const labelled = (list: readonly MonitoredHost[], port: number) =>
    list.map((h) => ({ targets: [`${h.address}:${port}`], labels: { host: h.fqdn, role: h.role } }));
  const peerHost = hosts.find((h) => h.fqdn === peer);
  return stringify({
    global: {
      scrape_interval: `${scrapeIntervalSeconds}s`,
      evaluation_interval: `${scrapeIntervalSeconds}s`,
      // Both fronts send the same alerts: the mail says which one saw it.
      external_labels: { campus: campusId, monitor: self },
    },
    rule_files: [FRONT_FILES.rules],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${MONITORING_PORTS.alertmanager}`] }] }] },
    scrape_configs: [
      { job_name: "node", honor_labels: true, ...remoteScrape, static_configs: labelled(hosts, MONITORING_PORTS.nodeExporter) },
      // greenstatic's exporter has neither TLS nor a login: it listens on the node's loopback, and the node's
      // own nginx serves it with the host's certificate and the scrape login (renderBbbExporterProxy.ts).
      ...(nodes.length > 0 ? [{ job_name: "bbb", ...remoteScrape, static_configs: labelled(nodes, MONITORING_PORTS.bbbExporterTls) }] : []),
      ...(nodes.length > 0
        ? [
            probeJob(
              "bbb_api",
              "https_2xx",
              nodes.map((h) => ({ url: `https://${h.fqdn}/bigbluebutton/api`, host: h.fqdn })),
            ),
          ]
        : []),
      probeJob("https", "https_2xx", [
        { url: `https://${serviceFqdn}/`, host: serviceFqdn },
        ...nodes.filter((h) => h.fqdn !== serviceFqdn).map((h) => ({ url: `https://${h.fqdn}/`, host: h.fqdn })),
      ]),
      {
        job_name: "prometheus",
        static_configs: [{ targets: [`127.0.0.1:${MONITORING_PORTS.prometheus}`], labels: { host: self } }],
        ...localScrape(self, peer),
      },
      ...(peerHost
        ? [
            {
              job_name: "prometheus_peer",
              ...remoteScrape,
              static_configs: [{ targets: [`${peerHost.address}:${MONITORING_PORTS.prometheus}`], labels: { host: peerHost.fqdn } }],
            },
          ]
        : []),
      { job_name: "alertmanager", static_configs: [{ targets: [`127.0.0.1:${MONITORING_PORTS.alertmanager}`], labels: { host: self } }] },
    ],
  });
}

/** With a peer, this Prometheus serves TLS + basic auth (its web-config) on loopback too; its certificate names its FQDN, not 127.0.0.1. */
function localScrape(self: string, peer: string | undefined) {
  return peer ? { ...remoteScrape, tls_config: { ...remoteScrape.tls_config, server_name: self } } : {};
}
