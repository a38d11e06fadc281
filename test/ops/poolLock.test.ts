/**
 * The pool lock (cli/ops/poolLock.ts) on a loopback sshd front, as ops takes it: one holder at a time, the
 * refusal naming the holder, a dead holder's lock taken over once stale, a release that frees only its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpsError } from "../../cli/ops/errors";
import { POOL_LOCK, takePoolLock, waitForPoolLock, withPoolLock } from "../../cli/ops/poolLock";
import { runRemote, type SshTarget } from "../../cli/ops/ssh";
import { startTestHost, type TestHost } from "../support/sshd";

const TIMEOUT_MS = 60_000;
const HOUR = 3_600_000;

describe("the pool lock on the front", () => {
  let host: TestHost;
  let ssh: SshTarget;
  beforeAll(async () => {
    host = await startTestHost({ fqdn: "lb.campus.example" });
    ssh = { host: host.host, port: host.port, username: "root", hostKey: host.hostPublicKey, privateKey: host.privateKey };
  });
  afterAll(async () => {
    await host?.stop();
  });
  const held = async () => (await runRemote(ssh, `cat ${POOL_LOCK}/owner 2>/dev/null || true`, TIMEOUT_MS)).stdout.trim();

  it("one holder at a time: a second run is refused, naming the first and changing nothing; released, it is free again", async () => {
    const first = await takePoolLock(ssh, "ops scale, timer", HOUR, TIMEOUT_MS);
    const owner = await held();
    expect(owner).toMatch(/^[0-9a-f]{16} \d+ ops scale, timer$/);
    const refused = await takePoolLock(ssh, "ops upgrade", HOUR, TIMEOUT_MS).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(OpsError);
    expect((refused as OpsError).kind).toBe("unhealthy");
    expect((refused as OpsError).message).toMatch(/another ops run changes the pool \(ops scale, timer, since \d{4}-\d\d-\d\dT.*\): nothing was changed/);
    expect(await held()).toBe(owner);
    await first.release();
    expect(await held()).toBe("");
    await withPoolLock(ssh, "ops scale", HOUR, TIMEOUT_MS, async () => expect(await held()).toMatch(/ ops scale$/));
    expect(await held()).toBe("");
  }, 120_000);

  it("a holder that died is taken over once older than the bound; a late release does not free its successor's lock", async () => {
    const dead = await takePoolLock(ssh, "ops scale, killed", HOUR, TIMEOUT_MS, Date.now() - 2 * HOUR);
    const next = await takePoolLock(ssh, "ops upgrade", HOUR, TIMEOUT_MS);
    expect(await held()).toMatch(/ ops upgrade$/);
    await dead.release();
    expect(await held()).toMatch(/ ops upgrade$/);
    await next.release();
  }, 120_000);

  it("an upgrade waits for a scale run to finish, within its bound", async () => {
    const scale = await takePoolLock(ssh, "ops scale", HOUR, TIMEOUT_MS);
    const told: string[] = [];
    // The scale run ends once the upgrade has been told it waits.
    const waiting = waitForPoolLock(ssh, "ops upgrade", HOUR, TIMEOUT_MS, {
      waitMs: 10 * TIMEOUT_MS,
      pollMs: 50,
      onBusy: (why) => {
        told.push(why);
        void scale.release();
      },
    });
    const upgrade = await waiting;
    expect(told).toEqual([expect.stringMatching(/^another ops run changes the pool \(ops scale, since /)]);
    expect(await held()).toMatch(/ ops upgrade$/);
    await upgrade.release();
    const busy = await takePoolLock(ssh, "ops scale", HOUR, TIMEOUT_MS);
    await expect(waitForPoolLock(ssh, "ops upgrade", HOUR, TIMEOUT_MS, { waitMs: 0, pollMs: 50 })).rejects.toThrow(/another ops run changes the pool/);
    await busy.release();
  }, 120_000);
});
