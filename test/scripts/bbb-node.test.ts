/**
 * The BigBlueButton node steps, run for real over SSH against loopback sshd hosts (test/support/sshd.ts),
 * with fakes standing in only for the outside software (test/fakes/bin).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepName } from "../../components/remote/catalogue";
import { base64, type StepInputs } from "../../components/remote/invocation";
import { repointCommand } from "../../cli/ops/recordingsResend";
import { calls, copyRoot, mode, output, owner, read, runWatched, tree } from "../support/hostState";
import { connect, FAKE_BIN, killSessions, runStep, startTestHost, type HostFacts, type StepResult, type TestHost } from "../support/sshd";
import { nodePreflightInputs } from "../support/nodeInputs";
import { renderInstallerFlags } from "../../components/bbb/installerFlags";
import { INSTALLER_PINS, installerUrl } from "../../components/bbb/installerPin";
import { NODE_KEEP, POST_PUBLISH } from "../../components/scalelite/recordingLayout";
import { renderTransferKnownHosts, renderTransferSshConfig } from "../../components/scalelite/renderRecordingTransfer";
import { renderScaleliteYml } from "../../components/scalelite/renderScaleliteYml";
import { waitUntil } from "../support/waitUntil";

const SHARED_SECRET = randomBytes(24).toString("hex");
const TURN_SECRET = randomBytes(24).toString("base64");
/** What the fake web serves as bbb-install.sh at any commit (test/fakes/downloads), and its sha256. */
const FAKE_INSTALLER_SHA256 = createHash("sha256")
  .update(readFileSync(path.join(__dirname, "../fakes/downloads/bbb-install.sh")))
  .digest("hex");
const transferKey = () => `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(96).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----`;
const TRANSFER_KEY = transferKey();
const SCALELITE_YML = renderScaleliteYml();
// What the fake web serves for the pinned URL (test/fakes/downloads), and so the sha256 the step must check.
const FAKE_POST_PUBLISH = readFileSync(path.join(__dirname, "../fakes/downloads/scalelite_post_publish.rb"), "utf8");
const FAKE_POST_PUBLISH_SHA256 = createHash("sha256").update(FAKE_POST_PUBLISH).digest("hex");
const WORKER = "bbb-rap-resque-worker.service";

const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function host(options: Parameters<typeof startTestHost>[0] = {}): Promise<TestHost> {
  const h = await startTestHost(options);
  hosts.push(h);
  return h;
}

// No wait for DNS unless a test asks for one (the step waits up to DNS_WAIT_SECONDS for a new record).
const preflight = (h: TestHost): StepInputs => ({ ...nodePreflightInputs(h), DNS_WAIT_SECONDS: "0" });
const install = (h: TestHost): StepInputs => ({
  FQDN: h.fqdn,
  INSTALLER_FLAGS: renderInstallerFlags({ bbbVersion: "jammy-300", fqdn: h.fqdn, email: "ops@campus.example" }).join(" "),
  INSTALLER_URL: installerUrl(INSTALLER_PINS["v3.0.x-release"]),
  INSTALLER_SHA256: FAKE_INSTALLER_SHA256,
  TURN_HOST: "turn.campus.example",
  TURN_SECRET,
});
const configure = (h: TestHost, secret = SHARED_SECRET): StepInputs => ({ FQDN: h.fqdn, SHARED_SECRET: secret });
const recordings = (extra: StepInputs = {}): StepInputs => ({
  SSH_CONFIG_B64: base64(renderTransferSshConfig({ address: "192.0.2.10", port: 22 })),
  KNOWN_HOSTS_B64: base64(renderTransferKnownHosts("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIfront")),
  TRANSFER_KEY_B64: base64(TRANSFER_KEY),
  SCALELITE_YML_B64: base64(SCALELITE_YML),
  POST_PUBLISH_URL: POST_PUBLISH.url,
  POST_PUBLISH_SHA256: FAKE_POST_PUBLISH_SHA256,
  KEEP_BYTES: String(NODE_KEEP.maxBytes),
  KEEP_HOURS: String(NODE_KEEP.maxHours),
  ...extra,
});
/**
 * BigBlueButton's recording worker as its package ships it (bbb-record-core: bbb-rap-resque-worker.service
 * runs as User=bigbluebutton), running, as it is on an installed node. The fake bbb-install does not
 * lay it down, so the tests that need it do.
 */
async function startRecordingWorker(h: TestHost): Promise<void> {
  const unit = path.join(h.root, "usr/lib/systemd/system", WORKER);
  writeFileSync(unit, "[Unit]\nDescription=BigBlueButton recording processing (test)\n[Service]\nUser=bigbluebutton\n");
  const ssh = await connect(h);
  try {
    expect((await ssh.execCommand(`systemctl start ${WORKER}`)).code).toBe(0);
  } finally {
    ssh.dispose();
  }
}
/** The supplementary groups the running worker holds (fake systemctl, credentials(7)) and those its user has now. */
const workerGroups = (h: TestHost) => read(h, `fake-state/systemd/${WORKER}.groups`).trim();
const userGroups = (h: TestHost, user: string) =>
  read(h, "fake-state/group")
    .split("\n")
    .filter((line) => line.split(":")[3]?.split(",").includes(user))
    .map((line) => line.split(":")[0])
    .sort()
    .join(",");
const readdirNames = (h: TestHost, rel: string) => readdirSync(path.join(h.root, rel));
const restarts = (h: TestHost) => calls(h).filter((c) => c === `systemctl restart ${WORKER}`).length;
const health = (h: TestHost, extra: StepInputs = {}): StepInputs => ({
  FQDN: h.fqdn,
  SHARED_SECRET,
  CHECKSUM_ALGORITHM: "sha256",
  ATTEMPTS: "2",
  DELAY_SECONDS: "0",
  ...extra,
});

