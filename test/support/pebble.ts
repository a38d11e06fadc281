/**
 * The real certbot (Debian's) against a real ACME server, pebble, on loopback, for the conformance tests of
 * the steps that get certificates (recipe: /work/shared/REFERENCE.md "Real programs"; pebble's README for
 * PEBBLE_VA_ALWAYS_VALID, which skips the HTTP-01 check of a name that does not resolve here).
 *
 * certbot is reached through a thin wrapper first on the test host's PATH. It adds only test-only things:
 * the ACME server URL and its CA, the HTTP-01 port, work and log directories under the host root, and a
 * private mount namespace where directories of the host root are bound over the machine's (etc/letsencrypt
 * always, so the hook paths a script hands certbot, which certbot checks exist, are the ones it installed).
 * Every other argument is the script's own.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "./sshd";
import { selfSignedCert } from "./selfSignedCert";

const have = (program: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
export const PEBBLE_AVAILABLE = have("pebble") && have("/usr/bin/certbot") && have("unshare") && have("openssl");

export interface Pebble {
  /** The wrapper named certbot: put its directory first on the test host's PATH. */
  wrapper: string;
  /** Every argv the steps gave certbot, one line each. */
  certbotRuns(): string[];
  stop(): void;
}

/**
 * Starts pebble in `dir` and writes the certbot wrapper there. `mounts`: directories of the host root (as
 * paths relative to it, e.g. var/www) that certbot sees at the same absolute path, beside etc/letsencrypt;
 * each must exist on this machine.
 */
export async function startPebble(dir: string, mounts: string[] = []): Promise<Pebble> {
  const [acmePort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // certbot's standalone server binds the HTTP-01 port anew on each run, for as long as the file runs.
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
  const pebble: ChildProcess = spawn("pebble", ["-config", config], {
    env: { ...process.env, PEBBLE_VA_ALWAYS_VALID: "1", PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdio: "ignore",
  });
  const deadline = Date.now() + 120_000; // a bound for a hang, not a speed check
  for (;;) {
    try {
      execFileSync("curl", ["-sf", "--cacert", cert, `https://127.0.0.1:${acmePort}/dir`], { stdio: "ignore" });
      break;
    } catch {
      if (Date.now() > deadline) {
        pebble.kill();
        throw new Error("pebble did not answer within 120 s");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const bin = path.join(dir, "bin");
  const wrapper = path.join(bin, "certbot");
  mkdirSync(bin, { recursive: true });
  const binds = ["etc/letsencrypt", ...mounts];
  for (const m of mounts) if (!existsSync(`/${m}`)) throw new Error(`/${m} does not exist on this machine: certbot cannot see the host root's ${m} there`);
  writeFileSync(
    wrapper,
    `#!/bin/sh
# TEST-ONLY wrapper (test/support/pebble.ts) around the real /usr/bin/certbot. It adds only test-only
# things: pebble's URL and CA, the HTTP-01 port, work/log dirs under the host root, and a private mount
# namespace with the host root's ${binds.join(", ")} over the machine's. The rest of argv is the caller's.
# (/bin/mount by full path: the real one, inside the private namespace.)
set -e
printf '%s\\n' "$*" >>${dir}/certbot-argv.log
${binds.map((b) => `mkdir -p "$BBB_OVH_ROOT/${b}"`).join("\n")}
exec unshare --mount --propagation private sh -c '${binds.map((b) => `/bin/mount --bind "$BBB_OVH_ROOT/${b}" /${b}`).join(" && ")} && exec "$@"' certbot \\
  env REQUESTS_CA_BUNDLE=${cert} /usr/bin/certbot "$@" \\
  --server https://127.0.0.1:${acmePort}/dir --http-01-port ${httpPort} \\
  --work-dir "$BBB_OVH_ROOT/var/lib/letsencrypt" --logs-dir "$BBB_OVH_ROOT/var/log/letsencrypt"
`,
  );
  chmodSync(wrapper, 0o755);
  const argvLog = path.join(dir, "certbot-argv.log");
  return {
    wrapper,
    certbotRuns: () => (existsSync(argvLog) ? readFileSync(argvLog, "utf8").trim().split("\n").filter(Boolean) : []),
    stop: () => pebble.kill(),
  };
}
