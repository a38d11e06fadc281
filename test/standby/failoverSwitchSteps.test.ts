/**
 * Two steps of `ops failover` / `ops failback` on their own: the DNS switch of the front's name against the
 * OVH API peer (test/support/ovhApiPeer.ts, through OVH's own Node client), AAAA records included, and the
 * HTTP-01 certificate step on the new front, the real scripts/scalelite-certificate.sh over a loopback sshd
 * host with the fake certbot (test/fakes/bin/certbot: FAKE_CERTBOT_FAIL models a CA that cannot validate yet,
 * as while Let's Encrypt still resolves the old A record); and the DNS-01 certificate check on the front about
 * to serve, before anything changes (FAKE_CERTBOT_DAYS gives a certificate close to its end).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import tls from "node:tls";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDnsCertificate, renderSwitch, requestCertificate, startFirstBackup, switchDns, type Side } from "../../cli/ops/failover";
import { ovhApiFromEnv } from "../../cli/ops/ovhApi";
import { base64 } from "../../components/remote/invocation";
import { renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { calls, read } from "../support/hostState";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { runStep, shellOn, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const ZONE = "school.example";
const FQDN = `visio.${ZONE}`;

/** The standby front as ops reaches it: a loopback sshd host. */
const standbySide = (host: TestHost): Side => ({
  name: "lb-standby",
  ssh: { host: host.host, port: host.port, username: host.username, privateKey: host.privateKey, hostKey: host.hostPublicKey },
  ipv4: "127.0.0.1",
});