const NODE_STEPS: [StepName, (h: TestHost) => StepInputs][] = [
  ["bbbInstall", install],
  ["bbbConfigure", (h) => configure(h)],
  ["bbbRecordings", () => recordings()],
  ["bbbHealth", (h) => health(h)],
];

describe("host-preflight", () => {
  it("passes on a node that fits, and warns below the recommended size", async () => {
    const h = await host({ facts: { cores: 6 } });
    const r = await runStep(h, "hostPreflight", preflight(h));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`DNS: ${h.fqdn} -> ${h.publicIpv4}`);
    expect(r.stderr).toContain("warning: 6 CPU cores; 8 are recommended");
  });

  const failing: [string, Partial<HostFacts>, RegExp][] = [
    ["wrong OS", { osId: "debian", osVersion: "12" }, /OS is debian 12; the bbb role needs Ubuntu 22.04/],
    [
      "DNS pointing elsewhere",
      { dns: { "bbb-dns.test.example": "198.51.100.7" } },
      /bbb-dns\.test\.example: DNS answers 198\.51\.100\.7, expected 192\.0\.2\.99/,
    ],
    ["too little RAM", { ramMb: 4096 }, /4096 MB of RAM; the bbb role needs at least 8192 MB/],
  ];
  for (const [name, facts, message] of failing) {
    it(`stops on ${name} with its message and changes nothing`, async () => {
      const h = await host({ fqdn: "bbb-dns.test.example", publicIpv4: "192.0.2.99", facts });
      const before = tree(h);
      const r = await runStep(h, "hostPreflight", preflight(h));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("1 check(s) failed");
      expect(tree(h)).toEqual(before);
    });
  }

  it("on a front rebuilt while the other serves its name (DNS_SERVED_BY), expects the name on the serving front and says whose address it is", async () => {
    const h = await host({ fqdn: "visio-dns.test.example", publicIpv4: "192.0.2.99", facts: { dns: { "visio-dns.test.example": "198.51.100.7" } } });
    const served = await runStep(h, "hostPreflight", { ...preflight(h), DNS_SERVED_BY: "198.51.100.7" });
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout).toContain("DNS: visio-dns.test.example -> 198.51.100.7");
    const elsewhere = await runStep(h, "hostPreflight", { ...preflight(h), DNS_SERVED_BY: "203.0.113.5" });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain("DNS answers 198.51.100.7, expected 203.0.113.5 (the front that serves the name while this one is rebuilt)");
  });

  it("reports every failure at once", async () => {
    const h = await host({ facts: { osVersion: "20.04", cores: 2, ipv6: [], dns: {} } });
    const r = await runStep(h, "hostPreflight", preflight(h));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("OS is ubuntu 20.04");
    expect(r.stderr).toContain("2 CPU cores; the bbb role needs at least 4");
    expect(r.stderr).toContain("no global IPv6 address");
    expect(r.stderr).toContain(`${h.fqdn}: DNS has no A record after 0s, expected ${h.publicIpv4}`);
    expect(r.stderr).toContain("4 check(s) failed");
  });
});

const SYSTEM_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

