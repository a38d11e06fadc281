/**
 * The certificate step with the real certbot (Debian's) against a real ACME server, pebble, on loopback,
 * through test/support/pebble.ts (its wrapper adds only the test-only things: ACME server, CA, ports,
 * directories, the mount namespace where the host root's etc/letsencrypt is /etc/letsencrypt).
 * Then the first-boot step of a node from the node image, whose certbot --webroot writes the challenge
 * under the host root's var/www (bound over /var/www in that namespace).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestCertificate } from "../../cli/ops/failover";
import { calls, output } from "../support/hostState";
import { imageHost } from "../support/nodeImageHost";
import { selfSignedCert } from "../support/selfSignedCert";
import { PEBBLE_AVAILABLE as AVAILABLE, startPebble, type Pebble } from "../support/pebble";
import { FAKE_BIN, runStep, startTestHost, type StepResult, type TestHost } from "../support/sshd";

const FQDN = "scalelite.campus.example";
if (!AVAILABLE) process.stderr.write("conformance: SKIPPED certbotPebble, pebble/certbot/unshare/openssl missing\n");

describe.skipIf(!AVAILABLE)("scalelite-certificate with the real certbot against pebble", () => {
  let dir: string;
  let pebble: Pebble;
  let h: TestHost;
  let wrapper: string;
  let first: StepResult;
  let second: StepResult;
  let certAfterFirst: string;
  const certbotRuns = () => pebble.certbotRuns();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pebble-"));
    pebble = await startPebble(dir);
    wrapper = pebble.wrapper;
    const bin = path.dirname(wrapper);
    h = await startTestHost({ fqdn: FQDN, env: { PATH: `${bin}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    markCertbotInstalled(h);
    const inputs = { FQDN, EMAIL: "ops@campus.example", CHALLENGE: "http-01" };
    first = await runStep(h, "scaleliteCertificate", inputs);
    certAfterFirst = existsSync(live("cert.pem")) ? readFileSync(live("cert.pem"), "utf8") : "";
    second = await runStep(h, "scaleliteCertificate", inputs);
  });

  afterAll(async () => {
    pebble?.stop();
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const live = (file: string) => path.join(h.root, "etc/letsencrypt/live", FQDN, file);
  /** certbot comes from Ubuntu's package on a real host; the fake apt-get's list says what is true here. */
  function markCertbotInstalled(host: TestHost) {
    const state = path.join(host.root, "fake-state");
    mkdirSync(state, { recursive: true });
    writeFileSync(path.join(state, "dpkg"), "certbot\n");
  }

  it("gets a certificate from the ACME server with the script's own certbot arguments", () => {
    expect(first.code, output(first)).toBe(0);
    expect(certbotRuns()[0]).toBe(
      `certonly --non-interactive --agree-tos --email ops@campus.example --cert-name ${FQDN} -d ${FQDN} --keep-until-expiring --standalone --pre-hook /etc/letsencrypt/bbb-ovh/stop-scalelite-nginx.sh --post-hook /etc/letsencrypt/bbb-ovh/start-scalelite-nginx.sh`,
    );
    const subject = execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", live("cert.pem")], { encoding: "utf8" });
    expect(subject).toContain(`DNS:${FQDN}`);
    expect(existsSync(live("privkey.pem"))).toBe(true);
    const renewal = readFileSync(path.join(h.root, "etc/letsencrypt/renewal", `${FQDN}.conf`), "utf8");
    expect(renewal).toMatch(/^authenticator = standalone$/m);
    expect(renewal).toMatch(/^pre_hook = \/etc\/letsencrypt\/bbb-ovh\/stop-scalelite-nginx\.sh$/m);
    expect(renewal).toMatch(/^post_hook = \/etc\/letsencrypt\/bbb-ovh\/start-scalelite-nginx\.sh$/m);
  });

  it("does not ask for another certificate on a second run", () => {
    expect(second.code, output(second)).toBe(0);
    expect(second.stdout).toContain("nothing to do");
    expect(certbotRuns()).toHaveLength(1);
    expect(readFileSync(live("cert.pem"), "utf8")).toBe(certAfterFirst);
  });

  it("has its deploy hook run by certbot on renewal, reloading nginx in its container", () => {
    const hook = path.join(h.root, "etc/letsencrypt/renewal-hooks/deploy/reload-scalelite-nginx.sh");
    expect(statSync(hook).mode & 0o777).toBe(0o755);
    const mark = calls(h).length;
    // A renewal as certbot.timer runs it, forced since the certificate is new (no random sleep: test only).
    execFileSync(wrapper, ["renew", "--force-renewal", "--non-interactive", "--no-random-sleep-on-renew"], {
      env: { ...process.env, BBB_OVH_ROOT: h.root, PATH: `${path.dirname(wrapper)}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin` },
      stdio: "pipe",
    });
    expect(readFileSync(live("cert.pem"), "utf8")).not.toBe(certAfterFirst);
    expect(calls(h).slice(mark)).toContain("docker inspect -f \\{\\{.State.Running\\}\\} scalelite-nginx");
  });

  it("replaces a certificate on disk that ends within 30 days, which real certbot takes as a renewal of the lineage", async () => {
    // What a standby front holds once its renewals failed: the lineage's certificate, 5 days from its end.
    selfSignedCert({ key: path.join(dir, "short.key"), cert: live("cert.pem"), name: FQDN, dns: true, days: 5 });
    const short = readFileSync(live("cert.pem"), "utf8");
    const before = certbotRuns().length;
    const r = await runStep(h, "scaleliteCertificate", { FQDN, EMAIL: "ops@campus.example", CHALLENGE: "http-01" });
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("within 30 days: replacing it");
    expect(certbotRuns()).toHaveLength(before + 1);
    expect(certbotRuns().at(-1)).toMatch(/--standalone .*--force-renewal$/);
    const renewed = readFileSync(live("cert.pem"), "utf8");
    expect(renewed).not.toBe(short);
    // From the CA, and good for more than 30 days.
    expect(execFileSync("openssl", ["x509", "-noout", "-issuer", "-in", live("cert.pem")], { encoding: "utf8" })).not.toContain(FQDN);
    expect(() => execFileSync("openssl", ["x509", "-noout", "-checkend", String(30 * 86400), "-in", live("cert.pem")])).not.toThrow();
  });

  it("is what ops failover runs on the new front after the DNS switch: through ops' own SSH, a new lineage from the CA, nginx started", async () => {
    rmSync(path.join(h.root, "etc/letsencrypt"), { recursive: true, force: true });
    mkdirSync(path.join(h.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(h.root, "etc/systemd/system/scalelite-nginx.service"), "[Unit]\n");
    const before = certbotRuns().length;
    const ssh = { host: h.host, port: h.port, username: h.username, privateKey: h.privateKey, hostKey: h.hostPublicKey };
    const detail = await requestCertificate(
      { name: "lb-standby", ssh, ipv4: "127.0.0.1" },
      { FQDN, EMAIL: "ops@campus.example", CHALLENGE: "http-01" },
      [],
      60_000,
    );
    expect(detail).toBe(`certificate for ${FQDN} in place (attempt 1), nginx serving it`);
    expect(certbotRuns()).toHaveLength(before + 1);
    expect(execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", live("cert.pem")], { encoding: "utf8" })).toContain(`DNS:${FQDN}`);
    expect(calls(h)).toContain("systemctl restart scalelite-nginx.service");
  });
});