describe("the DNS switch of the front's name", () => {
  let peer: OvhApiPeer;
  beforeAll(async () => {
    peer = await startOvhApiPeer("0123456789abcdef0123456789abcdef", {
      records: [
        { id: 7001, zone: ZONE, subDomain: "visio", fieldType: "A", target: "198.51.100.10", ttl: 120 },
        { id: 7002, zone: ZONE, subDomain: "visio", fieldType: "AAAA", target: "2001:db8::10", ttl: 120 },
        { id: 7003, zone: ZONE, subDomain: "visio-standby", fieldType: "A", target: "203.0.113.20", ttl: 120 },
      ],
    });
    // In this process, the peer's certificate is trusted as NODE_EXTRA_CA_CERTS makes a new ops process trust it.
    https.globalAgent.options.ca = [...tls.rootCertificates, readFileSync(peer.caFile, "utf8")];
  });
  afterAll(() => {
    delete https.globalAgent.options.ca;
    return peer?.close();
  });

  const api = () =>
    ovhApiFromEnv({
      OVH_API_URL: peer.url,
      OVH_APPLICATION_KEY: peer.state.appKey,
      OVH_APPLICATION_SECRET: peer.state.appSecret,
      OVH_CONSUMER_KEY: peer.state.consumerKey,
    });
  const front = () => peer.state.records.filter((r) => r.subDomain === "visio").map(({ fieldType, target, ttl }) => ({ fieldType, target, ttl }));

  it("failover to a front with no IPv6 parks the name's AAAA under another name; failback puts the same record back with the stack's TTL", async () => {
    const away = await switchDns(api(), ZONE, FQDN, { ipv4: "203.0.113.20" }, 120);
    expect(away).toBe(`${FQDN}: A 198.51.100.10 -> 203.0.113.20, AAAA 2001:db8::10 parked at bbb-ovh-parked.visio (the new front has no IPv6)`);
    expect(front()).toEqual([{ fieldType: "A", target: "203.0.113.20", ttl: 120 }]);
    // The record the stack's state holds is still there, by its id, under a name nobody resolves.
    expect(peer.state.records.find((r) => r.id === 7002)).toMatchObject({ subDomain: "bbb-ovh-parked.visio", fieldType: "AAAA" });
    expect(peer.state.records.find((r) => r.subDomain === "visio-standby")?.target).toBe("203.0.113.20");
    // Run again while away: nothing more changes.
    expect(await switchDns(api(), ZONE, FQDN, { ipv4: "203.0.113.20" }, 120)).toBe(`${FQDN}: already pointing there`);

    const back = await switchDns(api(), ZONE, FQDN, { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, 120);
    expect(back).toBe(`${FQDN}: A 203.0.113.20 -> 198.51.100.10, AAAA 2001:db8::10 back from bbb-ovh-parked.visio (TTL 120 s)`);
    expect(front()).toEqual([
      { fieldType: "A", target: "198.51.100.10", ttl: 120 },
      { fieldType: "AAAA", target: "2001:db8::10", ttl: 120 },
    ]);
    // The same record: a later `pulumi refresh` and `pulumi up` find the one they made, and add no second.
    expect(peer.state.records.find((r) => r.fieldType === "AAAA")?.id).toBe(7002);
    // Run again (a switch cut midway is finished by running it again): nothing more changes.
    expect(await switchDns(api(), ZONE, FQDN, { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, 120)).toBe(`${FQDN}: already pointing there`);
    expect(peer.state.records).toHaveLength(3);
  });

  it("a new front with an IPv6 takes the AAAA by a PUT", async () => {
    await switchDns(api(), ZONE, FQDN, { ipv4: "203.0.113.20", ipv6: "2001:db8::20" }, 120);
    expect(front().map((r) => r.target)).toEqual(["203.0.113.20", "2001:db8::20"]);
  });
});

describe("the HTTP-01 certificate on the new front", () => {
  let host: TestHost;
  let side: Side;
  const inputs = { FQDN, EMAIL: "it@school.example", CHALLENGE: "http-01" };
  const knob = () => path.join(host.root, "fake-state/knobs/FAKE_CERTBOT_FAIL");
  const certbotRuns = () => calls(host).filter((c) => c.startsWith("certbot certonly")).length;

  beforeAll(async () => {
    host = await startTestHost({ fqdn: "visio-standby.school.example" });
    // What scalelite-app.sh installed (the unit the certificate step starts again) and the scripts `pulumi up` copied.
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-nginx.service"), "[Unit]\n");
    // The certificate step as `pulumi up` runs it on a front (it copies scripts/ there as runStep does).
    const installed = await runStep(host, "scaleliteCertificate", inputs);
    expect(installed.code, installed.stderr).toBe(0);
    side = standbySide(host);
  }, 60_000);
  afterAll(() => host?.stop());

  it("tries again while the CA cannot validate, then holds the certificate and nginx runs", async () => {
    rmSync(path.join(host.root, "etc/letsencrypt"), { recursive: true, force: true });
    mkdirSync(path.dirname(knob()), { recursive: true });
    writeFileSync(knob(), "1");
    const before = certbotRuns();
    const log = path.join(host.root, "var/log/letsencrypt/letsencrypt.log");
    const logged = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
    const logBefore = logged().length;
    const done = requestCertificate(side, inputs, [300, 600, 1200, 2400, 4800, 9600], 60_000);
    // The CA sees the new A record once the first attempt has failed (its log says so: the call log is
    // written as certbot starts, before it reads the knob, so waiting on it raced on a busy machine).
    await waitUntil(() => /Challenge failed/.test(logged().slice(logBefore)));
    rmSync(knob());
    const detail = await done;
    expect(detail).toMatch(new RegExp(`^certificate for ${FQDN.replace(/\./g, "\\.")} in place \\(attempt [2-7]\\), nginx serving it$`));
    expect(certbotRuns() - before).toBeGreaterThanOrEqual(2);
    expect(read(host, "var/log/letsencrypt/letsencrypt.log")).toMatch(/Challenge failed for domain visio\.school\.example/);
    expect(existsSync(path.join(host.root, `etc/letsencrypt/live/${FQDN}/fullchain.pem`))).toBe(true);
    expect(calls(host)).toContain("systemctl restart scalelite-nginx.service");
  }, 120_000);

  it("gives up after the last delay, saying how many attempts and certbot's own words", async () => {
    rmSync(path.join(host.root, "etc/letsencrypt"), { recursive: true, force: true });
    writeFileSync(knob(), "1");
    const before = certbotRuns();
    await expect(requestCertificate(side, inputs, [10, 10], 60_000)).rejects.toThrow(
      new RegExp(`no certificate for ${FQDN.replace(/\./g, "\\.")} after 3 attempt\\(s\\): .*certbot could not get a certificate`),
    );
    expect(certbotRuns() - before).toBe(3);
    rmSync(knob());
  }, 120_000);
});

describe("the DNS-01 certificate on the front about to serve, checked before the fence", () => {
  let host: TestHost;
  let side: Side;
  const SECRET = "dns01-application-secret";
  // What ops sends: no credentials (it does not hold the dnsCredentials secret).
  const inputs = { FQDN, EMAIL: "it@school.example", CHALLENGE: "dns-01" };
  const knob = (name: string, value?: string) => {
    const file = path.join(host.root, "fake-state/knobs", name);
    mkdirSync(path.dirname(file), { recursive: true });
    if (value === undefined) rmSync(file, { force: true });
    else writeFileSync(file, value);
  };
  const certbotRuns = () => calls(host).filter((c) => c.startsWith("certbot certonly"));
  /** The certificate step as `pulumi up` runs it, with the credentials, for a certificate of `days` days. */
  async function install(days: string) {
    rmSync(path.join(host.root, "etc/letsencrypt"), { recursive: true, force: true });
    knob("FAKE_CERTBOT_DAYS", days);
    const credentials = renderOvhDnsIni({ endpoint: "ovh-eu", applicationKey: "appkey", applicationSecret: SECRET, consumerKey: "consumer" });
    const r = await runStep(host, "scaleliteCertificate", { ...inputs, DNS_CREDENTIALS_B64: base64(credentials) });
    expect(r.code, r.stderr).toBe(0);
    knob("FAKE_CERTBOT_DAYS");
  }

  beforeAll(async () => {
    host = await startTestHost({ fqdn: "visio-standby.school.example" });
    side = standbySide(host);
  }, 60_000);
  afterAll(() => host?.stop());

  it("keeps a certificate valid for 30 more days, asking the CA nothing and starting no nginx", async () => {
    await install("90");
    const before = certbotRuns().length;
    expect(await checkDnsCertificate(side, inputs, 60_000)).toBe(`certificate for ${FQDN} valid for 30 days or more`);
    expect(certbotRuns()).toHaveLength(before);
    expect(calls(host).filter((c) => /systemctl (start|restart) scalelite-nginx/.test(c))).toEqual([]);
  });

  it("replaces one that ends within 30 days with the credentials pulumi up left, no secret from ops", async () => {
    await install("10");
    const before = certbotRuns().length;
    expect(await checkDnsCertificate(side, inputs, 60_000)).toBe(`certificate for ${FQDN} valid for 30 days or more`);
    expect(certbotRuns().slice(before)).toEqual([
      expect.stringMatching(/--dns-ovh --dns-ovh-credentials \/etc\/bbb-ovh\/certbot-dns-ovh\.ini --force-renewal$/),
    ]);
    expect(read(host, "etc/bbb-ovh/certbot-dns-ovh.ini")).toContain(`dns_ovh_application_secret = ${SECRET}`);
  });

  it("goes on with one that ends soon when the CA refuses, saying until when", async () => {
    await install("10");
    knob("FAKE_CERTBOT_FAIL", "1");
    try {
      const detail = await checkDnsCertificate(side, inputs, 60_000);
      expect(detail).toMatch(
        /^the CA gave no new certificate \(.*certbot could not get a certificate.*\); the one on disk is valid until .* GMT: going on with it, renew it before then$/,
      );
    } finally {
      knob("FAKE_CERTBOT_FAIL");
    }
  });

  it("stops the switch when there is no valid certificate and the CA gives none", async () => {
    await install("90");
    rmSync(path.join(host.root, "etc/letsencrypt"), { recursive: true, force: true });
    knob("FAKE_CERTBOT_FAIL", "1");
    try {
      await expect(checkDnsCertificate(side, inputs, 60_000)).rejects.toThrow(
        new RegExp(
          `^lb-standby: .*no valid certificate for ${FQDN.replace(/\./g, "\\.")} and the CA gave none \\(.*\\): the switch stops here, before fencing or promoting`,
        ),
      );
      // Run again after a cut past the promotion, the switch stops where it stands, not "before promoting".
      await expect(checkDnsCertificate(side, inputs, 60_000, "after lb-standby's promotion by an earlier run")).rejects.toThrow(
        /the CA gave none \(.*\): the switch stops here, after lb-standby's promotion by an earlier run; see \/var\/log\/letsencrypt/,
      );
    } finally {
      knob("FAKE_CERTBOT_FAIL");
    }
  });
});

describe("on the standby front: the check before pulumi up moves the front's name (campus.servingFront), the first backup after a switch", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost({ fqdn: "visio-standby.school.example" });
  }, 60_000);
  afterAll(() => host?.stop());
  const role = (value: string | undefined) => {
    const file = path.join(host.root, "var/lib/bbb-ovh/front-role");
    if (value === undefined) rmSync(file, { force: true });
    else {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${value}\n`);
    }
  };

  it("lets the name move to the standby only once ops failover promoted it, and back only once it no longer serves", async () => {
    for (const [given, serves, ok] of [
      [undefined, "false", true],
      ["standby", "false", true],
      ["fenced", "false", true],
      ["primary", "false", false],
      ["primary", "true", true],
      ["standby", "true", false],
      [undefined, "true", false],
    ] as const) {
      role(given);
      const r = await runStep(host, "scaleliteFrontServes", { SERVES: serves });
      expect(r.code === 0, `front-role ${given ?? "none"}, SERVES=${serves}: ${r.stderr}`).toBe(ok);
      if (!ok && serves === "true") expect(r.stderr).toContain("run `ops failover` first, or set campus.servingFront back to front; nothing was changed");
      if (!ok && serves === "false") expect(r.stderr).toContain("run `ops failback` first, or set campus.servingFront: standbyFront again");
    }
    expect((await runStep(host, "scaleliteFrontServes", { SERVES: "yes" })).stderr).toContain("SERVES must be true or false, got 'yes'");
  });

  it("on a rebuilt front (RECORD=fenced): records fenced where no role is, keeps a role ops wrote, and refuses a front that still serves", async () => {
    const file = path.join(host.root, "var/lib/bbb-ovh/front-role");
    const record = (serves = "false") => runStep(host, "scaleliteFrontServes", { SERVES: serves, RECORD: "fenced" });
    // A new server: no state directory at all.
    rmSync(path.dirname(file), { recursive: true, force: true });
    const first = await record();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("front-role fenced recorded");
    expect(readFileSync(file, "utf8")).toBe("fenced\n");
    // Run again (a cut run, or the next pulumi up): the same, and so is a role ops failback wrote since.
    for (const kept of ["fenced", "standby"]) {
      role(kept);
      const again = await record();
      expect(again.code, again.stderr).toBe(0);
      expect(readFileSync(file, "utf8")).toBe(`${kept}\n`);
    }
    // Its old disk came back unfenced: two fronts would serve, so nothing is recorded and the run stops.
    role("primary");
    const serving = await record();
    expect(serving.code).not.toBe(0);
    expect(serving.stderr).toContain("this front serves too");
    expect(serving.stderr).toContain("run `ops failover <stack> --yes` again, which fences it");
    expect(readFileSync(file, "utf8")).toBe("primary\n");
    // No role, and Scalelite runs (the front as pulumi up built it, never switched): it serves, so it is not fenced.
    role(undefined);
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/scalelite.target"), "[Unit]\n");
    expect((await shellOn(host, "systemctl start scalelite.target")).code).toBe(0);
    const live = await record();
    expect(live.code).not.toBe(0);
    expect(live.stderr).toContain("it runs Scalelite and no front-role says `ops failover` fenced it");
    expect(existsSync(file)).toBe(false);
    expect((await shellOn(host, "systemctl stop scalelite.target")).code).toBe(0);
    // Only fenced, and only on a front the stack says does not serve.
    expect((await runStep(host, "scaleliteFrontServes", { SERVES: "false", RECORD: "primary" })).stderr).toContain("RECORD must be fenced");
    expect((await record("true")).stderr).toContain("RECORD must be fenced, on a front the stack says does not serve");
  });

  it("starts the backup unit without waiting for it, and says so; a unit that is not there is said, not thrown", async () => {
    const missing = await startFirstBackup(standbySide(host), 30_000);
    expect(missing).toMatch(
      /^bbb-ovh-backup\.service did not start on lb-standby \(.*Unit bbb-ovh-backup\.service not found.*\): run `ops backup now` once it serves$/,
    );
    // What scripts/scalelite-backup.sh installs.
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/bbb-ovh-backup.service"), "[Service]\nType=oneshot\n");
    expect(await startFirstBackup(standbySide(host), 30_000)).toBe(
      "bbb-ovh-backup.service started on lb-standby, not waited for (`ops backup list` shows its snapshot)",
    );
    expect(calls(host)).toContain("systemctl start --no-block bbb-ovh-backup.service");
  });
});

describe("the switch report", () => {
  it("after failback --standby-only says the front is a standby and the serving front serves, not that anything switched", () => {
    const steps = [{ id: "admit", on: "lb-standby", ok: true, ms: 5, detail: "lb admitted" }];
    const half = renderSwitch("failback", { from: "lb-standby", to: "lb", steps, ok: true, standbyOnly: true });
    expect(half).toContain("failback --standby-only: lb is a standby of lb-standby, which still serves; `ops failback` without --standby-only switches back");
    expect(half).not.toContain("lb serves");
    expect(renderSwitch("failback", { from: "lb-standby", to: "lb", steps, ok: true, rtoSeconds: 9 })).toMatch(/\nfailback: lb serves\n$/);
  });
});