describe("host-preflight asks DNS, not /etc/hosts, and waits for a new record", () => {
  // Installers write "127.0.1.1 FQDN" into /etc/hosts; glibc (getent) reads it before DNS.
  const withLocalHostsEntry = (h: TestHost) => writeFileSync(path.join(h.root, "etc/hosts"), `127.0.0.1 localhost\n127.0.1.1 ${h.fqdn} bbb\n`);
  const dnsTable = (h: TestHost, entries: Record<string, string>) =>
    writeFileSync(
      path.join(h.root, "fake-state/dns"),
      Object.entries(entries)
        .map(([name, ip]) => `${name} ${ip}\n`)
        .join(""),
    );

  it("passes when DNS has the record even though /etc/hosts maps the FQDN to 127.0.1.1", async () => {
    const h = await host();
    withLocalHostsEntry(h);
    const r = await runStep(h, "hostPreflight", preflight(h));
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain(`DNS: ${h.fqdn} -> ${h.publicIpv4}`);
  });

  it("retries while a new record propagates, then passes", async ({ signal }) => {
    const h = await host({ facts: { dns: {} } });
    withLocalHostsEntry(h);
    // The record appears once the step has asked for it, found nothing and asked again (a second query
    // means the first one is over), however slowly it got there.
    const running = runStep(h, "hostPreflight", { ...preflight(h), DNS_WAIT_SECONDS: "300", DNS_RETRY_SECONDS: "1" });
    await waitUntil(() => calls(h).filter((c) => c.startsWith("resolvectl query")).length >= 2, signal);
    dnsTable(h, { [h.fqdn]: h.publicIpv4 });
    const r = await running;
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`waiting for DNS: ${h.fqdn.replace(/\./g, "\\.")} `));
  });

  it("asks dig when systemd-resolved is not running (still not /etc/hosts)", async () => {
    const h = await host({ env: { FAKE_RESOLVED_DOWN: "1" } });
    withLocalHostsEntry(h);
    const r = await runStep(h, "hostPreflight", preflight(h));
    expect(r.code, output(r)).toBe(0);
    expect(calls(h)).toContain(`dig +short +tries=1 +time=5 A ${h.fqdn}`);
  });

  // A PATH with every fake but dig (the fakes find their lib/ next to their bin/); skipped where the
  // machine has a real dig, which would ask real DNS servers.
  const realDig = SYSTEM_DIRS.some((dir) => existsSync(path.join(dir, "dig")));
  it.skipIf(realDig)("says at once that DNS cannot be asked when neither systemd-resolved nor dig is there", async () => {
    const fakes = mkdtempSync(path.join(tmpdir(), "fakes-without-dig-"));
    mkdirSync(path.join(fakes, "bin"));
    for (const name of readdirSync(FAKE_BIN).filter((n) => n !== "dig")) copyFileSync(path.join(FAKE_BIN, name), path.join(fakes, "bin", name));
    for (const dir of ["lib", "downloads"]) symlinkSync(path.join(FAKE_BIN, "..", dir), path.join(fakes, dir));
    try {
      const h = await host({ env: { FAKE_RESOLVED_DOWN: "1", PATH: `${fakes}/bin:${SYSTEM_DIRS.join(":")}` } });
      const started = Date.now();
      const r = await runStep(h, "hostPreflight", { ...preflight(h), DNS_WAIT_SECONDS: "600", DNS_RETRY_SECONDS: "1" });
      expect(r.code).toBe(1);
      // At once, not after the 600-s wait: the bound leaves a loaded machine's step run its own time.
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(r.stderr).toContain(
        `${h.fqdn}: resolvectl: ${h.fqdn}: resolve call failed: Unit dbus-org.freedesktop.resolve1.service not found.; systemd-resolved is not running and dig (bind9-dnsutils) is not installed, so DNS cannot be asked`,
      );
    } finally {
      rmSync(fakes, { recursive: true, force: true });
    }
  });

  it("gives up after the bounded wait, naming the FQDN, the expected address and what DNS answered", async () => {
    const h = await host({ fqdn: "bbb-dns.test.example", publicIpv4: "192.0.2.99", facts: { dns: { "bbb-dns.test.example": "198.51.100.7" } } });
    withLocalHostsEntry(h);
    const started = Date.now();
    const r = await runStep(h, "hostPreflight", { ...preflight(h), DNS_WAIT_SECONDS: "2", DNS_RETRY_SECONDS: "1" });
    expect(r.code).toBe(1);
    // The 2-s wait, not the default 600 s (a loaded machine's step run takes seconds of its own).
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r.stderr).toContain("bbb-dns.test.example: DNS answers 198.51.100.7, expected 192.0.2.99 (this host's public IPv4)");
  });
});

