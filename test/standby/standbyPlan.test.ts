/**
 * The standby front in the real program, under the plan's mocks: the held-out layout of issue 16 (the
 * training stack: Public Cloud front in GRA11 beside half the nodes) with a standby in SBG5. What is
 * wired between the fronts, what each step receives, and the firewall that admits exactly that.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { parseCampus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { frontWarnings } from "../../components/planning/frontFailover";
import { edgeFirewallRules, firewallPolicy, renderNftRuleset } from "../../components/security/firewallPolicy";
import { evaluateStack, stepInputsOf as inputsOf, unwrapSecret as unwrap } from "../support/evaluateStack";

const STANDBY = { name: "lb-training-standby", fqdn: "visio-training-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
const withStandby = (campus: Record<string, any>) => {
  campus.standbyFront = STANDBY;
  campus.recordings = true;
};
const named = (resources: RecordedResource[], name: string) => {
  const found = resources.filter((r) => r.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
};
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
const ipOf = (resources: RecordedResource[], host: string) => inputsOf(named(resources, `${host}-hostPreflight`)).PUBLIC_IPV4;

describe("a stack with a standby front", () => {
  it("plans green about the front: no single point of failure", () => {
    const raw = readStackFile("training").config["bbb-ovh:campus"].value as Record<string, any>;
    const without = parseCampus({ ...raw, recordings: true }, { sshPrivateKey: false, turnSecret: false, dnsCredentials: false });
    expect(frontWarnings(without).join("\n")).toMatch(/single point of failure: the front lb-training .* is in gravelines/);
    const campus = parseCampus({ ...raw, recordings: true, standbyFront: STANDBY }, { sshPrivateKey: false, turnSecret: false, dnsCredentials: false });
    expect(frontWarnings(campus).filter((w) => /single point of failure/.test(w))).toEqual([]);
  });

  it("streams the database from the front to the standby, with the same Scalelite secrets, Scalelite stopped on the standby", async () => {
    const { resources } = await evaluateStack("training", {}, withStandby);
    const [front, standby] = [ipOf(resources, "lb-training"), ipOf(resources, "lb-training-standby")];
    expect(front).not.toBe(standby);
    const primary = named(resources, "lb-training-scaleliteReplicationPrimary");
    const replica = named(resources, "lb-training-standby-scaleliteReplicationStandby");
    expect(isSecretValue(primary.inputs.stdin) && isSecretValue(replica.inputs.stdin)).toBe(true);
    const [p, r] = [inputsOf(primary), inputsOf(replica)];
    expect(p.STANDBY_ADDRESSES).toBe(standby);
    expect(r.PRIMARY_ADDRESS).toBe(front);
    expect(r.REPLICATION_PASSWORD).toBe(p.REPLICATION_PASSWORD);
    expect(decode(p.TLS_CERT_B64)).toMatch(/planned certificate training-replication-cert/);
    expect(decode(r.CA_CERT_B64)).toMatch(/planned certificate training-replication-ca/);
    // The standby's stream starts once the front admits it; Scalelite waits for the stream.
    expect(replica.dependencies.some((u) => u.endsWith("lb-training-scaleliteReplicationPrimary"))).toBe(true);
    const standbyApp = inputsOf(named(resources, "lb-training-standby-scaleliteApp"));
    const frontApp = inputsOf(named(resources, "lb-training-scaleliteApp"));
    expect(standbyApp.START).toBe("false");
    expect(frontApp.START).toBeUndefined();
    // Moodle changes nothing: the same name, LOADBALANCER_SECRET and SECRET_KEY_BASE on both fronts.
    const env = (i: Record<string, string>) => decode(i.ENV_FILE_B64);
    for (const key of ["URL_HOST", "LOADBALANCER_SECRET", "SECRET_KEY_BASE", "DATABASE_URL"]) {
      const line = (text: string) => text.split("\n").find((l) => l.startsWith(`${key}=`));
      expect(line(env(standbyApp)), key).toBe(line(env(frontApp)));
    }
    expect(env(standbyApp)).toContain("URL_HOST=visio-training.isen-ouest.fr");
    // Both publish the database (either may be primary after a failover); the standby has no health check of Scalelite.
    for (const host of ["lb-training", "lb-training-standby"]) expect(inputsOf(named(resources, `${host}-scaleliteDocker`)).POSTGRES_PUBLISH).toBe("5432");
    expect(resources.filter((x) => x.name === "lb-training-standby-scaleliteHealth")).toEqual([]);
    // HTTP-01 (the training stack's): no certificate on the standby before the switch (frontWarnings says so).
    expect(resources.filter((x) => x.name === "lb-training-standby-scaleliteCertificate")).toEqual([]);
  });

  it("whichever front is the standby copies the other's recordings, each with its own key the other accepts read-only, from its address only", async () => {
    const { resources } = await evaluateStack("training", {}, withStandby);
    const ip = { "lb-training": ipOf(resources, "lb-training"), "lb-training-standby": ipOf(resources, "lb-training-standby") };
    const knownHosts: string[] = [];
    const cases = [
      { host: "lb-training", other: "lb-training-standby", key: "training-front-recordings-copy-key" },
      // The standby's key keeps the name it had when only the standby copied: existing stacks keep it.
      { host: "lb-training-standby", other: "lb-training", key: "training-recordings-copy-key" },
    ] as const;
    for (const { host, other, key } of cases) {
      // `other`'s spool admits `host`'s copy key once, from `host`'s IPv4 only, as rrsync read-only on the recordings.
      const lines = decode(inputsOf(named(resources, `${other}-scaleliteSpool`)).AUTHORIZED_KEYS_B64)
        .trimEnd()
        .split("\n");
      const copyLines = lines.filter((l) => l.includes("bbb-ovh-recordings-copy@"));
      expect(copyLines, other).toHaveLength(1);
      expect(copyLines[0]).toMatch(
        new RegExp(
          `^from="${ip[host].replace(/\./g, "\\.")}",restrict,command="/usr/bin/rrsync -ro /mnt/scalelite-recordings/var/bigbluebutton" ssh-ed25519 \\S+ bbb-ovh-recordings-copy@${host}$`,
        ),
      );
      const copy = named(resources, `${host}-scaleliteRecordingsCopy`);
      expect(isSecretValue(copy.inputs.stdin)).toBe(true);
      const inputs = inputsOf(copy);
      expect(decode(inputs.SSH_CONFIG_B64)).toContain(`HostName ${ip[other]}`);
      expect(decode(inputs.COPY_KEY_B64)).toContain(`(planned private key ${key})`);
      expect(copy.dependencies.some((u) => u.endsWith(`${host}-scaleliteSpool`))).toBe(true);
      knownHosts.push(decode(inputs.KNOWN_HOSTS_B64));
    }
    // Each pins the other's host key: two different keys.
    expect(knownHosts.every((k) => /^scalelite-front ssh-ed25519 \S+\n$/.test(k))).toBe(true);
    expect(knownHosts[0]).not.toBe(knownHosts[1]);
    // Two keys, one per front: a key taken from one front opens nothing on it, only reads on the other.
    const keyLine = (host: string) =>
      decode(inputsOf(named(resources, `${host}-scaleliteSpool`)).AUTHORIZED_KEYS_B64)
        .split("\n")
        .find((l) => l.includes("bbb-ovh-recordings-copy@"))!
        .split(" ")
        .slice(-2, -1)[0];
    expect(keyLine("lb-training")).not.toBe(keyLine("lb-training-standby"));
    // The standby's copy waits for the front's spool (what it reads while the front serves).
    expect(named(resources, "lb-training-standby-scaleliteRecordingsCopy").dependencies.some((u) => u.endsWith("lb-training-scaleliteSpool"))).toBe(true);
  });

  it("without recordings, neither front has a copy key or a copy step; the standby still admits the front's SSH, for the pool runs' timer", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => {
      withStandby(c);
      c.recordings = false;
    });
    expect(resources.filter((r) => r.name.includes("recordings-copy") || r.name.endsWith("-scaleliteRecordingsCopy"))).toEqual([]);
    const front = ipOf(resources, "lb-training");
    const fromFront = resources.filter(
      (r) =>
        r.type === "openstack:networking/secGroupRule:SecGroupRule" &&
        r.name.startsWith("lb-training-standby-") &&
        unwrap(r.inputs.remoteIpPrefix) === `${front}/32`,
    );
    expect(fromFront.map((r) => [r.inputs.portRangeMin, r.inputs.description])).toContainEqual([22, "ssh from the other front (ops pool runs)"]);
  });

  it("each node admits SSH from both fronts, in its security group and its own firewall: the pool's timer runs on each", async () => {
    const { resources } = await evaluateStack("training", {}, withStandby);
    const [front, standby] = [ipOf(resources, "lb-training"), ipOf(resources, "lb-training-standby")];
    for (const node of ["bbb-training-sbg", "bbb-training-gra"]) {
      const sources = resources
        .filter((r) => r.type === "openstack:networking/secGroupRule:SecGroupRule" && r.name.startsWith(`${node}-from-front-`))
        .map((r) => [unwrap(r.inputs.remoteIpPrefix), r.inputs.portRangeMin, r.inputs.description]);
      expect(sources).toHaveLength(2);
      expect(sources).toEqual(
        expect.arrayContaining([
          [`${front}/32`, 22, "ssh from a front (ops pool runs)"],
          [`${standby}/32`, 22, "ssh from a front (ops pool runs)"],
        ]),
      );
      const nft = decode(inputsOf(named(resources, `${node}-hostFirewall`)).RULESET_B64);
      for (const address of [front, standby]) expect(nft).toContain(`ip saddr ${address}/32 tcp dport 22 accept`);
    }
  });

  it("with backups, the standby front has the same backup step, after the front's: once it serves, its timer backs up into the same repository", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => {
      withStandby(c);
      c.recordings = true;
      c.backup = { maxAgeHours: 26 };
    });
    const front = named(resources, "lb-training-scaleliteBackup");
    const standby = named(resources, "lb-training-standby-scaleliteBackup");
    // The same settings, secrets included (the repository, its password, the S3 keys), each still a secret.
    expect(inputsOf(standby)).toEqual(inputsOf(front));
    expect(inputsOf(standby).RESTIC_REPOSITORY).toMatch(/^s3:/);
    expect(isSecretValue(standby.inputs.stdin)).toBe(true);
    // After the front's step, which makes a new repository (two restic init at once would race), and after the standby's Scalelite.
    const urn = (name: string) => named(resources, name).urn;
    expect(standby.dependencies).toEqual(expect.arrayContaining([front.urn, urn("lb-training-standby-scaleliteApp")]));
  });

  it("with DNS-01 the standby holds the front's certificate before any failover", async () => {
    const { resources } = await evaluateStack(
      "training",
      { "bbb-ovh:dnsCredentials": JSON.stringify({ endpoint: "ovh-eu", applicationKey: "k", applicationSecret: "s", consumerKey: "c" }) },
      (c) => {
        withStandby(c);
        c.certificates = { challenge: "dns-01" };
      },
    );
    expect(inputsOf(named(resources, "lb-training-standby-scaleliteCertificate"))).toMatchObject({ FQDN: "visio-training.isen-ouest.fr", CHALLENGE: "dns-01" });
  });

  it("each front admits exactly the other's database stream (the standby's now, the front's after a failback), SSH and Prometheus's scrapes", async () => {
    const { resources } = await evaluateStack("training", {}, withStandby);
    const standby = ipOf(resources, "lb-training-standby");
    const front = ipOf(resources, "lb-training");
    const sgRules = (host: string) =>
      resources.filter(
        (r) => r.type === "openstack:networking/secGroupRule:SecGroupRule" && r.name.startsWith(`${host}-`) && !r.name.startsWith(`${host}-standby-`),
      );
    const fromStandby = sgRules("lb-training").filter((r) => unwrap(r.inputs.remoteIpPrefix) === `${standby}/32`);
    expect(fromStandby.map((r) => [r.inputs.portRangeMin, r.inputs.protocol]).sort()).toEqual([
      [22, "tcp"],
      [5432, "tcp"],
      [9090, "tcp"],
      [9100, "tcp"],
    ]);
    // Each front's Prometheus scrapes the other (docs/monitoring.md): node_exporter and Prometheus; and once a
    // failback made the front the standby, it streams the standby's database and pulls its recordings over SSH.
    const fromFront = sgRules("lb-training-standby").filter((r) => unwrap(r.inputs.remoteIpPrefix) === `${front}/32`);
    expect(fromFront.map((r) => [r.inputs.portRangeMin, r.inputs.protocol]).sort()).toEqual([
      [22, "tcp"],
      [5432, "tcp"],
      [9090, "tcp"],
      [9100, "tcp"],
    ]);
    // Nobody else reaches 5432: no rule from anywhere else opens it, in either security group.
    expect(resources.filter((r) => r.type === "openstack:networking/secGroupRule:SecGroupRule" && r.inputs.portRangeMin === 5432)).toHaveLength(2);
    const nft = decode(inputsOf(named(resources, "lb-training-hostFirewall")).RULESET_B64);
    expect(nft).toContain(`ip saddr ${standby}/32 tcp dport 5432 accept`);
    expect(nft).toMatch(
      new RegExp(
        `chain forward \\{[^}]*ct status dnat ip saddr ${standby.replace(/\./g, "\\.")}/32 tcp dport 5432 accept[^}]*ct status dnat tcp dport 5432 drop`,
      ),
    );
    const standbyNft = decode(inputsOf(named(resources, "lb-training-standby-hostFirewall")).RULESET_B64);
    expect(standbyNft).toMatch(
      new RegExp(
        `chain forward \\{[^}]*ct status dnat ip saddr ${front.replace(/\./g, "\\.")}/32 tcp dport 5432 accept[^}]*ct status dnat tcp dport 5432 drop`,
      ),
    );
    expect(standbyNft.match(/ip saddr \S+ tcp dport \d+ accept/g)?.filter((l) => l.includes(front))).toEqual([
      `ip saddr ${front}/32 tcp dport 5432 accept`,
      `ip saddr ${front}/32 tcp dport 22 accept`,
      `ip saddr ${front}/32 tcp dport 9100 accept`,
      `ip saddr ${front}/32 tcp dport 9090 accept`,
      `ip saddr ${front}/32 tcp dport 5432 accept`, // the forward chain's, for the database container
    ]);
    // Both fronts run Prometheus and Alertmanager, each told the other is its peer.
    const peer = (host: string) => decode(inputsOf(named(resources, `${host}-monitoringFront`)).PROMETHEUS_YML_B64);
    // Each scrapes the other's Prometheus at its address (the front's name is the service's, which moves).
    expect(peer("lb-training")).toContain(`- ${standby}:9090`);
    expect(peer("lb-training-standby")).toContain(`- ${front}:9090`);
  });
});

describe("the firewall policy for the standby's traffic", () => {
  const policy = firewallPolicy({
    role: "front",
    sshPort: 22,
    adminCidrs: ["193.52.128.0/24"],
    nodeAddresses: ["198.51.100.7"],
    standbyAddresses: ["203.0.113.9"],
  });

  it("admits 5432 only from the standby, and on the edge firewall as one sourced permit before SSH", () => {
    expect(policy.filter((r) => r.portMin === 5432).map((r) => r.cidr)).toEqual(["203.0.113.9/32"]);
    const edge = edgeFirewallRules(policy, 22);
    const database = edge.filter((r) => r.destinationPort === 5432);
    expect(database).toEqual([{ sequence: expect.any(Number), action: "permit", protocol: "tcp", destinationPort: 5432, source: "203.0.113.9/32" }]);
    const firstSsh = edge.find((r) => r.destinationPort === 22)!;
    expect(database[0].sequence).toBeLessThan(firstSsh.sequence);
    expect(edge.at(-1)).toMatchObject({ sequence: 19, action: "deny" });
  });

  it("renders a ruleset the real nft accepts (nft -c), with the forward guard", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "bbb-ovh-nft-")), "rules.nft");
    const rules = renderNftRuleset(
      firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ["193.52.128.0/24"], standbyAddresses: ["203.0.113.9", "2001:db8::9"] }),
      "front",
    );
    writeFileSync(file, rules);
    execFileSync("nft", ["-c", "-f", file]);
    expect(rules).toContain("ct status dnat ip6 saddr 2001:db8::9/128 tcp dport 5432 accept");
  });

  it("adds no forward chain to a front without a standby (nothing changes there)", () => {
    const alone = renderNftRuleset(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ["193.52.128.0/24"] }), "front");
    expect(alone).not.toContain("forward");
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ["193.52.128.0/24"], standbyAddresses: ["203.0.113.9"] })).toThrow(
      /standby front addresses only apply to the front/,
    );
    expect(() => firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ["193.52.128.0/24"], standbyAddresses: ["nope"] })).toThrow(
      /standby front address 0: 'nope' is not an IP address/,
    );
  });

  it("admits the other front on PostgreSQL (failback) and on SSH (the recordings copy, the pool runs' timer), on a standby front only", () => {
    const input = { role: "front" as const, sshPort: 2222, adminCidrs: ["193.52.128.0/24"], peerFrontAddresses: ["198.51.100.20", ""] };
    const withCopy = firewallPolicy({ ...input, peerFrontCopiesRecordings: true }).filter((r) => r.cidr === "198.51.100.20/32");
    expect(withCopy).toEqual([
      {
        description: "postgresql replication from the other front (failback)",
        protocol: "tcp",
        portMin: 5432,
        portMax: 5432,
        cidr: "198.51.100.20/32",
        ethertype: "IPv4",
      },
      { description: "ssh from the other front (recordings copy)", protocol: "tcp", portMin: 2222, portMax: 2222, cidr: "198.51.100.20/32", ethertype: "IPv4" },
    ]);
    // Without recordings too: the timer on the front reads this front's role and keeps its copies here.
    expect(firewallPolicy(input).filter((r) => r.cidr === "198.51.100.20/32")).toEqual([
      withCopy[0],
      { ...withCopy[1], description: "ssh from the other front (ops pool runs)" },
    ]);
    expect(() => firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ["193.52.128.0/24"], peerFrontAddresses: ["198.51.100.20"] })).toThrow(
      /peer front addresses only apply to a front/,
    );
    expect(() => firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ["193.52.128.0/24"], peerFrontAddresses: ["x"] })).toThrow(
      /peer front address 0: 'x' is not an IP address/,
    );
  });
});
