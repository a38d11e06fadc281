/**
 * The firewall policy against the real nftables and real packets: the rendered ruleset is loaded with
 * the real nft into a "host" network namespace, listeners run there, and a "client" namespace on the
 * other end of a veth pair probes them from an admin address and from another one, IPv4 and IPv6.
 * Then scripts/host-firewall.sh runs over SSH on a loopback test host whose `nft` is the real one run
 * inside that same namespace (test/fakes/bin/nft), never on this machine's own ruleset.
 *
 * Addresses exist only inside the namespaces: 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32
 * (RFC 3849 documentation). Needs root and `ip netns add`; skipped loudly otherwise.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostFirewallInputs, renderNftRuleset, firewallPolicy, type PolicyInput } from "../../components/security/firewallPolicy";
import { renderStepStdin } from "../../components/remote/invocation";
import { connect, killSessions, runStep, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const TAG = `bbbfw${process.pid}`;
const HOST_NS = `${TAG}h`;
const CLIENT_NS = `${TAG}c`;
const HOST = { v4: "198.18.0.1", v6: "2001:db8:f::1" };
const ADMIN = { v4: "198.18.0.10", v6: "2001:db8:f::10" };
const OTHER = { v4: "198.18.0.20", v6: "2001:db8:f::20" };
const NODE = { v4: "198.18.0.30", v6: "2001:db8:f::30" };
const ADMIN_CIDRS = [`${ADMIN.v4}/32`, "2001:db8:f::10/128"];

const TCP_PORTS = [22, 80, 443, 3478, 111, 2049, 5432, 6379];
const UDP_PORTS = [3478, 16384, 24000, 32768, 111, 2049];

function netnsAvailable(): boolean {
  const probe = `${TAG}probe`;
  const added = spawnSync("ip", ["netns", "add", probe]).status === 0;
  if (added) spawnSync("ip", ["netns", "del", probe]);
  if (!added) console.warn("SKIPPED test/conformance/firewall.test.ts: `ip netns add` is not permitted here (needs root)");
  return added;
}

const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] }).toString();
const inNs = (ns: string, ...args: string[]) => sh("ip", "netns", "exec", ns, ...args);

function createNamespaces(): void {
  sh("ip", "netns", "add", HOST_NS);
  sh("ip", "netns", "add", CLIENT_NS);
  sh("ip", "link", "add", `${TAG}a`, "netns", HOST_NS, "type", "veth", "peer", "name", `${TAG}b`, "netns", CLIENT_NS);
  for (const [ns, dev, v4s, v6s] of [
    [HOST_NS, `${TAG}a`, [HOST.v4], [HOST.v6]],
    [CLIENT_NS, `${TAG}b`, [ADMIN.v4, OTHER.v4, NODE.v4], [ADMIN.v6, OTHER.v6, NODE.v6]],
  ] as const) {
    inNs(ns, "ip", "link", "set", "lo", "up");
    for (const a of v4s) inNs(ns, "ip", "addr", "add", `${a}/24`, "dev", dev);
    // nodad: the addresses are usable at once instead of after duplicate address detection.
    for (const a of v6s) inNs(ns, "ip", "-6", "addr", "add", `${a}/64`, "dev", dev, "nodad");
    inNs(ns, "ip", "link", "set", dev, "up");
  }
}

function deleteNamespaces(): void {
  for (const ns of [HOST_NS, CLIENT_NS]) spawnSync("ip", ["netns", "del", ns]);
}

/** TCP listeners that accept, UDP listeners that echo, on every port probed, both families. */
const LISTENER = `
import socket, sys, threading
tcp, udp = [int(p) for p in sys.argv[1].split(",")], [int(p) for p in sys.argv[2].split(",")]
def serve_tcp(s):
    while True:
        c, _ = s.accept(); c.close()
def serve_udp(s):
    while True:
        data, peer = s.recvfrom(100); s.sendto(data, peer)
for port in tcp:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", port)); s.listen(64)
    threading.Thread(target=serve_tcp, args=(s,), daemon=True).start()
for port in udp:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", port))
    threading.Thread(target=serve_udp, args=(s,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
`;

