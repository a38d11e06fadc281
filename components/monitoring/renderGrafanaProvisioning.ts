import { stringify } from "yaml";
import { GRAFANA_DATASOURCE_UID, GRAFANA_FILES, MONITORING_PORTS, SCRAPE_USER } from "./monitoringLayout";

/** The environment variable, in Grafana's container, that holds the scrape password (a secret, from its env file). */
export const GRAFANA_SCRAPE_PASSWORD_ENV = "BBB_OVH_SCRAPE_PASSWORD";

export interface GrafanaProvisioning {
  /** provisioning/datasources/bbb-ovh.yaml */
  datasources: string;
  /** provisioning/dashboards/bbb-ovh.yaml */
  dashboards: string;
}

/**
 * Grafana's file provisioning for one front (Grafana's docs, "Provision Grafana": `apiVersion: 1`, a
 * `datasources` list, and a `providers` list of type `file` whose `options.path` holds the dashboards JSON).
 * The datasource is the front's own Prometheus, the default one, so that each dashboard's `datasource`
 * variable (type prometheus) picks it. With a standby front that Prometheus serves TLS + basic auth on every
 * address (its web-config): Grafana then checks its certificate against the campus CA for the front's name
 * and sends the scrape login, whose password Grafana reads from its environment (the docs' `$VAR`
 * interpolation), never from this file. Dashboards are read-only in Grafana (allowUiUpdates false) and one
 * removed from the directory leaves Grafana too (disableDeletion false): the files are the truth.
 */
export function renderGrafanaProvisioning(args: { self: string; peer: boolean; caPem: string }): GrafanaProvisioning {
  const base = { name: "Prometheus", uid: GRAFANA_DATASOURCE_UID, type: "prometheus", access: "proxy", orgId: 1, isDefault: true, editable: false };
  const datasource = args.peer
    ? {
        ...base,
        url: `https://127.0.0.1:${MONITORING_PORTS.prometheus}`,
        basicAuth: true,
        basicAuthUser: SCRAPE_USER,
        jsonData: { httpMethod: "POST", tlsAuthWithCACert: true, serverName: args.self },
        secureJsonData: { basicAuthPassword: `$${GRAFANA_SCRAPE_PASSWORD_ENV}`, tlsCACert: args.caPem },
      }
    : { ...base, url: `http://127.0.0.1:${MONITORING_PORTS.prometheus}`, jsonData: { httpMethod: "POST" } };
  return {
    datasources: stringify({ apiVersion: 1, datasources: [datasource] }),
    dashboards: stringify({
      apiVersion: 1,
      providers: [
        {
          name: "bbb-ovh",
          orgId: 1,
          folder: "bbb-ovh",
          type: "file",
          disableDeletion: false,
          allowUiUpdates: false,
          updateIntervalSeconds: 60,
          options: { path: GRAFANA_FILES.dashboardsInContainer, foldersFromFilesStructure: false },
        },
      ],
    }),
  };
}
