/**
 * SSH faults against real sshd on loopback, for our own SSH clients: the ops SSH layer
 * (cli/ops/ssh.ts runRemote) and the host-step harness (test/support/sshd.ts runStep, which runs a
 * step as the Pulumi Command resource does). Neither retries on its own: one attempt, bounded by a
 * deadline, then an error naming the host. Stated bounds: a refused port fails within 2 s; a host
 * that accepts and never answers fails within its timeout + 1 s (ops: --timeout, default 10 s;
 * harness: readyTimeout 15 s, a Pulumi connection's perDialTimeout). @pulumi/command's own dial retries are bounded by every connection's
 * dialErrorLimit × perDialTimeout (test/security/hostKeyPinning.test.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpsError } from "../../cli/ops/errors";
import { runRemote } from "../../cli/ops/ssh";
import type { StepInputs } from "../../components/remote/invocation";
import { calls, tree } from "../support/hostState";
import { connect, killSessions, READY_TIMEOUT_MS, runStep, startTestHost, type TestHost } from "../support/sshd";
import { nodePreflightInputs } from "../support/nodeInputs";
import { renderInstallerFlags } from "../../components/bbb/installerFlags";
import { blackHole, faultyProxy, refusingPort } from "./faultyNetwork";
import { waitUntil } from "../support/waitUntil";

const hosts: TestHost[] = [];
let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
  hosts.push(host);
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

const target = (h: TestHost, port = h.port) => ({ host: h.host, port, username: h.username, privateKey: h.privateKey, hostKey: h.hostPublicKey });

/** The rejection of `promise` and how long it took; fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error: error as Error, ms: performance.now() - started };
  }
  throw new Error("expected a failure, the call succeeded");
}

const preflight = nodePreflightInputs;

const install = (fqdn: string): StepInputs => ({
  FQDN: fqdn,
  INSTALLER_FLAGS: renderInstallerFlags({ bbbVersion: "jammy-300", fqdn, email: "ops@campus.example" }).join(" "),
  INSTALLER_URL: "https://raw.githubusercontent.com/bigbluebutton/bbb-install/26ce2d16c2a82ef962d685525b0c20bb89d4d151/bbb-install.sh",
  // What the fake web serves as bbb-install.sh (test/fakes/downloads).
  INSTALLER_SHA256: createHash("sha256")
    .update(readFileSync(path.join(__dirname, "../fakes/downloads/bbb-install.sh")))
    .digest("hex"),
});

describe("host down or refusing", () => {
  it("ops SSH: a refused port fails at once, as a TCP error naming host:port", async () => {
    const port = await refusingPort();
    const { error, ms } = await failure(runRemote(target(host, port), "true", 10_000));
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).kind).toBe("tcp");
    expect((error as OpsError).host).toBe(`127.0.0.1:${port}`);
    // At once: far from the 10-s timeout it would otherwise wait out (a fixed 2 s was what a loaded machine's
    // event loop alone can cost).
    expect(ms).toBeLessThan(5000);
  });

  it("ops SSH: a host that accepts and never answers fails at its timeout, naming it", async () => {
    const hole = await blackHole();
    try {
      const { error, ms } = await failure(runRemote(target(host, hole.port), "true", 2000));
      expect((error as OpsError).kind).toBe("timeout");
      expect((error as OpsError).host).toBe(`127.0.0.1:${hole.port}`);
      // At its timeout: not before it, and not at twice it (the margin is the loaded machine's, not the code's).
      expect(ms).toBeGreaterThanOrEqual(1900);
      expect(ms).toBeLessThan(4000);
    } finally {
      await hole.close();
    }
  });

  it("step harness: a refused port fails at once, naming host:port", async () => {
    const port = await refusingPort();
    const { error, ms } = await failure(runStep({ ...host, port }, "hostPreflight", preflight(host)));
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(ms).toBeLessThan(READY_TIMEOUT_MS / 3);
  });

  it("step harness: a silent host fails within its ready timeout (a Pulumi connection's perDialTimeout)", async () => {
    const hole = await blackHole();
    try {
      const { error, ms } = await failure(runStep({ ...host, port: hole.port }, "hostPreflight", preflight(host)));
      expect(error.message).toMatch(/timed out/i);
      expect(ms).toBeLessThan(READY_TIMEOUT_MS + 5000); // at its timeout, with a loaded machine's lag, not a hang
    } finally {
      await hole.close();
    }
  });
});

// node-ssh stops listening for errors once connected: both SSH clients (test/support/sshd.ts runStep,
// cli/ops/ssh.ts runRemote) must turn a reset mid-command into a failure naming the host, not a crash
// and not a {code: null} "result".
describe("connection cut in the middle of a step", () => {
  it("the step fails (the client survives the reset) and the next run converges to the same end state", async ({ signal }) => {
    const fqdn = "bbb-cut.test.example";
    const clean = await startTestHost({ fqdn, publicIpv4: "192.0.2.77" });
    const cut = await startTestHost({ fqdn, publicIpv4: "192.0.2.77" });
    hosts.push(clean, cut);
    expect((await runStep(clean, "bbbInstall", install(fqdn))).code).toBe(0);

    const knob = path.join(cut.root, "fake-state/knobs/FAKE_BBB_INSTALL_SLEEP");
    mkdirSync(path.dirname(knob), { recursive: true });
    writeFileSync(knob, "30");
    const proxy = await faultyProxy(cut.port);
    const interrupted = runStep({ ...cut, port: proxy.port }, "bbbInstall", install(fqdn)).then(
      (r) => ({ code: r.code as number | null, error: undefined as Error | undefined }),
      (e: Error) => ({ code: null, error: e }),
    );
    await waitUntil(() => calls(cut).some((c) => c.startsWith("bbb-install.sh")), signal, 20);
    expect(proxy.cut()).toBeGreaterThan(0);
    const first = await interrupted;
    expect(first.code, "a cut step must not report success").not.toBe(0);
    // The remote session dies with the link (sshd ends it; here, as on a rebooted host, nothing survives).
    killSessions(cut);
    await proxy.close();
    rmSync(knob);

    const second = await runStep(cut, "bbbInstall", install(fqdn));
    expect(second.code, second.stderr).toBe(0);
    const third = await runStep(cut, "bbbInstall", install(fqdn));
    expect(third.code).toBe(0);
    expect(third.stdout).toContain("skipping the installer");
    // Same paths, modes and contents as on the host whose run was never cut (logs aside; the
    // installer draws its own random salt and TURN secret, as the real one does, so long hex is masked).
    const endState = (h: TestHost) =>
      new Map(
        [...tree(h).keys()]
          .filter((rel) => !rel.startsWith("var/log/"))
          .map((rel) => {
            const full = path.join(h.root, rel);
            const st = statSync(full);
            return [
              rel,
              `${(st.mode & 0o7777).toString(8)} ${
                st.isFile()
                  ? createHash("sha256")
                      .update(readFileSync(full, "utf8").replace(/[0-9a-f]{32,}/g, "<random>"))
                      .digest("hex")
                  : "dir"
              }`,
            ];
          }),
      );
    const [a, b] = [endState(cut), endState(clean)];
    const differing = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
    expect(differing.map((k) => `${k}: ${JSON.stringify(a.get(k))?.slice(0, 200)} vs ${JSON.stringify(b.get(k))?.slice(0, 200)}`)).toEqual([]);
  });

  it("ops SSH: a command whose connection is reset fails with an error naming the host", async ({ signal }) => {
    const proxy = await faultyProxy(host.port);
    const started = path.join(host.root, "reset-command-started");
    try {
      // Cut once the command runs, however long the connection took on a busy machine.
      const running = failure(runRemote(target(host, proxy.port), `touch ${started}; sleep 60`, 120_000));
      await waitUntil(() => existsSync(started), signal);
      expect(proxy.cut()).toBeGreaterThan(0);
      const { error, ms } = await running;
      expect(error).toBeInstanceOf(OpsError);
      expect((error as OpsError).host).toBe(`127.0.0.1:${proxy.port}`);
      expect(ms).toBeLessThan(60_000); // at the cut, not at the command's end
    } finally {
      killSessions(host);
      await proxy.close();
    }
  });
});

describe("wrong host key", () => {
  it("the harness, pinning like a Pulumi connection with hostKey, refuses a host whose key is not the pinned one", async () => {
    const other = await startTestHost();
    hosts.push(other);
    const impostor = { ...host, hostPublicKey: other.hostPublicKey };
    const seen = calls(host).length;
    const { error } = await failure(connect(impostor));
    expect(error.message).toMatch(/host key|verification/i);
    const refused = await failure(runStep(impostor, "hostPreflight", preflight(host)));
    expect(refused.error.message).toMatch(/host key|verification/i);
    expect(calls(host).length, "nothing ran on the host").toBe(seen);
    // and the right key still works
    (await connect(host)).dispose();
  });
});
