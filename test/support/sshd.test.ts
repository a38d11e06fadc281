import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { NodeSSH } from "node-ssh";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, FAKE_BIN, freePort, killSessions, runStep, startTestHost, type TestHost } from "./sshd";
import { waitUntil } from "./waitUntil";

describe("test hosts (real sshd on loopback)", () => {
  let a: TestHost;
  let b: TestHost;

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestHost({ env: { FAKE_KNOB: "one two" } }), startTestHost()]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("gives each session the host's root, its env knobs and the fakes first on PATH", async () => {
    const ssh = await connect(a);
    try {
      const r = await ssh.execCommand('printf "%s\\n" "$BBB_OVH_ROOT" "$PATH" "$FAKE_KNOB"; id -u');
      const [root, pathVar, knob, uid] = r.stdout.split("\n");
      expect(root).toBe(a.root);
      expect(pathVar.split(":")[0]).toBe(FAKE_BIN);
      expect(knob).toBe("one two");
      expect(uid).toBe("0");
    } finally {
      ssh.dispose();
    }
    expect(a.root).not.toBe(b.root);
    expect(a.port).not.toBe(b.port);
    expect(a.hostPublicKey).not.toBe(b.hostPublicKey);
    expect(readFileSync(path.join(a.root, "etc/os-release"), "utf8")).toContain('VERSION_ID="22.04"');
    expect(readFileSync(path.join(a.root, "fake-state/dns"), "utf8")).toBe(`${a.fqdn} ${a.publicIpv4}\n`);
  });

  it("pins the host key: another host's key is refused", async () => {
    const impostor = { ...a, hostPublicKey: b.hostPublicKey };
    await expect(connect(impostor)).rejects.toThrow();
    // and the client key of one host does not open another
    await expect(new NodeSSH().connect({ host: b.host, port: b.port, username: "root", privateKey: a.privateKey })).rejects.toThrow(/authentication/i);
  });

  it("runStep copies scripts/ (with lib/) under the host root and feeds the inputs on stdin", async () => {
    const r = await runStep(
      a,
      "hostPreflight",
      {
        ROLE: "bbb",
        FQDN: a.fqdn,
        PUBLIC_IPV4: a.publicIpv4,
        UBUNTU_RELEASE: "22.04",
        MIN_CORES: "4",
        MIN_RAM_MB: "8000",
        RECOMMENDED_CORES: "8",
        RECOMMENDED_RAM_MB: "16000",
        REQUIRE_IPV6: "1",
      },
      { scriptDir: "/opt/steps" },
    );
    expect(existsSync(path.join(a.root, "opt/steps/lib/common.sh"))).toBe(true);
    expect(existsSync(path.join(a.root, "opt/steps/host-preflight.sh"))).toBe(true);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("killSessions ends what a session started, and stop() leaves no process behind", async ({ signal }) => {
    const c = await startTestHost();
    const ssh = await connect(c);
    const sleeping = ssh.execCommand("sleep 300 & wait");
    await waitUntil(() => pgrepUnder(c.root), signal, 25);
    expect(killSessions(c)).toBeGreaterThan(0);
    const r = await sleeping;
    expect(r.code).toBeNull();
    ssh.dispose();
    const sshdPid = Number(readFileSync(path.join(c.root, "../sshd/sshd.pid"), "utf8"));
    await c.stop();
    expect(existsSync(`/proc/${sshdPid}`)).toBe(false);
    expect(existsSync(c.root)).toBe(false);
  });
});

function pgrepUnder(root: string): boolean {
  const out = execFileSync("sh", ["-c", 'grep -lzs "^BBB_OVH_ROOT=$1$" /proc/[0-9]*/environ || true', "sh", root], { encoding: "utf8" });
  return out.trim().length > 0;
}

describe("freePort", () => {
  it("never hands a port out twice in a process, and keeps to this worker's slice below the ephemeral range", async () => {
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const pool = Number(process.env.VITEST_POOL_ID);
    expect(pool).toBeGreaterThan(0);
    const width = Math.floor((low - 10_000) / 8);
    const from = 10_000 + ((pool - 1) % 8) * width;
    for (const port of ports) expect(port >= from && port < from + width, `${port} in [${from}, ${from + width})`).toBe(true);
  });
});
