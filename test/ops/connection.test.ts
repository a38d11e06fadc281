import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ops, opsProcess, scratch } from "./cli";

/**
 * The SSH side of `npm run ops`: the connection deadline (--timeout) covers the SSH handshake, and no
 * host key is ever trusted on first sight. A loopback TCP server that accepts connections and never
 * says a word stands for a port that is open but is not (or no longer) an SSH server, such as a
 * firewall or load balancer holding the connection.
 */
let silent: Server;
let silentPort: number;
const accepted: Socket[] = [];
let keyFile: string;
let someHostKey: string;

beforeAll(async () => {
  silent = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentPort = (silent.address() as { port: number }).port;
  const dir = scratch();
  keyFile = path.join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
  const hostKeyFile = path.join(dir, "host_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKeyFile]);
  someHostKey = readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
});

afterAll(async () => {
  accepted.forEach((s) => s.destroy());
  await new Promise((resolve) => silent.close(resolve));
});

/** A drain of a node whose front is the silent port (no stack file, no Pulumi CLI: options only). */
const drainArgs = (extra: string[]) => [
  "drain",
  "nosuchstack",
  "bbb1.test.example",
  "--yes",
  "--url",
  "http://127.0.0.1:9/",
  "--host",
  "127.0.0.1",
  "--ssh-port",
  String(silentPort),
  "--ssh-key",
  keyFile,
  ...extra,
];

describe("ops drain checks the node against the stack before connecting", () => {
  it("refuses a name that is not one of the stack's nodes, with a suggestion, and opens no connection", async () => {
    const before = accepted.length;
    const run = await ops([
      "drain",
      "lab",
      "lab-bbb3",
      "--yes",
      "--host",
      "127.0.0.1",
      "--ssh-port",
      String(silentPort),
      "--ssh-key",
      keyFile,
      "--host-key",
      someHostKey,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "'lab-bbb3' is not a node of lab (did you mean 'lab-bbb1'?); its nodes are: lab-bbb1 (bbb1.lab.isen-ouest.fr), lab-bbb2 (bbb2.lab.isen-ouest.fr)",
    );
    expect(accepted.length).toBe(before);
  });
});

describe("ops status", () => {
  it("lists each problem once, even when two checks hit the same dead address", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await ops([
      "status",
      "nosuchstack",
      "--json",
      "--url",
      `http://127.0.0.1:${port}/`,
      "--host",
      "127.0.0.1",
      "--ssh-port",
      String(port),
      "--ssh-key",
      keyFile,
      "--host-key",
      someHostKey,
    ]);
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout).problems).toEqual([{ host: `127.0.0.1:${port}`, kind: "tcp", message: expect.stringMatching(/ECONNREFUSED/) }]);
  });
});

describe("ops --timeout bounds the whole SSH connection", () => {
  it("gives up on a port that accepts TCP and never speaks SSH after --timeout, not after --command-timeout", async () => {
    const run = await ops(drainArgs(["--host-key", someHostKey, "--timeout", "700", "--command-timeout", "60000"]));
    expect(run.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${silentPort}: timeout: no SSH session within 700 ms`));
    expect(run.code).toBe(5);
    expect(run.elapsedMs).toBeLessThan(30_000); // half --command-timeout (60 s): room for a loaded machine's CLI start
  });

  it("status reports the front's SSH side as a timeout within --timeout too", async () => {
    const run = await ops([
      "status",
      "--json",
      "--url",
      "http://127.0.0.1:9/",
      "--host",
      "127.0.0.1",
      "--ssh-port",
      String(silentPort),
      "--ssh-key",
      keyFile,
      "--host-key",
      someHostKey,
      "--timeout",
      "700",
      "--command-timeout",
      "60000",
    ]);
    expect(run.elapsedMs).toBeLessThan(30_000); // half --command-timeout (60 s): room for a loaded machine's CLI start
    expect(JSON.parse(run.stdout).problems).toContainEqual(expect.objectContaining({ host: `127.0.0.1:${silentPort}`, kind: "timeout" }));
  });
});

describe("ops never trusts an unknown host key", () => {
  it("refuses before connecting when neither --host-key nor the stack's frontHostKey is known, and says how to pass it (as a process)", async () => {
    const before = accepted.length;
    const run = await opsProcess(drainArgs(["--timeout", "700"]));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("host's SSH key is unknown");
    expect(run.stderr).toContain("--host-key 'ssh-ed25519 AAAA...'");
    expect(run.stderr).toContain("frontHostKey");
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(accepted.length).toBe(before); // not even a TCP connection
  });
});
