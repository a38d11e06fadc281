/**
 * Real Scalelite for the tests: Scalelite v1.8.5's own rake tasks, models and ServerSync (from the pinned
 * tree, never copied here) run by rake.rb on Debian's ruby against a real redis-server this module starts
 * on its own loopback port and directory. The fake `docker exec [-i] scalelite-api bin/rake ...`
 * (test/fakes/bin/docker) runs rake.rb with the config file of its test host, written by attachScalelite.
 *
 * The nodes Scalelite polls are local BigBlueButton API servers (test/support/bbbApiServer.ts): `route`
 * maps a node's host name to one of them (rake.rb refuses every host that has no route).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { base64, type StepInputs } from "../../../components/remote/invocation";
import { nodeApiUrl, registrationStateInputs, renderServersYaml, type ScaleliteNodeState } from "../../../components/scalelite/renderServersYaml";
import { upstreamTree } from "../upstream";

/**
 * `ruby rake.rb ARGS...` through this process's preloaded rakeServer.rb: the same call in a fork of a Ruby that
 * has loaded rake.rb's libraries once, about 0.5 s of CPU less a call (docs/testing.md). The fake docker on a
 * test host runs it too; both find the server by "rakeServer" in the harness config.
 */
export const RAKE_CLIENT = ["--disable-gems", path.join(__dirname, "rakeClient.rb")];
/** rake.rb itself, which the client runs in a fork of the server (or directly, without one). */
export const RAKE_RB = path.join(__dirname, "rake.rb");

let rakeServer: Promise<string> | undefined;

