import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { runOps } from "../../cli/ops/program";
import { OPS_CLI } from "../support/distCli";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Text on stdin (a confirmation answer, a secret with --secret-file -). */
  stdin?: string;
  /** Pretend stdin / stderr are terminals. */
  tty?: boolean;
  signal?: AbortSignal;
  /** Called with everything written to stdout so far, on each write (to stop a --watch run on what it printed). */
  onStdout?: (stdout: string) => void;
}

/** Runs `npm run ops -- ...argv` in-process with captured streams. */
export async function ops(argv: string[], options: CliOptions = {}): Promise<CliRun> {
  const stdout = Object.assign(new PassThrough(), { isTTY: false });
  const stderr = Object.assign(new PassThrough(), { isTTY: Boolean(options.tty) });
  const stdin = Object.assign(new PassThrough(), { isTTY: Boolean(options.tty) });
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (c: Buffer) => {
    out.push(c.toString());
    options.onStdout?.(out.join(""));
  });
  stderr.on("data", (c: Buffer) => err.push(c.toString()));
  if (options.stdin !== undefined) stdin.end(options.stdin);
  else if (!options.tty) stdin.end();
  const started = performance.now();
  // No Pulumi CLI unless a test puts its fake on PATH; no agent or home keys leak in from the machine.
  const env = { PATH: "/usr/bin:/bin", HOME: scratch(), ...options.env };
  const code = await runOps(argv, { stdout, stderr, stdin, env, signal: options.signal });
  return { code, stdout: out.join(""), stderr: err.join(""), elapsedMs: performance.now() - started };
}

const REPO = path.resolve(__dirname, "../..");

/**
 * Runs `npm run ops -- ...argv` as its own process (dist/cli/ops.js, what the npm script runs; vitest's
 * globalSetup compiled it), for what only a process shows: the real exit code, what reaches the terminal, no
 * stack trace. tsx compiled cli/ops.ts on every call: about 2.5 s more per call on a loaded machine.
 */
export function opsProcess(argv: string[], options: Pick<CliOptions, "env"> = {}): Promise<CliRun> {
  const started = performance.now();
  const env = { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: scratch(), ...options.env };
  return new Promise((resolve) => {
    execFile(process.execPath, [OPS_CLI, ...argv], { cwd: REPO, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}

export function scratch(): string {
  return mkdtempSync(path.join(tmpdir(), "bbb-ovh-ops-"));
}

/** A 0600 file holding a secret, as the operator would pass it with --secret-file. */
export function secretFile(secret: string): string {
  const file = path.join(scratch(), "secret");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return file;
}

/** A node the process-level ops tests (schedule, scale) stand up: its BBB API peer and its secret. */
export interface OpsTestNode {
  name: string;
  fqdn: string;
  ip: string;
  secret: string;
  apiUrl: string;
}

/** The OVH API peer's address, CA and credentials, as an `ops` process reads them. */
export interface OpsApiPeer {
  caFile: string;
  url: string;
  state: { appKey: string; appSecret: string; consumerKey: string };
}

/**
 * The environment an `ops` process runs with against the test hosts: the front's key in a fresh HOME,
 * the stack's outputs for the fake pulumi (test/ops/fakes), and the OVH API peer's credentials.
 */
export function opsProcessEnv(
  fakes: string,
  front: { fqdn: string; hostPublicKey: string; privateKey: string },
  nodes: OpsTestNode[],
  peer: OpsApiPeer,
): Record<string, string> {
  const home = scratch();
  writeFileSync(path.join(home, "key"), front.privateKey, { mode: 0o600 });
  return opsEnv(fakes, home, peer, {
    frontFqdn: front.fqdn,
    frontHostKey: front.hostPublicKey,
    nodes: nodes.map((n) => ({ name: n.name, fqdn: n.fqdn, ipv4: n.ip, apiUrl: n.apiUrl })),
    nodeSecrets: Object.fromEntries(nodes.map((n) => [n.fqdn, n.secret])),
  });
}

/** An `ops` process's environment in HOME: the fakes first on PATH, `outputs` as the fake pulumi's stack outputs, the peer's credentials. */
export function opsEnv(fakes: string, home: string, peer: OpsApiPeer, outputs: object): Record<string, string> {
  const outputsFile = path.join(home, "outputs.json");
  writeFileSync(outputsFile, JSON.stringify(outputs));
  return {
    PATH: `${fakes}:/usr/bin:/bin`,
    HOME: home,
    FAKE_PULUMI_OUTPUTS: outputsFile,
    FAKE_PULUMI_LOG: path.join(home, "pulumi.log"),
    NODE_EXTRA_CA_CERTS: peer.caFile,
    OVH_API_URL: peer.url,
    OVH_APPLICATION_KEY: peer.state.appKey,
    OVH_APPLICATION_SECRET: peer.state.appSecret,
    OVH_CONSUMER_KEY: peer.state.consumerKey,
  };
}

/** The options that point an ops command at a loopback sshd front, logged in as root with `keyFile`. */
export function frontSshArgs(front: { host: string; port: number }, keyFile: string): string[] {
  return ["--host", front.host, "--ssh-port", String(front.port), "--ssh-user", "root", "--ssh-key", keyFile];
}