describe("a BigBlueButton node, end to end", () => {
  let h: TestHost;
  const listings: string[] = [];
  const results: StepResult[] = [];

  beforeAll(async () => {
    h = await host();
    for (const [step, inputs] of NODE_STEPS) {
      const r = await runWatched(h, step, inputs(h), listings);
      results.push(r);
      expect(r.code, `${step}: ${output(r)}`).toBe(0);
      if (step === "bbbInstall") await startRecordingWorker(h);
    }
    // Every node step with ps watching: measured 25-40 s with the machine at load 12 on 2 cores.
  });

  it("runs the official installer once, with -w -v -s -e and no -c, its output in a 0600 log", () => {
    const installs = calls(h).filter((c) => c.startsWith("bbb-install.sh "));
    expect(installs).toEqual([`bbb-install.sh -w -v jammy-300 -s ${h.fqdn} -e ops@campus.example`]);
    expect(mode(h, "var/log/bbb-ovh/bbb-install.log")).toBe("600");
    expect(read(h, "var/log/bbb-ovh/bbb-install.log")).toContain("Setting up bbb-web");
    expect(results[0].stdout).not.toContain("Setting up"); // progress only
  });

  it("writes the external TURN server as bbb-install -c would, 0640 root:bigbluebutton", () => {
    const xml = read(h, "etc/bigbluebutton/turn-stun-servers.xml");
    expect(xml).toContain('value="turn:turn.campus.example:3478"');
    expect(xml).toContain('value="turns:turn.campus.example:443?transport=tcp"');
    expect(xml).toContain(`value="${TURN_SECRET}"`);
    expect(mode(h, "etc/bigbluebutton/turn-stun-servers.xml")).toBe("640");
    expect(statSync(path.join(h.root, "etc/bigbluebutton/turn-stun-servers.xml")).gid).toBe(997);
  });

  it("sets the shared secret where bbb-conf --setsecret does, reveals the version, restarts once", () => {
    const props = read(h, "etc/bigbluebutton/bbb-web.properties");
    expect(props).toContain(`securitySalt=${SHARED_SECRET}\n`);
    expect(props.match(/^securitySalt=/gm)).toHaveLength(1);
    expect(props).toContain("allowRevealOfBBBVersion=true\n");
    expect(read(h, "etc/bigbluebutton/bbb-apps-akka.conf")).toContain(`sharedSecret = "${SHARED_SECRET}"`);
    expect(calls(h).filter((c) => c === "bbb-conf --restart")).toHaveLength(1);
  });

  it("installs the transfer key (0600, the bigbluebutton user's), the pinned front host key, ssh_config and scalelite.yml", () => {
    const dir = "etc/bbb-ovh/recording-transfer";
    expect([mode(h, dir), owner(h, dir)]).toEqual(["750", "0:997"]);
    expect([read(h, `${dir}/id_ed25519`), mode(h, `${dir}/id_ed25519`), owner(h, `${dir}/id_ed25519`)]).toEqual([`${TRANSFER_KEY}\n`, "600", "997:997"]);
    expect(read(h, `${dir}/known_hosts`)).toBe("scalelite-front ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIfront\n");
    expect(read(h, `${dir}/ssh_config`)).toContain("HostName 192.0.2.10\n");
    expect(read(h, "usr/local/bigbluebutton/core/scripts/scalelite.yml")).toBe(SCALELITE_YML);
    expect(calls(h).filter((c) => c.startsWith("apt-get") && c.includes(" install "))).toEqual([expect.stringMatching(/install -y -q rsync openssh-client$/)]);
    // No NFS any more: no mount, no fstab line, no spool group for the worker.
    expect(calls(h).filter((c) => /^(mount |umount|usermod|groupadd)/.test(c))).toEqual([]);
    expect(existsSync(path.join(h.root, "etc/fstab"))).toBe(false);
  });

  it("installs the retry of unsent recordings: the script, a service run as bigbluebutton, a timer every 10 minutes, started", () => {
    expect([owner(h, "usr/local/sbin/bbb-ovh-recording-retry"), mode(h, "usr/local/sbin/bbb-ovh-recording-retry")]).toEqual(["0:0", "755"]);
    const service = read(h, "etc/systemd/system/bbb-ovh-recording-retry.service");
    for (const line of ["User=bigbluebutton", "StateDirectory=bbb-ovh-recording-retry", "ExecStart=/usr/local/sbin/bbb-ovh-recording-retry"])
      expect(service).toContain(`${line}\n`);
    expect(read(h, "etc/systemd/system/bbb-ovh-recording-retry.timer")).toContain("OnUnitActiveSec=10min\n");
    expect(calls(h)).toContain("systemctl start bbb-ovh-recording-retry.timer");
    expect(calls(h)).not.toContain("systemctl start bbb-ovh-recording-retry.service");
  });

  it("keeps a copy of each delivered archive within its bounds: the hook BigBlueButton runs before Scalelite's (sorted), the script, its directory, the timer's prune", () => {
    const hooks = readdirNames(h, "usr/local/bigbluebutton/core/scripts/post_publish").filter((f) => f.endsWith(".rb"));
    expect(hooks).toEqual(["bbb_ovh_keep.rb", "scalelite_post_publish.rb"]);
    expect([...hooks].sort()[0]).toBe("bbb_ovh_keep.rb");
    expect(read(h, "usr/local/bigbluebutton/core/scripts/post_publish/bbb_ovh_keep.rb")).toContain(
      `'keep', meeting_id, '${NODE_KEEP.maxBytes}', '${NODE_KEEP.maxHours}'`,
    );
    expect([owner(h, "usr/local/sbin/bbb-ovh-recording-keep"), mode(h, "usr/local/sbin/bbb-ovh-recording-keep")]).toEqual(["0:0", "755"]);
    expect(mode(h, "var/bigbluebutton/bbb-ovh-kept")).toBe("750");
    expect(read(h, "etc/systemd/system/bbb-ovh-recording-retry.service")).toContain(
      `ExecStart=/usr/local/sbin/bbb-ovh-recording-keep prune ${NODE_KEEP.maxBytes} ${NODE_KEEP.maxHours}\nExecStart=/usr/local/sbin/bbb-ovh-recording-retry\n`,
    );
  });

  it("installs post_publish from the pinned commit once its sha256 matches", () => {
    const downloads = calls(h).filter((c) => c.startsWith("curl ") && c.includes("scalelite_post_publish.rb"));
    expect(downloads).toHaveLength(1);
    expect(downloads[0]).toMatch(new RegExp(` ${POST_PUBLISH.url.replace(/[./]/g, "\\$&")}$`));
    expect(POST_PUBLISH.url).toContain(`/${POST_PUBLISH.commit}/`);
    expect(read(h, "usr/local/bigbluebutton/core/scripts/post_publish/scalelite_post_publish.rb")).toBe(FAKE_POST_PUBLISH);
  });

  it("restarts the running recording worker once, so it runs with the new setup", () => {
    expect(restarts(h)).toBe(1);
    expect(workerGroups(h)).toBe(userGroups(h, "bigbluebutton"));
  });

  it("proves the node answers and accepts the secret", () => {
    expect(results[3].stdout).toContain(`https://${h.fqdn}/bigbluebutton/api answers, and accepts our shared secret (sha256)`);
    expect(calls(h).some((c) => /^curl .*getMeetings\\\?checksum=[0-9a-f]{64}$/.test(c))).toBe(true);
  });

  it("a second run changes nothing: no installer, no restart, same files", async () => {
    const before = tree(h);
    const seen = calls(h).length;
    for (const [step, inputs] of NODE_STEPS) {
      const r = await runWatched(h, step, inputs(h), listings);
      results.push(r);
      expect(r.code, `${step}: ${output(r)}`).toBe(0);
    }
    expect(tree(h)).toEqual(before);
    const again = calls(h).slice(seen);
    expect(
      again.filter((c) => /^(bbb-install\.sh|bbb-conf --restart|systemctl (re)?start|groupadd|usermod|u?mount |apt-get|curl .*post_publish)/.test(c)),
    ).toEqual([]);
    expect(results[4].stdout).toContain("skipping the installer");
  });

  it("never shows a secret: not in step output, in any argv, in the logs, or in ps", () => {
    expect(listings.length).toBeGreaterThan(20);
    const everywhere = [
      ...results.map(output),
      read(h, "fake-calls.log"),
      read(h, "var/log/bbb-ovh/bbb-install.log"),
      read(h, "var/log/bbb-ovh/bbb-node-configure.log"),
      ...listings,
    ].join("\n");
    for (const secret of [SHARED_SECRET, TURN_SECRET, TRANSFER_KEY.split("\n")[1]]) expect(everywhere).not.toContain(secret);
    // the watcher did see the steps run
    expect(listings.some((l) => l.includes("bbb-node-install.sh"))).toBe(true);
  });
});