/** The socket of this process's rakeServer.rb, started at the first Scalelite; it ends with this process (its stdin closes). */
function startRakeServer(tabuloTree: string): Promise<string> {
  rakeServer ??= new Promise<string>((resolve, reject) => {
    const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-rake-"));
    const child = spawn("ruby", [path.join(__dirname, "rakeServer.rb"), dir, tabuloTree], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
      if (output.includes("ready\n")) resolve(path.join(dir, "rake.sock"));
    });
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.on("exit", (code) => reject(new Error(`rakeServer.rb ended (${code}) before it was ready: ${output}`)));
    // Neither the server nor its pipes keep this process alive; its stdin closes when this process ends.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  });
  return rakeServer;
}

export interface ScaleliteTrees {
  scalelite: string;
  tabulo: string;
}

/** The pinned trees rake.rb loads, or undefined (each missing one said on stderr) when not prepared. */
export function scaleliteTrees(): ScaleliteTrees | undefined {
  const scalelite = upstreamTree("scalelite");
  const tabulo = upstreamTree("tabulo");
  return scalelite && tabulo ? { scalelite, tabulo } : undefined;
}

export interface RakeResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Scalelite {
  /** The config file rake.rb reads (BBB_OVH_SCALELITE_CONFIG). */
  configFile: string;
  redisUrl: string;
  /** Sends a node host's API calls to a local BBB API server (`http://127.0.0.1:PORT`), or nowhere. */
  route(host: string, origin: string | undefined): void;
  /**
   * `bin/rake TASK...` run here, with `stdin` as `docker exec -i` would pass it. Asynchronous: the local
   * BBB API servers the poller calls live in this very process.
   */
  rake(tasks: string[], stdin?: string, env?: Record<string, string>): Promise<RakeResult>;
  /** A long-running task (e.g. `recordings:watch`): its output so far, and SIGTERM, which the task takes as its graceful stop. */
  watch(tasks: string[], env?: Record<string, string>): { output(): string; running(): boolean; stop(): Promise<RakeResult> };
  /** Runs Ruby with Scalelite's models loaded (rake.rb -e); prints what the snippet prints. */
  ruby(snippet: string): Promise<RakeResult>;
  /** Every server as Scalelite's Redis holds it (secrets included: for assertions, never print it). */
  servers(): Promise<Record<string, ServerRecord>>;
  /** The server Scalelite's own `Server.find_available(tag)` picks for a create, or its error. */
  findAvailable(tag?: string): Promise<{ id?: string; error?: string }>;
  /** Meeting records [serverId, meetingId], made by Scalelite's own Meeting.find_or_create_with_server! (what its create API does). */
  addMeetings(meetings: Array<[string, string]>): Promise<void>;
  /**
   * Polls until Scalelite counts every server of `ids` online (and, with `bbbVersion`, knows its BBB version).
   * A server just synced is offline until one poll of it succeeds, and `poll:all` runs the three pollers at
   * once (lib/tasks/poll.rake, `multitask all`), each giving up after POLLER_WAIT_TIMEOUT: on a loaded machine
   * one poll can leave a reachable node offline (CI failures). So the pollers run one after another, again
   * until the condition holds, as an operator would wait for the next POLL_INTERVAL.
   */
  pollUntilOnline(ids: string[], options?: { bbbVersion?: boolean }): Promise<void>;
  /**
   * Runs the pollers one after another, as pollUntilOnline does (and for its reason), until the Ruby expression
   * `condition` (Scalelite's models loaded) is true; `what` names it in the error when 10 polls did not make it
   * so. E.g. a Meeting record, which poll:meetings drops once its node answers notFound.
   */
  pollUntil(condition: string, what: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerRecord {
  url: string;
  secret: string;
  /** enabled | cordoned | disabled, as `bin/rake servers` shows it. */
  state: string;
  online: boolean;
  load: string | null;
  load_multiplier: string;
  tag: string | null;
}

/** Ruby that prints its value as one JSON line, or the error's message as {"error": ...}. */
const printJson = (expression: string) => `require 'json'
begin
  puts JSON.dump(${expression})
rescue ApplicationRedisRecord::RecordNotFound, BBBErrors::BBBError => e
  puts JSON.dump({ 'error' => e.message })
end`;

async function jsonOf<T>(pending: Promise<RakeResult>): Promise<T> {
  const r = await pending;
  if (r.code !== 0) throw new Error(`rake.rb failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "") as T;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startRedis(dir: string): Promise<{ child: ChildProcess; url: string }> {
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // No persistence: each test's Scalelite starts empty and leaves nothing behind.
    const child = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout?.on("data", () => {
        if (log.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.on("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) return { child, url: `redis://127.0.0.1:${port}/0` };
    child.kill("SIGKILL");
    lastError = log;
  }
  throw new Error(`redis-server did not start: ${lastError}`);
}

/**
 * Starts a Scalelite (a fresh redis-server) whose config file lives in `stateDir` (a test host's
 * fake-state, or a temporary directory). The db:* stand-in keeps its state there too.
 */
export async function startScalelite(trees: ScaleliteTrees, stateDir?: string, options: { databaseUrl?: string } = {}): Promise<Scalelite> {
  const base = mkdtempSync(path.join(tmpdir(), "bbb-ovh-scalelite-"));
  const dir = stateDir ?? base;
  mkdirSync(dir, { recursive: true });
  const [redis, rakeServerSocket] = await Promise.all([startRedis(base), startRakeServer(trees.tabulo)]);
  const configFile = path.join(dir, "scalelite-harness.json");
  const routes: Record<string, string> = {};
  const watchers: ChildProcess[] = [];
  const write = () =>
    writeFileSync(
      configFile,
      JSON.stringify({
        scaleliteTree: trees.scalelite,
        tabuloTree: trees.tabulo,
        redisUrl: redis.url,
        routes,
        dbState: path.join(dir, "scalelite-db"),
        databaseUrl: options.databaseUrl,
        rakeServer: rakeServerSocket,
      }),
    );
  write();
  const run = (args: string[], stdin = "", env: Record<string, string> = {}): Promise<RakeResult> =>
    new Promise((resolve) => {
      const child = execFile(
        "ruby",
        [...RAKE_CLIENT, ...args],
        { encoding: "utf8", env: { ...process.env, ...env, BBB_OVH_SCALELITE_CONFIG: configFile }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
      );
      child.stdin?.end(stdin);
    });
  const pollUntil = async (condition: string, what: string): Promise<void> => {
    let polls = "";
    // Bounded so a condition that never holds fails with the pollers' output instead of looping past the test.
    for (let round = 1; ; round++) {
      const poll = await run(["poll:servers", "poll:meetings", "poll:versions"]);
      polls += poll.stdout + poll.stderr;
      if ((await jsonOf<unknown>(run(["-e", printJson(`!!(${condition})`)]))) === true) return;
      if (round === 10) throw new Error(`${what}: still not so after ${round} polls:\n${polls}`);
    }
  };
  return {
    configFile,
    redisUrl: redis.url,
    route(host, origin) {
      if (origin === undefined) delete routes[host];
      else routes[host] = origin;
      write();
    },
    rake: (tasks, stdin, env) => run(tasks, stdin, env),
    watch(tasks, env) {
      const child = spawn("ruby", [...RAKE_CLIENT, ...tasks], {
        env: { ...process.env, ...env, BBB_OVH_SCALELITE_CONFIG: configFile },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<RakeResult>((resolve) => child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr })));
      // A test that times out never reaches its stop(): Scalelite's stop ends the task too.
      watchers.push(child);
      return {
        output: () => stdout + stderr,
        running: () => child.exitCode === null && child.signalCode === null,
        stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return exited;
        },
      };
    },
    ruby: (snippet) => run(["-e", snippet]),
    servers: () =>
      jsonOf(
        run([
          "-e",
          printJson(
            "Server.all.to_h { |s| [s.id, { url: s.url, secret: s.secret, state: s.state.presence || (s.enabled ? 'enabled' : 'disabled'), online: s.online, load: s.load&.to_s, load_multiplier: s.load_multiplier.to_s, tag: s.tag }] }",
          ),
        ]),
      ),
    findAvailable: (tag) => jsonOf(run(["-e", printJson(`{ 'id' => Server.find_available(${tag === undefined ? "nil" : JSON.stringify(tag)}).id }`)])),
    async addMeetings(meetings) {
      const made = meetings.map(
        ([serverId, meetingId]) => `Meeting.find_or_create_with_server!(${JSON.stringify(meetingId)}, Server.find(${JSON.stringify(serverId)}), 'mp').id`,
      );
      await jsonOf(run(["-e", printJson(`[${made.join(", ")}]`)]));
    },
    pollUntil,
    pollUntilOnline(ids, options = {}) {
      const online = options.bbbVersion ? "s.online && s.bbb_version.present?" : "s.online";
      return pollUntil(`(${JSON.stringify(ids)} - Server.all.select { |s| ${online} }.map(&:id)).empty?`, `Scalelite counts ${ids.join(", ")} online`);
    },
    async stop() {
      for (const child of watchers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (redis.child.exitCode === null && redis.child.signalCode === null) {
        const exited = new Promise<void>((resolve) => redis.child.once("exit", () => resolve()));
        redis.child.kill("SIGTERM");
        await exited;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A real Scalelite for a test host: `docker exec ... bin/rake` on that host runs against it. */
export function attachScalelite(trees: ScaleliteTrees, host: { root: string }): Promise<Scalelite> {
  return startScalelite(trees, path.join(host.root, "fake-state"));
}

/**
 * scalelite-register.sh inputs for nodes `ids` (untagged, as the program registers them), with the
 * servers.yaml and state inputs our renderer produces (no `states`: the operator owns every node's state,
 * the stacks' default); a quick poll loop (5 attempts, no delay) unless `extra` says otherwise. A ready pool
 * ends the loop at its first poll; the spare attempts are for a poll that a loaded machine made give up
 * (`poll:all` runs Scalelite's pollers at once, each with POLLER_WAIT_TIMEOUT).
 */
export const registerInputs = (
  secrets: Record<string, string>,
  ids: string[],
  extra: StepInputs = {},
  states: Record<string, ScaleliteNodeState> = {},
): StepInputs => {
  const servers = ids.map((id) => ({ id, url: nodeApiUrl(id), secret: secrets[id], loadMultiplier: 1, state: states[id] }));
  return {
    SERVERS_YAML_B64: base64(renderServersYaml(servers)),
    SYNC_MODE: "cordon",
    EXPECTED_IDS: ids.join(","),
    ...registrationStateInputs(servers),
    ATTEMPTS: "5",
    DELAY_SECONDS: "0",
    ...extra,
  };
};
