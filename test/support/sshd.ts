/**
 * Real OpenSSH servers on loopback for the host-step tests.
 *
 * Each test host is one `sshd -D` on 127.0.0.1 with its own host key, client key and config. Its SSH
 * sessions see BBB_OVH_ROOT=<the host's own filesystem area> and a PATH that starts with test/fakes/bin,
 * so the scripts under scripts/ run exactly as on a real node, but write under that area and talk to
 * fakes instead of the outside world. `runStep` does what the Pulumi Command resource does: copy
 * scripts/ to the host, then run renderStepCommand(...) with renderStepStdin(...) on stdin.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { NodeSSH } from "node-ssh";
import { ed25519KeyPair } from "../../components/hosts/deployKey";
import type { StepName } from "../../components/remote/catalogue";
import { renderStepCommand, renderStepStdin, type StepInputs } from "../../components/remote/invocation";

const REPO = path.resolve(__dirname, "../..");
export const SCRIPTS_DIR = path.join(REPO, "scripts");
export const FAKE_BIN = path.join(REPO, "test/fakes/bin");
const SSHD = "/usr/sbin/sshd";
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
// A bound for a hang, not a speed check: sshd starts in well under a second on a quiet machine, but
// a 2-core machine running several suites at once has been seen taking seconds.
const STARTUP_TIMEOUT_MS = 60_000;
/** As long as a Pulumi Command connection waits for each dial (SSH_DIAL.perDialTimeout, components/hosts/connection.ts). */
export const READY_TIMEOUT_MS = 15_000;

/** What the fakes report about the machine (the harness writes these under the host's root). */
export interface HostFacts {
  /** ID and VERSION_ID of $ROOT/etc/os-release. */
  osId: string;
  osVersion: string;
  /** What the fake `uname -m` prints. */
  arch: string;
  /** What the fake `nproc` prints. */
  cores: number;
  /** MemTotal of $ROOT/proc/meminfo, in MiB. */
  ramMb: number;
  /** Global IPv6 addresses the fake `ip -6 addr show scope global` lists; none when empty. */
  ipv6: string[];
  /** The fake DNS table read by the fake `getent`: name -> IPv4. */
  dns: Record<string, string>;
}

export interface TestHostOptions {
  /** The node's public name (default bbb<N>.test.example). */
  fqdn?: string;
  /** The node's public address; the default DNS table points fqdn at it (default 192.0.2.<N>). */
  publicIpv4?: string;
  /** Overrides of the default facts (Ubuntu 22.04, x86_64, 16 cores, 64 GB, IPv6, DNS -> publicIpv4). */
  facts?: Partial<HostFacts>;
  /** Extra environment for every SSH session of this host, e.g. FAKE_* knobs the fakes read. */
  env?: Record<string, string>;
  /**
   * More authorized_keys files for the login user (root), as paths inside the host's root: what a step
   * installed there for another user (e.g. the recording spool's), so that its restricted key lines
   * (from=, restrict, command=) are checked by this real sshd. None by default.
   */
  extraAuthorizedKeys?: string[];
  /** sshd's MaxSessions (sshd_config(5); default 10): how many sessions one connection may hold at once. */
  maxSessions?: number;
}

export interface TestHost {
  host: string;
  port: number;
  username: "root";
  privateKey: string;
  /** The server's host key line (`ssh-ed25519 AAAA... comment`), for host key pinning. */
  hostPublicKey: string;
  /** The host's own filesystem area: BBB_OVH_ROOT of its SSH sessions. */
  root: string;
  fakeBin: string;
  fqdn: string;
  publicIpv4: string;
  /** Everything sshd printed (-e), for diagnostics. */
  sshdLog(): string;
  /**
   * Replaces the server's host key with `privateOpenssh` and makes sshd re-read it (SIGHUP: sshd re-executes
   * itself, sshd(8)), as cloud-init's ssh module installs the key given in user data (ssh_keys) before sshd
   * starts. `hostPublicKey` is not updated. Connections in the meantime are refused, as during a boot.
   */
  installHostKey(privateOpenssh: string): void;
  stop(): Promise<void>;
}

export interface StepResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

interface RunningHost {
  sshd: ChildProcess;
  root: string;
  base: string;
}