// Each test installs BigBlueButton (fake) and runs the recordings step two or three times: measured 20-30 s
// each with the machine at load 12 on 2 cores, at the 30 s default.
describe("bbb-node-recordings", { timeout: 90_000 }, () => {
  // An installed node with its recording worker running, built once per file; each test gets a copy (its own
  // sshd and root). The install is what bbb-node-install's own tests test; running it for each test here was
  // most of their processes. The copies share the node's name and address, as they share its install.
  const installed = { fqdn: "bbb-installed.test.example", publicIpv4: "192.0.2.250" };
  let template: Promise<string> | undefined;
  async function installedNode(options: Parameters<typeof startTestHost>[0] = {}): Promise<TestHost> {
    template ??= (async () => {
      const t = await host(installed);
      const r = await runStep(t, "bbbInstall", install(t));
      if (r.code !== 0) throw new Error(`bbbInstall: ${output(r)}`);
      await startRecordingWorker(t);
      return t.root;
    })();
    const from = await template;
    const h = await host({ ...options, ...installed });
    copyRoot(from, h);
    return h;
  }

  // Issue 8, defect 6: a worker started before its user joined a group does not have that group
  // (credentials(7)); the step must leave the running worker with the credentials its user has.
  it("leaves the running recording worker with the groups its user has (credentials(7))", async () => {
    const h = await installedNode();
    const r = await runStep(h, "bbbRecordings", recordings());
    expect(r.code, output(r)).toBe(0);
    expect(workerGroups(h)).toBe(userGroups(h, "bigbluebutton"));
  });

  it("keeps the front ops failover pointed the transfer at, until the stack names it", async () => {
    const h = await installedNode();
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    const standby = { name: "lb-standby", ipv4: "198.51.100.20", sshPort: 2222, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIstandby" };
    const file = (name: string) => read(h, `etc/bbb-ovh/recording-transfer/${name}`);
    // What ops failover runs on the node (as root; BBB_OVH_ROOT places it under the test host's root).
    execFileSync("sh", ["-c", repointCommand(standby)], { env: { ...process.env, BBB_OVH_ROOT: h.root } });
    const repointed = { config: file("ssh_config"), knownHosts: file("known_hosts") };
    expect(repointed.config).toContain("  HostName 198.51.100.20\n  Port 2222\n");

    // A `pulumi up` meanwhile: the stack still names the old front.
    const during = await runStep(h, "bbbRecordings", recordings());
    expect(during.code, output(during)).toBe(0);
    expect(during.stderr).toContain("ops failover pointed the recordings transfer at 198.51.100.20:2222 (/etc/bbb-ovh/recording-transfer/front-by-ops): kept");
    expect(file("ssh_config")).toBe(repointed.config);
    expect(file("known_hosts")).toBe(repointed.knownHosts);

    // The stack names that front now (campus.servingFront names the standby front): the mark goes, the stack rules.
    const named = recordings({
      SSH_CONFIG_B64: base64(renderTransferSshConfig({ address: "198.51.100.20", port: 2222 })),
      KNOWN_HOSTS_B64: base64(renderTransferKnownHosts(standby.hostKey)),
    });
    const after = await runStep(h, "bbbRecordings", named);
    expect(after.code, output(after)).toBe(0);
    expect(after.stderr).not.toContain("kept over the stack's front");
    expect(existsSync(path.join(h.root, "etc/bbb-ovh/recording-transfer/front-by-ops"))).toBe(false);
    // The old front again in the stack: followed, as nothing marks another front now.
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    expect(file("ssh_config")).toContain("  HostName 192.0.2.10\n  Port 22\n");
    expect(file("known_hosts")).toContain("AAAAC3NzaC1lZDI1NTE5AAAAIfront");
  });

  it("restarts the worker when the transfer key changes, and only then", async () => {
    const h = await installedNode();
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    expect(restarts(h)).toBe(1);
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    expect(restarts(h)).toBe(1);
    const rotated = transferKey();
    const r = await runStep(h, "bbbRecordings", recordings({ TRANSFER_KEY_B64: base64(rotated) }));
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "etc/bbb-ovh/recording-transfer/id_ed25519")).toBe(`${rotated}\n`);
    expect(restarts(h)).toBe(2);
    expect(output(r)).not.toContain(rotated.split("\n")[1]);
  });

  it("a run that stops after changing the key still restarts the worker on the next run", async () => {
    const h = await installedNode();
    // The download fails after the key is in place: the run stops there, before the restart.
    const broken = await runStep(h, "bbbRecordings", recordings({ POST_PUBLISH_URL: `https://downloads.example.org/scalelite/${POST_PUBLISH.commit}/x.rb` }));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("could not download the post_publish script");
    expect(read(h, "etc/bbb-ovh/recording-transfer/id_ed25519")).toBe(`${TRANSFER_KEY}\n`);
    expect(restarts(h)).toBe(0);
    const r = await runStep(h, "bbbRecordings", recordings());
    expect(r.code, output(r)).toBe(0);
    expect(restarts(h)).toBe(1);
  });

  it("refuses a post_publish script whose sha256 is not the pinned one, and a URL without a commit", async () => {
    const h = await installedNode();
    const target = "usr/local/bigbluebutton/core/scripts/post_publish/scalelite_post_publish.rb";
    const wrong = "0".repeat(64);
    const r = await runStep(h, "bbbRecordings", recordings({ POST_PUBLISH_SHA256: wrong }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`has sha256 ${FAKE_POST_PUBLISH_SHA256}, not the pinned ${wrong}; not installed`);
    expect(existsSync(path.join(h.root, target))).toBe(false);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh")) ? readdirNames(h, "var/lib/bbb-ovh").filter((f) => f.startsWith("post_publish")) : []).toEqual([]);

    const tagged = await runStep(
      h,
      "bbbRecordings",
      recordings({ POST_PUBLISH_URL: "https://raw.githubusercontent.com/blindsidenetworks/scalelite/v1.8.5/bigbluebutton/scalelite_post_publish.rb" }),
    );
    expect(tagged.code).toBe(1);
    expect(tagged.stderr).toContain("POST_PUBLISH_URL must name a commit");

    // A script changed on disk (not the pinned one) is replaced by the pinned one.
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    writeFileSync(path.join(h.root, target), "puts 'tampered'\n");
    expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
    expect(read(h, target)).toBe(FAKE_POST_PUBLISH);
  });

  describe("on a node that used the front's NFS share (our former setup)", () => {
    const LEGACY = "/mnt/scalelite-recordings/var/bigbluebutton";
    async function legacyNode(mountTimeout = "2"): Promise<TestHost> {
      // A short wait for a share that does not answer keeps these tests quick (the step's default is 20 s).
      const h = await installedNode({ env: { MOUNT_TIMEOUT: mountTimeout } });
      // What the former step left: the spool group, our fstab line beside others, the share mounted.
      writeFileSync(path.join(h.root, "fake-state/group"), `${read(h, "fake-state/group")}scalelite-spool:x:2000:bigbluebutton\n`);
      mkdirSync(path.join(h.root, LEGACY), { recursive: true });
      writeFileSync(path.join(h.root, LEGACY, "kept.txt"), "under the mount point");
      writeFileSync(
        path.join(h.root, "etc/fstab"),
        `# /etc/fstab\nUUID=abcd / ext4 defaults 0 1\n192.0.2.10:${LEGACY} ${LEGACY} nfs _netdev,nofail,hard,noatime 0 0\n`,
      );
      writeFileSync(path.join(h.root, "fake-state/mounts"), `192.0.2.10:${LEGACY} ${h.root}${LEGACY} nfs _netdev,nofail,hard,noatime\n`);
      return h;
    }

    it("unmounts the share, drops only our fstab line, deletes nothing, restarts the worker once", async () => {
      const h = await legacyNode();
      const r = await runStep(h, "bbbRecordings", recordings());
      expect(r.code, output(r)).toBe(0);
      expect(read(h, "etc/fstab")).toBe("# /etc/fstab\nUUID=abcd / ext4 defaults 0 1\n");
      expect(read(h, "fake-state/mounts")).toBe("");
      expect(calls(h).filter((c) => c.startsWith("umount"))).toEqual([`umount -c ${h.root}${LEGACY}`]);
      expect(read(h, `${LEGACY.slice(1)}/kept.txt`)).toBe("under the mount point");
      expect(restarts(h)).toBe(1);
      expect(workerGroups(h)).toBe(userGroups(h, "bigbluebutton"));

      const before = tree(h);
      expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
      expect(tree(h)).toEqual(before);
      expect(restarts(h)).toBe(1);
    });

    it("a run killed while unmounting converges on the next run: unmounted, fstab clean, worker restarted", async ({ signal }) => {
      // The umount hangs, and the step's wait for it outlasts the test's kill however loaded the machine is: with
      // a 2-s wait, a kill that came later found the share already detached lazily (a CI run at load 8).
      const h = await legacyNode("600");
      mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
      writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_UMOUNT_SLEEP"), "600");
      const running = runStep(h, "bbbRecordings", recordings());
      await waitUntil(() => calls(h).some((c) => c.startsWith("umount")), signal, 10);
      // Until none is left: a process forking while the first pass kills would survive it.
      let killed = 0;
      for (let n = killSessions(h); n > 0; n = killSessions(h)) killed += n;
      expect(killed).toBeGreaterThan(0);
      expect((await running).code).not.toBe(0);
      expect(restarts(h)).toBe(0);
      expect(read(h, "fake-state/mounts")).not.toBe("");

      rmSync(path.join(h.root, "fake-state/knobs/FAKE_UMOUNT_SLEEP"));
      const r = await runStep(h, "bbbRecordings", recordings());
      expect(r.code, output(r)).toBe(0);
      expect(read(h, "fake-state/mounts")).toBe("");
      expect(read(h, "etc/fstab")).toBe("# /etc/fstab\nUUID=abcd / ext4 defaults 0 1\n");
      expect(restarts(h)).toBe(1);
      expect((await runStep(h, "bbbRecordings", recordings())).code).toBe(0);
      expect(restarts(h)).toBe(1);
    });

    it("detaches a busy share lazily instead of failing or hanging", async () => {
      const h = await legacyNode();
      mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
      writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_UMOUNT_BUSY"), "1");
      const r = await runStep(h, "bbbRecordings", recordings());
      expect(r.code, output(r)).toBe(0);
      expect(r.stderr).toContain("is busy or does not answer; detaching it lazily (umount -l)");
      expect(read(h, "fake-state/mounts")).toBe("");
    });

    it("detaches a share whose export was withdrawn (stale handle: mountpoint cannot stat it), found in the kernel's mount table", async () => {
      const h = await legacyNode();
      mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
      writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_MOUNTPOINT_STALE"), "1");
      // /proc/self/mountinfo (proc(5)): field 5 is the mount point.
      mkdirSync(path.join(h.root, "proc/self"), { recursive: true });
      writeFileSync(
        path.join(h.root, "proc/self/mountinfo"),
        `22 1 252:1 / / rw,relatime - ext4 /dev/vda1 rw\n97 22 0:53 / ${LEGACY} rw,relatime - nfs 192.0.2.10:${LEGACY} rw,hard\n`,
      );
      const r = await runStep(h, "bbbRecordings", recordings());
      expect(r.code, output(r)).toBe(0);
      expect(calls(h).filter((c) => c.startsWith("umount"))).toEqual([`umount -l -c ${h.root}${LEGACY}`]);
      expect(read(h, "fake-state/mounts")).toBe("");
      expect(restarts(h)).toBe(1);
    });

    it("detaches a share whose server no longer answers without waiting for it", async () => {
      const h = await legacyNode();
      mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
      for (const knob of ["FAKE_MOUNTPOINT_SLEEP", "FAKE_UMOUNT_SLEEP"]) writeFileSync(path.join(h.root, "fake-state/knobs", knob), "120");
      const started = Date.now();
      const r = await runStep(h, "bbbRecordings", recordings());
      expect(r.code, output(r)).toBe(0);
      // Its 2-s MOUNT_TIMEOUT, not the 120 s the share blocks for.
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(r.stderr).toContain("does not answer (its NFS server is gone); detaching it lazily (umount -l)");
      expect(calls(h).filter((c) => c.startsWith("umount"))).toEqual([`umount -l -c ${h.root}${LEGACY}`]);
      expect(read(h, "fake-state/mounts")).toBe("");
      expect(read(h, "etc/fstab")).toBe("# /etc/fstab\nUUID=abcd / ext4 defaults 0 1\n");
      expect(restarts(h)).toBe(1);
    });
  });
});