describe.skipIf(!AVAILABLE)("the first-boot step of a node from the node image with the real certbot against pebble", () => {
  const NODE = "bbb7.campus.example";
  let dir: string;
  let pebble: Pebble;
  let h: TestHost;
  let first: StepResult;
  let second: StepResult;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pebble-"));
    // certbot --webroot writes the challenge under /var/www/bigbluebutton-default/assets: the host root's.
    pebble = await startPebble(dir, ["var/www"]);
    h = await imageHost({ fqdn: NODE, publicIpv4: "203.0.113.27", env: { PATH: `${path.dirname(pebble.wrapper)}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    mkdirSync(path.join(h.root, "var/www/bigbluebutton-default/assets"), { recursive: true });
    const inputs = { FQDN: NODE, PUBLIC_IPV4: "203.0.113.27", EMAIL: "admin@campus.example" };
    first = await runStep(h, "bbbFirstBoot", inputs);
    second = await runStep(h, "bbbFirstBoot", inputs);
  });

  afterAll(async () => {
    pebble?.stop();
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("gets the node's certificate with the script's own certbot arguments, runs its deploy hook, and bundles it for haproxy", () => {
    expect(first.code, output(first)).toBe(0);
    expect(pebble.certbotRuns()).toEqual([
      `certonly --non-interactive --agree-tos --email admin@campus.example --rsa-key-size 4096 --webroot -w /var/www/bigbluebutton-default/assets/ -d ${NODE} --deploy-hook systemctl reload nginx`,
    ]);
    const live = path.join(h.root, "etc/letsencrypt/live", NODE);
    const subject = execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", path.join(live, "cert.pem")], { encoding: "utf8" });
    expect(subject).toContain(`DNS:${NODE}`);
    // The bundle is what bbb-install.sh's haproxy hook writes: a chain, an empty line, the key; and haproxy reads it as a PEM file with a key.
    const bundle = readFileSync(path.join(h.root, "etc/haproxy/certbundle.pem"), "utf8");
    expect(bundle).toBe(`${readFileSync(path.join(live, "fullchain.pem"), "utf8")}\n${readFileSync(path.join(live, "privkey.pem"), "utf8")}`);
    expect(execFileSync("openssl", ["pkey", "-noout", "-in", path.join(h.root, "etc/haproxy/certbundle.pem")]).toString()).toBe("");
    const renewal = readFileSync(path.join(h.root, "etc/letsencrypt/renewal", `${NODE}.conf`), "utf8");
    expect(renewal).toMatch(/^authenticator = webroot$/m);
    expect(renewal).toMatch(/^renew_hook = systemctl reload nginx$/m);
    expect(calls(h)).toContain("systemctl reload nginx"); // certbot ran the --deploy-hook
  });

  it("does not ask for another certificate on a second run", () => {
    expect(second.code, output(second)).toBe(0);
    expect(second.stdout).toContain("nothing to do");
    expect(pebble.certbotRuns()).toHaveLength(1);
  });
});