const running = new Set<RunningHost>();
let hostCount = 0;

// Safety net: a failed or interrupted test run must not leave sshd or step processes behind.
process.once("exit", () => {
  for (const h of running) {
    killSessionsUnder(h.root);
    h.sshd.kill("SIGKILL");
  }
});

/** Starts one sshd on loopback with its own keys, config and filesystem area. */
export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  hostCount += 1;
  const fqdn = options.fqdn ?? `bbb${hostCount}.test.example`;
  const publicIpv4 = options.publicIpv4 ?? `192.0.2.${10 + (hostCount % 200)}`;
  const base = mkdtempSync(path.join(tmpdir(), "bbb-ovh-host-"));
  const dirs = { sshd: path.join(base, "sshd"), home: path.join(base, "home"), root: path.join(base, "root") };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  // sshd refuses to start without its privilege separation directory (normally made by systemd).
  mkdirSync("/run/sshd", { recursive: true });

  const hostKey = path.join(dirs.sshd, "host_ed25519");
  const clientKey = path.join(dirs.sshd, "client_ed25519");
  for (const [file, comment] of [
    [hostKey, `host@${fqdn}`],
    [clientKey, "bbb-ovh-test"],
  ]) {
    // What `ssh-keygen -t ed25519 -N "" -C comment -f file` writes, made in this process: a host costs two
    // processes less (the suite starts hundreds of hosts).
    const key = ed25519KeyPair(comment);
    writeFileSync(file, key.private, { mode: 0o600 });
    writeFileSync(`${file}.pub`, `${key.public}\n`);
  }

  setHostFacts(dirs.root, defaultFacts(fqdn, publicIpv4, options.facts));

  const env: Record<string, string> = {
    // A HOME of its own keeps root's real ~/.bashrc (which bash reads for SSH commands) from prepending
    // its own directories to PATH before the fakes.
    HOME: dirs.home,
    BBB_OVH_ROOT: dirs.root,
    PATH: `${FAKE_BIN}:${SYSTEM_PATH}`,
    ...options.env,
  };
  const setEnv = Object.entries(env).map(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key) || /["\n\\]/.test(value)) throw new Error(`test host env ${key} cannot be passed to sshd`);
    return `"${key}=${value}"`;
  });

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = path.join(dirs.sshd, "sshd_config");
    writeFileSync(
      config,
      [
        "ListenAddress 127.0.0.1",
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dirs.sshd, "sshd.pid")}`,
        `AuthorizedKeysFile ${[`${clientKey}.pub`, ...(options.extraAuthorizedKeys ?? []).map((file) => path.join(dirs.root, file))].join(" ")}`,
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
        ...(options.maxSessions === undefined ? [] : [`MaxSessions ${options.maxSessions}`]),
        `SetEnv ${setEnv.join(" ")}`,
        "",
      ].join("\n"),
    );
    try {
      const { sshd, log } = await launchSshd(config);
      const entry: RunningHost = { sshd, root: dirs.root, base };
      running.add(entry);
      return {
        host: "127.0.0.1",
        port,
        username: "root",
        privateKey: readFileSync(clientKey, "utf8"),
        hostPublicKey: readFileSync(`${hostKey}.pub`, "utf8").trim(),
        root: dirs.root,
        fakeBin: FAKE_BIN,
        fqdn,
        publicIpv4,
        sshdLog: () => log.join(""),
        installHostKey: (privateOpenssh) => {
          writeFileSync(hostKey, privateOpenssh.endsWith("\n") ? privateOpenssh : `${privateOpenssh}\n`, { mode: 0o600 });
          sshd.kill("SIGHUP");
        },
        stop: () => stopHost(entry),
      };
    } catch (error) {
      lastError = error as Error; // most likely another process took the port in between: try another
    }
  }
  rmSync(base, { recursive: true, force: true });
  throw lastError ?? new Error("sshd did not start");
}

/** (Re)writes what the fakes report about the machine: os-release, meminfo, nproc, arch, IPv6, DNS. */
export function setHostFacts(root: string, facts: HostFacts): void {
  const state = path.join(root, "fake-state");
  for (const dir of ["etc", "proc", "fake-state"]) mkdirSync(path.join(root, dir), { recursive: true });
  writeFileSync(
    path.join(root, "etc/os-release"),
    `NAME="${facts.osId === "ubuntu" ? "Ubuntu" : facts.osId}"\nVERSION_ID="${facts.osVersion}"\nID=${facts.osId}\nPRETTY_NAME="${facts.osId} ${facts.osVersion}"\n`,
  );
  const kb = facts.ramMb * 1024;
  writeFileSync(
    path.join(root, "proc/meminfo"),
    `MemTotal:       ${kb} kB\nMemFree:        ${Math.floor(kb / 2)} kB\nMemAvailable:   ${Math.floor(kb * 0.8)} kB\n`,
  );
  writeFileSync(path.join(state, "nproc"), `${facts.cores}\n`);
  writeFileSync(path.join(state, "arch"), `${facts.arch}\n`);
  writeFileSync(path.join(state, "ipv6"), facts.ipv6.map((a) => `${a}\n`).join(""));
  writeFileSync(
    path.join(state, "dns"),
    Object.entries(facts.dns)
      .map(([name, ip]) => `${name} ${ip}\n`)
      .join(""),
  );
}

function defaultFacts(fqdn: string, publicIpv4: string, overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    osId: "ubuntu",
    osVersion: "22.04",
    arch: "x86_64",
    cores: 16,
    ramMb: 64 * 1024,
    ipv6: ["2001:db8::10"],
    dns: { [fqdn]: publicIpv4 },
    ...overrides,
  };
}

/** Runs a shell command on a test host over SSH (as the operator would); a non-zero exit throws with its stderr. */
export async function execOn(host: TestHost, command: string, stdin?: string): Promise<string> {
  const ssh = await connect(host);
  try {
    const r = await ssh.execCommand(command, { stdin });
    if (r.code !== 0) throw new Error(`${command}: ${r.stderr}`);
    return r.stdout;
  } finally {
    ssh.dispose();
  }
}

/** Runs a shell command in a session of the test host (PATH, BBB_OVH_ROOT as for the steps), whatever its exit status. */
export async function shellOn(host: TestHost, command: string): Promise<StepResult> {
  const ssh = await connect(host);
  try {
    const r = await ssh.execCommand(command, { cwd: "/" });
    return { code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  } finally {
    ssh.dispose();
  }
}

/** An SSH connection to the host that pins its host key, as a Pulumi connection with hostKey does. */
export async function connect(host: TestHost): Promise<NodeSSH> {
  const pinned = Buffer.from(host.hostPublicKey.split(/\s+/)[1], "base64");
  return new NodeSSH().connect({
    host: host.host,
    port: host.port,
    username: host.username,
    privateKey: host.privateKey,
    hostVerifier: (key: Buffer) => key.equals(pinned),
    readyTimeout: READY_TIMEOUT_MS,
  });
}

/**
 * Runs a step the way the Pulumi Command resource will: scripts/ (with lib/) copied to scriptDir inside
 * the host's root, then `renderStepCommand` with the inputs from `renderStepStdin` on stdin.
 */
export async function runStep(
  host: TestHost,
  step: StepName,
  inputs: StepInputs,
  { scriptDir = "/opt/bbb-ovh/scripts" }: { scriptDir?: string } = {},
): Promise<StepResult> {
  const remoteDir = path.posix.join(host.root, scriptDir);
  const stdin = renderStepStdin(step, inputs);
  await scriptsInPlace(host, remoteDir);
  const ssh = await connect(host);
  try {
    // node-ssh stops listening for errors once connected: turn a reset mid-step into a failed step
    // (as the Pulumi Command resource reports it) instead of an uncaught exception.
    const lost = new Promise<never>((_, reject) => ssh.connection?.on("error", reject));
    lost.catch(() => undefined);
    const result = await Promise.race([ssh.execCommand(renderStepCommand(step, remoteDir, false), { stdin, noTrim: true }), lost]);
    return { code: result.code, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
  } finally {
    ssh.dispose();
  }
}

/**
 * The copies of scripts/ made on each host, by directory, with the hash of what was copied. Steps started at
 * once on one host share one copy, as the program's steps share one CopyToRemote per host; a step never runs
 * while another call swaps the tree under it (a step's bash opening its script between the two renames of a
 * swap found no file: a CI failure).
 */
const copies = new WeakMap<TestHost, Map<string, { hash: string; done: Promise<void> }>>();

async function scriptsInPlace(host: TestHost, remoteDir: string): Promise<void> {
  const hash = treeHash(SCRIPTS_DIR);
  const byDir = copies.get(host) ?? new Map<string, { hash: string; done: Promise<void> }>();
  copies.set(host, byDir);
  const known = byDir.get(remoteDir);
  if (known?.hash === hash) return known.done;
  const done = (known?.done ?? Promise.resolve()).catch(() => undefined).then(() => copyScripts(host, remoteDir));
  byDir.set(remoteDir, { hash, done });
  done.catch(() => byDir.get(remoteDir)?.done === done && byDir.delete(remoteDir));
  return done;
}

/** sha256 over every file's relative path and content, in a stable order. */
function treeHash(dir: string): string {
  const sha = createHash("sha256");
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }).sort((a, b) =>
    path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)),
  )) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    sha.update(`${path.relative(dir, file)}\0`).update(readFileSync(file));
  }
  return sha.digest("hex");
}

async function copyScripts(host: TestHost, remoteDir: string): Promise<void> {
  const ssh = await connect(host);
  try {
    // Copied beside, then renamed into place under a lock: a step still running from a previous copy of other
    // content keeps reading its own files instead of files truncated under it.
    const staging = `${remoteDir}.copy-${randomBytes(4).toString("hex")}`;
    await makeRemoteTree(ssh, staging);
    const failures: string[] = [];
    const copied = await ssh.putDirectory(SCRIPTS_DIR, staging, {
      recursive: true,
      concurrency: 4,
      tick: (local, _remote, error) => {
        if (error) failures.push(`${path.relative(SCRIPTS_DIR, local)}: ${error.message}`);
      },
    });
    if (!copied) throw new Error(`copying scripts/ to ${remoteDir} failed: ${failures.join("; ")}`);
    const q = shellQuote;
    const old = q(`${staging}.old`);
    const swapped = await ssh.execCommand(
      `(flock 9 && { [ ! -d ${q(remoteDir)} ] || mv -T ${q(remoteDir)} ${old}; } && mv -T ${q(staging)} ${q(remoteDir)}) 9>${q(`${remoteDir}.lock`)} && rm -rf ${old}`,
    );
    if (swapped.code !== 0) throw new Error(`putting scripts/ in place at ${remoteDir} failed: ${swapped.stderr}`);
  } finally {
    ssh.dispose();
  }
}

/** One word for sh, whatever the path holds. */
const shellQuote = (word: string): string => `'${word.replace(/'/g, "'\\''")}'`;

