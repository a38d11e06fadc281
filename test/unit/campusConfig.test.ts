import { describe, expect, it } from "vitest";
import { parseCampus, type SecretPresence } from "../../components/config/campus";
import { problemsOf as problemsWith } from "../support/configProblems";
import { missingFamilies, OPTION_FAMILIES, optionFamily, SERVER_PRESETS } from "../../components/config/presets";
import { isCidr } from "../../components/config/schema";
import { readStackFile } from "../../components/config/stackFile";

const NO_SECRETS: SecretPresence = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

/** A valid campus (the brest stack) to mutate, one rule at a time. */
function brest(): Record<string, any> {
  return structuredClone(readStackFile("brest").config["bbb-ovh:campus"].value) as Record<string, any>;
}

/** brest has campus.moodle.ssh: its Moodle key is set in the stack file. */
const BREST_SECRETS: SecretPresence = { ...NO_SECRETS, moodleSshPrivateKey: true };
const problemsOf = (raw: unknown, secrets: SecretPresence = NO_SECRETS) => problemsWith(raw, secrets);

describe("campus config", () => {
  it("accepts every stack file shipped under stacks/ (secrets counted as present where the stack sets them)", () => {
    for (const stack of ["brest", "nantes", "rennes", "training", "lab"]) {
      const file = readStackFile(stack);
      const secrets = {
        ...NO_SECRETS,
        sshPrivateKey: "bbb-ovh:sshPrivateKey" in file.config,
        moodleSshPrivateKey: "bbb-ovh:moodleSshPrivateKey" in file.config,
      };
      expect(problemsOf(file.config["bbb-ovh:campus"].value, secrets), stack).toEqual([]);
    }
  });

  it("resolves presets, subdomains, datacenters and node defaults", () => {
    const campus = parseCampus(brest(), { ...NO_SECRETS, moodleSshPrivateKey: true });
    expect(campus.front.subdomain).toBe("visio-brest");
    expect(campus.nodes.map((n) => [n.datacenter, n.tag, n.loadMultiplier, n.spec?.ramGb])).toEqual([
      // Untagged: Scalelite places a create without meta_server-tag (Moodle, Greenlight) on untagged servers only.
      ["sbg", undefined, 1, 64],
      ["rbx", undefined, 1, 64],
    ]);
    expect(campus.installerBranch).toBe("v3.0.x-release");
    expect(campus.config.scalelite.tag).toBe("v1.8.5");
    expect(campus.config.protection.allowTermination).toBe(false);
  });

  // One failing case per rule: [what, mutation, path, words the message must contain].
  const rules: Array<[string, (c: Record<string, any>) => unknown, string, RegExp]> = [
    ["campus id is a host label", (c) => (c.id = "Brest Campus"), "campus.id", /lowercase host label/],
    ["label is required", (c) => delete c.label, "campus.label", /required/],
    ["zone is a domain name", (c) => (c.dns.zone = "not a zone"), "campus.dns.zone", /domain name/],
    ["ttl is bounded", (c) => (c.dns.ttl = 5), "campus.dns.ttl", /60|>=/],
    ["admin email is an email", (c) => (c.adminEmail = "it-at-school"), "campus.adminEmail", /email/],
    ["SSH keys are OpenSSH public key lines", (c) => (c.sshPublicKeys = ["ssh-dss AAAA"]), "campus.sshPublicKeys[0]", /OpenSSH public key/],
    ["at least one SSH key", (c) => (c.sshPublicKeys = []), "campus.sshPublicKeys", /at least one SSH public key/],
    ["CIDRs parse (prefix too long)", (c) => (c.adminCidrs = ["10.0.0.0/33"]), "campus.adminCidrs[0]", /CIDR/],
    ["CIDRs parse (no prefix)", (c) => (c.adminCidrs = ["10.0.0.1"]), "campus.adminCidrs[0]", /CIDR/],
    ["at least one admin CIDR", (c) => (c.adminCidrs = []), "campus.adminCidrs", /at least one admin CIDR/],
    ["BBB version line is known", (c) => (c.bbbVersion = "jammy-999"), "campus.bbbVersion", /jammy-300/],
    ["Scalelite tag is pinned", (c) => (c.scalelite = { tag: "latest" }), "campus.scalelite.tag", /pinned/],
    ["expected users are positive", (c) => (c.expected.concurrentUsers = 0), "campus.expected.concurrentUsers", /expected|>/],
    ["host kind is known", (c) => (c.front.kind = "vps"), "campus.front.kind", /dedicated, publicCloud, existing/],
    ["datacenter is an OVH datacenter", (c) => (c.nodes[0].datacenter = "paris"), "campus.nodes[0].datacenter", /sbg/],
    ["dedicated model is a known preset", (c) => (c.nodes[0].model = "rise-99"), "campus.nodes[0].model", /unknown dedicated model 'rise-99'/],
    ["dedicated host says what to order or adopt", (c) => delete c.nodes[0].model, "campus.nodes[0]", /model .* serviceName/],
    ["model and planCode exclude each other", (c) => (c.nodes[0].planCode = "24adv01"), "campus.nodes[0].planCode", /not both/],
    ["installOs: false only when adopting", (c) => (c.nodes[0].installOs = false), "campus.nodes[0].installOs", /serviceName/],
    ["host names are unique", (c) => (c.nodes[1].name = c.nodes[0].name), "campus.nodes[1].name", /duplicate host name/],
    ["FQDNs are unique", (c) => (c.nodes[1].fqdn = c.nodes[0].fqdn), "campus.nodes[1].fqdn", /duplicate FQDN/],
    ["FQDNs sit in the zone", (c) => (c.front.fqdn = "visio.other-school.fr"), "campus.front.fqdn", /not inside the DNS zone 'isen-ouest.fr'/],
    ["the zone apex is not a host FQDN", (c) => (c.front.fqdn = "isen-ouest.fr"), "campus.front.fqdn", /not inside the DNS zone/],
    ["load multiplier is positive", (c) => (c.nodes[0].loadMultiplier = -1), "campus.nodes[0].loadMultiplier", /greater than 0/],
    ["node tag follows Scalelite's rules", (c) => (c.nodes[0].tag = "sbg dc"), "campus.nodes[0].tag", /Scalelite tag/],
    ["at least one node", (c) => (c.nodes = []), "campus.nodes", /at least one BigBlueButton node/],
    [
      "with Moodle, a node stays untagged",
      (c) => c.nodes.forEach((n: Record<string, unknown>) => (n.tag = "sbg")),
      "campus.nodes",
      /Moodle sends no meta_server-tag.*untagged/,
    ],
    ["unknown keys are rejected (typos)", (c) => (c.front.datacentre = "sbg"), "campus.front", /unknown key 'datacentre'/],
    [
      "Public Cloud flavor is known",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "x9-1" }),
      "campus.nodes[0].flavor",
      /unknown flavor 'x9-1'/,
    ],
    [
      "Public Cloud region looks like one",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "publicCloud", region: "strasbourg" }),
      "campus.nodes[0].region",
      /OpenStack region/,
    ],
    [
      "Public Cloud hosts need the project",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "publicCloud", region: "SBG5" }),
      "campus.publicCloud",
      /projectId/,
    ],
    [
      "existing hosts have an IPv4",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "existing", ipv4: "300.1.1.1" }),
      "campus.nodes[0].ipv4",
      /IPv4/,
    ],
    [
      "existing hosts' IPv6 is an IPv6",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "existing", ipv4: "192.0.2.1", ipv6: "192.0.2.2" }),
      "campus.nodes[0].ipv6",
      /IPv6/,
    ],
    // Defect 4: an order without the option families OVH marks mandatory is refused at checkout.
    [
      "a stack preset orders its mandatory option families",
      (c) =>
        (c.presets = {
          "rise-2": {
            kind: "dedicated",
            planCode: "24rise02",
            cores: 8,
            threads: 16,
            ramGb: 32,
            bandwidthMbps: 1000,
            planOptions: ["ram-32g-rise13"],
            source: "s",
            checked: "d",
          },
        }),
      "campus.presets.rise-2.planOptions",
      /24rise02 without the mandatory option families storage, bandwidth, vrack/,
    ],
    [
      "a stack preset with no options at all is refused too",
      (c) =>
        (c.presets = {
          "rise-2": { kind: "dedicated", planCode: "24rise02", cores: 8, threads: 16, ramGb: 32, bandwidthMbps: 1000, source: "s", checked: "d" },
        }),
      "campus.presets.rise-2.planOptions",
      /memory, storage, bandwidth, vrack/,
    ],
    [
      "a bare planCode orders without the mandatory options",
      (c) => {
        delete c.nodes[0].model;
        c.nodes[0].planCode = "24adv01-v3";
      },
      "campus.nodes[0].planCode",
      /mandatory options .* campus.presets/,
    ],
    // Defect 8: an adopted server whose OS is not reinstalled never gets our deploy key.
    [
      "adopting as-is needs the operator key",
      (c) => {
        delete c.nodes[0].model;
        c.nodes[0].serviceName = "ns1.ip-1-2-3.eu";
        c.nodes[0].sshUser = "debian";
      },
      "bbb-ovh:sshPrivateKey",
      /adopted dedicated server without installOs \(campus.nodes\[0\]\)/,
    ],
    [
      "adopting as-is needs the user that key logs in as",
      (c) => {
        delete c.nodes[0].model;
        c.nodes[0].serviceName = "ns1.ip-1-2-3.eu";
      },
      "campus.nodes[0].sshUser",
      /required when adopting a server without installOs/,
    ],
    [
      "sshUser only applies to a server adopted as-is",
      (c) => (c.nodes[0].sshUser = "debian"),
      "campus.nodes[0].sshUser",
      /only applies to a server adopted without installOs/,
    ],
    [
      "existing hosts need the private key they trust",
      (c) => (c.nodes[0] = { name: "n", fqdn: "n.isen-ouest.fr", kind: "existing", ipv4: "192.0.2.1" }),
      "bbb-ovh:sshPrivateKey",
      /required when a host is of kind existing/,
    ],
    ["external TURN needs its secret", (c) => (c.turn = { mode: "external", host: "turn.isen-ouest.fr" }), "bbb-ovh:turnSecret", /required/],
    ["DNS-01 needs OVH credentials", (c) => (c.certificates = { challenge: "dns-01" }), "bbb-ovh:dnsCredentials", /required for DNS-01/],
    ["Moodle dir is absolute", (c) => (c.moodle.dir = "var/www/moodle"), "campus.moodle.dir", /absolute path/],
    ["Moodle checksum algorithm is one Scalelite accepts", (c) => (c.moodle.checksumAlgorithm = "SHA384"), "campus.moodle.checksumAlgorithm", /SHA256/],
    ["accepting the DPA needs the Moodle host", (c) => delete c.moodle.ssh, "campus.moodle.acceptDpa", /campus.moodle.ssh/],
    [
      "preset overrides are complete",
      (c) => (c.presets = { "rise-2": { kind: "dedicated", planCode: "24rise02" } }),
      "campus.presets.rise-2",
      /required|expected/,
    ],
  ];

  it.each(rules)("rule: %s", (_what, mutate, path, message) => {
    const raw = brest();
    mutate(raw);
    const problems = problemsOf(raw);
    const hit = problems.find((p) => p.path === path || p.path.startsWith(`${path}.`));
    expect(hit, `problems were: ${JSON.stringify(problems)}`).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it("accepts a server adopted as-is with the operator key and its user, and one reinstalled without them", () => {
    const asIs = brest();
    delete asIs.nodes[0].model;
    Object.assign(asIs.nodes[0], { serviceName: "ns1.ip-1-2-3.eu", sshUser: "debian" });
    expect(problemsOf(asIs, { ...BREST_SECRETS, sshPrivateKey: true })).toEqual([]);
    const reinstalled = brest();
    delete reinstalled.nodes[0].model;
    Object.assign(reinstalled.nodes[0], { serviceName: "ns1.ip-1-2-3.eu", installOs: true });
    expect(problemsOf(reinstalled, BREST_SECRETS)).toEqual([]);
  });

  it("accepts a stack preset that orders every mandatory family, and one whose plan needs fewer", () => {
    const raw = brest();
    raw.presets = {
      "rise-2": {
        kind: "dedicated",
        planCode: "24rise02",
        cores: 8,
        threads: 16,
        ramGb: 32,
        bandwidthMbps: 1000,
        planOptions: ["ram-32g-x", "softraid-2x512nvme-x", "bandwidth-500-x", "vrack-bandwidth-100-x"],
        source: "s",
        checked: "d",
      },
      "ks-1": { kind: "dedicated", planCode: "24ska01", cores: 4, threads: 8, ramGb: 32, bandwidthMbps: 100, mandatoryFamilies: [], source: "s", checked: "d" },
    };
    raw.nodes[0].model = "rise-2";
    raw.nodes[1].model = "ks-1";
    expect(problemsOf(raw, BREST_SECRETS)).toEqual([]);
  });

  it("reports an overridden built-in preset missing options once, where it is defined", () => {
    const raw = brest();
    raw.presets = {
      "infra-1": {
        kind: "dedicated",
        planCode: "24adv01-v3",
        range: "eco",
        cores: 6,
        threads: 12,
        ramGb: 64,
        bandwidthMbps: 1000,
        planOptions: [],
        source: "s",
        checked: "d",
      },
    };
    expect(problemsOf(raw, BREST_SECRETS)).toEqual([
      { path: "campus.presets.infra-1.planOptions", message: expect.stringMatching(/memory, storage, bandwidth, vrack/) },
    ]);
  });

  it("every built-in dedicated preset orders one option of each mandatory family, and says where its figures come from", () => {
    for (const [name, preset] of Object.entries(SERVER_PRESETS)) {
      expect(preset.cores, name).toBeLessThanOrEqual(preset.threads);
      expect(preset.source.length, name).toBeGreaterThan(20);
      if (preset.kind !== "dedicated") continue;
      expect(missingFamilies(preset.planOptions, preset.mandatoryFamilies), name).toEqual([]);
      expect(preset.mandatoryFamilies, name).toEqual([...OPTION_FAMILIES]);
      expect(preset.planOptions.map(optionFamily).sort(), `${name}: one option per family`).toEqual([...OPTION_FAMILIES].sort());
    }
  });

  it("states physical cores: Public Cloud vCores are hyperthreads, Advance-1 has 6 cores / 12 threads", () => {
    expect(SERVER_PRESETS["c2-60"]).toMatchObject({ cores: 8, threads: 16 });
    expect(SERVER_PRESETS["infra-1"]).toMatchObject({ planCode: "24adv01-v3", range: "eco", cores: 6, threads: 12 });
    expect(SERVER_PRESETS["rise-1"]).toMatchObject({ planCode: "24rise01", range: "standard", cores: 6, threads: 12 });
  });

  it("reports every problem of a file with many at once", () => {
    const raw = brest();
    raw.id = "BREST";
    raw.adminCidrs = ["300.0.0.0/8", "2001:db8::/129"];
    raw.front.fqdn = "visio.elsewhere.org";
    raw.nodes[0].model = "rise-99";
    raw.nodes[1].name = "lb-brest";
    raw.nodes[1].loadMultiplier = 0;
    raw.turn = { mode: "external", host: "turn.isen-ouest.fr" };
    raw.colour = "blue";
    delete raw.adminEmail;
    const paths = problemsOf(raw).map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "campus.id",
        "campus.adminCidrs[0]",
        "campus.adminCidrs[1]",
        "campus.front.fqdn",
        "campus.nodes[0].model",
        "campus.nodes[1].name",
        "campus.nodes[1].loadMultiplier",
        "bbb-ovh:turnSecret",
        "campus",
        "campus.adminEmail",
      ]),
    );
    expect(paths.length).toBeGreaterThanOrEqual(10);
  });

  it("refuses a public key or host key that ssh-keygen -l cannot read, naming the field and index, with the other problems", () => {
    const raw = brest();
    const good = raw.sshPublicKeys[0] as string;
    const [type, blob] = good.split(" ");
    // The regex alone accepts all three: a copy cut short, a blob under another type's label, a point off its curve.
    raw.sshPublicKeys = [good, `${type} ${blob.slice(0, -1)} cut-in-a-mail`, `ssh-rsa ${blob} relabelled`];
    raw.moodle.ssh.hostKey = `ssh-ed25519 ${blob.slice(0, -4)}`;
    raw.id = "BREST";
    const problems = problemsOf(raw, BREST_SECRETS);
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: "campus.sshPublicKeys[1]", message: expect.stringMatching(/is not a usable SSH public key: the base64 key is damaged or cut short/) },
        { path: "campus.sshPublicKeys[2]", message: expect.stringMatching(/the key inside is of type 'ssh-ed25519' but the line says ssh-rsa/) },
        { path: "campus.moodle.ssh.hostKey", message: expect.stringMatching(/is not a usable SSH public key/) },
        { path: "campus.id", message: expect.any(String) },
      ]),
    );
    expect(problems.map((p) => p.path)).not.toContain("campus.sshPublicKeys[0]");
    // The key line's shape is still checked first, with its own message: one problem per line.
    raw.sshPublicKeys = ["AAAAC3NzaC1lZDI1NTE5 no type"];
    expect(problemsOf(raw, BREST_SECRETS).filter((p) => p.path === "campus.sshPublicKeys[0]")).toEqual([
      { path: "campus.sshPublicKeys[0]", message: "expected an OpenSSH public key line such as 'ssh-ed25519 AAAA... comment'" },
    ]);
  });

  it("refuses a term that has ended, against the clock it is given, with the other problems", () => {
    const raw = { ...brest(), term: { end: "2026-06-30" } };
    const problemsOn = (day: string) => problemsWith(raw, BREST_SECRETS, new Date(`${day}T12:00:00Z`));
    expect(problemsOn("2026-06-30")).toEqual([]);
    expect(problemsOn("2026-01-15")).toEqual([]);
    expect(problemsOn("2026-07-01")).toEqual([
      {
        path: "campus.term.end",
        message: "2026-06-30 is in the past (today is 2026-07-01, UTC): set the last day of the coming term (YYYY-MM-DD), or remove campus.term",
      },
    ]);
    expect(problemsWith({ ...raw, id: "BREST" }, BREST_SECRETS, new Date("2026-12-03T00:00:00Z")).map((p) => p.path)).toEqual(["campus.id", "campus.term.end"]);
    // A date that is not one is the schema's to refuse, once.
    expect(problemsWith({ ...raw, term: { end: "2026-13-01" } }, BREST_SECRETS, new Date("2026-12-03T00:00:00Z")).map((p) => p.path)).toEqual([
      "campus.term.end",
    ]);
  });

  it("says the whole object is missing when the stack has no campus", () => {
    expect(problemsOf(undefined)).toEqual([{ path: "bbb-ovh:campus", message: expect.stringMatching(/required/) }]);
  });

  it("parses CIDRs of both families and rejects near misses", () => {
    expect(["0.0.0.0/0", "193.52.128.0/24", "2001:660:7301::/48", "::/0"].every(isCidr)).toBe(true);
    expect(["10.0.0.0/33", "10.0.0.0", "10.0.0.0/-1", "::/129", "host/24", "10.0.0.0/24/1", "10.0.0.0/ 24"].some(isCidr)).toBe(false);
  });
});
