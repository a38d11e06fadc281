/**
 * `ops voucher redeem|status` as processes (dist/cli/ops.js, as `npm run ops` runs it) against an OVH
 * API peer on loopback (test/support/ovhApiPeer.ts) that checks every signature or OAuth2 token.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { readFileSync } from "node:fs";
import { totalPriceOf } from "../../cli/ops/voucher";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { execOn, startTestHost, type TestHost } from "../support/sshd";
import { frontSshArgs, scratch } from "./cli";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
const PROJECT = "0123456789abcdef0123456789abcdef";
const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let peer: OvhApiPeer;
let stackFile: string;

/** The training stack (Public Cloud) with our project id and a term ending in `termDays` days. */
function writeStack(termDays: number): string {
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
  const campus = doc.config["bbb-ovh:campus"];
  campus.publicCloud = { ...campus.publicCloud, projectId: PROJECT };
  campus.term = { end: isoDay(Date.now() + termDays * DAY) };
  const file = path.join(scratch(), "Pulumi.voucher.yaml");
  writeFileSync(file, stringify(doc));
  return file;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ops(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const env = {
    PATH: "/usr/bin:/bin",
    HOME: scratch(),
    NODE_EXTRA_CA_CERTS: peer.caFile,
    OVH_API_URL: peer.url,
    OVH_APPLICATION_KEY: peer.state.appKey,
    OVH_APPLICATION_SECRET: peer.state.appSecret,
    OVH_CONSUMER_KEY: peer.state.consumerKey,
    ...opts.env,
  };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [OPS_CLI, ...args], { cwd: REPO, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.stdin ?? "");
  });
}

beforeAll(async () => {
  peer = await startOvhApiPeer(PROJECT);
});
afterAll(() => peer?.close());
beforeEach(() => {
  peer.state.vouchers.clear();
  peer.state.credits.length = 0;
  peer.state.accountBalances.length = 0;
  peer.state.calls.length = 0;
  peer.state.clockSkew = 0;
  peer.state.meForbidden = false;
  stackFile = writeStack(120);
});