describe("bbb-node-configure", () => {
  it("sets the secret in the webhooks config and post catcher too, keeping their other lines and modes", async () => {
    const h = await host();
    expect((await runStep(h, "bbbInstall", install(h))).code).toBe(0);
    const webhooks = path.join(h.root, "usr/local/bigbluebutton/bbb-webhooks");
    mkdirSync(path.join(webhooks, "config"), { recursive: true });
    mkdirSync(path.join(webhooks, "extra"), { recursive: true });
    writeFileSync(path.join(webhooks, "config/default.yml"), "bbb:\n  serverDomain: x\n  sharedSecret: old-secret\n  auth2_0: false\n", { mode: 0o640 });
    writeFileSync(path.join(webhooks, "extra/post_catcher.js"), 'var port = 3006;\nvar shared_secret = "old-secret";\n');
    const r = await runStep(h, "bbbConfigure", configure(h));
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "usr/local/bigbluebutton/bbb-webhooks/config/default.yml")).toBe(
      `bbb:\n  serverDomain: x\n  sharedSecret: ${SHARED_SECRET}\n  auth2_0: false\n`,
    );
    expect(mode(h, "usr/local/bigbluebutton/bbb-webhooks/config/default.yml")).toBe("640");
    expect(read(h, "usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js")).toBe(`var port = 3006;\nvar shared_secret = "${SHARED_SECRET}";\n`);
    expect(output(r)).not.toContain(SHARED_SECRET);
  });
});

