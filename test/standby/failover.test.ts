/**
 * The failover drill: `ops failover` and `ops failback` as processes, against two fronts whose databases
 * are real PostgreSQL 15 clusters streaming over TLS (pgFronts.ts, set up by our own replication steps),
 * reached over sshd on loopback; the OVH API peer holds the campus zone; each front's `bin/rake` is
 * Scalelite's own (test/support/scalelite/harness.ts, a real Redis per front); the front's HTTP API is the
 * BBB API peer in Scalelite mode (test/support/bbbApiServer.ts) placing creates with the standby's own
 * Scalelite (Server.find_available), so the signed check passes only once Redis was rebuilt there.
 *
 * The fronts' public addresses: the front 127.0.0.1, the standby 127.0.0.2 (its database listens on both).
 * A client on loopback always connects from 127.0.0.1, so the standby's replication is admitted by the
 * primary step's line for 127.0.0.1, and the last re-protection of failback by initdb's default
 * `host replication all 127.0.0.1/32` line, as the image's own pg_hba admits replication with a password.
 *
 * RTO and RPO: rows are committed on the front one by one until its database is cut (pg_ctl -m immediate:
 * nothing more reaches the standby) and its SSH stops answering; what the promoted standby holds is counted.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls } from "../support/hostState";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { attachScalelite, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { freePort, runStep } from "../support/sshd";
import { scratch, secretFile } from "../ops/cli";
import { pgReady, PgFronts, until, type PgFront, type TlsFiles } from "./pgFronts";

const REPO = path.resolve(__dirname, "../..");
const TSX = path.join(REPO, "node_modules/.bin/tsx");
const FAKES = path.join(REPO, "test/ops/fakes");
const LB_SECRET = "lb-secret-5a9c3e71d2";
const ZONE = "isen-ouest.fr";
const FQDN = "visio-training.isen-ouest.fr";
const NODES = [
  { name: "bbb-training-sbg", fqdn: "bbb1.training.isen-ouest.fr", secret: "sbg-secret-1f" },
  { name: "bbb-training-gra", fqdn: "bbb2.training.isen-ouest.fr", secret: "gra-secret-2e" },
];
const OPS_KEY = "root/.ssh/ops_ed25519.pub";

const trees = scaleliteTrees();
const fronts = new PgFronts();
let primary: PgFront;
let standby: PgFront;
let tls: TlsFiles;
let peer: OvhApiPeer;
let balancer: BbbApiServer;
let nodeHttp: BbbApiServer[];
const scalelites: Scalelite[] = [];
let standbyScalelite: Scalelite;
let frontScalelite: Scalelite;
/** Where the balancer's creates go: the serving front's own Scalelite (the standby's after failover, the front's after failback). */
let placing: Scalelite;
let env: Record<string, string>;
let stackFile: string;
let opsKey: string;

