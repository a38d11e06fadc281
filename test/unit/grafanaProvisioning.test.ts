/**
 * Grafana's provisioning files as the fronts get them (components/monitoring/renderGrafanaProvisioning.ts),
 * parsed and held against what Grafana's "Provision Grafana" docs say a datasources and a dashboards file
 * hold, and against the dashboards in scripts/monitoring/dashboards/ that the provider loads.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { selfSignedCert } from "../support/selfSignedCert";
import { GRAFANA_DATASOURCE_UID, GRAFANA_FILES, SCRAPE_USER } from "../../components/monitoring/monitoringLayout";
import { GRAFANA_SCRAPE_PASSWORD_ENV, renderGrafanaProvisioning } from "../../components/monitoring/renderGrafanaProvisioning";

const DIR = path.resolve(__dirname, "../../scripts/monitoring/dashboards");
const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(path.join(DIR, f), "utf8")) as Dashboard);

interface Panel {
  datasource?: { type: string; uid: string };
  targets?: { datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** The keys a datasource entry may have ("Provision Grafana", "Example data source config file"). */
const DATASOURCE_KEYS = [
  "name",
  "type",
  "access",
  "orgId",
  "uid",
  "url",
  "user",
  "database",
  "basicAuth",
  "basicAuthUser",
  "withCredentials",
  "isDefault",
  "jsonData",
  "secureJsonData",
  "version",
  "editable",
];
/** The keys of a dashboards provider (same page, "Dashboards"). */
const PROVIDER_KEYS = ["name", "orgId", "folder", "folderUid", "type", "disableDeletion", "updateIntervalSeconds", "allowUiUpdates", "options"];

/** A CA certificate made by openssl, as @pulumi/tls makes the campus monitoring CA (ECDSA P-256). */
function caPem(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "grafana-ca-"));
  selfSignedCert({ key: `${dir}/k`, cert: `${dir}/c`, name: "test CA" });
  return readFileSync(`${dir}/c`, "utf8");
}

describe("Grafana provisioning", () => {
  const ca = caPem();
  const alone = renderGrafanaProvisioning({ self: "visio.campus.example", peer: false, caPem: ca });
  const paired = renderGrafanaProvisioning({ self: "visio.campus.example", peer: true, caPem: ca });

  it("has one default Prometheus datasource of the type every dashboard's datasource variable asks for, which every panel uses", () => {
    for (const file of [alone, paired]) {
      const doc = parse(file.datasources);
      expect(doc.apiVersion).toBe(1);
      expect(doc.datasources).toHaveLength(1);
      const ds = doc.datasources[0];
      expect(Object.keys(ds).filter((k) => !DATASOURCE_KEYS.includes(k))).toEqual([]);
      expect(ds).toMatchObject({ type: "prometheus", access: "proxy", isDefault: true, uid: GRAFANA_DATASOURCE_UID, orgId: 1 });
      expect(ds.name).toBeTruthy();
      for (const d of dashboards) {
        const variables = d.templating.list.filter((v) => v.type === "datasource");
        expect(variables, d.uid).toEqual([expect.objectContaining({ name: "datasource", query: ds.type })]);
        for (const panel of allPanels(d.panels).filter((p) => !p.panels)) {
          for (const ref of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)].filter(Boolean))
            expect(ref, d.uid).toEqual({ type: ds.type, uid: "${datasource}" });
        }
      }
    }
  });

  it("reads the local Prometheus in plain HTTP alone, and over TLS with the scrape login beside a standby, the password from the environment", () => {
    expect(parse(alone.datasources).datasources[0]).toMatchObject({ url: "http://127.0.0.1:9090" });
    expect(parse(alone.datasources).datasources[0].secureJsonData).toBeUndefined();
    const ds = parse(paired.datasources).datasources[0];
    expect(ds).toMatchObject({
      url: "https://127.0.0.1:9090",
      basicAuth: true,
      basicAuthUser: SCRAPE_USER,
      jsonData: { tlsAuthWithCACert: true, serverName: "visio.campus.example" },
    });
    // Grafana interpolates $VAR in provisioning values: the file holds the variable's name, never the password.
    expect(ds.secureJsonData.basicAuthPassword).toBe(`$${GRAFANA_SCRAPE_PASSWORD_ENV}`);
    expect(ds.secureJsonData.tlsCACert).toBe(ca);
  });

  it("loads the dashboards from the directory the step mounts, read-only in Grafana", () => {
    const doc = parse(alone.dashboards);
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers).toHaveLength(1);
    const provider = doc.providers[0];
    expect(Object.keys(provider).filter((k) => !PROVIDER_KEYS.includes(k))).toEqual([]);
    expect(provider).toMatchObject({ type: "file", allowUiUpdates: false, options: { path: GRAFANA_FILES.dashboardsInContainer } });
    expect(provider.updateIntervalSeconds).toBeGreaterThan(0);
    expect(dashboards.map((d) => d.uid).sort()).toEqual(["bbb-ovh-budget", "bbb-ovh-node", "bbb-ovh-platform", "bbb-ovh-recordings"]);
  });
});