describe("bbb-node-install", () => {
  it("refuses a -c flag (a TURN secret on the installer's argv) before downloading anything", async () => {
    const h = await host();
    const r = await runStep(h, "bbbInstall", { ...install(h), INSTALLER_FLAGS: "-w -v jammy-300 -c turn.example.org:s3cr3t" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing installer flag '-c'");
    expect(calls(h).filter((c) => c.startsWith("curl") || c.startsWith("bbb-install.sh"))).toEqual([]);
  });

  it("a run killed while the installer works converges on the next run", async ({ signal }) => {
    const h = await host();
    mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_BBB_INSTALL_SLEEP"), "30");
    const killed = runStep(h, "bbbInstall", install(h));
    await waitUntil(() => calls(h).some((c) => c.startsWith("bbb-install.sh")), signal, 20);
    expect(killSessions(h)).toBeGreaterThan(0);
    const r1 = await killed;
    expect(r1.code).not.toBe(0);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.stamp"))).toBe(false);

    rmSync(path.join(h.root, "fake-state/knobs/FAKE_BBB_INSTALL_SLEEP"));
    const r2 = await runStep(h, "bbbInstall", install(h));
    expect(r2.code, output(r2)).toBe(0);
    expect(calls(h).filter((c) => c.startsWith("bbb-install.sh"))).toHaveLength(2);
    const r3 = await runStep(h, "bbbInstall", install(h));
    expect(r3.stdout).toContain("skipping the installer");
    expect(calls(h).filter((c) => c.startsWith("bbb-install.sh"))).toHaveLength(2);
  });

  it("a new admin email sets it on the Let's Encrypt account and never re-runs the installer, also over an older stamp", async () => {
    const h = await host();
    const withEmail = (email: string): StepInputs => ({
      ...install(h),
      INSTALLER_FLAGS: renderInstallerFlags({ bbbVersion: "jammy-300", fqdn: h.fqdn, email }).join(" "),
    });
    const installerRuns = () => calls(h).filter((c) => c.startsWith("bbb-install.sh")).length;
    const accountUpdates = () => calls(h).filter((c) => c.startsWith("certbot update_account"));
    const first = await runStep(h, "bbbInstall", install(h));
    expect(first.code, output(first)).toBe(0);
    expect(accountUpdates(), "the installer registered the account with this email").toEqual([]);

    const changed = await runStep(h, "bbbInstall", withEmail("it-alerts@campus.example"));
    expect(changed.code, output(changed)).toBe(0);
    expect(changed.stdout).toContain("skipping the installer");
    expect(installerRuns()).toBe(1);
    expect(accountUpdates()).toEqual([expect.stringContaining("--email it-alerts@campus.example")]);
    const again = await runStep(h, "bbbInstall", withEmail("it-alerts@campus.example"));
    expect(again.code, output(again)).toBe(0);
    expect(accountUpdates(), "the same email again: nothing to change").toHaveLength(1);

    // A stamp written before the email was left out of it hashed every flag: it still counts.
    const flags = withEmail("old@campus.example");
    const legacy = createHash("sha256").update(`${flags.INSTALLER_URL} ${flags.INSTALLER_SHA256} ${flags.INSTALLER_FLAGS}`).digest("hex");
    writeFileSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.stamp"), `${legacy}\n`);
    rmSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.email"));
    mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_CERTBOT_FAIL"), "1");
    const failed = await runStep(h, "bbbInstall", flags);
    expect(failed.code, "the account's email is not worth stopping the node's steps for").toBe(0);
    expect(failed.stderr).toContain("certbot update_account failed");
    expect(installerRuns()).toBe(1);
    rmSync(path.join(h.root, "fake-state/knobs/FAKE_CERTBOT_FAIL"));
    const retried = await runStep(h, "bbbInstall", flags);
    expect(retried.code, output(retried)).toBe(0);
    expect(accountUpdates().at(-1), "retried on the next run").toContain("--email old@campus.example");
    expect(installerRuns()).toBe(1);
  });

  it("shows the tail of the installer's log when it fails, and leaves no stamp", async () => {
    const h = await host({ env: { FAKE_BBB_INSTALL_FAIL: "1" } });
    const r = await runStep(h, "bbbInstall", install(h));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`bbb-install: Let's Encrypt SSL request for ${h.fqdn} did not succeed - exiting`);
    expect(r.stderr).toContain(`BigBlueButton installation on ${h.fqdn} failed`);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.stamp"))).toBe(false);
  });

  it("stops before running an installer whose sha256 is not the pinned one, and keeps nothing of it", async () => {
    const h = await host();
    const wrong = "0".repeat(64);
    const r = await runStep(h, "bbbInstall", { ...install(h), INSTALLER_SHA256: wrong });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `bbb-install.sh from ${installerUrl(INSTALLER_PINS["v3.0.x-release"])} has sha256 ${FAKE_INSTALLER_SHA256}, not the pinned ${wrong}`,
    );
    expect(calls(h).filter((c) => c.startsWith("bbb-install.sh"))).toEqual([]);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.sh"))).toBe(false);
  });

  it("runs the installer without -e, as upstream's documented `wget ... | bash -s --` does: a harmless failing command does not abort it", async () => {
    // The fake then fails an unguarded `kill` as the real get_IP does (see the fake's nat_probe).
    const h = await host({ env: { FAKE_BBB_INSTALL_NAT: "1" } });
    const r = await runStep(h, "bbbInstall", install(h));
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "var/log/bbb-ovh/bbb-install.log")).toContain("Detected this server has an internal/external IP address");
  });

  it("catches a failed step the installer went on past (it runs without -e): no BigBlueButton, no stamp", async () => {
    const h = await host({ env: { FAKE_BBB_INSTALL_PACKAGES_FAIL: "1" } });
    const r = await runStep(h, "bbbInstall", install(h));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bbb-install.sh exited 0 but BigBlueButton is not installed");
    expect(r.stderr).toContain("E: Unable to locate package bigbluebutton");
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-install.stamp"))).toBe(false);
  });

  it("the fake installer refuses -l like the real one", async () => {
    const h = await host();
    const ssh = await connect(h);
    try {
      const r = await ssh.execCommand("fake-bbb-install -v jammy-300 -l");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("illegal option -- l");
      expect(r.stderr).toContain("bbb-install: Invalid option");
    } finally {
      ssh.dispose();
    }
  });
});