/**
 * Creates scripts/'s directory tree on the host in one `mkdir -p` before the copy. node-ssh's
 * putDirectory makes missing directories over SFTP from several workers at once (stat, then mkdir):
 * two workers making the same parent race, the loser gets SFTP "Failure" (EEXIST) and its files
 * are not copied. On a busy machine that happened in about one run in three.
 */
async function makeRemoteTree(ssh: NodeSSH, remoteDir: string): Promise<void> {
  const subdirs = readdirSync(SCRIPTS_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.posix.join(remoteDir, path.relative(SCRIPTS_DIR, path.join(entry.parentPath, entry.name))));
  const quoted = [remoteDir, ...subdirs].map(shellQuote);
  const made = await ssh.execCommand(`mkdir -p -- ${quoted.join(" ")}`);
  if (made.code !== 0) throw new Error(`making ${remoteDir} on the test host failed: ${made.stderr}`);
}

/**
 * Kills (SIGKILL) every process an SSH session of this host started, as a dropped connection or a
 * reboot would end a step midway. Returns how many processes it killed.
 */
export function killSessions(host: TestHost): number {
  return killSessionsUnder(host.root);
}

/**
 * Kills (SIGKILL) the sshd processes that serve this host's connections, every descendant of its listener (sshd
 * forks one per connection), sessions or not: a connection kept idle ends as a dropped link or a reboot would
 * end it. Returns how many processes it killed.
 */
