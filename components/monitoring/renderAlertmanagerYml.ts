import { stringify } from "yaml";
import { FRONT_FILES, WATCHDOG_ALERT } from "./monitoringLayout";

export interface AlertmanagerYmlArgs {
  /** campus.adminEmail. */
  to: string;
  /** campus.monitoring.smtp; without it no mail is sent. */
  smtp?: { smarthost: string; from: string; username?: string; requireTls: boolean };
  /** campus.monitoring.webhookUrl. */
  webhookUrl?: string;
  /** campus.monitoring.heartbeatUrl: where the Watchdog alert goes, every 5 minutes. */
  heartbeatUrl?: string;
}

/**
 * /etc/prometheus/alertmanager.yml (Alertmanager's docs/configuration.md): one route to the `admin`
 * receiver, a mail to campus.adminEmail through the stack's SMTP server, its password read from a file
 * (smtp_auth_password_file, Alertmanager 0.25+) so it is on no command line and in no world-readable
 * file, and the webhook when one is set. Grouped by alert and host, repeated every 4 hours while firing.
 * The Watchdog alert has a route of its own: to campus.monitoring.heartbeatUrl every 5 minutes when one is
 * set, else to a receiver that sends nothing; it is never mailed.
 */
export function renderAlertmanagerYml(args: AlertmanagerYmlArgs): string {
  const { to, smtp, webhookUrl, heartbeatUrl } = args;
  const problems: string[] = [];
  if (!/^[^\s@]+@[^\s@]+$/.test(to)) problems.push(`'${to}' is not a mail address`);
  if (smtp && !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(smtp.smarthost)) problems.push(`the smarthost '${smtp.smarthost}' is not host:port`);
  if (webhookUrl !== undefined && !/^https?:\/\/\S+$/.test(webhookUrl)) problems.push(`the webhook '${webhookUrl}' is not an http(s) URL`);
  if (heartbeatUrl !== undefined && !/^https?:\/\/\S+$/.test(heartbeatUrl)) problems.push(`the heartbeat '${heartbeatUrl}' is not an http(s) URL`);
  if (problems.length > 0) throw new Error(`alertmanager.yml: ${problems.join("; ")}`);

  const global = smtp
    ? {
        smtp_smarthost: smtp.smarthost,
        smtp_from: smtp.from,
        smtp_require_tls: smtp.requireTls,
        ...(smtp.username ? { smtp_auth_username: smtp.username, smtp_auth_password_file: FRONT_FILES.smtpPassword } : {}),
      }
    : {};
  const receiver = {
    name: "admin",
    ...(smtp ? { email_configs: [{ to, send_resolved: true }] } : {}),
    ...(webhookUrl ? { webhook_configs: [{ url: webhookUrl, send_resolved: true }] } : {}),
  };
  const heartbeat = { name: "heartbeat", ...(heartbeatUrl ? { webhook_configs: [{ url: heartbeatUrl, send_resolved: false }] } : {}) };
  return stringify({
    global,
    route: {
      receiver: "admin",
      group_by: ["alertname", "host"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
      routes: [{ matchers: [`alertname="${WATCHDOG_ALERT}"`], receiver: "heartbeat", group_wait: "0s", group_interval: "1m", repeat_interval: "5m" }],
    },
    receivers: [receiver, heartbeat],
  });
}
