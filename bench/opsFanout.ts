/**
 * Operations fan-out: how long the ops tooling takes over many hosts that each answer after a
 * delay d, and with one host that accepts connections but never answers (the timeout bounds it).
 * - `ops status` (cli/ops/status.ts collectStatus): its per-node probes are HTTP calls to each
 *   node's BBB API; 20 local BBB API servers answer after d.
 * - The ops SSH layer (cli/ops/ssh.ts runRemote) fanned out the way ops bounds it (p-limit):
 *   20 real sshd on loopback, each behind a proxy that holds the connection for d first.
 */
import pLimit from "p-limit";
import { collectStatus } from "../cli/ops/status";
import { Progress } from "../cli/ops/progress";
import { runRemote } from "../cli/ops/ssh";
import type { OpsTarget } from "../cli/ops/stackSource";
import { startBbbApiServer } from "../test/support/bbbApiServer";
import { startTestHost, type TestHost } from "../test/support/sshd";
import { blackHole, faultyProxy } from "../test/faults/faultyNetwork";

export const HOSTS = 20;
/** A bound below the host count, to show what the bound costs (`npm run ops -- status --concurrency 8`). */
export const SMALL_BOUND = 8;

export interface FanoutPoint {
  layer: "status (HTTP)" | "ssh";
  hosts: number;
  delayMs: number;
  concurrency: number;
  /** Present when one host is dead: the per-host timeout. */
  deadHostTimeoutMs?: number;
  wallMs: number;
  /** wall / delay (goal < 1.5 with all hosts at once), or wall / timeout with a dead host. */
  ratio: number;
  failures: number;
}

export async function statusFanout(delayMs: number, concurrency: number, deadHostTimeoutMs?: number): Promise<FanoutPoint> {
  const servers = await Promise.all(Array.from({ length: HOSTS }, () => startBbbApiServer({ secret: "bench-node-secret", delayMs })));
  const dead = deadHostTimeoutMs ? await blackHole() : undefined;
  try {
    const nodes = servers.map((s, i) => ({ name: `bbb${i}`, fqdn: `bbb${i}.bench.example`, apiUrl: s.apiUrl, secret: s.secret }));
    if (dead) nodes[0] = { ...nodes[0], apiUrl: `http://127.0.0.1:${dead.port}/bigbluebutton/api` };
    const target: OpsTarget = { label: "bench", nodes };
    const started = performance.now();
    const report = await collectStatus(
      target,
      { http: { timeoutMs: deadHostTimeoutMs ?? 10_000 }, commandTimeoutMs: 10_000, concurrency },
      new Progress(process.stderr, false),
    );
    const wallMs = performance.now() - started;
    return {
      layer: "status (HTTP)",
      hosts: HOSTS,
      delayMs,
      concurrency,
      deadHostTimeoutMs,
      wallMs,
      ratio: wallMs / (deadHostTimeoutMs ?? delayMs),
      failures: report.nodes.filter((n) => !n.probe.ok).length,
    };
  } finally {
    await Promise.all([...servers.map((s) => s.close()), dead?.close()]);
  }
}

/** Real sshd hosts for the SSH fan-out; started once, they serve every delay. */
export async function startSshHosts(): Promise<TestHost[]> {
  const hosts: TestHost[] = [];
  // A few at a time: each start runs ssh-keygen twice.
  for (let i = 0; i < HOSTS; i += 5) hosts.push(...(await Promise.all(Array.from({ length: Math.min(5, HOSTS - i) }, () => startTestHost()))));
  return hosts;
}

export async function sshFanout(hosts: TestHost[], delayMs: number, concurrency: number, deadHostTimeoutMs?: number): Promise<FanoutPoint> {
  const proxies = await Promise.all(hosts.map((h) => faultyProxy(h.port, { delayMs })));
  const dead = deadHostTimeoutMs ? await blackHole() : undefined;
  const limit = pLimit(concurrency);
  try {
    const started = performance.now();
    const results = await Promise.all(
      hosts.map((h, i) =>
        limit(() =>
          runRemote(
            {
              host: "127.0.0.1",
              port: dead && i === 0 ? dead.port : proxies[i].port,
              username: h.username,
              privateKey: h.privateKey,
              hostKey: h.hostPublicKey,
            },
            "true",
            deadHostTimeoutMs ?? 10_000,
          ).then(
            () => true,
            () => false,
          ),
        ),
      ),
    );
    const wallMs = performance.now() - started;
    return {
      layer: "ssh",
      hosts: HOSTS,
      delayMs,
      concurrency,
      deadHostTimeoutMs,
      wallMs,
      ratio: wallMs / (deadHostTimeoutMs ?? delayMs),
      failures: results.filter((ok) => !ok).length,
    };
  } finally {
    await Promise.all([...proxies.map((p) => p.close()), dead?.close()]);
  }
}