export function cutConnections(host: TestHost): number {
  const listener = [...running].find((entry) => entry.root === host.root)?.sshd.pid;
  if (listener === undefined) throw new Error(`no sshd running for the test host at ${host.root}`);
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone already
    }
  }
  const doomed = new Set<number>();
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of parentOf)
      if ((parent === listener || doomed.has(parent)) && !doomed.has(pid)) {
        doomed.add(pid);
        grew = true;
      }
  }
  return killAll(doomed);
}

function killSessionsUnder(root: string): number {
  const marker = Buffer.from(`\0BBB_OVH_ROOT=${root}\0`);
  const doomed: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`)]).includes(marker)) doomed.push(Number(entry));
    } catch {
      // gone already, or a kernel thread
    }
  }
  return killAll(doomed);
}

/** SIGKILLs each process; returns how many were still there to kill. */
function killAll(pids: Iterable<number>): number {
  let killed = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
      killed += 1;
    } catch {
      // exited in between
    }
  }
  return killed;
}

async function stopHost(entry: RunningHost): Promise<void> {
  if (!running.delete(entry)) return;
  killSessionsUnder(entry.root);
  if (entry.sshd.exitCode === null && entry.sshd.signalCode === null) {
    const exited = new Promise<void>((resolve) => entry.sshd.once("exit", () => resolve()));
    entry.sshd.kill("SIGTERM");
    await exited;
  }
  if (!process.env.BBB_OVH_KEEP_TEST_HOSTS) rmSync(entry.base, { recursive: true, force: true });
}

function launchSshd(config: string): Promise<{ sshd: ChildProcess; log: string[] }> {
  return new Promise((resolve, reject) => {
    // sshd re-executes itself (on SIGHUP), so it must be started by its absolute path. -r: a connection is
    // served by a fork of the listener instead of a fresh exec of sshd (sshd(8), OpenSSH 9.2): one exec less
    // for each of the suite's thousands of SSH sessions, measured 12 % of an SSH-heavy file's CPU. From OpenSSH
    // 9.8 on (openssh-portable b21d271f6, sshd.c) -r is ignored with a logged warning and each connection runs
    // sshd-session, as without it: slower, same behaviour, and the listening line below is logged as before.
    const sshd = spawn(SSHD, ["-D", "-e", "-r", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    const log: string[] = [];
    const timer = setTimeout(() => {
      sshd.kill("SIGKILL");
      reject(new Error(`sshd did not start within ${STARTUP_TIMEOUT_MS} ms:\n${log.join("")}`));
    }, STARTUP_TIMEOUT_MS);
    sshd.stderr!.setEncoding("utf8");
    sshd.stderr!.on("data", (chunk: string) => {
      log.push(chunk);
      if (log.join("").includes("Server listening on 127.0.0.1")) {
        clearTimeout(timer);
        resolve({ sshd, log });
      }
    });
    sshd.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code ?? signal}) before listening:\n${log.join("")}`));
    });
    sshd.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });

