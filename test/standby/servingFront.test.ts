/**
 * campus.servingFront: standbyFront, the stack of a failover that lasts, in the real program under the plan's
 * mocks (the training stack with a standby front in SBG5). Switching it must make and delete nothing (a guard's
 * delete would run its step, a deleted record would leave the state naming a record gone); the front's name points
 * at the standby as `ops failover` left it; the steps of the front that serves run on the standby under the front's
 * resource names; and the front's own steps keep the inputs of their last run, so nothing connects to it.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { planStack } from "../../cli/plan/planStack";
import type { RecordedResource } from "../../cli/plan/recorder";
import { hostSummary } from "../../cli/plan/render";
import { CampusConfigError, parseCampus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { frontWarnings } from "../../components/planning/frontFailover";
import { campusProgram } from "../../components/program";
import { REBUILT } from "../../components/remote/HostStep";
import { evaluateStack, stepInputsOf as inputsOf, unwrapSecret as unwrap } from "../support/evaluateStack";

const PUBLIC_CLOUD_STANDBY = {
  name: "lb-training-standby",
  fqdn: "visio-training-standby.isen-ouest.fr",
  kind: "publicCloud",
  region: "SBG5",
  flavor: "c2-30",
};
const DEDICATED_STANDBY = { name: "lb-training-standby", fqdn: "visio-training-standby.isen-ouest.fr", kind: "dedicated", model: "rise-1", datacenter: "sbg" };
const stack = (standbyFront: Record<string, unknown>, servingFront?: string) => (campus: Record<string, any>) => {
  campus.standbyFront = standbyFront;
  campus.recordings = true;
  if (servingFront) campus.servingFront = servingFront;
};
const rebuildInto = (campus: Record<string, any>) => {
  stack(PUBLIC_CLOUD_STANDBY, "standbyFront")(campus);
  campus.rebuildFront = true;
};
const named = (resources: RecordedResource[], name: string) => {
  const found = resources.filter((r) => r.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
};
const ipOf = (resources: RecordedResource[], host: string) => inputsOf(named(resources, `${host}-hostPreflight`)).PUBLIC_IPV4;
const connectedTo = (r: RecordedResource) => (unwrap(r.inputs.connection) as { host: string }).host;
const byName = (resources: RecordedResource[]) => resources.map((r) => r.urn).sort();

describe("campus.servingFront: standbyFront (a failover that lasts)", () => {
  it("changes no resource's identity: the same resources before and after, so nothing is made or deleted", async () => {
    const before = await evaluateStack("training", {}, stack(PUBLIC_CLOUD_STANDBY));
    const after = await evaluateStack("training", {}, stack(PUBLIC_CLOUD_STANDBY, "standbyFront"));
    expect(byName(after.resources)).toEqual(byName(before.resources));
  });

  it("points the front's name at the standby, registers the nodes and sends their recordings there, and holds every step of the front", async () => {
    const { resources } = await evaluateStack("training", {}, stack(PUBLIC_CLOUD_STANDBY, "standbyFront"));
    const [front, standby] = [ipOf(resources, "lb-training"), ipOf(resources, "lb-training-standby")];
    expect(front).not.toBe(standby);
    const a = named(resources, "lb-training-dns-a");
    expect(a.inputs).toMatchObject({ subdomain: "visio-training", fieldtype: "A", target: standby });
    // Both fronts have IPv6 (Public Cloud): the front's AAAA names the standby's, as ops failover's PUT leaves it.
    const aaaa = named(resources, "lb-training-dns-aaaa");
    expect(aaaa.inputs).toMatchObject({ subdomain: "visio-training", fieldtype: "AAAA" });
    expect(aaaa.inputs.target).toBe(named(resources, "lb-training-standby-dns-aaaa").inputs.target);
    // The standby's own name is unchanged.
    expect(named(resources, "lb-training-standby-dns-a").inputs).toMatchObject({ subdomain: "visio-training-standby", target: standby });

    // The steps of the front that serves keep the front's names and connect to the standby.
    const register = named(resources, "lb-training-scaleliteRegister");
    expect(connectedTo(register)).toBe(standby);
    expect(register.ignoreChanges).toEqual([]);
    expect(register.dependencies.some((u) => u.endsWith("::lb-training-standby-scaleliteApp"))).toBe(true);
    const retire = named(resources, "lb-training-scaleliteRetireNode-bbb-training-sbg");
    expect(connectedTo(retire)).toBe(standby);
    expect(inputsOf(retire).RESOURCE_NAME).toBe("lb-training-scaleliteRetireNode-bbb-training-sbg");
    // Each node sends its recordings to the standby's spool, pinning the standby's host key.
    for (const node of ["bbb-training-sbg", "bbb-training-gra"]) {
      const recordings = inputsOf(named(resources, `${node}-bbbRecordings`));
      expect(Buffer.from(recordings.SSH_CONFIG_B64, "base64").toString()).toContain(`HostName ${standby}`);
    }

    // Nothing of the front's connects to it again: every step keeps its last inputs; the standby's are live.
    const frontSteps = resources.filter((r) => r.type.startsWith("command:remote:") && r.parent?.endsWith("::lb-training"));
    expect(frontSteps.map((r) => r.name)).toEqual(
      expect.arrayContaining(["lb-training-ssh", "lb-training-scripts", "lb-training-hostFirewall", "lb-training-scaleliteSpool"]),
    );
    for (const step of frontSteps) expect(step.ignoreChanges, step.name).toEqual(expect.arrayContaining(["connection", "triggers"]));
    for (const step of frontSteps.filter((r) => r.type === "command:remote:Command"))
      expect(step.ignoreChanges, step.name).toEqual(expect.arrayContaining(["create", "stdin"]));
    // The standby's own steps run, but its replication step: promoted, it is no standby to rebuild.
    const standbySteps = resources.filter((r) => r.type.startsWith("command:remote:") && r.parent?.endsWith("::lb-training-standby"));
    expect(standbySteps.length).toBeGreaterThan(5);
    for (const step of standbySteps)
      expect(step.ignoreChanges, step.name).toEqual(
        step.name === "lb-training-standby-scaleliteReplicationStandby" ? expect.arrayContaining(["stdin", "create"]) : [],
      );

    // The records move only once the standby's front-role says it serves.
    const check = named(resources, "lb-training-standby-scaleliteFrontServes");
    expect(inputsOf(check).SERVES).toBe("true");
    for (const record of [a, aaaa]) expect(record.dependencies).toContain(check.urn);
  });

  it("while the front serves (the default), nothing is held and the name and the steps stay on the front", async () => {
    const { resources } = await evaluateStack("training", {}, stack(PUBLIC_CLOUD_STANDBY));
    const front = ipOf(resources, "lb-training");
    expect(named(resources, "lb-training-dns-a").inputs.target).toBe(front);
    expect(connectedTo(named(resources, "lb-training-scaleliteRegister"))).toBe(front);
    // Back from a failover that lasted, the records wait for the standby to say it no longer serves.
    const check = named(resources, "lb-training-standby-scaleliteFrontServes");
    expect(inputsOf(check).SERVES).toBe("false");
    expect(named(resources, "lb-training-dns-a").dependencies).toContain(check.urn);
    const steps = resources.filter((r) => r.type.startsWith("command:remote:"));
    expect(steps.length).toBeGreaterThan(20);
    expect(steps.filter((r) => r.ignoreChanges.length > 0).map((r) => r.name)).toEqual([]);
  });

  it("parks the front's AAAA under another name when the standby has no IPv6, as ops failover does", async () => {
    const { resources } = await evaluateStack("training", {}, stack(DEDICATED_STANDBY, "standbyFront"));
    const aaaa = named(resources, "lb-training-dns-aaaa");
    const frontIpv6 = (await evaluateStack("training", {}, stack(DEDICATED_STANDBY))).resources.find((r) => r.name === "lb-training-dns-aaaa")!.inputs.target;
    expect(aaaa.inputs).toMatchObject({ subdomain: "bbb-ovh-parked.visio-training", fieldtype: "AAAA", target: frontIpv6 });
    expect(named(resources, "lb-training-dns-a").inputs.target).toBe(ipOf(resources, "lb-training-standby"));
  });

  it("is refused without a standby front, and the plan says what it does and what to do after the failback", () => {
    const raw = readStackFile("training").config["bbb-ovh:campus"].value as Record<string, any>;
    const secrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };
    expect(() => parseCampus({ ...raw, servingFront: "standbyFront" }, secrets)).toThrow(
      expect.objectContaining({
        name: CampusConfigError.name,
        message: expect.stringContaining("campus.servingFront: is standbyFront, but the campus has no campus.standbyFront"),
      }),
    );
    const campus = parseCampus({ ...raw, recordings: true, standbyFront: PUBLIC_CLOUD_STANDBY, servingFront: "standbyFront" }, secrets);
    expect(frontWarnings(campus).join("\n")).toMatch(
      /the standby front lb-training-standby serves \(campus.servingFront\): .* nothing runs on lb-training .*to do: once `ops failback`/,
    );
  });

  it("campus.rebuildFront: every step of the front runs again on its new server, fenced before Scalelite is installed, while the name stays on the standby", async () => {
    const served = await evaluateStack("training", {}, stack(PUBLIC_CLOUD_STANDBY, "standbyFront"));
    const { resources } = await evaluateStack("training", {}, rebuildInto);
    // One resource more, the front's own role step; nothing deleted.
    const added = byName(resources).filter((urn) => !byName(served.resources).includes(urn));
    expect(added.map((urn) => urn.split("::").at(-1))).toEqual(["lb-training-scaleliteFrontServes"]);
    expect(byName(served.resources).filter((urn) => !byName(resources).includes(urn))).toEqual([]);

    const standby = ipOf(resources, "lb-training-standby");
    expect(named(resources, "lb-training-dns-a").inputs.target).toBe(standby);
    expect(connectedTo(named(resources, "lb-training-scaleliteRegister"))).toBe(standby);
    // Every step of the front runs again (the marker in its triggers), but the two that need it to serve.
    const frontSteps = resources.filter((r) => r.type.startsWith("command:remote:") && r.parent?.endsWith("::lb-training"));
    expect(frontSteps.length).toBeGreaterThan(8);
    const heldSteps = ["lb-training-scaleliteReplicationPrimary", "lb-training-scaleliteHealth"];
    for (const step of frontSteps) {
      expect(step.ignoreChanges, step.name).toEqual(heldSteps.includes(step.name) ? expect.arrayContaining(["stdin", "triggers"]) : []);
      expect(step.inputs.triggers, step.name).toContain(REBUILT);
    }
    // fenced is recorded before Scalelite and its certificate, and the DNS check expects the standby's address.
    const fenced = named(resources, "lb-training-scaleliteFrontServes");
    expect(inputsOf(fenced)).toEqual({ SERVES: "false", RECORD: "fenced" });
    // Only once the standby front says it serves: stacks edited ahead of ops failover fence nothing.
    expect(fenced.dependencies).toContain(named(resources, "lb-training-standby-scaleliteFrontServes").urn);
    for (const step of ["lb-training-scaleliteApp", "lb-training-scaleliteCertificate"])
      expect(named(resources, step).dependencies, step).toContain(fenced.urn);
    expect(inputsOf(named(resources, "lb-training-hostPreflight")).DNS_SERVED_BY).toBe(standby);
    // The standby front's steps are as while it serves: none carries the marker.
    for (const step of resources.filter((r) => r.type === "command:remote:Command" && r.parent?.endsWith("::lb-training-standby")))
      expect(step.inputs.triggers ?? [], step.name).not.toContain(REBUILT);
  });

  it("both fronts' Prometheus scrape the front at its own address, not by the name the standby serves, and each exporter's certificate names its address", async () => {
    const { resources } = await evaluateStack("training", {}, rebuildInto);
    const [front, standby] = [ipOf(resources, "lb-training"), ipOf(resources, "lb-training-standby")];
    for (const host of ["lb-training", "lb-training-standby"]) {
      const yml = Buffer.from(inputsOf(named(resources, `${host}-monitoringFront`)).PROMETHEUS_YML_B64, "base64").toString();
      const node = (parse(yml) as { scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: { host: string } }[] }[] }).scrape_configs
        .find((j) => j.job_name === "node")!
        .static_configs.map((c) => `${c.targets[0]} ${c.labels.host}`);
      expect(node, host).toEqual(expect.arrayContaining([`${front}:9100 visio-training.isen-ouest.fr`, `${standby}:9100 ${PUBLIC_CLOUD_STANDBY.fqdn}`]));
    }
    const requests = resources.filter((r) => r.type === "tls:index/certRequest:CertRequest" && r.name.includes("-monitoring-"));
    expect(requests.length).toBeGreaterThan(2);
    const frontRequest = requests.find((r) => r.name.endsWith("-visio-training.isen-ouest.fr-csr"))!;
    expect(frontRequest.inputs).toMatchObject({ dnsNames: ["visio-training.isen-ouest.fr"], ipAddresses: [front] });
  });

  it("campus.rebuildFront is refused unless the standby front serves, and the plan says what it does and what to do next", async () => {
    const raw = readStackFile("training").config["bbb-ovh:campus"].value as Record<string, any>;
    const secrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };
    expect(() => parseCampus({ ...raw, standbyFront: PUBLIC_CLOUD_STANDBY, rebuildFront: true }, secrets)).toThrow(
      expect.objectContaining({
        name: CampusConfigError.name,
        message: expect.stringContaining("campus.rebuildFront: is true, but campus.servingFront is not standbyFront"),
      }),
    );
    const campus = parseCampus({ ...raw, standbyFront: PUBLIC_CLOUD_STANDBY, servingFront: "standbyFront", rebuildFront: true }, secrets);
    const warnings = frontWarnings(campus).join("\n");
    expect(warnings).toMatch(
      /the front lb-training is rebuilt while the standby front lb-training-standby serves \(campus.rebuildFront\): .* records itself fenced first/,
    );
    expect(warnings).toMatch(/to do: after this `pulumi up`, run `ops failback` .* then set campus.servingFront: front, remove campus.rebuildFront/);
    // The held front's warning is not given beside it: its steps are not held.
    expect(warnings).not.toContain("nothing runs on lb-training");

    const file = readStackFile("training");
    rebuildInto(file.config["bbb-ovh:campus"].value as Record<string, any>);
    const summary = hostSummary(await planStack(file, campusProgram)).join("\n");
    expect(summary).toContain(
      "lb-training (Scalelite front, rebuilt while the standby front serves (campus.rebuildFront): fenced, Scalelite stopped, until ops failback",
    );
    expect(summary).toMatch(/steps \(each runs again on the new server, but scaleliteReplicationPrimary and scaleliteHealth, held\): .*scaleliteFrontServes/);
  });

  it("the plan's host summary lists the standby front with its own steps, and says which front serves and which is held", async () => {
    const summaryOf = async (servingFront?: string) => {
      const file = readStackFile("training");
      stack(PUBLIC_CLOUD_STANDBY, servingFront)(file.config["bbb-ovh:campus"].value as Record<string, any>);
      const summary = hostSummary(await planStack(file, campusProgram)).join("\n");
      const paragraph = (host: string) => summary.slice(summary.indexOf(`  ${host} (`)).split(/\n {2}(?! )/)[0];
      const steps = (host: string) =>
        paragraph(host)
          .match(/steps[^:]*: ([^\n]*)/)![1]
          .split(" → ");
      return { paragraph, steps };
    };
    const normal = await summaryOf();
    expect(normal.paragraph("lb-training-standby")).toMatch(/^ {2}lb-training-standby \(Scalelite standby front, visio-training-standby/);
    // Each front's own steps: none of the standby's listed under the front as "standby-..." steps.
    expect(normal.steps("lb-training").some((s) => s.startsWith("standby-"))).toBe(false);
    expect(normal.steps("lb-training")).toContain("scaleliteRegister");
    expect(normal.steps("lb-training-standby")).toEqual(expect.arrayContaining(["scaleliteFrontServes", "scaleliteReplicationStandby"]));
    expect(normal.paragraph("bbb-training-sbg")).toContain("(scaleliteRetireNode on lb-training, bbbRetire on bbb-training-sbg)");

    const served = await summaryOf("standbyFront");
    expect(served.paragraph("lb-training")).toContain("Scalelite front, held while the standby front serves (campus.servingFront)");
    expect(served.paragraph("lb-training")).toContain("steps (held: none runs again, each keeps its last inputs):");
    expect(served.steps("lb-training")).not.toContain("scaleliteRegister");
    expect(served.steps("lb-training-standby")).toContain("scaleliteRegister");
    expect(served.paragraph("bbb-training-sbg")).toContain("(scaleliteRetireNode on lb-training-standby, bbbRetire on bbb-training-sbg)");
  });
});
