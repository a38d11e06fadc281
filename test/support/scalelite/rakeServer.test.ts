/**
 * The preloaded rake.rb (rakeServer.rb + rakeClient.rb) must be invisible to the tests that use it: a call
 * through it is the call `ruby rake.rb` makes (streams, environment, directory, exit status), signals reach it,
 * a client that dies takes its call with it, and without a server the client runs rake.rb itself.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../waitUntil";
import { RAKE_CLIENT as CLIENT, RAKE_RB, scaleliteTrees, startScalelite, type Scalelite } from "./harness";

const trees = scaleliteTrees();

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], config: string, options: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      "ruby",
      args,
      { encoding: "utf8", cwd: options.cwd, env: { ...process.env, ...options.env, BBB_OVH_SCALELITE_CONFIG: config } },
      (error, stdout, stderr) => resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr: error && !stderr ? String(error) : stderr }),
    );
    child.stdin?.end(options.stdin ?? "");
  });
}

/** Whether the snippet's process is a fork of rakeServer.rb (its parent's command line names it). */
const SERVED = `puts File.read("/proc/#{Process.ppid}/cmdline").include?("rakeServer.rb") ? "served" : "direct"`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!trees)("the preloaded rake.rb (rakeServer.rb, rakeClient.rb)", () => {
  let scalelite: Scalelite;
  let dir: string;
  beforeAll(async () => {
    scalelite = await startScalelite(trees!);
    dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-rake-test-"));
  });
  afterAll(async () => {
    await scalelite?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("gives a call the client's stdin, environment, directory and arguments, and its output and exit status back", async () => {
    const snippet = `puts $stdin.read.upcase; puts ENV.fetch("CALL_VALUE"); puts Dir.pwd; puts Server.name; warn "to stderr"; exit 3`;
    const options = { stdin: "from stdin\n", env: { CALL_VALUE: "the caller's" }, cwd: dir };
    const [served, direct, how] = await Promise.all([
      run([...CLIENT, "-e", snippet], scalelite.configFile, options),
      run([RAKE_RB, "-e", snippet], scalelite.configFile, options),
      run([...CLIENT, "-e", SERVED], scalelite.configFile),
    ]);
    expect(how.stdout).toBe("served\n");
    expect(served).toEqual(direct);
    expect(served).toEqual({ code: 3, signal: null, stdout: `FROM STDIN\nthe caller's\n${dir}\nServer\n`, stderr: "to stderr\n" });
  });

  it("fails as rake.rb fails: an uncaught error's message on stderr, status 1", async () => {
    const snippet = `def find = raise(ArgumentError, "no such server"); find`;
    const [served, direct] = await Promise.all([run([...CLIENT, "-e", snippet], scalelite.configFile), run([RAKE_RB, "-e", snippet], scalelite.configFile)]);
    expect(served.code).toBe(1);
    expect(direct.code).toBe(1);
    // The frames below the snippet differ (the fork runs rake.rb with `load`), not the message.
    const firstLine = (r: Run) => r.stderr.split("\n")[0];
    expect(firstLine(served)).toBe("(eval):1:in `find': no such server (ArgumentError)");
    expect(firstLine(served)).toBe(firstLine(direct));
  });

  it("ends as `ruby rake.rb` ends (the fork skips Ruby's exit finalizers): at_exit handlers run, buffered output and open files are flushed, Tempfiles go", async () => {
    // CALL_FILE: a file the call writes and never closes; the Tempfile's path is printed, to check it has gone.
    const snippet = [
      `require "tempfile"`,
      `at_exit { puts "the call's at_exit" }`,
      `$stdout.sync = false`,
      `print "buffered "`,
      `File.open(ENV.fetch("CALL_FILE"), "w").write("never closed")`,
      `t = Tempfile.new("call"); t.write("x"); warn t.path`,
      `exit 4`,
    ].join("; ");
    const ends = await Promise.all(
      [
        [...CLIENT, "-e", snippet],
        [RAKE_RB, "-e", snippet],
      ].map(async (args, i) => {
        const file = path.join(dir, `unclosed-${i}`);
        const r = await run(args, scalelite.configFile, { env: { CALL_FILE: file } });
        const tempfile = r.stderr.trim();
        return { code: r.code, stdout: r.stdout, written: readFileSync(file, "utf8"), tempfileLeft: tempfile !== "" && existsSync(tempfile) };
      }),
    );
    expect(ends[0]).toEqual({ code: 4, stdout: "buffered the call's at_exit\n", written: "never closed", tempfileLeft: false });
    expect(ends[0]).toEqual(ends[1]);
  });

  it("passes a signal to the call (SIGTERM is recordings:watch's graceful stop) and ends as the call ended", async () => {
    const stopped = path.join(dir, "stopped");
    const snippet = `trap("TERM") { File.write(${JSON.stringify(stopped)}, "graceful"); exit 0 }; puts "started"; $stdout.flush; sleep`;
    const child = spawn("ruby", [...CLIENT, "-e", snippet], { env: { ...process.env, BBB_OVH_SCALELITE_CONFIG: scalelite.configFile } });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitUntil(() => stdout.includes("started"));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(readFileSync(stopped, "utf8")).toBe("graceful");

    // A call that a signal kills: the client dies of the same signal.
    const killed = spawn("ruby", [...CLIENT, "-e", `puts "started"; $stdout.flush; sleep`], {
      env: { ...process.env, BBB_OVH_SCALELITE_CONFIG: scalelite.configFile },
    });
    let started = "";
    killed.stdout.on("data", (d: Buffer) => (started += d.toString()));
    const ended = new Promise<NodeJS.Signals | null>((resolve) => killed.on("exit", (_code, signal) => resolve(signal)));
    await waitUntil(() => started.includes("started"));
    killed.kill("SIGINT");
    expect(await ended).toBe("SIGINT");
  });

  it("ends the call when its client is killed outright, as a killed `ruby rake.rb` would end", async () => {
    const child = spawn("ruby", [...CLIENT, "-e", `puts Process.pid; $stdout.flush; sleep`], {
      env: { ...process.env, BBB_OVH_SCALELITE_CONFIG: scalelite.configFile },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    await waitUntil(() => stdout.endsWith("\n"));
    const callPid = Number(stdout.trim());
    expect(alive(callPid)).toBe(true);
    child.kill("SIGKILL");
    await waitUntil(() => !alive(callPid));
  });

  it("runs rake.rb itself when the config names no server, or one that has gone", async () => {
    const config = JSON.parse(readFileSync(scalelite.configFile, "utf8")) as Record<string, unknown>;
    const without = path.join(dir, "no-server.json");
    writeFileSync(without, JSON.stringify({ ...config, rakeServer: undefined }));
    const gone = path.join(dir, "gone-server.json");
    writeFileSync(gone, JSON.stringify({ ...config, rakeServer: path.join(dir, "no-such.sock") }));
    expect(existsSync(path.join(dir, "no-such.sock"))).toBe(false);
    for (const file of [without, gone]) {
      const r = await run([...CLIENT, "-e", `${SERVED}; puts Server.name`], file);
      expect(r).toEqual({ code: 0, signal: null, stdout: "direct\nServer\n", stderr: "" });
    }
  });
});