/** Ports this process handed out: a test often asks for several before starting the servers that bind them. */
const handedOut = new Set<number>();

/** Slices of the port range, one per concurrent vitest worker (VITEST_POOL_ID counts from 1, up to vitest.config.mts's maxWorkers). */
const SLICES = 8;

/**
 * A port free now, for a server the test starts (often another process, which binds it a moment later, or
 * again after a restart: certbot's standalone server on each run, a PostgreSQL the test stops and starts). A
 * port of the kernel's ephemeral range can meanwhile become the local end of any test's outgoing connection:
 * a CI run failed every certbot run so ("Could not bind TCP port ... already in use"). Below that range no
 * outgoing connection takes it. Free is not reserved: a CI run's Prometheus and a node_exporter of the same
 * test were handed one port before either bound it, and the queries reached node_exporter's landing page.
 * So no port is handed out twice in a process, and each concurrent worker draws from a slice of its own.
 */
export async function freePort(): Promise<number> {
  const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  const base = 10_000;
  if (!(low > base + SLICES * 500)) throw new Error(`the ephemeral port range starts at ${low}: no room below it for the tests' servers`);
  const pool = Number(process.env.VITEST_POOL_ID);
  const width = Math.floor((low - base) / SLICES);
  const [from, to] = Number.isInteger(pool) && pool > 0 ? [base + ((pool - 1) % SLICES) * width, base + (((pool - 1) % SLICES) + 1) * width] : [base, low];
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${from} and ${to}`);
}