describe("bbb-node-health", () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await host();
    for (const step of ["bbbInstall", "bbbConfigure"] as const) {
      const r = await runStep(h, step, step === "bbbInstall" ? install(h) : configure(h));
      expect(r.code, output(r)).toBe(0);
    }
  });

  it("works with each checksum algorithm Scalelite accepts", async () => {
    for (const algorithm of ["sha1", "sha512"]) {
      const r = await runStep(h, "bbbHealth", health(h, { CHECKSUM_ALGORITHM: algorithm }));
      expect(r.code, output(r)).toBe(0);
    }
    const r = await runStep(h, "bbbHealth", health(h, { CHECKSUM_ALGORITHM: "sha384" }));
    expect(r.stderr).toContain("no sha384");
  });

  it("fails fast, naming the node, when the node has another secret", async () => {
    const r = await runStep(h, "bbbHealth", { ...health(h), SHARED_SECRET: "0ther5ecret0ther5ecret" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${h.fqdn} rejects our shared secret (checksumError`);
    expect(output(r)).not.toContain("0ther5ecret");
  });

  it("retries a bounded number of times while the node starts", async () => {
    mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_BBB_API_DOWN_TIMES"), "2");
    rmSync(path.join(h.root, "fake-state/bbb-api-requests"), { force: true });
    const failed = await runStep(h, "bbbHealth", health(h, { ATTEMPTS: "2" }));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`BigBlueButton on ${h.fqdn} is not healthy after 2 attempt(s): curl: (7) Failed to connect to ${h.fqdn} port 443`);

    rmSync(path.join(h.root, "fake-state/bbb-api-requests"));
    const recovered = await runStep(h, "bbbHealth", health(h, { ATTEMPTS: "3" }));
    expect(recovered.code, output(recovered)).toBe(0);
  });
});
