/**
 * campus.monitoring.grafana in the real program, under the plan's mocks (the training stack with a standby
 * front): the Grafana step on each front with its inputs, the admin password a secret (given, or generated),
 * the firewall's port for the admins; and nothing of it with the option off.
 */
import { describe, expect, it } from "vitest";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { CONFIG_KEYS } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { evaluateStack, stepInputsOf as inputsOf, unwrapSecret as unwrap, plainStrings } from "../support/evaluateStack";

const STANDBY = { name: "lb-training-standby", fqdn: "visio-training-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
const withGrafana =
  (grafana: boolean) =>
  (campus: Record<string, any>): void => {
    campus.standbyFront = STANDBY;
    campus.monitoring = { ...campus.monitoring, grafana };
  };
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
const grafanaSteps = (resources: RecordedResource[]) => resources.filter((r) => r.name.endsWith("-monitoringGrafana"));
const generated = (resources: RecordedResource[]) => resources.filter((r) => r.name.endsWith("-grafana-admin-password"));
const ruleset = (resources: RecordedResource[], host: string) => decode(inputsOf(resources.find((r) => r.name === `${host}-hostFirewall`)!).RULESET_B64);

describe("campus.monitoring.grafana", () => {
  it("on: Grafana on the front and the standby front after their Prometheus, with a generated admin password kept secret, and its port open to the admins", async () => {
    const { resources, outputs } = await evaluateStack("training", {}, withGrafana(true));
    const steps = grafanaSteps(resources);
    expect(steps.map((r) => r.name).sort()).toEqual(["lb-training-monitoringGrafana", "lb-training-standby-monitoringGrafana"]);
    expect(generated(resources)).toHaveLength(1);
    expect(generated(resources)[0].type).toBe("random:index/randomPassword:RandomPassword");
    for (const step of steps) {
      expect(isSecretValue(step.inputs.stdin)).toBe(true);
      const inputs = inputsOf(step);
      const host = step.name.replace(/-monitoringGrafana$/, "");
      const prometheus = resources.find((r) => r.name === `${host}-monitoringFront`)!;
      expect(step.dependencies).toContain(prometheus.urn);
      expect(inputs.ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
      // Beside a standby, each front's Prometheus speaks TLS with the scrape login, which the datasource sends.
      expect(inputs.SCRAPE_PASSWORD).toBe(inputsOf(prometheus).SCRAPE_PASSWORD);
      expect(decode(inputs.DATASOURCES_YML_B64)).toContain("url: https://127.0.0.1:9090");
      expect(decode(inputs.DATASOURCES_YML_B64)).not.toContain(inputs.SCRAPE_PASSWORD);
      expect(inputs.GRAFANA_IMAGE).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    }
    expect(inputsOf(steps[0]).ADMIN_PASSWORD).toBe(inputsOf(steps[1]).ADMIN_PASSWORD);
    expect(isSecretValue(outputs.grafanaAdminPassword)).toBe(true);
    expect(unwrap(outputs.grafanaAdminPassword)).toBe(inputsOf(steps[0]).ADMIN_PASSWORD);
    for (const host of ["lb-training", "lb-training-standby"])
      expect(ruleset(resources, host)).toMatch(/ip saddr \S+ tcp dport 3000 accept comment "grafana from admins"/);
    expect(ruleset(resources, "bbb-training-sbg")).not.toContain("dport 3000");
    // The Public Cloud fronts' security groups admit it from the same admin CIDRs, and from nowhere else.
    const groupRules = resources.filter((r) => r.type === "openstack:networking/secGroupRule:SecGroupRule" && r.inputs.portRangeMin === 3000);
    const admins = (readStackFile("training").config["bbb-ovh:campus"].value as { adminCidrs: string[] }).adminCidrs;
    expect(groupRules.map((r) => String(unwrap(r.inputs.remoteIpPrefix))).sort()).toEqual([...admins, ...admins].sort());
  });

  it("on, with bbb-ovh:grafanaAdminPassword: that password, nothing generated, and it appears in no plain value", async () => {
    const given = "given-grafana-admin-password-0123";
    const { resources } = await evaluateStack("training", { [CONFIG_KEYS.grafanaAdminPassword]: given }, withGrafana(true));
    expect(generated(resources)).toEqual([]);
    expect(grafanaSteps(resources).map((r) => inputsOf(r).ADMIN_PASSWORD)).toEqual([given, given]);
    expect(resources.flatMap((r) => plainStrings(r.inputs)).filter((s) => s.includes(given))).toEqual([]);
  });

  it("off: no Grafana step, no password, no output, no port", async () => {
    const { resources, outputs } = await evaluateStack("training", {}, withGrafana(false));
    expect(grafanaSteps(resources)).toEqual([]);
    expect(generated(resources)).toEqual([]);
    expect(outputs.grafanaAdminPassword).toBeUndefined();
    expect(ruleset(resources, "lb-training")).not.toContain("dport 3000");
  });
});
