import { describe, expect, it } from "vitest";
import { byType, evaluateStack, parentOf, plainStrings } from "../support/evaluateStack";
import { plannedIpv4 } from "../../cli/plan/mockCloud";
import { SECRET_SIG } from "../../cli/plan/recorder";

const SERVER = "ovh:Dedicated/server:Server";
const RECORD = "ovh:Domain/zoneRecord:ZoneRecord";
const INSTANCE = "openstack:compute/instance:Instance";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";

describe("campus stacks under Pulumi's mock runtime", () => {
  it.each(["brest", "nantes", "rennes"])("%s: a Rise-1 front and two Infra-1 nodes in sbg and rbx, protected", async (stack) => {
    const { resources } = await evaluateStack(stack);
    const servers = byType(resources, SERVER);
    expect(servers).toHaveLength(3);
    const plan = (r: (typeof servers)[number]) => (r.inputs.plans as any[])[0];
    const dc = (r: (typeof servers)[number]) => plan(r).configurations.find((c: any) => c.label === "dedicated_datacenter").value;
    const front = servers.find((s) => s.name === `lb-${stack}`)!;
    expect(plan(front).planCode).toBe("24rise01");
    expect(servers.filter((s) => s !== front).map((s) => [plan(s).planCode, dc(s)]).sort()).toEqual([
      ["24adv01", "rbx"],
      ["24adv01", "sbg"],
    ]);
    for (const s of servers) {
      expect(s.protect, s.name).toBe(true);
      expect(s.inputs.keepServiceAfterDestroy, s.name).toBe(true);
      expect(s.inputs.os).toBe("ubuntu2204-server_64");
      expect(s.ignoreChanges.sort(), "a changed OS or customization must not reinstall (wipe) the server").toEqual(["customizations", "os"]);
      expect(parentOf(resources, s)?.type).toBe("bbb-ovh:hosts:DedicatedHost");
      // The post-install script carries a private host key: it must reach the provider as a secret.
      expect(JSON.stringify(s.inputs.customizations)).toContain(SECRET_SIG);
    }
  });

  it("points every host's A record at the address its server got", async () => {
    const { resources } = await evaluateStack("brest");
    const records = byType(resources, RECORD);
    expect(records.map((r) => [r.inputs.subdomain, r.inputs.fieldtype, r.inputs.target, r.inputs.zone]).sort()).toEqual(
      [
        ["bbb1.brest", "A", plannedIpv4("bbb-brest-sbg"), "isen-ouest.fr"],
        ["bbb2.brest", "A", plannedIpv4("bbb-brest-rbx"), "isen-ouest.fr"],
        ["visio-brest", "A", plannedIpv4("lb-brest"), "isen-ouest.fr"],
      ].sort(),
    );
    for (const r of records) expect(r.dependencies.some((d) => d.includes(SERVER))).toBe(true);
  });

  it("lets a stack release protection explicitly, and only then", async () => {
    const { resources } = await evaluateStack("brest", {}, (c) => (c.protection = { allowTermination: true }));
    for (const s of byType(resources, SERVER)) {
      expect(s.protect).toBe(false);
      expect(s.inputs.keepServiceAfterDestroy).toBe(false);
    }
  });

  it("adopts an owned server without reinstalling it unless asked, and pins its key on first contact", async () => {
    const { resources } = await evaluateStack("brest", {}, (c) => {
      delete c.nodes[0].model;
      c.nodes[0].serviceName = "ns3001234.ip-51-68-1.eu";
    });
    const adopted = byType(resources, SERVER).find((s) => s.name === "bbb-brest-sbg")!;
    expect(adopted.inputs.serviceName).toBe("ns3001234.ip-51-68-1.eu");
    expect(adopted.inputs.plans).toBeUndefined();
    expect(adopted.inputs.preventInstallOnCreate).toBe(true);
    expect(resources.some((r) => r.name === "bbb-brest-sbg-host-key-tofu")).toBe(true);
    expect(resources.some((r) => r.name === "bbb-brest-sbg-host-key")).toBe(false);
  });

  it("training: C2-60 nodes in two regions on Ext-Net with their own security groups", async () => {
    const { resources } = await evaluateStack("training");
    const instances = byType(resources, INSTANCE);
    expect(instances.map((i) => [i.inputs.name, i.inputs.flavorName, i.inputs.region]).sort()).toEqual([
      ["bbb1.training.isen-ouest.fr", "c2-60", "SBG5"],
      ["bbb2.training.isen-ouest.fr", "c2-60", "GRA11"],
      ["visio-training.isen-ouest.fr", "c2-30", "GRA11"],
    ]);
    for (const i of instances) {
      expect(i.inputs.networks).toEqual([{ name: "Ext-Net" }]);
      expect(i.inputs.imageName).toBe("Ubuntu 22.04");
      expect(i.inputs.securityGroups).toEqual([expect.stringMatching(/^training-/)]);
      expect(i.inputs.securityGroups).not.toContain("default");
      expect(JSON.stringify(i.inputs.userData)).toContain(SECRET_SIG);
      expect(i.protect).toBe(true);
      expect(i.ignoreChanges.sort(), "new cloud-init must not replace the instance").toEqual(["imageName", "userData"]);
    }
    // AAAA records exist for Public Cloud hosts (Ext-Net is dual-stack).
    expect(byType(resources, RECORD).filter((r) => r.inputs.fieldtype === "AAAA")).toHaveLength(3);
  });

  it("training: node rules open SSH to admins only and media/TURN to all; the front only web (no NFS: recordings off)", async () => {
    const { resources } = await evaluateStack("training");
    const rulesOf = (host: string) =>
      byType(resources, RULE)
        .filter((r) => r.name.startsWith(`${host}-`))
        .map((r) => `${r.inputs.protocol} ${r.inputs.portRangeMin}-${r.inputs.portRangeMax} ${r.inputs.remoteIpPrefix}`)
        .sort();
    const node = rulesOf("bbb-training-sbg");
    expect(node).toContain("tcp 22-22 193.52.128.0/24");
    expect(node).toContain("tcp 22-22 2001:660:7301::/48");
    expect(node).not.toContain("tcp 22-22 0.0.0.0/0");
    expect(node).toEqual(expect.arrayContaining(["udp 16384-32768 0.0.0.0/0", "udp 3478-3478 ::/0", "tcp 3478-3478 0.0.0.0/0", "tcp 443-443 0.0.0.0/0", "tcp 80-80 ::/0"]));
    const front = rulesOf("lb-training");
    expect(front.filter((r) => r.startsWith("udp"))).toEqual([]);
    expect(front.filter((r) => r.includes("2049"))).toEqual([]);
  });

  it("opens SSH on a Public Cloud front to the nodes' addresses when recordings are on (rsync over SSH), and never NFS", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => (c.recordings = true));
    const front = byType(resources, RULE).filter((r) => r.name.startsWith("lb-training-"));
    const fromNodes = front.filter((r) => r.inputs.portRangeMin === 22 && !["193.52.128.0/24", "2001:660:7301::/48"].includes(r.inputs.remoteIpPrefix as string));
    expect(fromNodes.map((r) => r.inputs.remoteIpPrefix).sort()).toEqual([`${plannedIpv4("bbb-training-gra")}/32`, `${plannedIpv4("bbb-training-sbg")}/32`].sort());
    expect(byType(resources, RULE).filter((r) => [2049, 111].includes(r.inputs.portRangeMin as number))).toEqual([]);
  });

  it("lab: existing hosts are not provisioned; the configured host key is pinned, the others recorded once", async () => {
    const { resources } = await evaluateStack("lab", { "bbb-ovh:sshPrivateKey": "KNOWN-LAB-PRIVATE-KEY-0001" });
    expect(byType(resources, SERVER)).toEqual([]);
    expect(byType(resources, INSTANCE)).toEqual([]);
    expect(byType(resources, "bbb-ovh:hosts:ExistingHost")).toHaveLength(3);
    const tofu = resources.filter((r) => r.name.endsWith("host-key-tofu")).map((r) => r.name).sort();
    expect(tofu).toEqual(["lab-bbb1-host-key-tofu", "lab-bbb2-host-key-tofu"]);
    const aaaa = byType(resources, RECORD).filter((r) => r.inputs.fieldtype === "AAAA");
    expect(aaaa.map((r) => [r.inputs.subdomain, r.inputs.target])).toEqual([["bbb1", "2001:db8:10::11"]]);
  });

  it.each(["brest", "nantes", "rennes", "training", "lab"])("%s: no secret value in any non-secret input or output", async (stack) => {
    const known = "KNOWN-SECRET-VALUE-7f3a9c";
    const { resources, outputs } = await evaluateStack(stack, { "bbb-ovh:sshPrivateKey": known, "bbb-ovh:turnSecret": `${known}-turn` });
    const generated = resources
      .filter((r) => r.type === "tls:index/privateKey:PrivateKey")
      .map((r) => `(planned private key ${r.name})`);
    const plain = [...resources.flatMap((r) => plainStrings(r.inputs)), ...plainStrings(outputs)];
    for (const secret of [known, ...generated]) {
      expect(plain.filter((s) => s.includes(secret)), secret).toEqual([]);
    }
  });
});