/** Probes [source, destination, proto, port] concurrently: open (answered) or filtered (no answer in time). */
const PROBE = `
import json, socket, sys, threading
probes, results = json.loads(sys.argv[1]), {}
def probe(src, dst, proto, port):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM); s.settimeout(1.5); s.bind((src, 0))
    try:
        if proto == "tcp":
            s.connect((dst, port)); r = "open"
        else:
            s.sendto(b"ping", (dst, port)); s.recvfrom(100); r = "open"
    except socket.timeout:
        r = "filtered"
    except ConnectionRefusedError:
        r = "refused"
    finally:
        s.close()
    results[" ".join([src, dst, proto, str(port)])] = r
threads = [threading.Thread(target=probe, args=p) for p in probes]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps(results))
`;

/** One ICMPv6 echo request (the kernel fills in the checksum of raw ICMPv6 sockets); no ping is installed here. */
const PING6 = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6); s.bind((sys.argv[1], 0)); s.settimeout(2)
s.sendto(bytes([128, 0, 0, 0, 0x12, 0x34, 0, 1]) + b"bbb-ovh", (sys.argv[2], 0))
try:
    while s.recvfrom(200)[0][0] != 129:
        pass
    print("echo reply")
except socket.timeout:
    print("no reply")
`;

type Probe = [string, string, "tcp" | "udp", number];
function probeAll(probes: Probe[]): Record<string, string> {
  return JSON.parse(inNs(CLIENT_NS, "python3", "-c", PROBE, JSON.stringify(probes)));
}
const key = (p: Probe) => p.join(" ");

function loadRuleset(ruleset: string): void {
  const file = path.join(workDir, "ruleset.nft");
  writeFileSync(file, ruleset);
  inNs(HOST_NS, "nft", "-f", file);
}

let workDir: string;
let listener: ChildProcess | undefined;
const available = netnsAvailable();

describe.skipIf(!available)("the firewall policy on real nftables, in network namespaces", () => {
  beforeAll(async () => {
    workDir = path.join("/tmp", `${TAG}-work`);
    mkdirSync(workDir, { recursive: true });
    createNamespaces();
    listener = spawn("ip", ["netns", "exec", HOST_NS, "python3", "-c", LISTENER, TCP_PORTS.join(","), UDP_PORTS.join(",")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      listener!.stdout!.once("data", () => resolve());
      listener!.once("exit", (code) => reject(new Error(`listener exited ${code}`)));
    });
  });

  afterAll(() => {
    listener?.kill("SIGKILL");
    deleteNamespaces();
    rmSync(workDir, { recursive: true, force: true });
  });

  const families = [
    ["IPv4", "v4"],
    ["IPv6", "v6"],
  ] as const;

  it("without our table every port answers (the probes can tell open from dropped)", () => {
    const probes: Probe[] = families.flatMap(([, f]) => [[OTHER[f], HOST[f], "tcp", 2049] as Probe, [OTHER[f], HOST[f], "udp", 2049] as Probe]);
    const got = probeAll(probes);
    expect(probes.map((p) => got[key(p)])).toEqual(["open", "open", "open", "open"]);
  });

  it.each(families)("a node, %s: SSH from the admin only; web, TURN and media for all; NFS, rpcbind, databases dropped", (_, f) => {
    loadRuleset(renderNftRuleset(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMIN_CIDRS }), "node test"));
    const expected: Array<[Probe, string]> = [
      [[ADMIN[f], HOST[f], "tcp", 22], "open"],
      [[OTHER[f], HOST[f], "tcp", 22], "filtered"],
      ...[80, 443, 3478].map((port): [Probe, string] => [[OTHER[f], HOST[f], "tcp", port], "open"]),
      ...[3478, 16384, 24000, 32768].map((port): [Probe, string] => [[OTHER[f], HOST[f], "udp", port], "open"]),
      ...[111, 2049, 5432, 6379].map((port): [Probe, string] => [[ADMIN[f], HOST[f], "tcp", port], "filtered"]),
      ...[111, 2049].map((port): [Probe, string] => [[ADMIN[f], HOST[f], "udp", port], "filtered"]),
    ];
    const got = probeAll(expected.map(([p]) => p));
    expect(Object.fromEntries(expected.map(([p]) => [key(p), got[key(p)]]))).toEqual(Object.fromEntries(expected.map(([p, r]) => [key(p), r])));
  });

  it.each(families)("the front, %s: SSH from the admin and the node; web for all; no UDP at all, no NFS", (_, f) => {
    loadRuleset(renderNftRuleset(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMIN_CIDRS, nodeAddresses: [NODE.v4, NODE.v6] }), "front test"));
    const expected: Array<[Probe, string]> = [
      [[ADMIN[f], HOST[f], "tcp", 22], "open"],
      [[NODE[f], HOST[f], "tcp", 22], "open"],
      [[OTHER[f], HOST[f], "tcp", 22], "filtered"],
      [[OTHER[f], HOST[f], "tcp", 443], "open"],
      [[OTHER[f], HOST[f], "tcp", 80], "open"],
      [[OTHER[f], HOST[f], "tcp", 3478], "filtered"],
      [[NODE[f], HOST[f], "tcp", 2049], "filtered"],
      [[NODE[f], HOST[f], "tcp", 111], "filtered"],
      ...[3478, 16384, 2049].map((port): [Probe, string] => [[OTHER[f], HOST[f], "udp", port], "filtered"]),
    ];
    const got = probeAll(expected.map(([p]) => p));
    expect(Object.fromEntries(expected.map(([p]) => [key(p), got[key(p)]]))).toEqual(Object.fromEntries(expected.map(([p, r]) => [key(p), r])));
  });

  it("IPv6 neighbour discovery and ping go through the table (without them IPv6 dies once neighbour caches expire)", () => {
    loadRuleset(renderNftRuleset(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMIN_CIDRS }), "front test"));
    // Forget the neighbours learnt so far: the next packet needs a fresh solicitation through the table.
    inNs(HOST_NS, "ip", "-6", "neigh", "flush", "all");
    inNs(CLIENT_NS, "ip", "-6", "neigh", "flush", "all");
    expect(probeAll([[OTHER.v6, HOST.v6, "tcp", 443]])).toEqual({ [`${OTHER.v6} ${HOST.v6} tcp 443`]: "open" });
    expect(inNs(HOST_NS, "ip", "-6", "neigh", "show", OTHER.v6)).toMatch(/REACHABLE|STALE|DELAY|PROBE/);
    expect(inNs(CLIENT_NS, "python3", "-c", PING6, OTHER.v6, HOST.v6).trim()).toBe("echo reply");
  });

  it("replaces only our table, atomically: another table in the namespace survives a reload", () => {
    inNs(HOST_NS, "nft", "add", "table", "ip", "ufw_like");
    loadRuleset(renderNftRuleset(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMIN_CIDRS }), "node test"));
    loadRuleset(renderNftRuleset(firewallPolicy({ role: "front", sshPort: 22, adminCidrs: ADMIN_CIDRS }), "front test"));
    const tables = inNs(HOST_NS, "nft", "list", "tables");
    expect(tables).toContain("table ip ufw_like");
    expect(tables.match(/table inet bbb_ovh/g)).toHaveLength(1);
    expect(inNs(HOST_NS, "nft", "list", "table", "inet", "bbb_ovh")).not.toMatch(/udp dport (?!546 )/);
    inNs(HOST_NS, "nft", "delete", "table", "ip", "ufw_like");
  });

  it("UFW's rules (iptables-nft) cannot reopen SSH: a drop in our chain is final whatever another table accepts", () => {
    // What `ufw allow OpenSSH` amounts to, in the tables UFW uses (iptables-nft's ip/ip6 filter).
    for (const iptables of ["iptables-nft", "ip6tables-nft"]) inNs(HOST_NS, iptables, "-I", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT");
    try {
      loadRuleset(renderNftRuleset(firewallPolicy({ role: "node", sshPort: 22, adminCidrs: ADMIN_CIDRS }), "node test"));
      const probes: Probe[] = families.flatMap(([, f]) => [[OTHER[f], HOST[f], "tcp", 22] as Probe, [ADMIN[f], HOST[f], "tcp", 22] as Probe]);
      const got = probeAll(probes);
      expect(probes.map((p) => got[key(p)])).toEqual(["filtered", "open", "filtered", "open"]);
      expect(inNs(HOST_NS, "nft", "list", "tables")).toMatch(/table ip filter[\s\S]*table ip6 filter/);
    } finally {
      for (const iptables of ["iptables-nft", "ip6tables-nft"]) inNs(HOST_NS, iptables, "-D", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT");
    }
  });

  describe("scripts/host-firewall.sh over SSH, with nft run inside the namespace", () => {
    let h: TestHost;
    let sshPortListener: ChildProcess | undefined;
    // The test host's sshd listens on a free loopback port, never 22: a host on another SSH port, like sshPort 2222.
    const nodeInputs = (adminCidrs: string[], sshPort = h.port) => hostFirewallInputs({ role: "node", sshPort, adminCidrs }, "bbb-test.example.org");
    const frontInputs = (adminCidrs: string[], sshPort = h.port): ReturnType<typeof hostFirewallInputs> =>
      hostFirewallInputs({ role: "front", sshPort, adminCidrs, nodeAddresses: [NODE.v4] } satisfies PolicyInput, "sl-test.example.org");
    // The test host's SSH client is 127.0.0.1: the admin list must hold it, or the script refuses.
    const WITH_LOOPBACK = ["127.0.0.0/8", ...ADMIN_CIDRS];
    const live = () => inNs(HOST_NS, "nft", "list", "table", "inet", "bbb_ovh");
    const calls = () => (existsSync(path.join(h.root, "fake-calls.log")) ? readFileSync(path.join(h.root, "fake-calls.log"), "utf8") : "");
    const knob = (name: string, value?: string) => {
      const file = path.join(h.root, "fake-state/knobs", name);
      mkdirSync(path.dirname(file), { recursive: true });
      if (value === undefined) rmSync(file, { force: true });
      else writeFileSync(file, value);
    };

    beforeAll(async () => {
      h = await startTestHost({ env: { FAKE_NFT_NETNS: HOST_NS } });
      // A listener on the SSH port the rulesets admit (the test host's; udp 9, discard, is never probed).
      sshPortListener = spawn("ip", ["netns", "exec", HOST_NS, "python3", "-c", LISTENER, `${h.port}`, "9"], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((resolve, reject) => {
        sshPortListener!.stdout!.once("data", () => resolve());
        sshPortListener!.once("exit", (code) => reject(new Error(`listener exited ${code}`)));
      });
      spawnSync("ip", ["netns", "exec", HOST_NS, "nft", "delete", "table", "inet", "bbb_ovh"]);
    });
    afterAll(async () => {
      sshPortListener?.kill("SIGKILL");
      await h?.stop();
    });

    it("applies the node table, installs it for boot, and the packets follow it", async () => {
      const result = await runStep(h, "hostFirewall", nodeInputs(WITH_LOOPBACK));
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("loading the firewall table inet bbb_ovh");
      expect(live()).toContain("udp dport 16384-32768 accept");
      const got = probeAll([
        [ADMIN.v4, HOST.v4, "tcp", h.port],
        [OTHER.v6, HOST.v6, "tcp", h.port],
        [OTHER.v6, HOST.v6, "udp", 24000],
      ]);
      expect([`${ADMIN.v4} ${HOST.v4} tcp ${h.port}`, `${OTHER.v6} ${HOST.v6} tcp ${h.port}`, `${OTHER.v6} ${HOST.v6} udp 24000`].map((k) => got[k])).toEqual([
        "open",
        "filtered",
        "open",
      ]);
      const unit = readFileSync(path.join(h.root, "etc/systemd/system/bbb-ovh-firewall.service"), "utf8");
      expect(unit).toContain("ExecStart=/usr/sbin/nft --file /etc/bbb-ovh/firewall.nft");
      expect(unit).toContain("Before=network-pre.target");
      expect(calls()).toMatch(/^systemctl enable bbb-ovh-firewall\.service$/m);
    });

    it("a second run changes nothing: no load, no file write, no systemd call", async () => {
      const before = { table: live(), calls: calls().length };
      const result = await runStep(h, "hostFirewall", nodeInputs(WITH_LOOPBACK));
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain("loading");
      expect(live()).toBe(before.table);
      const newCalls = calls().slice(before.calls).split("\n").filter(Boolean);
      expect(newCalls.filter((c) => /^systemctl (enable|daemon-reload|restart|start)|^nft (-f|--file) |^apt-get/.test(c))).toEqual([]);
    });

    it("a unit file changed on the host is written back, reloaded and enabled, never started by the step", async () => {
      const file = path.join(h.root, "etc/systemd/system/bbb-ovh-firewall.service");
      const written = readFileSync(file, "utf8");
      writeFileSync(file, written.replace("Before=network-pre.target", "After=network.target"));
      const before = calls().length;
      const result = await runStep(h, "hostFirewall", nodeInputs(WITH_LOOPBACK));
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(file, "utf8")).toBe(written);
      const newCalls = calls().slice(before).split("\n").filter(Boolean);
      expect(newCalls.filter((c) => /^systemctl (enable|daemon-reload|restart|start)/.test(c))).toEqual([
        "systemctl daemon-reload",
        "systemctl enable bbb-ovh-firewall.service",
      ]);
    });

    it("after a reboot (ruleset gone) the unit's command alone brings the table back", () => {
      inNs(HOST_NS, "nft", "flush", "ruleset");
      const unit = readFileSync(path.join(h.root, "etc/systemd/system/bbb-ovh-firewall.service"), "utf8");
      const [binary, flag, file] = /^ExecStart=(.*)$/m.exec(unit)![1].split(" ");
      expect(binary).toBe("/usr/sbin/nft");
      inNs(HOST_NS, binary, flag, path.join(h.root, file));
      expect(live()).toContain("udp dport 16384-32768 accept");
    });

    it("applies a ruleset that admits the client on its sshd's port, and refuses one that admits its address on another port", async () => {
      expect(h.port).not.toBe(22);
      const right = await runStep(h, "hostFirewall", nodeInputs(WITH_LOOPBACK));
      expect(right.stderr).toBe("");
      expect(right.code).toBe(0);
      expect(live()).toContain(`tcp dport ${h.port} accept`);
      expect(live()).not.toMatch(/tcp dport 22 /);
      const got = probeAll([
        [ADMIN.v4, HOST.v4, "tcp", h.port],
        [ADMIN.v4, HOST.v4, "tcp", 22],
      ]);
      expect([got[`${ADMIN.v4} ${HOST.v4} tcp ${h.port}`], got[`${ADMIN.v4} ${HOST.v4} tcp 22`]]).toEqual(["open", "filtered"]);

      const before = { table: live(), file: readFileSync(path.join(h.root, "etc/bbb-ovh/firewall.nft"), "utf8") };
      // The address is admitted (loopback is an admin CIDR), the port is not: what a hard-coded 22 did to a host on 2222.
      const refusal = `connected to port ${h.port}, but the ruleset admits SSH on port 22 only`;
      const wrongPort = await runStep(h, "hostFirewall", nodeInputs(WITH_LOOPBACK, 22));
      expect(wrongPort.stderr).toContain(refusal);
      expect(wrongPort.code).not.toBe(0);
      // Without SSH_CONNECTION (sudo), the port comes from the sshd ancestor's connection.
      const script = `${h.root}/opt/bbb-ovh/scripts/host-firewall.sh`;
      const ssh = await connect(h);
      try {
        const stdin = renderStepStdin("hostFirewall", nodeInputs(WITH_LOOPBACK, 22));
        const result = await ssh.execCommand(`env -u SSH_CONNECTION -u SSH_CLIENT bash ${script}`, { stdin });
        expect(result.stderr).toContain(refusal);
        expect(result.code).not.toBe(0);
      } finally {
        ssh.dispose();
      }
      expect(live()).toBe(before.table);
      expect(readFileSync(path.join(h.root, "etc/bbb-ovh/firewall.nft"), "utf8")).toBe(before.file);
    });

    it("refuses a policy that would cut off its own SSH client, even when SSH_CLIENT is not in its environment (sudo)", async () => {
      const before = { table: live(), file: readFileSync(path.join(h.root, "etc/bbb-ovh/firewall.nft"), "utf8") };
      const direct = await runStep(h, "hostFirewall", frontInputs(ADMIN_CIDRS));
      expect(direct.code).not.toBe(0);
      expect(direct.stderr).toMatch(/refusing to apply the firewall: this SSH session comes from 127\.0\.0\.1.*campus\.adminCidrs/);
      // sudo drops SSH_CLIENT: the script finds it in the environment of an ancestor (as sudo's own), or
      // when no ancestor has it (the shell exec'd the command), from the connection of its sshd ancestor.
      const script = `${h.root}/opt/bbb-ovh/scripts/host-firewall.sh`;
      const ssh = await connect(h);
      try {
        const stdin = renderStepStdin("hostFirewall", frontInputs(ADMIN_CIDRS));
        for (const command of [`env -u SSH_CONNECTION -u SSH_CLIENT bash ${script}; exit $?`, `env -u SSH_CONNECTION -u SSH_CLIENT bash ${script}`]) {
          const result = await ssh.execCommand(command, { stdin });
          expect(result.stderr, command).toContain("comes from 127.0.0.1");
          expect(result.code, command).not.toBe(0);
        }
      } finally {
        ssh.dispose();
      }
      expect(live()).toBe(before.table);
      expect(readFileSync(path.join(h.root, "etc/bbb-ovh/firewall.nft"), "utf8")).toBe(before.file);
    });

    it("killed while loading a new table, it leaves the old table whole and converges on the next run", async ({ signal }) => {
      const old = live();
      knob("FAKE_NFT_HANG", `--file ${h.root}/etc/bbb-ovh/firewall.nft`);
      const logged = calls().length;
      const run = runStep(h, "hostFirewall", frontInputs(WITH_LOOPBACK));
      await waitUntil(() => calls().slice(logged).includes(`nft --file ${h.root}/etc/bbb-ovh/firewall.nft`), signal, 100);
      expect(killSessions(h)).toBeGreaterThan(0);
      await run;
      knob("FAKE_NFT_HANG");
      expect(live()).toBe(old); // the new file is in place but was never loaded: the old table is whole
      const again = await runStep(h, "hostFirewall", frontInputs(WITH_LOOPBACK));
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("loading the firewall table");
      expect(live()).not.toMatch(/udp dport (?!546 )/);
      expect(live()).toContain(`ip saddr ${NODE.v4} tcp dport ${h.port} accept`);
    });

    it("reloads the table when it was removed behind its back (e.g. a flushed ruleset)", async () => {
      inNs(HOST_NS, "nft", "delete", "table", "inet", "bbb_ovh");
      const result = await runStep(h, "hostFirewall", frontInputs(WITH_LOOPBACK));
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("loading the firewall table");
      expect(live()).toContain("tcp dport 443 accept");
    });

    it("the nft wrapper refuses to run without the test's namespace, so it can never touch this machine's ruleset", () => {
      const result = spawnSync(path.join(h.fakeBin, "nft"), ["list", "ruleset"], { env: { PATH: process.env.PATH, BBB_OVH_ROOT: h.root } });
      expect(result.status).toBe(97);
      expect(result.stderr.toString()).toContain("refusing to touch this machine's own ruleset");
    });
  });
});
