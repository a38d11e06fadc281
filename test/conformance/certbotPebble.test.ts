/**
 * The certificate step with the real certbot (Debian's) against a real ACME server, pebble, on loopback
 * (recipe: /work/shared/REFERENCE.md "Real programs"; pebble's README for PEBBLE_VA_ALWAYS_VALID, which
 * skips the HTTP-01 check of a name that does not resolve here).
 *
 * certbot is reached through a thin wrapper first on the test host's PATH. It adds only test-only
 * things: the ACME server URL and its CA, the HTTP-01 port, work and log directories under the host root,
 * and a private mount namespace where the host root's etc/letsencrypt is /etc/letsencrypt (so the hook
 * paths scalelite-certificate.sh hands certbot, which certbot checks exist, are the ones it installed).
 * Every other argument is the script's own.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calls, output } from "../support/hostState";
import { FAKE_BIN, runStep, startTestHost, type StepResult, type TestHost } from "../support/sshd";
import { selfSignedCert } from "../support/selfSignedCert";

const FQDN = "scalelite.campus.example";
const have = (program: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const AVAILABLE = have("pebble") && have("/usr/bin/certbot") && have("unshare") && have("openssl");
if (!AVAILABLE) process.stderr.write("conformance: SKIPPED certbotPebble, pebble/certbot/unshare/openssl missing\n");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe.skipIf(!AVAILABLE)("scalelite-certificate with the real certbot against pebble", () => {
  let dir: string;
  let pebble: ChildProcess;
  let h: TestHost;
  let wrapper: string;
  let first: StepResult;
  let second: StepResult;
  let certAfterFirst: string;
  const certbotRuns = () => readFileSync(path.join(dir, "certbot-argv.log"), "utf8").trim().split("\n").filter(Boolean);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pebble-"));
    const [acmePort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const cert = path.join(dir, "cert.pem");
    selfSignedCert({ key: path.join(dir, "key.pem"), cert, rsa: true });
    const config = path.join(dir, "pebble.json");
    writeFileSync(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: cert,
          privateKey: path.join(dir, "key.pem"),
          httpPort,
          tlsPort,
          ocspResponderURL: "",
          externalAccountBindingRequired: false,
        },
      }),
    );
    pebble = spawn("pebble", ["-config", config], {
      env: { ...process.env, PEBBLE_VA_ALWAYS_VALID: "1", PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
      stdio: "ignore",
    });
    const deadline = Date.now() + 120_000; // a bound for a hang, not a speed check
    for (;;) {
      try {
        execFileSync("curl", ["-sf", "--cacert", cert, `https://127.0.0.1:${acmePort}/dir`], { stdio: "ignore" });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("pebble did not answer within 120 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const bin = path.join(dir, "bin");
    wrapper = path.join(bin, "certbot");
    mkdirSync(bin);
    writeFileSync(
      wrapper,
      `#!/bin/sh
# TEST-ONLY wrapper (test/conformance/certbotPebble.test.ts) around the real /usr/bin/certbot. It adds only
# test-only things: pebble's URL and CA, the HTTP-01 port, work/log dirs under the host root, and a private
# mount namespace with the host root's etc/letsencrypt at /etc/letsencrypt. The rest of argv is the caller's.
# (/bin/mount by full path: the real one, inside the private namespace.)
set -e
printf '%s\\n' "$*" >>${dir}/certbot-argv.log
mkdir -p "$BBB_OVH_ROOT/etc/letsencrypt"
exec unshare --mount --propagation private sh -c '/bin/mount --bind "$BBB_OVH_ROOT/etc/letsencrypt" /etc/letsencrypt && exec "$@"' certbot \\
  env REQUESTS_CA_BUNDLE=${cert} /usr/bin/certbot "$@" \\
  --server https://127.0.0.1:${acmePort}/dir --http-01-port ${httpPort} \\
  --work-dir "$BBB_OVH_ROOT/var/lib/letsencrypt" --logs-dir "$BBB_OVH_ROOT/var/log/letsencrypt"
`,
    );
    chmodSync(wrapper, 0o755);
    h = await startTestHost({ fqdn: FQDN, env: { PATH: `${bin}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    markCertbotInstalled(h);
    const inputs = { FQDN, EMAIL: "ops@campus.example", CHALLENGE: "http-01" };
    first = await runStep(h, "scaleliteCertificate", inputs);
    certAfterFirst = existsSync(live("cert.pem")) ? readFileSync(live("cert.pem"), "utf8") : "";
    second = await runStep(h, "scaleliteCertificate", inputs);
  });

  afterAll(async () => {
    pebble?.kill();
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
});