describe("ops voucher redeem", () => {
  it("redeems a code read from stdin on the stack's Public Cloud project, and never prints the code", async () => {
    peer.state.vouchers.set("EDU-2026-SECRETCODE", { amount: 5000, validTo: "2027-11-30T00:00:00Z" });
    const run = await ops(["voucher", "redeem", stackFile], { stdin: "EDU-2026-SECRETCODE\n" });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`credited to Public Cloud project ${PROJECT}: 5000\\.00 EUR, valid until 2027-11-30`));
    // The POST answers nothing (void in the API schema): the credit is read back.
    expect(peer.state.calls).toEqual([
      `POST /cloud/project/${PROJECT}/credit`,
      `GET /cloud/project/${PROJECT}/credit`,
      `GET /cloud/project/${PROJECT}/credit/1000`,
    ]);
    expect(run.stdout + run.stderr).not.toContain("SECRETCODE");
  });

  it("reads the code from --code-file and credits the account with --account", async () => {
    peer.state.vouchers.set("ACCOUNT-CODE-1", { amount: 300, validTo: "2027-06-30T00:00:00Z" });
    const file = path.join(scratch(), "code");
    writeFileSync(file, "ACCOUNT-CODE-1\n", { mode: 0o600 });
    const run = await ops(["voucher", "redeem", stackFile, "--account", "--code-file", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/credited to the OVH account: 300\.00 EUR/);
    expect(peer.state.calls).toEqual(["POST /me/credit/code"]);
  });

  it("says what the API answered, with the call, for an already-used, an expired and an unknown code", async () => {
    peer.state.vouchers.set("USED-ONE", { amount: 10, validTo: "2027-01-01T00:00:00Z", used: true });
    peer.state.vouchers.set("OLD-ONE", { amount: 10, validTo: "2025-01-01T00:00:00Z", expired: true });
    const used = await ops(["voucher", "redeem", stackFile], { stdin: "USED-ONE" });
    expect(used.code).toBe(6);
    expect(used.stderr).toContain(`POST /cloud/project/${PROJECT}/credit: HTTP 400: This voucher has already been used`);
    const old = await ops(["voucher", "redeem", stackFile], { stdin: "OLD-ONE" });
    expect(old.stderr).toMatch(/HTTP 400: This voucher has expired/);
    const unknown = await ops(["voucher", "redeem", stackFile], { stdin: "NOPE-NOPE" });
    expect(unknown.stderr).toMatch(/HTTP 404/);
    expect(used.stderr + old.stderr + unknown.stderr).not.toMatch(/USED-ONE|OLD-ONE|NOPE-NOPE/);
    expect(used.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("is refused by the API with a wrong signature (exit 4) and works across a clock skew", async () => {
    peer.state.vouchers.set("SKEW-CODE", { amount: 50, validTo: "2027-01-01T00:00:00Z" });
    const wrong = await ops(["voucher", "redeem", stackFile], { stdin: "SKEW-CODE", env: { OVH_APPLICATION_SECRET: "not-the-secret" } });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/Invalid signature/);
    expect(peer.state.vouchers.get("SKEW-CODE")?.used).toBeFalsy();
    // The API's clock is two hours ahead: the client reads /auth/time and signs with the server's time.
    peer.state.clockSkew = 7200;
    const skewed = await ops(["voucher", "redeem", stackFile], { stdin: "SKEW-CODE" });
    expect(skewed.stderr).toBe("");
    expect(skewed.code).toBe(0);
  });

  it("works with OAuth2 service-account credentials", async () => {
    peer.state.vouchers.set("OAUTH-CODE", { amount: 20, validTo: "2027-01-01T00:00:00Z" });
    const run = await ops(["voucher", "redeem", stackFile], {
      stdin: "OAUTH-CODE",
      env: {
        OVH_APPLICATION_KEY: "",
        OVH_APPLICATION_SECRET: "",
        OVH_CONSUMER_KEY: "",
        OVH_CLIENT_ID: peer.state.clientId,
        OVH_CLIENT_SECRET: peer.state.clientSecret,
      },
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it("refuses a missing credential set and a malformed code before calling anything (exit 2)", async () => {
    const none = await ops(["voucher", "redeem", stackFile], {
      stdin: "CODE-1234",
      env: { OVH_APPLICATION_KEY: "", OVH_APPLICATION_SECRET: "", OVH_CONSUMER_KEY: "" },
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no OVH API credentials: set OVH_APPLICATION_KEY/);
    const spaces = await ops(["voucher", "redeem", stackFile], { stdin: "two words" });
    expect(spaces.code).toBe(2);
    expect(peer.state.calls).toEqual([]);
  });
});

describe("ops estimate with a timetable and OVH credentials", () => {
  it("uses the real credit left and shows what the timetable saves on hourly nodes", async () => {
    peer.state.credits.push({
      id: 42,
      description: "EDU",
      voucher: "EDU",
      available: 800,
      used: 0,
      total: 800,
      validFrom: new Date().toISOString(),
      validTo: new Date(Date.now() + 365 * DAY).toISOString(),
    });
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 50, forecast: 150 };
    const doc = parse(readFileSync(stackFile, "utf8"));
    doc.config["bbb-ovh:campus"].timetable = { timezone: "Europe/Paris", slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }] };
    writeFileSync(stackFile, stringify(doc));
    const run = await ops(["estimate", stackFile, "--json"]);
    expect(run.stderr).toBe("");
    const r = JSON.parse(run.stdout);
    expect(r.voucher.eur).toBe(800);
    expect(r.voucherSource).toMatch(/from the OVH API/);
    // Awake 08:00-18:00 plus 45 min before and 60 min after, five days a week: about 35% of the time.
    expect(r.timetable.nodes).toEqual(["bbb-training-sbg", "bbb-training-gra"]);
    expect(r.timetable.awakeShare).toBeGreaterThan(0.3);
    expect(r.timetable.awakeShare).toBeLessThan(0.36);
    expect(r.timetable.monthlyEur).toBeCloseTo(2 * 0.75 * 730 * (1 - r.timetable.awakeShare), 2);
  });
});

describe("totalPriceOf", () => {
  it("counts each usage group's total once, not again through its details, and a group without a total by its parts", () => {
    const doc = {
      hourlyUsage: {
        instance: [{ totalPrice: 30, details: [{ totalPrice: 10 }, { totalPrice: 20 }] }],
        storage: [{ totalPrice: 5, stored: { totalPrice: 4 }, outgoingBandwidth: { totalPrice: 1 } }],
        snapshot: [{ instance: { totalPrice: 2 }, volume: { totalPrice: 1 } }],
      },
      monthlyUsage: { instance: [{ totalPrice: 50, details: [{ totalPrice: 50 }] }], instanceOption: [] },
      resourcesUsage: [{ type: "floatingip", totalPrice: 7, resources: [{ region: "GRA11", components: [{ totalPrice: 7 }] }] }],
      usableCredits: { totalCredit: { value: 900 } },
    };
    expect(totalPriceOf(doc)).toBe(30 + 5 + 3 + 50 + 7);
  });
});

/** A project credit of `available` EUR, valid for `validToDays` more days. */
const credit = (available: number, validToDays: number) =>
  peer.state.credits.push({
    id: 7 + peer.state.credits.length,
    description: "EDU voucher",
    voucher: "EDU",
    available,
    used: 100,
    total: available + 100,
    validFrom: new Date(Date.now() - 30 * DAY).toISOString(),
    validTo: new Date(Date.now() + validToDays * DAY).toISOString(),
  });

describe("ops voucher status", () => {
  it("answers 'runs out on DATE' and exits 1 when that is before the term ends", async () => {
    credit(500, 365);
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 100, forecast: 300 }; // 10 EUR/day
    const run = await ops(["voucher", "status", stackFile]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`credit left: 500\\.00 EUR: runs out on ${isoDay(Date.now() + 50 * DAY)} .*BEFORE the term ends`));
    expect(run.stdout).toMatch(/burn rate 10\.00 EUR\/day/);
  });

  it("answers 'expires on DATE with N EUR unused' and exits 0 when the credit outlasts the term", async () => {
    credit(5000, 200);
    peer.state.accountBalances.push({ name: "VOUCHER-A", amount: 100, expiring: [{ amount: 100, date: new Date(Date.now() + 300 * DAY).toISOString() }] });
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 100, forecast: 300 };
    const run = await ops(["voucher", "status", stackFile, "--json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.creditLeft).toBe(5100);
    expect(report.expiresOn).toBe(isoDay(Date.now() + 200 * DAY));
    expect(report.unusedAtExpiry).toBeCloseTo(5100 - 2000, 0);
    expect(report.answer).toMatch(/^expires on .* with 31\d\d\.\d\d EUR unused, after the term ends/);
    expect(report.shortOfTerm).toBe(false);
  });

  it("never prints a redeemed code, which the API returns in each credit's `voucher` field", async () => {
    peer.state.vouchers.set("EDU-2027-TOPSECRET", { amount: 900, validTo: new Date(Date.now() + 365 * DAY).toISOString() });
    expect((await ops(["voucher", "redeem", stackFile], { stdin: "EDU-2027-TOPSECRET" })).code).toBe(0);
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 10, forecast: 30 };
    const text = await ops(["voucher", "status", stackFile]);
    const json = await ops(["voucher", "status", stackFile, "--json"]);
    expect(text.stdout).toMatch(/credit #1000/);
    expect(text.stdout + text.stderr + json.stdout + json.stderr).not.toContain("TOPSECRET");
  });

  it("still answers when the key may not read /me (account vouchers left out, said so)", async () => {
    credit(1000, 365);
    peer.state.meForbidden = true;
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 20, forecast: 60 };
    const run = await ops(["voucher", "status", stackFile]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/note: GET \/me\/credit\/balance: HTTP 403.*account vouchers are left out/);
  });
});

/**
 * `voucher status --front`, as the operator's timer runs it (docs/vouchers.md): the estimate written over SSH to a
 * loopback sshd front, then read there by the front's Scalelite exporter (scripts/scalelite-metrics.sh).
 */
describe("ops voucher status --front", () => {
  let front: TestHost;
  let key: string;
  beforeAll(async () => {
    front = await startTestHost({ fqdn: "lb.training.isen-ouest.fr" });
    key = path.join(scratch(), "front-key");
    writeFileSync(key, front.privateKey, { mode: 0o600 });
  });
  afterAll(async () => {
    await front?.stop();
  });
  const connection = (hostKey: string) => ["--front", ...frontSshArgs(front, key), "--host-key", hostKey];
  const SCRIPT = path.join(REPO, "scripts/scalelite-metrics.sh");

  it("writes when the credit stops paying and when it was estimated, which the front's exporter turns into its series", async () => {
    credit(500, 365);
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 100, forecast: 300 }; // 10 EUR/day
    const before = Math.floor(Date.now() / 1000);
    const run = await ops(["voucher", "status", stackFile, "--json", ...connection(front.hostPublicKey)]);
    const after = Math.ceil(Date.now() / 1000);
    // Short of the term (120 days) as before: the write changes nothing of the answer or the exit code.
    expect(run.code, run.stderr).toBe(1);
    expect(JSON.parse(run.stdout).shortOfTerm).toBe(true);
    const written = Object.fromEntries(
      (await execOn(front, "cat ~/.bbb-ovh/credit-estimate"))
        .trim()
        .split("\n")
        .map((l) => l.split(" ")),
    );
    expect(Object.keys(written)).toEqual(["runs_out", "estimated_at"]);
    // 500 EUR at about 10 EUR/day (100 EUR over the 10 days and the seconds since the usage period began): 50 days.
    expect(Math.abs(Number(written.runs_out) - (before + 50 * 86_400))).toBeLessThan(3600);
    expect(Number(written.estimated_at)).toBeGreaterThanOrEqual(before);
    expect(Number(written.estimated_at)).toBeLessThanOrEqual(after);

    // The exporter on the front reads it where the scaleliteMetrics step points it (CREDIT_ESTIMATE: ~/.bbb-ovh/credit-estimate).
    const metrics = await execOn(
      front,
      'mkdir -p "$BBB_OVH_ROOT/recordings/spool" && TEXTFILE_DIR="$BBB_OVH_ROOT/textfile" REDIS_CLI=false JOURNALCTL=false bash -s -- "$BBB_OVH_ROOT/recordings" "" "" ~/.bbb-ovh/credit-estimate && cat "$BBB_OVH_ROOT/textfile/scalelite.prom"',
      readFileSync(SCRIPT, "utf8"),
    );
    expect(metrics).toContain(`bbb_ovh_credit_runs_out_timestamp_seconds ${written.runs_out}\n`);
    expect(metrics).toContain(`bbb_ovh_credit_estimate_timestamp_seconds ${written.estimated_at}\n`);
  });

  it("with a standby front that serves (after ops failover), writes to it: its monitoring is the campus's", async () => {
    // The same login key on both fronts; the standby says primary, as ops failover leaves it.
    const standby = await startTestHost({ fqdn: "lb-standby.training.isen-ouest.fr", extraAuthorizedKeys: ["ops.pub"] });
    try {
      writeFileSync(path.join(standby.root, "ops.pub"), execFileSync("ssh-keygen", ["-y", "-f", key]));
      mkdirSync(path.join(standby.root, "var/lib/bbb-ovh"), { recursive: true });
      writeFileSync(path.join(standby.root, "var/lib/bbb-ovh/front-role"), "primary\n");
      const doc = parse(readFileSync(stackFile, "utf8"));
      doc.config["bbb-ovh:campus"].standbyFront = {
        name: "lb-standby",
        fqdn: "lb-standby.training.isen-ouest.fr",
        kind: "publicCloud",
        region: "SBG5",
        flavor: "c2-30",
      };
      const pairFile = path.join(scratch(), "Pulumi.voucherpair.yaml");
      writeFileSync(pairFile, stringify(doc));
      await execOn(front, "rm -f ~/.bbb-ovh/credit-estimate");
      const standbyArgs = [
        "--standby-host",
        standby.host,
        "--standby-ssh-port",
        String(standby.port),
        "--standby-ssh-user",
        "root",
        "--standby-host-key",
        standby.hostPublicKey,
      ];
      const run = await ops(["voucher", "status", pairFile, ...connection(front.hostPublicKey), ...standbyArgs]);
      expect(run.code, run.stderr).toBe(1); // short of the term, as above
      expect(run.stderr).toMatch(/note: the standby front lb-standby serves \(ops failover; until ops failback\): this run acts on it/);
      expect(await execOn(standby, "cat ~/.bbb-ovh/credit-estimate")).toMatch(/^runs_out \d+\nestimated_at \d+$/);
      expect(await execOn(front, "cat ~/.bbb-ovh/credit-estimate 2>/dev/null || echo none")).toBe("none");
    } finally {
      await standby.stop();
    }
  });

  it("fails the run when the front cannot be written (a host key that is not the front's), after printing the report", async () => {
    peer.state.usage = { periodFrom: new Date(Date.now() - 10 * DAY).toISOString(), spent: 10, forecast: 30 };
    await execOn(front, "rm -f ~/.bbb-ovh/credit-estimate");
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqwwyR602HcJJPl/ifkAw2Wi9NtaKQ3qFqIQnmpB6/e other";
    const run = await ops(["voucher", "status", stackFile, ...connection(other)]);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBe(1);
    expect(run.stdout).toMatch(/credit left: /);
    expect(run.stderr).toMatch(/host key/i);
    expect((await execOn(front, "cat ~/.bbb-ovh/credit-estimate 2>/dev/null || echo none")).trim()).toBe("none");
  });
});
