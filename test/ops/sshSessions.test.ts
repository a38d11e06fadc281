import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRemote, withSshSessions, type SshTarget } from "../../cli/ops/ssh";
import { cutConnections, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

/**
 * An ops run keeps one SSH connection per host (cli/ops/ssh.ts withSshSessions), against a real sshd: what the
 * host's sshd logs is what it accepted ("Accepted publickey for root ...", sshd(8) at LogLevel INFO).
 */
let host: TestHost;
let target: SshTarget;

beforeAll(async () => {
  host = await startTestHost();
  // A connection deadline of its own: the 1-s command deadlines below must not bound a loaded machine's handshake.
  target = { host: host.host, port: host.port, username: host.username, privateKey: host.privateKey, hostKey: host.hostPublicKey, connectTimeoutMs: 60_000 };
});

afterAll(async () => {
  await host?.stop();
});

/** How many lines of a host's sshd log (this file's host by default) hold `text`. */
const logged = (text: string, on: TestHost = host) =>
  on
    .sshdLog()
    .split("\n")
    .filter((line) => line.includes(text)).length;
const accepted = (on: TestHost = host) => logged("Accepted publickey", on);

/** The connections the host accepted while `work` ran. */
async function connectionsDuring(work: () => Promise<unknown>): Promise<number> {
  const before = accepted();
  await work();
  // sshd logs the acceptance as the connection is authenticated: it is in the log before the first command answers.
  return accepted() - before;
}

const echo = (text: string) => runRemote(target, `echo ${text}`, 20_000).then((r) => r.stdout.trim());

describe("SSH connections of an ops run", () => {
  it("one per host for the whole run, not one per command", async () => {
    const outputs: string[] = [];
    const n = await connectionsDuring(() =>
      withSshSessions(async () => {
        for (const word of ["a", "b", "c", "d"]) outputs.push(await echo(word));
      }),
    );
    expect(outputs).toEqual(["a", "b", "c", "d"]);
    expect(n).toBe(1);
  });

  it("outside an ops run (a library call), one per command, as before", async () => {
    expect(await connectionsDuring(async () => Promise.all([echo("a"), echo("b")]))).toBe(2);
  });

  it("twelve commands at once share it, past OpenSSH's 10 sessions a connection (MaxSessions)", async () => {
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`);
    let outputs: string[] = [];
    const n = await connectionsDuring(() =>
      withSshSessions(async () => {
        outputs = await Promise.all(words.map((w) => runRemote(target, `sleep 0.5; echo ${w}`, 60_000).then((r) => r.stdout.trim())));
      }),
    );
    expect(outputs).toEqual(words);
    expect(n).toBe(1);
  });

  it("a kept connection cut between two commands: the next command runs on a new one", async () => {
    const outputs: string[] = [];
    const n = await connectionsDuring(() =>
      withSshSessions(async () => {
        outputs.push(await echo("before"));
        const cut = accepted();
        expect(cutConnections(host)).toBeGreaterThan(0);
        outputs.push(await echo("after"));
        expect(accepted()).toBe(cut + 1);
      }),
    );
    expect(outputs).toEqual(["before", "after"]);
    expect(n).toBe(2);
  });

  it("a command past its deadline takes its connection with it; the next one opens another", async () => {
    const n = await connectionsDuring(() =>
      withSshSessions(async () => {
        await expect(runRemote(target, "sleep 30", 1_000)).rejects.toThrow(/did not finish within 1000 ms/);
        expect(await echo("next")).toBe("next");
      }),
    );
    expect(n).toBe(2);
  });

  it("a command past its deadline does not cut one beside it on the same connection that is within its own", async () => {
    await withSshSessions(async () => {
      const late = runRemote(target, "sleep 30", 1_000);
      const onTime = runRemote(target, "sleep 3; echo done", 60_000);
      await expect(late).rejects.toThrow(/did not finish within 1000 ms/);
      expect((await onTime).stdout.trim()).toBe("done");
    });
  });

  it("commands waiting for a channel while one passes its deadline still run, on the same connection", async () => {
    const words = Array.from({ length: 11 }, (_, i) => `w${i}`);
    const n = await connectionsDuring(() =>
      withSshSessions(async () => {
        const late = runRemote(target, "sleep 30", 1_500);
        const others = Promise.all(words.map((w) => runRemote(target, `sleep 1; echo ${w}`, 60_000).then((r) => r.stdout.trim())));
        await expect(late).rejects.toThrow(/did not finish within 1500 ms/);
        expect(await others).toEqual(words);
      }),
    );
    expect(n).toBe(1);
  });

  it("a channel sshd refuses (MaxSessions reached) is asked for again on the same connection", async () => {
    // sshd counts a session until it has cleaned it up, a moment after its command ended: a host whose
    // MaxSessions is below the commands ops runs at once on a connection refuses the rest for a while.
    const narrow = await startTestHost({ maxSessions: 2 });
    try {
      const to = { ...target, host: narrow.host, port: narrow.port, privateKey: narrow.privateKey, hostKey: narrow.hostPublicKey };
      const words = ["a", "b", "c", "d", "e"];
      const before = accepted(narrow);
      let outputs: string[] = [];
      await withSshSessions(async () => {
        outputs = await Promise.all(words.map((w) => runRemote(to, `sleep 0.2; echo ${w}`, 60_000).then((r) => r.stdout.trim())));
      });
      expect(outputs).toEqual(words);
      expect(accepted(narrow) - before).toBe(1);
    } finally {
      await narrow.stop();
    }
  });

  it("the run's connections are closed when it ends", async () => {
    // sshd logs "Disconnected from user ..." (LogLevel INFO) when a client closes its connection.
    const closed = () => logged("Disconnected from user");
    const before = closed();
    await withSshSessions(() => echo("x"));
    await waitUntil(
      () => closed() === before + 1,
      undefined,
      20,
      () => "the run's connection to be closed",
    );
  });
});