function ops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, ["cli/ops.ts", ...args], { cwd: REPO, env, timeout: 170_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Both fronts by SSH; `frontPort` replaces the front's SSH port (a closed one: its site is out). */
const connection = (frontPort = primary.host.port) => [
  "--host",
  "127.0.0.1",
  "--ssh-port",
  String(frontPort),
  "--ssh-user",
  "root",
  "--ssh-key",
  opsKey,
  "--standby-host",
  "127.0.0.1",
  "--standby-ssh-port",
  String(standby.host.port),
  "--standby-ssh-user",
  "root",
  "--url",
  balancer.url,
  "--secret-file",
  secretFile(LB_SECRET),
  "--command-timeout",
  "60000",
  "--poll",
  "0.2",
  "--smoke-timeout",
  "60",
];

const record = () => peer.state.records.find((r) => r.subDomain === "visio-training" && r.fieldType === "A")?.target;
const role = (f: PgFront) => readFileSync(path.join(f.host.root, "var/lib/bbb-ovh/front-role"), "utf8").trim();
const rows = (f: PgFront) => Number(f.sql("SELECT count(*) FROM drill", "scalelite"));

beforeAll(async () => {
  if (!pgReady || !trees) return;
  const keyDir = scratch();
  opsKey = path.join(keyDir, "ops");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ops", "-f", opsKey]);
  [primary, standby] = await Promise.all([
    fronts.front("front", { extraAuthorizedKeys: [OPS_KEY] }),
    fronts.front("standby", { listen: ["127.0.0.1", "127.0.0.2"], extraAuthorizedKeys: [OPS_KEY] }),
  ]);
  for (const f of [primary, standby]) {
    mkdirSync(path.join(f.host.root, "root/.ssh"), { recursive: true });
    writeFileSync(path.join(f.host.root, OPS_KEY), readFileSync(`${opsKey}.pub`));
    // What scalelite-app.sh installs on both fronts (the fake systemctl needs the units to exist).
    for (const unit of ["scalelite.target", "scalelite-api.service"]) writeFileSync(path.join(f.host.root, "etc/systemd/system", unit), "[Unit]\n");
  }
  tls = fronts.certificates(["127.0.0.1", "127.0.0.2"]);
  primary.sql("CREATE DATABASE scalelite");
  primary.sql("CREATE TABLE drill (id bigserial PRIMARY KEY, note text)", "scalelite");
  for (const run of [
    await runStep(primary.host, "scaleliteReplicationPrimary", PgFronts.primaryInputs(tls, "127.0.0.1")),
    await runStep(standby.host, "scaleliteReplicationStandby", PgFronts.standbyInputs(tls, primary)),
  ])
    expect(run.code, run.stderr).toBe(0);

  nodeHttp = await Promise.all(NODES.map((n) => startBbbApiServer({ secret: n.secret })));
  [frontScalelite, standbyScalelite] = await Promise.all([attachScalelite(trees, primary.host), attachScalelite(trees, standby.host)]);
  scalelites.push(frontScalelite, standbyScalelite);
  for (const s of scalelites) NODES.forEach((n, i) => s.route(n.fqdn, nodeHttp[i].url));
  placing = standbyScalelite;
  balancer = await startBbbApiServer({
    mode: "scalelite",
    secret: LB_SECRET,
    servers: NODES.map((n, i) => ({ id: n.fqdn, apiUrl: nodeHttp[i].apiUrl, secret: n.secret, state: "enabled" as const })),
    place: (tag) => placing.findAvailable(tag),
  });

  peer = await startOvhApiPeer("0123456789abcdef0123456789abcdef", {
    records: [{ id: 7001, zone: ZONE, subDomain: "visio-training", fieldType: "A", target: "127.0.0.1", ttl: 120 }],
  });
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
  doc.config["bbb-ovh:campus"].standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
  stackFile = path.join(scratch(), "Pulumi.drill.yaml");
  writeFileSync(stackFile, stringify(doc));
  const home = scratch();
  const outputs = path.join(home, "outputs.json");
  writeFileSync(
    outputs,
    JSON.stringify({
      frontFqdn: FQDN,
      frontIpv4: "127.0.0.1",
      frontHostKey: primary.host.hostPublicKey,
      standbyIpv4: "127.0.0.2",
      standbyHostKey: standby.host.hostPublicKey,
      nodes: NODES.map((n, i) => ({ name: n.name, fqdn: n.fqdn, apiUrl: nodeHttp[i].apiUrl })),
      nodeSecrets: Object.fromEntries(NODES.map((n) => [n.fqdn, n.secret])),
    }),
  );
  env = {
    PATH: `${FAKES}:/usr/bin:/bin`,
    HOME: home,
    FAKE_PULUMI_OUTPUTS: outputs,
    FAKE_PULUMI_LOG: path.join(home, "pulumi.log"),
    NODE_EXTRA_CA_CERTS: peer.caFile,
    OVH_API_URL: peer.url,
    OVH_APPLICATION_KEY: peer.state.appKey,
    OVH_APPLICATION_SECRET: peer.state.appSecret,
    OVH_CONSUMER_KEY: peer.state.consumerKey,
  };
}, 240_000);

afterAll(async () => {
  await Promise.all([peer?.close(), balancer?.close(), ...(nodeHttp ?? []).map((n) => n.close()), ...scalelites.map((s) => s.stop())]);
  await fronts.stop();
});

interface Report {
  ok: boolean;
  rtoSeconds?: number;
  rpo?: { bytes?: number; lastReplaySecondsAgo?: number; note: string };
  steps: Array<{ id: string; on: string; ok: boolean; detail: string }>;
  failure?: { kind: string; message: string };
}

describe.skipIf(!pgReady || !trees)("ops failover / failback drill (two real PostgreSQL 15 fronts)", () => {
  it("--dry-run prints each step in order and changes nothing", async () => {
    const run = await ops(["failover", stackFile, "--dry-run", ...connection()]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/1\. fence on lb-training: .*\n\s+2\. catch-up on lb-standby.*\n\s+3\. promote on lb-standby/);
    expect(run.stdout).toMatch(/switch-dns on OVH API: A\/AAAA of visio-training\.isen-ouest\.fr/);
    expect(peer.state.calls).toEqual([]);
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("t");
  });

  it("a front that does not answer is not presumed down without --primary-down; nothing changes", async () => {
    const run = await ops(["failover", stackFile, "--yes", "--json", ...connection(await freePort())]);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.failure?.message).toMatch(/does not answer .*--primary-down/);
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("t");
    expect(record()).toBe("127.0.0.1");
  });

  let committed = 0;
  it("the front's site burns: with --primary-down the standby serves, DNS moves, the signed check passes; RTO and RPO measured", async () => {
    // Lessons write until the cut: each row is committed on the front before the next.
    for (; committed < 200; committed++) primary.sql(`INSERT INTO drill (note) VALUES ('row ${committed}')`, "scalelite");
    primary.crash();
    const started = performance.now();
    const run = await ops(["failover", stackFile, "--yes", "--json", "--primary-down", ...connection(await freePort())]);
    const wallSeconds = (performance.now() - started) / 1000;
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => s.id)).toEqual(["check", "fence", "promote", "start-scalelite", "rebuild-redis", "switch-dns", "smoke"]);
    expect(report.steps[1].detail).toMatch(/presumed down \(--primary-down\), not fenced/);
    // RPO: what the promoted standby holds of the rows the front had committed.
    const arrived = rows(standby);
    console.log(
      `drill: RTO ${report.rtoSeconds} s (ops wall time ${wallSeconds.toFixed(1)} s); RPO: ${committed - arrived} of ${committed} committed rows lost; ${report.rpo?.note}`,
    );
    expect(arrived).toBeLessThanOrEqual(committed);
    expect(report.rpo?.note).toMatch(/lb-training unreachable: what it wrote after the last transaction lb-standby replayed/);
    expect(report.rtoSeconds).toBeGreaterThan(0);
    expect(report.rtoSeconds).toBeLessThanOrEqual(wallSeconds);
    // The standby is the primary: writable, recorded, Scalelite started, Redis rebuilt from the stack, DNS switched.
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("f");
    standby.sql("INSERT INTO drill (note) VALUES ('after failover')", "scalelite");
    expect(role(standby)).toBe("primary");
    expect(calls(standby.host)).toContain("systemctl enable --now scalelite.target");
    expect(Object.keys(await standbyScalelite.servers()).sort()).toEqual(NODES.map((n) => n.fqdn).sort());
    expect(record()).toBe("127.0.0.2");
    expect(peer.state.calls).toEqual(expect.arrayContaining([`PUT /domain/zone/${ZONE}/record/7001`, `POST /domain/zone/${ZONE}/refresh`]));
    expect(run.stdout + run.stderr).not.toContain(LB_SECRET);
    expect(run.stdout + run.stderr).not.toContain(NODES[0].secret);
  });

  it("run again after it served, it finishes without promoting twice", async () => {
    const run = await ops(["failover", stackFile, "--yes", "--json", ...connection(await freePort())]);
    expect(run.code, run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => s.id)).not.toContain("promote");
    expect(report.rpo?.note).toMatch(/already promoted/);
  });

  it("failback: the front comes back as a standby of lb-standby, then switches back losing nothing of what lb-standby committed", async () => {
    // The front's machine is back (its database starts, its SSH answers): what failback finds.
    primary.start();
    placing = frontScalelite;
    for (let i = 0; i < 50; i++) standby.sql(`INSERT INTO drill (note) VALUES ('on the standby ${i}')`, "scalelite");
    const before = rows(standby);
    const run = await ops(["failback", stackFile, "--yes", "--json", ...connection()]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => `${s.id}@${s.on}`)).toEqual([
      "admit@lb-standby",
      "rebuild-standby@lb-training",
      "check@lb-training",
      "fence@lb-standby",
      "catch-up@lb-training",
      "promote@lb-training",
      "start-scalelite@lb-training",
      "rebuild-redis@lb-training",
      expect.stringMatching(/^switch-dns@OVH API/),
      expect.stringMatching(/^smoke@/),
      "admit@lb-training",
      "rebuild-standby@lb-standby",
    ]);
    expect(report.rpo?.bytes).toBe(0);
    console.log(`failback: RTO ${report.rtoSeconds} s; ${report.rpo?.note}`);
    // Nothing lost: every row lb-standby committed is on the front, which is the primary again.
    expect(rows(primary)).toBe(before);
    expect(primary.sql("SELECT pg_is_in_recovery()")).toBe("f");
    expect(role(primary)).toBe("primary");
    expect(record()).toBe("127.0.0.1");
    // lb-standby is a streaming standby again, its old database moved aside.
    await until("lb-standby streaming from the front", () => standby.sql("SELECT pg_is_in_recovery()") === "t");
    expect(role(standby)).toBe("standby");
    primary.sql("INSERT INTO drill (note) VALUES ('after failback')", "scalelite");
    await until("the new row on lb-standby", () => rows(standby) === before + 1);
    expect(readdirSync(path.join(standby.host.root, "var/lib/scalelite")).filter((d) => d.startsWith("postgres.replaced-")).length).toBe(2);
  });
});
