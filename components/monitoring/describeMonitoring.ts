import type { Campus } from "../config/campus";
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
    `  scraped over TLS + basic auth, from the fronts only: node_exporter :${MONITORING_PORTS.nodeExporter} on ${campus.nodes.length + fronts.length} hosts, the BigBlueButton exporter :${MONITORING_PORTS.bbbExporter} on ${campus.nodes.length} nodes`,
    `  alerts ${mail}${m.webhookUrl ? `, and posted to ${new URL(m.webhookUrl).host}` : ""}`,
    // Said plainly, so that nobody waits for dashboards the deployment does not make yet.
    ...(m.grafana ? ["  Grafana: asked for (campus.monitoring.grafana) but not deployed yet (issue 17)"] : []),
  ];
}
