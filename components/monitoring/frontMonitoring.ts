import type { Campus } from "../config/campus";
import { renderAlertmanagerYml } from "./renderAlertmanagerYml";
import { renderBlackboxYml } from "./renderBlackboxYml";
import { renderPrometheusYml, type MonitoredHost } from "./renderPrometheusYml";

/** Each host's public IPv4 by its FQDN: known once the hosts are (their Outputs, resolved). */
export type HostAddresses = Readonly<Record<string, string>>;

/** Every host of the campus as Prometheus sees it: the front, the standby front, the nodes. */
export function monitoredHosts(campus: Pick<Campus, "front" | "standbyFront" | "nodes">, addresses: HostAddresses): MonitoredHost[] {
  const host = (fqdn: string, role: MonitoredHost["role"]): MonitoredHost => ({ fqdn, role, address: addresses[fqdn] ?? "" });
  return [
    host(campus.front.fqdn, "front"),
    ...(campus.standbyFront ? [host(campus.standbyFront.fqdn, "standby")] : []),
    ...campus.nodes.map((n) => host(n.fqdn, "node")),
  ];
}

export interface FrontMonitoringFiles {
  /** The front these files are for. */
  fqdn: string;
  prometheusYml: string;
  alertmanagerYml: string;
  blackboxYml: string;
  retentionDays: number;
  diskBudgetGb: number;
}

/**
 * What monitoring-front.sh writes on each front: the front, and the standby front when there is one,
 * each running its own Prometheus and Alertmanager over every host and watching the other's Prometheus
 * (no Alertmanager clustering: either front alone still mails, at the cost of a second mail per alert).
 * Empty when campus.monitoring.enabled is false.
 */
export function frontMonitoringFiles(campus: Campus, addresses: HostAddresses): FrontMonitoringFiles[] {
  const { monitoring, adminEmail, id } = campus.config;
  if (!monitoring.enabled) return [];
  const hosts = monitoredHosts(campus, addresses);
  const fronts = [campus.front.fqdn, ...(campus.standbyFront ? [campus.standbyFront.fqdn] : [])];
  const alertmanagerYml = renderAlertmanagerYml({
    to: adminEmail,
    smtp: monitoring.smtp,
    webhookUrl: monitoring.webhookUrl,
    heartbeatUrl: monitoring.heartbeatUrl,
  });
  return fronts.map((fqdn) => {
    const peer = fronts.find((f) => f !== fqdn);
    return {
      fqdn,
      // The standby serves the front's name only after a failover, so both probe the front's name.
      prometheusYml: renderPrometheusYml({ campusId: id, self: fqdn, hosts, serviceFqdn: campus.front.fqdn, peer }),
      alertmanagerYml,
      blackboxYml: renderBlackboxYml(),
      retentionDays: monitoring.retentionDays,
      diskBudgetGb: monitoring.diskBudgetGb,
    };
  });
}
