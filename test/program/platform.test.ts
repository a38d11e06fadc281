import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, expectTypeOf, it } from "vitest";
import { evaluateProgram, isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { parseCampus, type HostRole, type ResolvedFront, type ResolvedHost, type ResolvedNode } from "../../components/config/campus";
import type { CampusInput } from "../../components/config/schema";
import type { BbbNodeArgs } from "../../components/bbb/BbbNode";
import type { FrontHandle, HostHandle, NodeHandle } from "../../components/hosts/HostHandle";
import type { ScaleliteFrontArgs } from "../../components/scalelite/ScaleliteFront";
import type { replicationLink } from "../../components/scalelite/standby";
import { buildPlatform, type PlatformArgs, type PlatformOutputs } from "../../components/platform";
import { scriptBundle } from "../../components/remote/scriptBundle";
import { INSTALLER_PINS, installStepTriggers } from "../../components/bbb/installerPin";
import { STEPS, type StepName } from "../../components/remote/catalogue";
import { NODE_KEEP } from "../../components/scalelite/recordingLayout";
import { parentOf, plainStrings } from "../support/evaluateStack";

const COMMAND = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Deterministic stand-ins for the providers: the same name always gives the same secret. */
const mocks: pulumi.runtime.Mocks = {
  newResource({ type, name, inputs }) {
    const outputs: Record<string, unknown> = {};
    if (type === "random:index/randomPassword:RandomPassword")
      Object.assign(outputs, {
        result: `Pw${sha(name)}${sha(`${name}2`)}`.slice(0, Number(inputs.length)),
        bcryptHash: `$2a$10$${sha(name).slice(0, 53)}`,
      });
    if (type === "random:index/randomBytes:RandomBytes") outputs.hex = (sha(name) + sha(`${name}2`)).slice(0, Number(inputs.length) * 2);
    if (type === COMMAND) Object.assign(outputs, { stdout: "", stderr: "" });
    if (type === "tls:index/privateKey:PrivateKey")
      Object.assign(outputs, {
        publicKeyOpenssh: `ssh-ed25519 AAAAC3Nz${sha(name).slice(0, 20)}\n`,
        privateKeyOpenssh: `TransferKey${sha(name)}`,
        privateKeyPem: `PemKey${sha(name)}`,
      });
    if (type === "tls:index/selfSignedCert:SelfSignedCert" || type === "tls:index/locallySignedCert:LocallySignedCert") outputs.certPem = `Cert${sha(name)}`;
    if (type === "tls:index/certRequest:CertRequest") outputs.certRequestPem = `Csr${sha(name)}`;
    return { id: `${name}-id`, state: { ...inputs, ...outputs } };
  },
  call: ({ inputs }) => inputs,
};

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----test-deploy-key-----END OPENSSH PRIVATE KEY-----";
const TURN_SECRET = "TurnSecretValue0123456789";
const DNS: Record<string, string> = { endpoint: "ovh-eu", applicationKey: "DnsAppKey123", applicationSecret: "DnsAppSecret456", consumerKey: "DnsConsumer789" };

const baseCampus: CampusInput = {
  id: "brest",
  label: "Brest",
  dns: { zone: "example.org" },
  adminEmail: "ops@example.org",
  sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd ops"],
  adminCidrs: ["203.0.113.0/24"],
  expected: { concurrentUsers: 300, classrooms: 15 },
  front: { name: "lb", fqdn: "visio.example.org", kind: "existing", ipv4: "192.0.2.10" },
  nodes: [
    {
      name: "bbb-sbg",
      fqdn: "bbb1.example.org",
      kind: "existing",
      ipv4: "192.0.2.21",
      ipv6: "2001:db8::21",
      sshUser: "ubuntu",
      location: "sbg",
      loadMultiplier: 2,
    },
    { name: "bbb-rbx", fqdn: "bbb2.example.org", kind: "existing", ipv4: "192.0.2.22", location: "rbx" },
  ],
  moodle: { ssh: { host: "moodle.example.org", user: "root" }, acceptDpa: true },
};

class FakeServer extends pulumi.CustomResource {
  constructor(name: string) {
    super("test:index:Server", name, {});
  }
}

/** A host as the lead's host components hand it over: outputs, a secret key, a resource to wait for. */
function fakeHandle<R extends HostRole>(host: ResolvedHost & { role: R }): HostHandle<R> {
  const cfg = host.config as { ipv4: string; ipv6?: string; sshUser: string };
  const server = new FakeServer(host.name);
  return {
    host,
    ipv4: pulumi.output(cfg.ipv4),
    ipv6: pulumi.output(cfg.ipv6 ?? ""),
    hostKey: pulumi.output(`ssh-ed25519 AAAA${host.name}`),
    connection: pulumi.output({ host: cfg.ipv4, user: cfg.sshUser, privateKey: pulumi.secret(PRIVATE_KEY), dialErrorLimit: 40, perDialTimeout: 15 }),
    sshUser: cfg.sshUser,
    ready: [server],
  };
}

interface Variant {
  campus?: (c: CampusInput) => void;
}

async function evaluate(variant: Variant = {}) {
  const raw = structuredClone(baseCampus);
  variant.campus?.(raw);
  const campus = parseCampus(raw, { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true });
  return evaluateProgram<PlatformOutputs>({ project: "bbb-ovh", stack: "brest", config: {}, mocks }, () => {
    const site = new pulumi.ComponentResource("test:index:Site", "site");
    return buildPlatform({
      campus,
      front: fakeHandle(campus.front),
      nodes: campus.nodes.map(fakeHandle),
      moodleConnection: pulumi.output({ host: "moodle.example.org", user: "root", privateKey: pulumi.secret(PRIVATE_KEY) }),
      turnSecret: pulumi.secret(TURN_SECRET),
      dnsCredentials: pulumi.secret(DNS),
      parent: site,
    });
  });
}

const unwrap = (v: unknown): any => (isSecretValue(v) ? unwrap(v.value) : v);
const named = (resources: RecordedResource[], name: string, type?: string) => {
  const found = resources.filter((r) => r.name === name && (type === undefined || r.type === type));
  expect(found, name).toHaveLength(1);
  return found[0];
};
/** The chain of component types above a resource, nearest first. */
const parentTypes = (resources: RecordedResource[], r: RecordedResource) => {
  const types: string[] = [];
  for (let p = parentOf(resources, r); p && p.type !== "pulumi:pulumi:Stack"; p = parentOf(resources, p)) types.push(`${p.type}/${p.name}`);
  return types;
};
const stdinOf = (r: RecordedResource) => String(unwrap(r.inputs.stdin));
const inputsOf = (r: RecordedResource) =>
  Object.fromEntries(
    stdinOf(r)
      .trimEnd()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

const NODE_STEPS: StepName[] = ["hostPreflight", "bbbInstall", "bbbConfigure", "bbbRecordings", "bbbExporter", "bbbHealth"];
const FRONT_STEPS: StepName[] = ["hostPreflight", "scaleliteDocker", "scaleliteCertificate", "scaleliteSpool", "scaleliteApp", "scaleliteHealth"];

describe("buildPlatform under Pulumi mocks", () => {
  it("puts every step under its host's component, and each component under the given parent", async () => {
    const { resources } = await evaluate();
    for (const node of ["bbb-sbg", "bbb-rbx"]) {
      for (const step of ["ssh", "scripts", ...NODE_STEPS]) {
        expect(parentTypes(resources, named(resources, `${node}-${step}`))).toEqual([`bbb-ovh:bbb:BbbNode/${node}`, "test:index:Site/site"]);
      }
    }
    for (const step of ["ssh", "scripts", ...FRONT_STEPS]) {
      expect(parentTypes(resources, named(resources, `lb-${step}`))).toEqual(["bbb-ovh:scalelite:ScaleliteFront/lb", "test:index:Site/site"]);
    }
    expect(parentTypes(resources, named(resources, "lb-scaleliteRegister"))).toEqual([
      "bbb-ovh:scalelite:NodeRegistration/brest-registration",
      "test:index:Site/site",
    ]);
    expect(parentTypes(resources, named(resources, "brest-moodle-moodleConfigure"))).toEqual([
      "bbb-ovh:moodle:MoodleIntegration/brest-moodle",
      "test:index:Site/site",
    ]);
    // One copy of scripts/ per host, nothing more.
    expect(
      resources
        .filter((r) => r.type === COPY)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["bbb-rbx-scripts", "bbb-sbg-scripts", "brest-moodle-scripts", "lb-scripts"]);
  });

  it("runs each step over its own host's connection, with only the script path on the command line", async () => {
    const { resources } = await evaluate();
    const hostOf: Record<string, [string, string]> = {
      "bbb-sbg": ["192.0.2.21", "ubuntu"],
      "bbb-rbx": ["192.0.2.22", "root"],
      lb: ["192.0.2.10", "root"],
      "brest-moodle": ["moodle.example.org", "root"],
    };
    for (const r of resources.filter((x) => x.type === COMMAND || x.type === COPY)) {
      const owner = Object.keys(hostOf).find((h) => r.name.startsWith(`${h}-`))!;
      const [address, user] = hostOf[owner];
      const connection = unwrap(r.inputs.connection);
      expect([connection.host, connection.user, unwrap(connection.privateKey)], r.name).toEqual([address, user, PRIVATE_KEY]);
      if (r.type === COPY) {
        expect(r.inputs.remotePath).toBe(user === "root" ? "/root/.bbb-ovh" : `/home/${user}/.bbb-ovh`);
        expect(r.inputs.triggers).toEqual([scriptBundle().hash]);
      } else if (r.inputs.delete !== undefined) {
        // A guard: runs only when deleted, never replaced (test below).
        const step = r.name.slice(owner.length + 1).split("-")[0] as StepName;
        const dir = user === "root" ? "/root/.bbb-ovh/scripts" : `/home/${user}/.bbb-ovh/scripts`;
        expect([step, r.inputs.delete]).toEqual([
          expect.stringMatching(/^(scaleliteRetireNode|bbbRetire)$/),
          `${user === "root" ? "" : "sudo -n "}bash ${dir}/${STEPS[step].script}`,
        ]);
      } else if (!r.name.endsWith("-ssh")) {
        const step = r.name.slice(owner.length + 1) as StepName;
        const dir = user === "root" ? "/root/.bbb-ovh/scripts" : `/home/${user}/.bbb-ovh/scripts`;
        expect(r.inputs.create).toBe(`${user === "root" ? "" : "sudo -n "}bash ${dir}/${STEPS[step].script}`);
        // The install step is also triggered by the installer pin (a new pin re-runs it).
        const extra = step === "bbbInstall" ? installStepTriggers(INSTALLER_PINS["v3.0.x-release"]) : [];
        expect(r.inputs.triggers).toEqual([scriptBundle().stepHash(step), ...extra]);
      }
    }
  });

  it("guards each node's deletion on the front: cordon, refuse while it is in use, then leave Scalelite", async () => {
    const { resources } = await evaluate();
    for (const node of ["bbb-sbg", "bbb-rbx"]) {
      const guard = named(resources, `lb-scaleliteRetireNode-${node}`, COMMAND);
      // Only a delete command: nothing runs on create or update, and no trigger replaces it (a
      // replacement would run the check on a node still in service).
      expect([guard.inputs.create, guard.inputs.update, guard.inputs.triggers]).toEqual([undefined, undefined, undefined]);
      // Deleted before the node's own resources: it depends on the node's last step.
      expect(guard.dependencies).toContain(named(resources, `${node}-bbbHealth`).urn);
      expect(isSecretValue(guard.inputs.stdin)).toBe(true);
      const fqdn = inputsOf(named(resources, `${node}-bbbHealth`)).FQDN;
      expect(inputsOf(guard)).toMatchObject({
        SERVER_ID: fqdn,
        API_URL: `https://${fqdn}/bigbluebutton/api`,
        SHARED_SECRET: inputsOf(named(resources, `${node}-bbbHealth`)).SHARED_SECRET,
        INCOMING_DIR: `/mnt/scalelite-recordings/var/bigbluebutton/incoming/${node}`,
        SLEEPING_LIST: "/root/.bbb-ovh/schedule-sleeping",
        RESOURCE_NAME: `lb-scaleliteRetireNode-${node}`,
      });
      expect(parentOf(resources, guard)?.type).toBe("bbb-ovh:scalelite:NodeRetirement");
      // The node's own guard (its disk's recordings) is deleted first: it depends on the front's.
      const own = named(resources, `${node}-bbbRetire-retirement`, COMMAND);
      expect([own.inputs.create, own.inputs.triggers, own.inputs.delete]).toEqual([
        undefined,
        undefined,
        expect.stringMatching(/bash \S+\/bbb-node-retire\.sh$/),
      ]);
      expect(own.dependencies).toEqual(expect.arrayContaining([guard.urn, named(resources, `${node}-bbbHealth`).urn]));
      expect(inputsOf(own)).toEqual({ FQDN: fqdn });
    }
  });

  it("orders each node's steps on its own host, never after another node", async () => {
    const { resources } = await evaluate();
    const urn = (name: string) => named(resources, name).urn;
    for (const [node, other] of [
      ["bbb-sbg", "bbb-rbx"],
      ["bbb-rbx", "bbb-sbg"],
    ]) {
      const deps = (step: string) => named(resources, `${node}-${step}`).dependencies;
      expect(deps("ssh")).toContain(named(resources, node, "test:index:Server").urn);
      expect(deps("scripts")).toContain(urn(`${node}-ssh`));
      expect(deps("hostPreflight")).toContain(urn(`${node}-scripts`));
      expect(deps("bbbInstall")).toContain(urn(`${node}-hostPreflight`));
      expect(deps("bbbConfigure")).toContain(urn(`${node}-bbbInstall`));
      expect(deps("bbbRecordings")).toEqual(expect.arrayContaining([urn(`${node}-bbbConfigure`), urn("lb-scaleliteSpool")]));
      expect(deps("bbbHealth")).toContain(urn(`${node}-bbbRecordings`));
      expect(deps("bbbExporter")).toContain(urn(`${node}-bbbConfigure`));
      expect(deps("bbbHealth")).toContain(urn(`${node}-bbbExporter`));
      for (const r of resources.filter((x) => x.name.startsWith(`${node}-`))) {
        for (const d of r.dependencies) expect(d, `${r.name} depends on ${d}`).not.toContain(other);
      }
    }
  });

  it("registers the nodes only after every node and the front are healthy, then configures Moodle", async () => {
    const { resources } = await evaluate();
    const urn = (name: string) => named(resources, name).urn;
    expect(named(resources, "lb-scaleliteRegister").dependencies).toEqual(
      expect.arrayContaining([urn("lb-scaleliteHealth"), urn("bbb-sbg-bbbHealth"), urn("bbb-rbx-bbbHealth")]),
    );
    expect(named(resources, "brest-moodle-moodleConfigure").dependencies).toEqual(
      expect.arrayContaining([urn("lb-scaleliteHealth"), urn("lb-scaleliteRegister")]),
    );
    expect(named(resources, "lb-scaleliteApp").dependencies).toEqual(
      expect.arrayContaining([urn("lb-scaleliteDocker"), urn("lb-scaleliteCertificate"), urn("lb-scaleliteSpool")]),
    );
  });

  it("keeps every secret out of non-secret inputs, including base64 payloads, and quiet in logs", async () => {
    const { resources, outputs } = await evaluate();
    const secretValues = [PRIVATE_KEY, TURN_SECRET, DNS.applicationSecret, DNS.consumerKey];
    for (const r of resources.filter((x) => x.type.startsWith("random:") || x.type === "tls:index/privateKey:PrivateKey")) {
      // Mocks do not apply additionalSecretOutputs, so read the values the mock made up.
      const mocked = (await mocks.newResource({ type: r.type, name: r.name, inputs: r.inputs, id: "", provider: "", custom: true })).state as Record<
        string,
        string
      >;
      secretValues.push(...[mocked.result, mocked.hex, mocked.privateKeyOpenssh, mocked.privateKeyPem].filter((v) => v !== undefined));
    }
    // two node secrets; postgres, SECRET_KEY_BASE, LOADBALANCER_SECRET; two transfer keys; the monitoring
    // scrape password, its CA's key and one exporter key per host (front and two nodes); each key in two forms.
    expect(secretValues.length).toBe(4 + 2 + 3 + 2 * 2 + 1 + 2 * (1 + 3));
    for (const r of resources) {
      const strings = plainStrings(r.inputs).flatMap((s) => [s, ...[...s.matchAll(/_B64=(\S+)/g)].map((m) => decode(m[1]))]);
      for (const s of strings) for (const secret of secretValues) expect(s.includes(secret), `${r.name} shows a secret`).toBe(false);
    }
    for (const r of resources.filter((x) => x.type === COMMAND && !x.name.endsWith("-ssh"))) {
      // `<host>-<step>`, or `<host>-<step>-<name>` for a guard: step names have no dash.
      const step = r.name.replace(/^(bbb-sbg|bbb-rbx|lb|brest-moodle)-/, "").split("-")[0] as StepName;
      const carries = STEPS[step].secret.some((key) => key in inputsOf(r));
      const secretOutputs = r.additionalSecretOutputs.filter((o) => o === "stdout" || o === "stderr");
      expect([isSecretValue(r.inputs.stdin), r.inputs.logging, secretOutputs], r.name).toEqual(
        carries ? [true, "none", ["stdout", "stderr"]] : [false, "stdoutAndStderr", []],
      );
    }
    expect(isSecretValue(outputs.moodleSharedSecret)).toBe(true);
    expect(inputsOf(named(resources, "brest-moodle-moodleConfigure")).SHARED_SECRET).toBe(unwrap(outputs.moodleSharedSecret));
  });

  it("feeds the steps what the catalogue asks, from the campus", async () => {
    const { resources, outputs } = await evaluate();
    const sbgPreflight = inputsOf(named(resources, "bbb-sbg-hostPreflight"));
    expect(sbgPreflight).toMatchObject({
      ROLE: "node",
      FQDN: "bbb1.example.org",
      PUBLIC_IPV4: "192.0.2.21",
      UBUNTU_RELEASE: "22.04",
      MIN_CORES: "4",
      REQUIRE_IPV6: "1",
      RECOMMENDED_CORES: "8",
    });
    expect(inputsOf(named(resources, "lb-hostPreflight"))).toMatchObject({ ROLE: "front", REQUIRE_IPV6: "0", RECOMMENDED_CORES: "4" });
    expect(inputsOf(named(resources, "bbb-sbg-bbbInstall"))).toEqual({
      FQDN: "bbb1.example.org",
      INSTALLER_FLAGS: "-w -v jammy-300 -s bbb1.example.org -e ops@example.org",
      INSTALLER_URL: "https://raw.githubusercontent.com/bigbluebutton/bbb-install/26ce2d16c2a82ef962d685525b0c20bb89d4d151/bbb-install.sh",
      INSTALLER_SHA256: "9654ba2c4470b7e4a986c1bbf98544c7b3bf509314f1e8b217c7ef8e029186c2",
    });
    const recordings = inputsOf(named(resources, "bbb-rbx-bbbRecordings"));
    expect(decode(recordings.SSH_CONFIG_B64)).toContain("HostName 192.0.2.10\n");
    expect(decode(recordings.KNOWN_HOSTS_B64)).toBe("scalelite-front ssh-ed25519 AAAAlb\n");
    expect(recordings.POST_PUBLISH_URL).toMatch(/^https:\/\/raw\.githubusercontent\.com\/blindsidenetworks\/scalelite\/[0-9a-f]{40}\//);
    expect(recordings.POST_PUBLISH_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect([recordings.KEEP_BYTES, recordings.KEEP_HOURS]).toEqual([String(NODE_KEEP.maxBytes), String(NODE_KEEP.maxHours)]);
    const exporter = inputsOf(named(resources, "bbb-sbg-bbbExporter"));
    expect(exporter.EXPORTER_URL).toBe("https://codeload.github.com/greenstatic/bigbluebutton-exporter/tar.gz/8bfc6d865c8d02d20147083c5769198285b17ede");
    expect(decode(exporter.MANIFEST_B64)).toMatch(/^[0-9a-f]{64} {2}bbb-exporter\/server\.py$/m);
    const settings = decode(exporter.SETTINGS_B64);
    expect(settings).toContain("API_BASE_URL=https://bbb1.example.org/bigbluebutton/api/\n");
    expect(settings).toContain("RECORDINGS_METRICS_READ_FROM_DISK=true\n");
    expect(settings).toMatch(/^API_SECRET=[A-Za-z0-9]{48}$/m);
    const keys = decode(inputsOf(named(resources, "lb-scaleliteSpool")).AUTHORIZED_KEYS_B64)
      .trimEnd()
      .split("\n");
    expect(keys.map((l) => l.replace(/ ssh-ed25519 \S+ /, " KEY "))).toEqual([
      'from="192.0.2.22",restrict,command="/usr/local/lib/bbb-ovh/spool-receive /mnt/scalelite-recordings/var/bigbluebutton/incoming/bbb-rbx 10737418240 42949672960 10737418240 /usr/bin/rrsync" KEY bbb-ovh-recordings@bbb-rbx',
      'from="192.0.2.21,2001:db8::21",restrict,command="/usr/local/lib/bbb-ovh/spool-receive /mnt/scalelite-recordings/var/bigbluebutton/incoming/bbb-sbg 10737418240 42949672960 10737418240 /usr/bin/rrsync" KEY bbb-ovh-recordings@bbb-sbg',
    ]);
    // Each sender gets its own directory on the front; the mover keeps the reserve.
    const spoolInputs = inputsOf(named(resources, "lb-scaleliteSpool"));
    expect([spoolInputs.SENDERS, spoolInputs.RESERVE_BYTES]).toEqual(["bbb-sbg bbb-rbx", "10737418240"]);
    const register = inputsOf(named(resources, "lb-scaleliteRegister"));
    expect([register.SYNC_MODE, register.EXPECTED_IDS]).toEqual(["cordon", "bbb1.example.org,bbb2.example.org"]);
    // No node declares a state: what an operator set in Scalelite (ops drain) is kept.
    expect([register.KEEP_STATE_IDS, register.CORDONED_IDS]).toEqual(["bbb1.example.org,bbb2.example.org", ""]);
    const yaml = decode(register.SERVERS_YAML_B64);
    expect(yaml).toContain(`secret: ${inputsOf(named(resources, "bbb-sbg-bbbConfigure")).SHARED_SECRET}`);
    expect(yaml).toMatch(/bbb1\.example\.org:\n\s+url: https:\/\/bbb1\.example\.org\/bigbluebutton\/api\n[\s\S]*load_multiplier: 2\n/);
    expect(yaml).not.toContain("tag:"); // untagged: Scalelite places untagged creates (Moodle's) on untagged servers only
    const env = decode(inputsOf(named(resources, "lb-scaleliteApp")).ENV_FILE_B64);
    expect(env).toContain(`LOADBALANCER_SECRET=${unwrap(outputs.moodleSharedSecret)}\n`);
    expect(env).toMatch(/^SECRET_KEY_BASE=[0-9a-f]{128}$/m);
    expect(inputsOf(named(resources, "brest-moodle-moodleConfigure"))).toMatchObject({
      SERVER_URL: "https://visio.example.org/bigbluebutton/",
      ACCEPT_DPA: "1",
      CHECKSUM_ALGORITHM: "SHA256",
    });
    expect(outputs).toMatchObject({
      frontUrl: "https://visio.example.org/",
      moodleServerUrl: "https://visio.example.org/bigbluebutton/",
      nodes: [
        { name: "bbb-sbg", fqdn: "bbb1.example.org", ipv4: "192.0.2.21", datacenter: "sbg", apiUrl: "https://bbb1.example.org/bigbluebutton/api" },
        { name: "bbb-rbx", fqdn: "bbb2.example.org", ipv4: "192.0.2.22", datacenter: "rbx", apiUrl: "https://bbb2.example.org/bigbluebutton/api" },
      ],
    });
    expect(outputs.statusCommands).toEqual(
      expect.arrayContaining([
        "npm run ops -- status brest",
        "ssh root@visio.example.org docker exec scalelite-api bin/rake status",
        "ssh ubuntu@bbb1.example.org sudo bbb-conf --status",
      ]),
    );
  });

  it("re-runs the install step, and only it, on every node when the stack moves its installer pin", async () => {
    const commands = async (variant: Variant = {}) =>
      new Map((await evaluate(variant)).resources.filter((r) => r.type === COMMAND).map((r) => [r.name, [r.inputs.triggers, stdinOf(r)]]));
    const before = await commands();
    const pin = { line: "jammy-300" as const, commit: "0123456789abcdef0123456789abcdef01234567", sha256: "ab".repeat(32), date: "2026-11-20" };
    const after = await commands({ campus: (c) => (c.bbb = { installer: pin }) });
    const changed = [...after.keys()].filter((name) => JSON.stringify(after.get(name)) !== JSON.stringify(before.get(name))).sort();
    expect(changed).toEqual(["bbb-rbx-bbbInstall", "bbb-sbg-bbbInstall"]);
    const [triggers, stdin] = after.get("bbb-sbg-bbbInstall") as [string[], string];
    expect(triggers).toEqual([scriptBundle().stepHash("bbbInstall"), `bbb-install.sh ${pin.commit} sha256 ${pin.sha256}`]);
    expect(stdin).toContain(`INSTALLER_URL=https://raw.githubusercontent.com/bigbluebutton/bbb-install/${pin.commit}/bbb-install.sh\n`);
    expect(stdin).toContain(`INSTALLER_SHA256=${pin.sha256}\n`);
  });

  it("gives byte-identical commands, stdin and triggers when evaluated twice", async () => {
    const snapshot = async () =>
      JSON.stringify(
        (await evaluate()).resources
          .filter((r) => r.type === COMMAND || r.type === COPY)
          .map((r) => [r.name, r.inputs.create, r.inputs.stdin, r.inputs.triggers, r.inputs.remotePath])
          .sort(),
      );
    const first = await snapshot();
    expect(first).toContain("bbb-sbg-bbbInstall");
    expect(await snapshot()).toBe(first);
  });

  it("follows the campus options: external TURN, DNS-01, no recordings, no Moodle host", async () => {
    const { resources } = await evaluate({
      campus: (c) => {
        c.turn = { mode: "external", host: "turn.example.org" };
        c.certificates = { challenge: "dns-01" };
        c.recordings = false;
        c.moodle = { checksumAlgorithm: "SHA1" };
      },
    });
    const install = named(resources, "bbb-sbg-bbbInstall");
    expect(isSecretValue(install.inputs.stdin)).toBe(true);
    expect(inputsOf(install)).toMatchObject({ TURN_HOST: "turn.example.org", TURN_SECRET });
    const certificate = inputsOf(named(resources, "lb-scaleliteCertificate"));
    expect(certificate.CHALLENGE).toBe("dns-01");
    expect(decode(certificate.DNS_CREDENTIALS_B64)).toContain(`dns_ovh_application_secret = ${DNS.applicationSecret}\n`);
    expect(resources.filter((r) => /bbbRecordings|scaleliteSpool|recording-transfer-key|moodle/.test(r.name))).toEqual([]);
    const app = inputsOf(named(resources, "lb-scaleliteApp"));
    expect(decode(app.ENV_FILE_B64)).toContain("LOADBALANCER_CHECKSUM_ALGORITHM=SHA1:SHA256:SHA512\n");
    expect(decode(app.ENV_FILE_B64)).toContain("RECORDING_DISABLED=true\n");
    expect([app.RECORDINGS, app.ENV_RECORDING_IMPORTER_B64]).toEqual(["false", undefined]);
  });

  it("refuses to build without what the campus asks for, naming all of it before registering anything", () => {
    const raw = structuredClone(baseCampus);
    raw.turn = { mode: "external", host: "turn.example.org" };
    raw.certificates = { challenge: "dns-01" };
    const campus = parseCampus(raw, { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true });
    // Plain handles, outside any Pulumi runtime: registering a resource here would fail differently.
    const handle = <R extends HostRole>(host: ResolvedHost & { role: R }): HostHandle<R> => ({
      host,
      ipv4: pulumi.output(""),
      ipv6: pulumi.output(""),
      hostKey: pulumi.output(""),
      connection: pulumi.output({ host: "" }),
      sshUser: "root",
      ready: [],
    });
    expect(() => buildPlatform({ campus, front: handle(campus.front), nodes: campus.nodes.map(handle), parent: {} as pulumi.Resource })).toThrow(
      /no TURN secret.*bbb-ovh:dnsCredentials.*no SSH connection to the Moodle host/,
    );
  });

  // Checked by tsc (npm test type-checks test/): the components no longer check roles at run time.
  it("takes a host only in the role its type carries: a node's handle for a node, a front's for a front", () => {
    expectTypeOf<ReturnType<typeof parseCampus>["front"]>().toExtend<ResolvedFront>();
    expectTypeOf<ReturnType<typeof parseCampus>["nodes"][number]>().toExtend<ResolvedNode>();
    expectTypeOf<FrontHandle>().not.toExtend<BbbNodeArgs["handle"]>();
    expectTypeOf<HostHandle>().not.toExtend<BbbNodeArgs["handle"]>();
    expectTypeOf<NodeHandle>().not.toExtend<ScaleliteFrontArgs["handle"]>();
    expectTypeOf<NodeHandle>().not.toExtend<Parameters<typeof replicationLink>[1 | 2]>();
    expectTypeOf<HostHandle>().not.toExtend<PlatformArgs["front"]>();
    expectTypeOf<FrontHandle>().not.toExtend<PlatformArgs["nodes"][number]>();
  });
});
