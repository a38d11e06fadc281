import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { campusProgram } from "../../components/program";
import { byType, evaluateStack, parentOf, plainStrings, stackConfig } from "../support/evaluateStack";
import { plannedIpv4 } from "../../cli/plan/mockCloud";
import { isSecretValue, SECRET_SIG } from "../../cli/plan/recorder";
import { OPTION_FAMILIES, optionFamily } from "../../components/config/presets";
import { publicKeyOfPrivateKey, throwawayPrivateKey } from "../../components/hosts/deployKey";

const SERVER = "ovh:Dedicated/server:Server";
const RECORD = "ovh:Domain/zoneRecord:ZoneRecord";
const INSTANCE = "openstack:compute/instance:Instance";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const KEYPAIR = "openstack:compute/keypair:Keypair";
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? v.value : v);
const OPERATOR_KEY = throwawayPrivateKey("operator@test");
const OPERATOR_PUBLIC = (publicKeyOfPrivateKey(OPERATOR_KEY) as { publicKey: string }).publicKey;

/** The RunError message the program stops with for an invalid stack (thrown before any resource). */
function configErrorOf(stack: string, secrets: Record<string, string>, mutate?: (campus: Record<string, any>) => void): string {
  const { config, secretKeys } = stackConfig(stack, secrets, mutate);
  pulumi.runtime.setAllConfig(config, secretKeys);
  try {
    campusProgram();
  } catch (e) {
    expect(pulumi.RunError.isInstance(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected a configuration error");
}

describe("campus stacks under Pulumi's mock runtime", () => {
  it.each(["brest", "nantes", "rennes"])("%s: a Rise-1 front and two Infra-1 nodes in sbg and rbx, protected", async (stack) => {
    const { resources } = await evaluateStack(stack);
    const servers = byType(resources, SERVER);
    expect(servers).toHaveLength(3);
    const plan = (r: (typeof servers)[number]) => (r.inputs.plans as any[])[0];
    const dc = (r: (typeof servers)[number]) => plan(r).configurations.find((c: any) => c.label === "dedicated_datacenter").value;
    const front = servers.find((s) => s.name === `lb-${stack}`)!;
    expect(plan(front).planCode).toBe("24rise01");
    expect(
      servers
        .filter((s) => s !== front)
        .map((s) => [plan(s).planCode, dc(s)])
        .sort(),
    ).toEqual([
      ["24adv01-v3", "rbx"],
      ["24adv01-v3", "sbg"],
    ]);
    // Advance-1 is sold through the eco cart (OVH's own CLI orders 24adv01-v3 from /order/cart/{id}/eco).
    expect(servers.filter((s) => s !== front).map((s) => s.inputs.range)).toEqual(["eco", "eco"]);
    expect(front.inputs.range).toBe("standard");
    for (const s of servers) {
      expect(s.protect, s.name).toBe(true);
      expect(s.inputs.keepServiceAfterDestroy, s.name).toBe(true);
      expect(s.inputs.os).toBe("ubuntu2204-server_64");
      expect(s.ignoreChanges.sort(), "a changed OS or customization must not reinstall (wipe) the server").toEqual(["customizations", "os"]);
      expect(parentOf(resources, s)?.type).toBe("bbb-ovh:hosts:DedicatedHost");
      // The post-install script carries a private host key: it must reach the provider as a secret.
      expect(JSON.stringify(s.inputs.customizations)).toContain(SECRET_SIG);
      // Defect 4: every order carries one option of each family OVH marks mandatory.
      const options = (s.inputs.planOptions as Array<{ planCode: string; duration: string; pricingMode: string; quantity: number }>) ?? [];
      expect(options.map((o) => optionFamily(o.planCode)).sort(), s.name).toEqual([...OPTION_FAMILIES].sort());
      for (const o of options) expect(o, s.name).toMatchObject({ duration: "P1M", pricingMode: "default", quantity: 1 });
    }
  });

  it("sends the post-installation script base64-encoded, as OVH recommends, and it decodes to our script", async () => {
    const { resources } = await evaluateStack("brest");
    for (const s of byType(resources, SERVER)) {
      const encoded = unwrap((unwrap(s.inputs.customizations) as Record<string, unknown>).postInstallationScript) as string;
      expect(encoded, s.name).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      const script = Buffer.from(encoded, "base64").toString("utf8");
      expect(script.startsWith("#!/usr/bin/env bash\n"), s.name).toBe(true);
      expect(script).toContain("HOST_KEY_B64=");
    }
  });

  it.each(["brest", "training"])("%s: a configured operator key's real public half goes to OVH and OpenStack (no placeholder)", async (stack) => {
    const { resources, outputs } = await evaluateStack(stack, { "bbb-ovh:sshPrivateKey": OPERATOR_KEY });
    const handed = [
      ...byType(resources, SERVER).map((s) => unwrap((unwrap(s.inputs.customizations) as Record<string, unknown>).sshKey)),
      ...byType(resources, KEYPAIR).map((k) => unwrap(k.inputs.publicKey)),
    ];
    expect(handed.length).toBe(3);
    for (const key of handed) expect(key).toBe(OPERATOR_PUBLIC);
    expect(unwrap(outputs.deployPublicKey)).toBe(OPERATOR_PUBLIC);
    expect(OPERATOR_PUBLIC).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+={0,2} bbb-ovh-operator$/);
  });

  it.each([
    ["not a key", "KNOWN-NOT-A-KEY-0001", /not a private key/],
    ["a public key", OPERATOR_PUBLIC, /is a public key/],
  ])("rejects an operator key that is %s, naming the config key, before creating anything", (_what, value, message) => {
    const error = configErrorOf("brest", { "bbb-ovh:sshPrivateKey": value });
    expect(error).toMatch(/^invalid campus configuration/);
    expect(error).toMatch(/bbb-ovh:sshPrivateKey: /);
    expect(error).toMatch(message);
    expect(error).not.toContain(value.split(" ")[1] ?? value);
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
    const { resources } = await evaluateStack("brest", { "bbb-ovh:sshPrivateKey": OPERATOR_KEY }, (c) => {
      delete c.nodes[0].model;
      c.nodes[0].serviceName = "ns3001234.ip-51-68-1.eu";
      c.nodes[0].sshUser = "debian";
    });
    const adopted = byType(resources, SERVER).find((s) => s.name === "bbb-brest-sbg")!;
    expect(adopted.inputs.serviceName).toBe("ns3001234.ip-51-68-1.eu");
    expect(adopted.inputs.plans).toBeUndefined();
    expect(adopted.inputs.preventInstallOnCreate).toBe(true);
    expect(resources.some((r) => r.name === "bbb-brest-sbg-host-key-tofu")).toBe(true);
    expect(resources.some((r) => r.name === "bbb-brest-sbg-host-key")).toBe(false);
    // Defect 8: nothing installs the deploy key there, so steps log in as the operator's user with its key.
    const tofu = resources.find((r) => r.name === "bbb-brest-sbg-host-key-tofu")!;
    const connection = unwrap(tofu.inputs.connection) as Record<string, unknown>;
    expect(connection.user).toBe("debian");
    expect(unwrap(connection.privateKey)).toBe(OPERATOR_KEY);
  });

  it("refuses to adopt a server as it is without the operator key and user (defect 8)", async () => {
    const error = configErrorOf("brest", {}, (c) => {
      delete c.nodes[0].model;
      c.nodes[0].serviceName = "ns3001234.ip-51-68-1.eu";
    });
    expect(error).toMatch(/bbb-ovh:sshPrivateKey: is required [^\n]*adopted dedicated server without installOs \(campus.nodes\[0\]\)/);
    expect(error).toMatch(/campus.nodes\[0\].sshUser: is required/);
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
      // A node also holds its flavor: OpenStack resizes (reboots) in place, every node at once; the front's is one planned outage.
      const flavor = i.inputs.name === "visio-training.isen-ouest.fr" ? [] : ["flavorName"];
      expect(i.ignoreChanges.sort(), "new cloud-init or a newer image must not replace the instance, a refresh must not wake a shelved one").toEqual([
        ...flavor,
        "imageId",
        "imageName",
        "powerState",
        "userData",
      ]);
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
    expect(node).toEqual(
      expect.arrayContaining(["udp 16384-32768 0.0.0.0/0", "udp 3478-3478 ::/0", "tcp 3478-3478 0.0.0.0/0", "tcp 443-443 0.0.0.0/0", "tcp 80-80 ::/0"]),
    );
    const front = rulesOf("lb-training");
    expect(front.filter((r) => r.startsWith("udp"))).toEqual([]);
    expect(front.filter((r) => r.includes("2049"))).toEqual([]);
  });

  it("opens SSH on a Public Cloud front to the nodes' addresses when recordings are on (rsync over SSH), and never NFS", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => (c.recordings = true));
    const front = byType(resources, RULE).filter((r) => r.name.startsWith("lb-training-"));
    const fromNodes = front.filter(
      (r) => r.inputs.portRangeMin === 22 && !["193.52.128.0/24", "2001:660:7301::/48"].includes(r.inputs.remoteIpPrefix as string),
    );
    expect(fromNodes.map((r) => r.inputs.remoteIpPrefix).sort()).toEqual(
      [`${plannedIpv4("bbb-training-gra")}/32`, `${plannedIpv4("bbb-training-sbg")}/32`].sort(),
    );
    expect(byType(resources, RULE).filter((r) => [2049, 111].includes(r.inputs.portRangeMin as number))).toEqual([]);
  });

  it("lab: existing hosts are not provisioned; the configured host key is pinned, the others recorded once", async () => {
    const { resources } = await evaluateStack("lab", { "bbb-ovh:sshPrivateKey": OPERATOR_KEY });
    expect(byType(resources, SERVER)).toEqual([]);
    expect(byType(resources, INSTANCE)).toEqual([]);
    expect(byType(resources, "bbb-ovh:hosts:ExistingHost")).toHaveLength(3);
    const tofu = resources
      .filter((r) => r.name.endsWith("host-key-tofu"))
      .map((r) => r.name)
      .sort();
    expect(tofu).toEqual(["lab-bbb1-host-key-tofu", "lab-bbb2-host-key-tofu"]);
    const aaaa = byType(resources, RECORD).filter((r) => r.inputs.fieldtype === "AAAA");
    expect(aaaa.map((r) => [r.inputs.subdomain, r.inputs.target])).toEqual([["bbb1", "2001:db8:10::11"]]);
  });

  it.each(["brest", "nantes", "rennes", "training", "lab"])("%s: no secret value in any non-secret input or output", async (stack) => {
    const known = OPERATOR_KEY;
    const { resources, outputs } = await evaluateStack(stack, { "bbb-ovh:sshPrivateKey": known, "bbb-ovh:turnSecret": "KNOWN-SECRET-VALUE-7f3a9c-turn" });
    const generated = resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey").map((r) => `(planned private key ${r.name})`);
    const plain = [...resources.flatMap((r) => plainStrings(r.inputs)), ...plainStrings(outputs)];
    for (const secret of [known, "KNOWN-SECRET-VALUE-7f3a9c-turn", ...generated]) {
      expect(
        plain.filter((s) => s.includes(secret)),
        secret,
      ).toEqual([]);
    }
  });
});
