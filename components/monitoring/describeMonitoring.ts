import type { Campus } from "../config/campus";
import { GRAFANA_IMAGE } from "../scalelite/images";
import { MONITORING_PORTS } from "./monitoringLayout";

/** What the plan says of a campus's monitoring (docs/monitoring.md): where it runs, how long it keeps, where alerts go. */
export function describeMonitoring(campus: Pick<Campus, "config" | "front" | "standbyFront" | "nodes">): string[] {
  const m = campus.config.monitoring;
  if (!m.enabled) return ["Monitoring: off (campus.monitoring.enabled is false): nothing evaluates the alert rules; `ops status` is the only check"];
  const fronts = [campus.front.fqdn, ...(campus.standbyFront ? [campus.standbyFront.fqdn] : [])];
  const mail = m.smtp
    ? `mailed to ${campus.config.adminEmail} through ${m.smtp.smarthost}${m.smtp.username ? ` as ${m.smtp.username} (password: bbb-ovh:smtpPassword)` : " without login"}`
    : "NOT mailed (no campus.monitoring.smtp): seen only in Alertmanager on the front and `ops status`";
  return [
    "Monitoring (docs/monitoring.md):",
    `  Prometheus + Alertmanager on ${fronts.join(" and ")}${fronts.length > 1 ? ", each watching the other" : ""}: samples kept ${m.retentionDays} days within ${m.diskBudgetGb} GB`,
    `  scraped over TLS + basic auth, from the fronts only: node_exporter :${MONITORING_PORTS.nodeExporter} on ${campus.nodes.length + fronts.length} hosts, the BigBlueButton exporter :${MONITORING_PORTS.bbbExporterTls} (through nginx) on ${campus.nodes.length} nodes`,
    `  alerts ${mail}${m.webhookUrl ? `, and posted to ${new URL(m.webhookUrl).host}` : ""}`,
    m.heartbeatUrl
      ? `  heartbeat: the Watchdog alert posted to ${new URL(m.heartbeatUrl).host} every 5 minutes; that service alerts when the posts stop`
      : "  no heartbeat (campus.monitoring.heartbeatUrl): a front that dies whole, Prometheus and Alertmanager with it, is seen by no alert of its own",
    ...(m.grafana
      ? [
          `  Grafana (container ${GRAFANA_IMAGE}) with the dashboards platform, node, recordings, budget on ${fronts.map((f) => `https://${f}:${MONITORING_PORTS.grafana}/`).join(" and ")}: from campus.adminCidrs only, certificate of the campus monitoring CA (/etc/bbb-ovh/monitoring/ca.pem on each host)`,
          "  Grafana login: admin, password bbb-ovh:grafanaAdminPassword, or generated (pulumi stack output --show-secrets grafanaAdminPassword)",
        ]
      : []),
  ];
}
