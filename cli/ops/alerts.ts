// monitoringLayout.ts imports nothing: ops --help loads this file and none of the heavy libraries.
import { WATCHDOG_ALERT } from "../../components/monitoring/monitoringLayout";
import { OpsError } from "./errors";
import { runRemote, type SshTarget } from "./ssh";

/**
 * The alerts firing on the front, as `ops status` shows them: Alertmanager's API v2 (GET /api/v2/alerts,
 * api/v2/openapi.yaml in prometheus/alertmanager) on 127.0.0.1:9093, which only the front itself reaches.
 */
export const ALERTMANAGER_URL = "http://127.0.0.1:9093";
/** Debian's prometheus-alertmanager reads this file: without it the front has no Alertmanager to ask. */
export const ALERTMANAGER_CONFIG = "/etc/prometheus/alertmanager.yml";
const ABSENT = "bbb-ovh: no alertmanager";

export interface FiringAlert {
  name: string;
  /** The `instance` label, else `host`: which target the alert is about. */
  instance?: string;
  /** When the alert started firing (startsAt, RFC 3339). */
  since: string;
  severity?: string;
  summary?: string;
}

/** The command run on the front: Alertmanager's JSON of the active, unsilenced, uninhibited alerts (curl named in full, as Debian/Ubuntu install it). */
export function alertsCommand(url = ALERTMANAGER_URL): string {
  const query = `${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`;
  return `if [ -e "\${BBB_OVH_ROOT:-}${ALERTMANAGER_CONFIG}" ]; then /usr/bin/curl -sS --fail --max-time 10 '${query}'; else echo '${ABSENT}'; fi`;
}

interface GettableAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  status?: { state?: string };
}

/** Alertmanager's answer, oldest first; anything but an array of alerts is an error naming what came. */
export function parseAlerts(body: string): FiringAlert[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`Alertmanager's answer is not JSON: ${JSON.stringify(body.slice(0, 120))}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`Alertmanager's answer is not a list of alerts: ${JSON.stringify(body.slice(0, 120))}`);
  // The Watchdog always fires while the alerting works (the heartbeat): not a problem to list.
  return (parsed as GettableAlert[])
    .filter((a) => a.labels?.alertname !== WATCHDOG_ALERT)
    .map((a) => ({
      name: a.labels?.alertname ?? "(no alertname)",
      instance: a.labels?.instance ?? a.labels?.host,
      since: a.startsAt ?? "",
      severity: a.labels?.severity,
      summary: a.annotations?.summary,
    }))
    .sort((a, b) => a.since.localeCompare(b.since) || a.name.localeCompare(b.name));
}

/** The firing alerts, or undefined when the front has no Alertmanager; unreachable is an OpsError. */
export async function firingAlerts(ssh: SshTarget, timeoutMs: number, url = ALERTMANAGER_URL): Promise<FiringAlert[] | undefined> {
  const r = await runRemote(ssh, alertsCommand(url), timeoutMs);
  if (r.code === 0 && r.stdout.trim() === ABSENT) return undefined;
  if (r.code !== 0) {
    const why = r.stderr.trim().split("\n").pop() || `curl exit status ${r.code}`;
    throw new OpsError("unhealthy", ssh.host, `Alertmanager (${url} on the front) does not answer: ${why}`);
  }
  try {
    return parseAlerts(r.stdout);
  } catch (e) {
    throw new OpsError("unhealthy", ssh.host, (e as Error).message);
  }
}

/** One line per alert, as `ops status` prints them. */
export function describeAlert(a: FiringAlert): string {
  const severity = a.severity ? ` [${a.severity}]` : "";
  return `${a.name}${severity} ${a.instance ?? "-"} since ${a.since || "?"}${a.summary ? `: ${a.summary}` : ""}`;
}
