/**
 * What the plan says about SSH access (components/security/sshWarnings.ts): admin CIDRs open to the whole
 * Internet, and every host whose host key the stack does not pin, with the ssh-keyscan line that pins it.
 * That line is run for real against an sshd on loopback, and what it prints, written where the warning
 * says, pins the host: the stack is accepted and the warning is gone.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCampus, type SecretPresence } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { openAdminCidrWarnings, sshWarnings, unpinnedHostKeyWarnings } from "../../components/security/sshWarnings";
import { ONSITE_STANDBY, withRiseNodes } from "../support/campusInput";
import { startTestHost, type TestHost } from "../support/sshd";
import { evaluateStack } from "../support/evaluateStack";
import { isSecretValue } from "../../cli/plan/recorder";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";

// A real ed25519 key line (ssh-keygen, private half thrown away).
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqwwyR602HcJJPl/ifkAw2Wi9NtaKQ3qFqIQnmpB6/e adopted";
const ALL: SecretPresence = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true };
const raw = (stack: string) => structuredClone(readStackFile(stack).config["bbb-ovh:campus"].value) as Record<string, any>;
const campusOf = (c: Record<string, any>) => parseCampus(c, ALL);

describe("admin CIDRs open to the world", () => {
  it.each([[["0.0.0.0/0"]], [["193.52.128.0/24", "::/0"]], [["0.0.0.0/0", "::/0"]], [["203.0.113.7/0"]]])("%j: one warning naming them", (cidrs) => {
    const warnings = openAdminCidrWarnings(campusOf({ ...raw("training"), adminCidrs: cidrs }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^SSH is open to the world: campus\.adminCidrs holds /);
    for (const cidr of cidrs.filter((c) => c.endsWith("/0"))) expect(warnings[0]).toContain(cidr);
    expect(warnings[0]).toMatch(/; to do: list only the networks your team connects from/);
  });

  it("says nothing of networks that are not everything", () => {
    expect(openAdminCidrWarnings(campusOf({ ...raw("training"), adminCidrs: ["0.0.0.0/1", "128.0.0.0/1", "2000::/3"] }))).toEqual([]);
    for (const stack of ["brest", "nantes", "rennes", "training", "lab"]) expect(openAdminCidrWarnings(campusOf(raw(stack))), stack).toEqual([]);
  });
});

describe("hosts whose SSH host key is not pinned", () => {
  it("the shipped stacks: lab's two nodes (its front is pinned) and brest's Moodle host; nothing where bbb-ovh installs the OS", () => {
    const warned = (stack: string) =>
      unpinnedHostKeyWarnings(campusOf(raw(stack))).map((w) => w.match(/`(ssh-keyscan [^`]*)`.* as (\S+) in the stack file/)?.slice(1));
    expect(warned("lab")).toEqual([
      ["ssh-keyscan -p 22 -t ed25519 198.51.100.11", "campus.nodes[0].hostKey"],
      ["ssh-keyscan -p 22 -t ed25519 198.51.100.12", "campus.nodes[1].hostKey"],
    ]);
    expect(warned("brest")).toEqual([["ssh-keyscan -p 22 -t ed25519 moodle.isen-ouest.fr", "campus.moodle.ssh.hostKey"]]);
    for (const stack of ["training", "nantes", "rennes"]) expect(warned(stack), stack).toEqual([]);
  });

  it("an existing host's port, an adopted server, the Moodle port; and none once each key is given", () => {
    const c = raw("brest");
    delete c.nodes[0].model;
    c.nodes[0].serviceName = "ns3001234.ip-51-68-1.eu";
    c.nodes[0].sshUser = "debian";
    c.nodes[1] = { name: "bbb-onsite", fqdn: "bbb9.brest.isen-ouest.fr", kind: "existing", ipv4: "198.51.100.40", sshPort: 2222, location: "campus-dc" };
    c.moodle.ssh.port = 2022;
    expect(unpinnedHostKeyWarnings(campusOf(c))).toEqual([
      expect.stringMatching(
        /^host key not pinned: campus\.nodes\[0\] \(bbb-brest-sbg, adopted as it is\) .*`ssh-keyscan -p 22 -t ed25519 ns3001234\.ip-51-68-1\.eu`/,
      ),
      expect.stringMatching(
        /^host key not pinned: campus\.nodes\[1\] \(bbb-onsite, existing\) .*198\.51\.100\.40 port 2222; .*`ssh-keyscan -p 2222 -t ed25519 198\.51\.100\.40`/,
      ),
      expect.stringMatching(/^host key not pinned: the Moodle host .*`ssh-keyscan -p 2022 -t ed25519 moodle\.isen-ouest\.fr`/),
    ]);
    // A server adopted and reinstalled gets a generated key: nothing to pin.
    expect(unpinnedHostKeyWarnings(campusOf({ ...c, nodes: [{ ...c.nodes[0], installOs: true, sshUser: undefined }, c.nodes[1]] }))).toHaveLength(2);
  });

  describe("the ssh-keyscan line, run against a real sshd on loopback", () => {
    let host: TestHost;
    beforeAll(async () => {
      host = await startTestHost();
    });
    afterAll(async () => host?.stop());

    it.skipIf(spawnSync("ssh-keyscan", ["-?"]).error !== undefined)("prints the key that, written where the warning says, pins the host", () => {
      const c = raw("lab");
      Object.assign(c.nodes[0], { ipv4: host.host, sshPort: host.port });
      const [warning] = unpinnedHostKeyWarnings(campusOf(c));
      const [, command, field] = warning.match(/`(ssh-keyscan [^`]*)`.* as (\S+) in the stack file/)!;
      expect(command).toBe(`ssh-keyscan -p ${host.port} -t ed25519 ${host.host}`);
      expect(field).toBe("campus.nodes[0].hostKey");
      const [program, ...args] = command.split(" ");
      const scanned = execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
      // "from ssh-ed25519 on": the host name ssh-keyscan puts first is cut.
      const key = scanned.slice(scanned.indexOf("ssh-ed25519"));
      expect(key.split(" ").slice(0, 2)).toEqual(host.hostPublicKey.split(" ").slice(0, 2));
      c.nodes[0].hostKey = key;
      const pinned = campusOf(c);
      expect(unpinnedHostKeyWarnings(pinned).join("\n")).not.toContain("campus.nodes[0]");
      expect(sshWarnings(pinned).filter((w) => w.startsWith("host key not pinned"))).toHaveLength(1);
    });
  });
});

describe("hostKey of a dedicated server", () => {
  it("is refused where bbb-ovh installs the OS and generates the key", () => {
    const c = raw("brest");
    c.nodes[0].hostKey = HOST_KEY;
    expect(() => campusOf(c)).toThrow(/campus\.nodes\[0\]\.hostKey: only applies to a server adopted without installOs/);
  });

  it("pins a server adopted as it is: no record on first contact, every connection checks that key", async () => {
    const { resources } = await evaluateStack("brest", { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("adopter") }, (c) => {
      delete c.nodes[0].model;
      Object.assign(c.nodes[0], { serviceName: "ns3001234.ip-51-68-1.eu", sshUser: "debian", hostKey: HOST_KEY });
    });
    expect(resources.filter((r) => r.name.startsWith("bbb-brest-sbg-host-key"))).toEqual([]);
    const steps = resources.filter((r) => r.type.startsWith("command:remote:") && r.name.startsWith("bbb-brest-sbg-"));
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      const connection = (isSecretValue(step.inputs.connection) ? step.inputs.connection.value : step.inputs.connection) as Record<string, unknown>;
      expect(connection.hostKey, step.name).toBe(HOST_KEY);
    }
  });
});

describe("a front outside OVHcloud and the edge firewall of dedicated nodes", () => {
  const warned = (c: Record<string, any>) => sshWarnings(campusOf(c)).filter((w) => w.startsWith("the front "));
  const riseBrest = () => withRiseNodes(raw("brest"));

  it("warns when an existing front is outside adminCidrs and a dedicated node sits behind the edge firewall, naming the /32 to add", () => {
    const warnings = warned({ ...riseBrest(), standbyFront: ONSITE_STANDBY });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^the front lb-brest-onsite \(existing, 198\.51\.100\.20\) is not in campus\.adminCidrs: .*edge firewall of bbb-brest-sbg, bbb-brest-rbx refuses its SSH.*; to do: add 198\.51\.100\.20\/32 to campus\.adminCidrs/,
    );
  });

  it("says nothing when the address is in adminCidrs, without a standby front (no timer reaches the nodes), or when no node is behind an edge firewall", () => {
    const brest = riseBrest();
    expect(warned({ ...brest, standbyFront: ONSITE_STANDBY, adminCidrs: [...brest.adminCidrs, "198.51.100.0/24"] })).toEqual([]);
    expect(warned({ ...brest, front: { ...ONSITE_STANDBY, name: "lb-brest" } })).toEqual([]);
    expect(warned({ ...raw("brest"), standbyFront: ONSITE_STANDBY })).toEqual([]);
    // training: Public Cloud nodes, whose security groups admit both fronts by address.
    expect(warned({ ...raw("training"), standbyFront: { ...ONSITE_STANDBY, name: "lb-training-onsite" } })).toEqual([]);
    for (const stack of ["brest", "nantes", "rennes", "training", "lab"]) expect(warned(raw(stack)), stack).toEqual([]);
  });
});
