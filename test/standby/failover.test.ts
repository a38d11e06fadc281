/**
 * The failover drill: `ops failover` and `ops failback` as processes, against two fronts whose databases
 * are real PostgreSQL 15 clusters streaming over TLS (pgFronts.ts, set up by our own replication steps),
 * reached over sshd on loopback; the OVH API peer holds the campus zone; each front's `bin/rake` is
 * Scalelite's own (test/support/scalelite/harness.ts, a real Redis per front); each front's HTTP API is the
 * BBB API peer in Scalelite mode (test/support/bbbApiServer.ts) placing creates with that front's own
 * Scalelite (Server.find_available), so the signed check passes only once Redis was rebuilt there, and it
 * answers only while that front's scalelite.target runs (Site, below). The front's name resolves as the
 * zone's A record says. The stack has campus.recordings on: both fronts have the copy step, and whichever is
 * the standby pulls the other's recordings (recordingsCopySetup.ts: real rsync, ssh and Ubuntu 22.04's
 * rrsync 3.2.7 from the pinned tree), by its timer (run here by hand) and by ops failover / failback.
 *
 * The fronts' public addresses: the front 127.0.0.1, the standby 127.0.0.2 (its database listens on both).
 * A client on loopback always connects from 127.0.0.1, so the standby's replication is admitted by the
 * primary step's line for 127.0.0.1, and the last re-protection of failback by initdb's default
 * `host replication all 127.0.0.1/32` line, as the image's own pg_hba admits replication with a password.
 *
 * RTO and RPO: rows are committed on the front one by one until its database is cut (pg_ctl -m immediate:
 * nothing more reaches the standby) and its SSH stops answering; what the promoted standby holds is counted,
 * and so are the published recordings it holds. The figures are printed (a drill measures: the bounds
 * asserted are sanity bounds, not budgets).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { signedUrl } from "../../cli/ops/bbbApi";
import { serversYaml } from "../../cli/ops/failoverPlan";
import { RECORDING_DIR, STANDBY_COPY_DIR, STANDBY_COPY_INTERVAL_MINUTES, STANDBY_COPY_STATUS } from "../../components/scalelite/recordingLayout";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls } from "../support/hostState";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { attachScalelite, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { freePort, runStep, shellOn } from "../support/sshd";
import { upstreamTree } from "../support/upstream";
import { opsEnv, scratch, secretFile } from "../ops/cli";
import { LOCKED_POSTGRES, pgReady, PgFronts, until, type PgFront, type TlsFiles } from "./pgFronts";
import { copySshConfig, installRecordingsCopy, keyPair, onHost, pullOn, SPOOL_AUTHORIZED_KEYS } from "./recordingsCopySetup";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
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
const RRSYNC = "rsync-3.2.7";
const rrsyncTree = upstreamTree(RRSYNC);
const fronts = new PgFronts();
let primary: PgFront;
let standby: PgFront;
let tls: TlsFiles;
let peer: OvhApiPeer;
let nodeHttp: BbbApiServer[];
let front: Site;
let standbySite: Site;
/** The front's name (campus.front.fqdn) as clients resolve it: --url of every ops run. */
let resolver: Relay;
let env: Record<string, string>;
let stackFile: string;
let opsKey: string;

function ops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OPS_CLI, ...args], { cwd: REPO, env, timeout: 170_000 }, (error, stdout, stderr) =>
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
  resolver.url,
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
/** `n` rows committed one by one on a front (a transaction each, as lessons write them), in one session. */
const commitRows = (f: PgFront, n: number, note: string) =>
  f.sql(`DO $$ BEGIN FOR i IN 1..${n} LOOP INSERT INTO drill (note) VALUES ('${note} ' || i); COMMIT; END LOOP; END $$`, "scalelite");

interface Relay {
  url: string;
  close(): Promise<void>;
}

/**
 * An HTTP endpoint that passes each request unchanged to the origin `to()` names at that moment, or closes
 * the connection unanswered when it names none: what a client sees of an address where nothing listens.
 */
async function relay(to: () => string | undefined): Promise<Relay> {
  const server = http.createServer((req, res) => {
    const origin = to();
    if (!origin) return void req.socket.destroy();
    const forward = http.request(new URL(req.url ?? "/", origin), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What serves creates on a front. scalelite.target groups Scalelite's nginx (the HTTPS port) and its api
 * (scripts/scalelite-app.sh): while it is stopped, nothing listens there. In the drill the api is the BBB API
 * peer in Scalelite mode placing each create with the front's own Scalelite, behind a door (relay) that
 * answers only while the front's site is up and the fake systemctl (test/fakes/bin/systemctl, which keeps
 * what `systemctl is-active` answers) has the front's scalelite.target active.
 */
interface Site {
  name: string;
  address: string;
  front: PgFront;
  scalelite: Scalelite;
  api: BbbApiServer;
  door: Relay;
  /** false while its datacenter is out. */
  up: boolean;
}

const scaleliteActive = (f: PgFront) => {
  const state = path.join(f.host.root, "fake-state/systemd/scalelite.target.active");
  return existsSync(state) && readFileSync(state, "utf8").trim() === "active";
};

async function site(name: string, address: string, f: PgFront, scalelite: Scalelite): Promise<Site> {
  const api = await startBbbApiServer({
    mode: "scalelite",
    secret: LB_SECRET,
    servers: NODES.map((n, i) => ({ id: n.fqdn, apiUrl: nodeHttp[i].apiUrl, secret: n.secret, state: "enabled" as const })),
    place: (tag) => scalelite.findAvailable(tag),
  });
  const s: Site = { name, address, front: f, scalelite, api, up: true, door: undefined as unknown as Relay };
  s.door = await relay(() => (s.up && scaleliteActive(f) ? api.url : undefined));
  return s;
}

/** A signed create sent to a front's own address (as by a client whose resolver still holds it): what comes back. */
async function createOn(s: Site, meetingID: string): Promise<string> {
  try {
    const r = await fetch(signedUrl(`${s.door.url}/bigbluebutton/api`, "create", { meetingID, name: meetingID }, LB_SECRET, "sha256"), {
      signal: AbortSignal.timeout(30_000),
    });
    const body = await r.text();
    return body.includes("<returncode>SUCCESS</returncode>")
      ? "accepted"
      : `refused (${/<messageKey>(.*?)<\/messageKey>/.exec(body)?.[1] ?? body.slice(0, 80)})`;
  } catch {
    return "unanswered";
  }
}

const presentation = (f: PgFront) => path.join(onHost(f.host, RECORDING_DIR), "published/presentation");
/** Record ids, in the order the front published them. */
const published: string[] = [];

/**
 * A recording published on a front (the front unless said) as Scalelite's importer leaves it
 * (lib/recording_importer.rb: published/<format>/<record id>/, moved into place whole): a record id as
 * bbb-web names it (sha1 of the meeting id, creation time in ms), metadata.xml and a playback file.
 */
function publish(on: PgFront = front.front): string {
  const id = `${createHash("sha1").update(`drill-${published.length}`).digest("hex")}-${Date.now()}`;
  const work = path.join(onHost(on.host, RECORDING_DIR), "recording", id);
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, "metadata.xml"), `<recording><id>${id}</id><state>published</state><published>true</published></recording>\n`);
  writeFileSync(path.join(work, "video.webm"), `video of ${id}`);
  mkdirSync(presentation(on), { recursive: true });
  renameSync(work, path.join(presentation(on), id));
  published.push(id);
  return id;
}

/** The published recordings a front holds whole. */
const held = (f: PgFront) =>
  existsSync(presentation(f)) ? readdirSync(presentation(f)).filter((id) => existsSync(path.join(presentation(f), id, "video.webm"))) : [];

/** A front's pull (the standby's unless said), run as bbb-ovh-recordings-pull.timer runs it: what it printed. */
async function timerRun(on: PgFront = standby): Promise<string> {
  const r = await pullOn(on.host);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}

const copyStatus = () =>
  Object.fromEntries(
    readFileSync(onHost(standby.host, STANDBY_COPY_STATUS), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2) as [string, string]),
  );

beforeAll(async () => {
  if (!pgReady || !trees || !rrsyncTree) return;
  const keyDir = scratch();
  opsKey = keyPair(keyDir, "ops").file;
  [primary, standby] = await Promise.all([
    fronts.front("front", { extraAuthorizedKeys: [OPS_KEY, SPOOL_AUTHORIZED_KEYS] }),
    fronts.front("standby", { listen: ["127.0.0.1", "127.0.0.2"], extraAuthorizedKeys: [OPS_KEY, SPOOL_AUTHORIZED_KEYS] }),
  ]);
  for (const f of [primary, standby]) {
    mkdirSync(path.join(f.host.root, "root/.ssh"), { recursive: true });
    writeFileSync(path.join(f.host.root, OPS_KEY), readFileSync(`${opsKey}.pub`));
    // What scalelite-app.sh installs on both fronts (the fake systemctl needs the units to exist).
    for (const unit of ["scalelite.target", "scalelite-api.service", "scalelite-nginx.service"])
      writeFileSync(path.join(f.host.root, "etc/systemd/system", unit), "[Unit]\n");
  }
  // scalelite-app.sh starts Scalelite on the front only (the standby's stays stopped and disabled).
  const started = await shellOn(primary.host, "systemctl enable --now scalelite.target");
  expect(started.code, started.stderr).toBe(0);
  tls = fronts.certificates(["127.0.0.1", "127.0.0.2"]);
  primary.sql("CREATE DATABASE scalelite");
  primary.sql("CREATE TABLE drill (id bigserial PRIMARY KEY, note text)", "scalelite");
  // The steps (replication, then the recordings copy) one at a time on a host: runStep rewrites the host's
  // scripts directory each time, under a step that may be running from it. Each front's Scalelite meanwhile.
  const steps = async () => {
    for (const run of [
      await runStep(primary.host, "scaleliteReplicationPrimary", PgFronts.primaryInputs(tls, "127.0.0.1")),
      await runStep(standby.host, "scaleliteReplicationStandby", PgFronts.standbyInputs(tls, primary)),
    ])
      expect(run.code, run.stderr).toBe(0);
    await installRecordingsCopy(primary.host, standby.host, {
      keys: keyDir,
      rrsyncTree,
      rrsyncName: RRSYNC,
      names: { front: "lb-training", standby: "lb-standby" },
    });
  };
  const scalelites = async () => {
    nodeHttp = await Promise.all(NODES.map((n) => startBbbApiServer({ secret: n.secret })));
    const attached = await Promise.all([attachScalelite(trees, primary.host), attachScalelite(trees, standby.host)]);
    for (const s of attached) NODES.forEach((n, i) => s.route(n.fqdn, nodeHttp[i].url));
    // What the registration step left in the front's Redis (servers:sync of the stack's nodes, then a poll);
    // the standby's stays empty until ops failover rebuilds it.
    const sync = await attached[0].rake(["servers:sync[-,cordon]"], serversYaml(NODES));
    expect(sync.code, sync.stderr).toBe(0);
    await attached[0].pollUntilOnline(NODES.map((n) => n.fqdn));
    return attached;
  };
  const [, [frontScalelite, standbyScalelite]] = await Promise.all([steps(), scalelites()]);
  [front, standbySite] = await Promise.all([
    site("lb-training", "127.0.0.1", primary, frontScalelite),
    site("lb-standby", "127.0.0.2", standby, standbyScalelite),
  ]);
  // The front's name as a resolver answers it from the zone (the TTL it would keep the old address for is
  // not modelled: the runbook adds campus.dns.ttl to the RTO).
  resolver = await relay(() => [front, standbySite].find((s) => s.address === record())?.door.url);

  peer = await startOvhApiPeer("0123456789abcdef0123456789abcdef", {
    records: [
      { id: 7001, zone: ZONE, subDomain: "visio-training", fieldType: "A", target: "127.0.0.1", ttl: 120 },
      // The front's AAAA (the standby has no IPv6 in the outputs: failover parks it, failback puts it back).
      { id: 7002, zone: ZONE, subDomain: "visio-training", fieldType: "AAAA", target: "2001:db8::1", ttl: 120 },
    ],
  });
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
  // Recordings on: ops failover and failback copy them (the training stack has them off).
  doc.config["bbb-ovh:campus"].recordings = true;
  doc.config["bbb-ovh:campus"].standbyFront = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };
  stackFile = path.join(scratch(), "Pulumi.drill.yaml");
  writeFileSync(stackFile, stringify(doc));
  env = opsEnv(FAKES, scratch(), peer, {
    frontFqdn: FQDN,
    frontIpv4: "127.0.0.1",
    frontIpv6: "2001:db8::1",
    frontHostKey: primary.host.hostPublicKey,
    standbyIpv4: "127.0.0.2",
    standbyHostKey: standby.host.hostPublicKey,
    nodes: NODES.map((n, i) => ({ name: n.name, fqdn: n.fqdn, apiUrl: nodeHttp[i].apiUrl })),
    nodeSecrets: Object.fromEntries(NODES.map((n) => [n.fqdn, n.secret])),
  });
}, 240_000);

afterAll(async () => {
  const sites = [front, standbySite].filter(Boolean);
  await Promise.all([
    peer?.close(),
    resolver?.close(),
    ...(nodeHttp ?? []).map((n) => n.close()),
    ...sites.flatMap((s) => [s.api.close(), s.door.close(), s.scalelite.stop()]),
  ]);
  await fronts.stop();
});

interface Report {
  ok: boolean;
  rtoSeconds?: number;
  rpo?: { bytes?: number; lastReplaySecondsAgo?: number; note: string; recordings?: string };
  steps: Array<{ id: string; on: string; ok: boolean; detail: string }>;
  failure?: { kind: string; message: string };
}

describe.skipIf(!pgReady || !trees || !rrsyncTree)("ops failover / failback drill (two real PostgreSQL 15 fronts)", () => {
  it("--dry-run prints each step in order and changes nothing", async () => {
    const run = await ops(["failover", stackFile, "--dry-run", ...connection()]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /1\. fence on lb-training: .*\n\s+2\. catch-up on lb-standby.*\n\s+3\. copy-recordings on lb-standby: .* --verify: .*\n\s+4\. promote on lb-standby/,
    );
    // Presumed down, the old front is neither fenced nor copied from.
    const down = await ops(["failover", stackFile, "--dry-run", "--primary-down", ...connection()]);
    expect(down.stdout).not.toMatch(/copy-recordings|fence/);
    expect(run.stdout).toMatch(
      /switch-dns on OVH API: A\/AAAA of visio-training\.isen-ouest\.fr.*AAAA records parked at bbb-ovh-parked\.visio-training by PUT \(lb-standby has no IPv6/,
    );
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

  const committed = 200;
  it("the front's site burns: with --primary-down the standby serves, DNS moves, the signed check passes; RTO, database and recordings RPO measured", async () => {
    // Before: the front alone accepts a create, through its name and at its address; the standby's Scalelite is stopped.
    expect([await createOn(front, "before-front"), await createOn(standbySite, "before-standby")]).toEqual(["accepted", "unanswered"]);
    // Recordings published on the front, copied by the standby's timer; one more published after its last run (inside its interval).
    for (let i = 0; i < 3; i++) publish();
    expect(await timerRun()).toMatch(/copied 6 file\(s\)/);
    for (let i = 0; i < 2; i++) publish();
    expect(await timerRun()).toMatch(/copied 4 file\(s\)/);
    const beforeLastCopy = published.length;
    const lastCopy = Number(copyStatus().last_success);
    publish();
    // Lessons write until the cut: each row is committed on the front before the next.
    commitRows(primary, committed, "row");
    primary.crash();
    front.up = false;
    const cutAfterCopy = Math.round(Date.now() / 1000 - lastCopy);
    const started = performance.now();
    const run = await ops(["failover", stackFile, "--yes", "--json", "--primary-down", ...connection(await freePort())]);
    const wallSeconds = (performance.now() - started) / 1000;
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => s.id)).toEqual([
      "check",
      "fence",
      "promote",
      "start-scalelite",
      "rebuild-redis",
      "switch-dns",
      "certificate",
      "smoke",
      "resend-recordings",
      "first-backup",
    ]);
    expect(report.steps[1].detail).toMatch(/presumed down \(--primary-down\), not fenced/);
    // training keeps backups (campus.backup): the new front's backup unit is started; the drill's fronts never ran the
    // backup step, so the fake systemctl refuses it as systemd refuses a unit it does not have, and the switch stands.
    expect(report.steps.at(-1)).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^bbb-ovh-backup\.service did not start on lb-standby \(.*not found.*\): run `ops backup now` once it serves$/),
    });
    // The drill's nodes are API peers, not hosts ops can log in to (no hostKey in the nodes output): named, not reached.
    expect(report.steps.find((s) => s.id === "resend-recordings")?.detail).toMatch(
      /^0 of 2 node\(s\) now send to lb-standby; 0 kept archive\(s\) sent again; not done on bbb-training-sbg: no SSH host key .* \(delivered since \d{4}-/,
    );
    expect(peer.state.records.filter((r) => r.fieldType === "AAAA")).toMatchObject([{ id: 7002, subDomain: "bbb-ovh-parked.visio-training" }]);
    // The promoted standby serves: its pull, run by its timer again, copies nothing more (it is the primary).
    expect(await timerRun()).toMatch(/this front is not the standby \(.*\): nothing to copy/);
    // RPO: what the promoted standby holds of the rows the front had committed, and of the recordings it had published.
    const arrived = rows(standby);
    const onStandby = new Set(held(standby));
    const missing = published.slice(0, beforeLastCopy).filter((id) => !onStandby.has(id));
    const lost = published.slice(beforeLastCopy).filter((id) => !onStandby.has(id));
    console.log(
      [
        `drill (site down, --primary-down): RTO ${report.rtoSeconds} s to the first meeting created through the new front (ops wall time ${wallSeconds.toFixed(1)} s)`,
        `  database RPO: ${committed - arrived} of ${committed} committed rows lost; ${report.rpo?.note}`,
        `  recordings RPO: ${lost.length} of ${published.length} published recordings lost, all published after the standby's last copy ` +
          `(${cutAfterCopy} s before the cut, inside its ${STANDBY_COPY_INTERVAL_MINUTES}-min interval: expected); ${missing.length} published before it missing`,
      ].join("\n"),
    );
    expect(missing, "recordings published before the standby's last copy, missing on the new front").toEqual([]);
    expect(lost).toEqual(published.slice(beforeLastCopy));
    expect(arrived).toBeLessThanOrEqual(committed);
    expect(report.rpo?.note).toMatch(/lb-training unreachable: what it wrote after the last transaction lb-standby replayed/);
    expect(report.rpo?.recordings).toMatch(
      /^the copy interval \(5 min\): what lb-training published after lb-standby's last copy is not on lb-standby \(its last copy started \d+ s before promotion\), but for what the nodes that answer send again \(resend-recordings\)$/,
    );
    expect(report.rtoSeconds).toBeGreaterThan(0);
    expect(report.rtoSeconds).toBeLessThanOrEqual(wallSeconds);
    // The standby is the primary: writable, recorded, Scalelite started, Redis rebuilt from the stack, DNS switched.
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("f");
    standby.sql("INSERT INTO drill (note) VALUES ('after failover')", "scalelite");
    expect(role(standby)).toBe("primary");
    expect(calls(standby.host)).toContain("systemctl enable --now scalelite.target");
    expect(Object.keys(await standbySite.scalelite.servers()).sort()).toEqual(NODES.map((n) => n.fqdn).sort());
    expect(record()).toBe("127.0.0.2");
    expect(await createOn(standbySite, "after-failover")).toBe("accepted");
    expect(peer.state.calls).toEqual(expect.arrayContaining([`PUT /domain/zone/${ZONE}/record/7001`, `POST /domain/zone/${ZONE}/refresh`]));
    expect(run.stdout + run.stderr).not.toContain(LB_SECRET);
    expect(run.stdout + run.stderr).not.toContain(NODES[0].secret);
  });

  it("the front's machine comes back while the standby serves: its Scalelite starts with it, and ops failover run again fences it without promoting twice", async () => {
    // Its database starts and its SSH answers; its scalelite.target, enabled and never fenced (it was down),
    // starts at boot: two fronts accept a create until it is fenced.
    primary.start();
    front.up = true;
    expect([await createOn(front, "back-front"), await createOn(standbySite, "back-standby")]).toEqual(["accepted", "accepted"]);
    const run = await ops(["failover", stackFile, "--yes", "--json", ...connection()]);
    expect(run.code, run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => `${s.id}@${s.on}`)).toEqual(expect.arrayContaining(["fence@lb-training"]));
    expect(report.steps.map((s) => s.id)).not.toContain("promote");
    expect(report.rpo?.note).toMatch(/already promoted/);
    expect(role(primary)).toBe("fenced");
    expect([await createOn(front, "back-front-fenced"), await createOn(standbySite, "back-standby-2")]).toEqual(["unanswered", "accepted"]);
  });

  it("failback: the front comes back as a standby of lb-standby, then switches back losing nothing of what lb-standby committed, recordings included", async () => {
    // What failback may find: the front's machine back with Scalelite started at boot (ops failover not run
    // again after the --primary-down one, as above): both fronts accept creates until failback fences it.
    const restarted = await shellOn(
      primary.host,
      "systemctl enable --now scalelite.target && printf 'primary\\n' > \"$BBB_OVH_ROOT/var/lib/bbb-ovh/front-role\"",
    );
    expect(restarted.code, restarted.stderr).toBe(0);
    expect([await createOn(front, "failback-front"), await createOn(standbySite, "failback-standby")]).toEqual(["accepted", "accepted"]);
    commitRows(standby, 50, "on the standby");
    // A recording lb-standby published while it served: failback must bring it to the front.
    const servedOnStandby = publish(standby);
    const before = rows(standby);
    const run = await ops(["failback", stackFile, "--yes", "--json", ...connection()]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => `${s.id}@${s.on}`)).toEqual([
      "fence@lb-training",
      "admit@lb-standby",
      "rebuild-standby@lb-training",
      "copy-recordings@lb-training",
      "check@lb-training",
      "fence@lb-standby",
      "catch-up@lb-training",
      "copy-recordings@lb-training",
      "promote@lb-training",
      "start-scalelite@lb-training",
      "rebuild-redis@lb-training",
      expect.stringMatching(/^switch-dns@OVH API/),
      "certificate@lb-training",
      expect.stringMatching(/^smoke@/),
      "resend-recordings@nodes",
      "first-backup@lb-training",
      "admit@lb-training",
      "rebuild-standby@lb-standby",
    ]);
    expect(report.rpo?.bytes).toBe(0);
    expect(report.steps[7].detail).toMatch(/; nothing left to copy from lb-standby$/);
    expect(report.rpo?.recordings).toBe("none: lb-training holds every recording lb-standby has (verified after fencing)");
    console.log(`failback: RTO ${report.rtoSeconds} s; ${report.rpo?.note}; recordings: ${report.rpo?.recordings}`);
    expect(held(primary)).toContain(servedOnStandby);
    // Nothing lost: every row lb-standby committed is on the front, which is the primary again.
    expect(rows(primary)).toBe(before);
    expect(primary.sql("SELECT pg_is_in_recovery()")).toBe("f");
    expect(role(primary)).toBe("primary");
    expect(record()).toBe("127.0.0.1");
    expect(peer.state.records.filter((r) => r.fieldType === "AAAA")).toMatchObject([
      { id: 7002, subDomain: "visio-training", target: "2001:db8::1", ttl: 120 },
    ]);
    // lb-standby is a streaming standby again, its old database moved aside.
    await until("lb-standby streaming from the front", () => standby.sql("SELECT pg_is_in_recovery()") === "t");
    expect(role(standby)).toBe("standby");
    primary.sql("INSERT INTO drill (note) VALUES ('after failback')", "scalelite");
    await until("the new row on lb-standby", () => rows(standby) === before + 1);
    expect(readdirSync(path.join(standby.host.root, "var/lib/scalelite")).filter((d) => d.startsWith("postgres.replaced-")).length).toBe(2);
  });
  it("the front answers: ops failover without --primary-down fences it before promoting; two fronts never both accept a create", async () => {
    // The front serves again (after failback): it alone accepts a create.
    expect([await createOn(front, "live-front"), await createOn(standbySite, "live-standby")]).toEqual(["accepted", "unanswered"]);
    // The standby's timer copies what the front holds (the recording it missed before included); one more is published after.
    expect(await timerRun()).toMatch(/copied \d+ file\(s\)/);
    const beforeLastCopy = published.length;
    publish();
    commitRows(primary, 100, "live");
    const committedLive = rows(primary);
    const startedAt = Date.now();
    // The standby cannot copy (its copy's ssh_config names a closed port): the failover stops before promoting.
    const config = readFileSync(copySshConfig(standby.host), "utf8");
    writeFileSync(copySshConfig(standby.host), config.replace(`Port ${primary.host.port}`, `Port ${await freePort()}`));
    const stopped = await ops(["failover", stackFile, "--yes", "--json", ...connection()]);
    writeFileSync(copySshConfig(standby.host), config);
    expect(stopped.code, stopped.stdout).not.toBe(0);
    const refused = JSON.parse(stopped.stdout) as Report;
    expect(refused.steps.map((s) => `${s.id}@${s.on}:${s.ok}`)).toEqual([
      "check@lb-standby:true",
      "fence@lb-training:true",
      "catch-up@lb-standby:true",
      "copy-recordings@lb-standby:false",
    ]);
    expect(refused.failure?.message).toMatch(/failover stops before promoting, nothing was promoted and lb-training is fenced .*--primary-down/);
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("t");
    expect(record()).toBe("127.0.0.1");
    // Run again once fixed: the fence and catch-up repeat, the copy passes, the standby is promoted.
    const run = await ops(["failover", stackFile, "--yes", "--json", ...connection()]);
    const wallSeconds = (Date.now() - startedAt) / 1000;
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => s.id)).toEqual([
      "check",
      "fence",
      "catch-up",
      "copy-recordings",
      "promote",
      "start-scalelite",
      "rebuild-redis",
      "switch-dns",
      "certificate",
      "smoke",
      "resend-recordings",
      "first-backup",
    ]);
    const arrived = rows(standby);
    const onStandby = new Set(held(standby));
    const missing = published.slice(0, beforeLastCopy).filter((id) => !onStandby.has(id));
    const notCopied = published.slice(beforeLastCopy).filter((id) => !onStandby.has(id));
    console.log(
      [
        `drill (front answers, fenced): RTO ${report.rtoSeconds} s to the first meeting created through the new front (ops wall time ${wallSeconds.toFixed(1)} s, a stopped run included)`,
        `  database RPO: ${committedLive - arrived} of ${committedLive} committed rows lost; ${report.rpo?.note}`,
        `  recordings RPO: ${notCopied.length} of ${published.length} published not on the new front (${published.length - beforeLastCopy} published after the timer's last copy); ${report.rpo?.recordings}`,
      ].join("\n"),
    );
    expect(missing, "recordings published before the standby's last copy, missing on the new front").toEqual([]);
    // The last copy after fencing brought the one published after the timer's run: nothing left behind.
    expect(notCopied).toEqual([]);
    expect(report.rpo?.recordings).toBe("none: lb-standby holds every recording lb-training has (verified after fencing)");
    expect(report.rpo?.bytes).toBe(0);
    expect(arrived).toBe(committedLive);
    // The order, from what the services recorded (never from ops' own report): the front's scalelite.target
    // stopped and disabled (the fake systemctl's state), then the standby's new timeline (the history file
    // PostgreSQL writes when it is promoted), then the standby's scalelite.target started.
    const unit = (f: PgFront, kind: string) => path.join(f.host.root, `fake-state/systemd/scalelite.target.${kind}`);
    expect([readFileSync(unit(primary, "active"), "utf8").trim(), readFileSync(unit(primary, "enabled"), "utf8").trim()]).toEqual(["inactive", "disabled"]);
    expect(calls(primary.host)).toContain("systemctl disable --now scalelite.target");
    expect(role(primary)).toBe("fenced");
    const wal = path.join(standby.data, "pg_wal");
    const timeline = readdirSync(wal)
      .filter((f) => f.endsWith(".history"))
      .sort()
      .at(-1) as string;
    const fencedAt = statSync(unit(primary, "active")).mtimeMs;
    const promotedAt = statSync(path.join(wal, timeline)).mtimeMs;
    const startedOnStandbyAt = statSync(unit(standby, "active")).mtimeMs;
    expect(fencedAt).toBeGreaterThanOrEqual(startedAt);
    expect(promotedAt, `timeline ${timeline} written after the front was fenced`).toBeGreaterThan(fencedAt);
    expect(startedOnStandbyAt).toBeGreaterThan(promotedAt);
    expect(readFileSync(unit(standby, "active"), "utf8").trim()).toBe("active");
    // After: the old front, reached at its own address, answers no create; the new one, and the name, do.
    expect([await createOn(front, "live-after-front"), await createOn(standbySite, "live-after-standby")]).toEqual(["unanswered", "accepted"]);
    expect(record()).toBe("127.0.0.2");
  });

  it("the front's server is rebuilt while the standby serves (campus.rebuildFront): fenced by its role step, then ops failback --standby-only makes it the standby and ops failback the front, losing nothing", async () => {
    // Its disk is gone: a new, empty database (as the image starts one), no recordings, no front-role, no
    // Scalelite running. What its steps install again is installed again: the spool and the recordings copy
    // (on both fronts, as that pulumi up re-runs the standby's with the front's new address), then the role.
    const replaced = () => readdirSync(path.join(primary.host.root, "var/lib/scalelite")).filter((d) => d.startsWith("postgres.replaced-")).length;
    const replacedBefore = replaced();
    primary.rebuild();
    for (const dir of [RECORDING_DIR, STANDBY_COPY_DIR, "/var/lib/bbb-ovh"]) rmSync(onHost(primary.host, dir), { recursive: true, force: true });
    for (const kind of ["active", "enabled"]) rmSync(path.join(primary.host.root, `fake-state/systemd/scalelite.target.${kind}`), { force: true });
    // What scalelite-docker.sh leaves again: the digest lock of the image it pulled.
    mkdirSync(onHost(primary.host, "/var/lib/bbb-ovh"), { recursive: true });
    writeFileSync(onHost(primary.host, "/var/lib/bbb-ovh/image-lock"), `${LOCKED_POSTGRES}\n`);
    await installRecordingsCopy(primary.host, standby.host, {
      keys: scratch(),
      rrsyncTree: rrsyncTree!,
      rrsyncName: RRSYNC,
      names: { front: "lb-training", standby: "lb-standby" },
    });
    const fenced = await runStep(primary.host, "scaleliteFrontServes", { SERVES: "false", RECORD: "fenced" });
    expect(fenced.code, fenced.stderr).toBe(0);
    expect(role(primary)).toBe("fenced");
    expect(primary.sql("SELECT count(*) FROM pg_database WHERE datname = 'scalelite'")).toBe("0");
    expect(held(primary)).toEqual([]);
    expect([await createOn(front, "rebuilt-front"), await createOn(standbySite, "rebuilt-standby")]).toEqual(["unanswered", "accepted"]);

    commitRows(standby, 30, "while the front is rebuilt");
    const copiedFirst = publish(standby);
    // First half, by day: the new front becomes a standby holding the recordings; lb-standby serves on.
    const half = await ops(["failback", stackFile, "--standby-only", "--yes", "--json", ...connection()]);
    expect(half.code, half.stderr + half.stdout).toBe(0);
    const halfReport = JSON.parse(half.stdout) as Report & { standbyOnly?: boolean };
    // No fence first: no Scalelite runs on the new server.
    expect(halfReport.steps.map((s) => `${s.id}@${s.on}`)).toEqual(["admit@lb-standby", "rebuild-standby@lb-training", "copy-recordings@lb-training"]);
    expect(halfReport.standbyOnly).toBe(true);
    expect(role(primary)).toBe("standby");
    await until("the rebuilt front streaming from lb-standby", () => primary.sql("SELECT pg_is_in_recovery()") === "t" && rows(primary) === rows(standby));
    expect(held(primary)).toContain(copiedFirst);
    expect(record()).toBe("127.0.0.2");
    expect([await createOn(front, "half-front"), await createOn(standbySite, "half-standby")]).toEqual(["unanswered", "accepted"]);

    // Then the switch, at a quiet hour: what changed meanwhile is all there is to copy.
    commitRows(standby, 20, "after the first half");
    const servedMeanwhile = publish(standby);
    const before = rows(standby);
    const onStandby = held(standby);
    const run = await ops(["failback", stackFile, "--yes", "--json", ...connection()]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.steps.map((s) => `${s.id}@${s.on}`).slice(0, 3)).toEqual(["admit@lb-standby", "rebuild-standby@lb-training", "copy-recordings@lb-training"]);
    // Already a standby of lb-standby: the step keeps its data (no second database moved aside).
    expect(replaced()).toBe(replacedBefore + 1);
    expect(report.steps.map((s) => s.id)).toContain("promote");
    expect(report.rpo?.bytes).toBe(0);
    expect(report.rpo?.recordings).toBe("none: lb-training holds every recording lb-standby has (verified after fencing)");
    console.log(`failback to a rebuilt front: RTO ${report.rtoSeconds} s; ${report.rpo?.note}; ${onStandby.length} recording(s) copied back`);
    // Every row and every recording the standby held, those the old front had published included.
    expect(rows(primary)).toBe(before);
    expect(held(primary).sort()).toEqual([...onStandby].sort());
    expect(held(primary)).toContain(servedMeanwhile);
    expect(role(primary)).toBe("primary");
    expect(record()).toBe("127.0.0.1");
    expect([await createOn(front, "after-rebuild-front"), await createOn(standbySite, "after-rebuild-standby")]).toEqual(["accepted", "unanswered"]);
    await until("lb-standby streaming from the rebuilt front", () => standby.sql("SELECT pg_is_in_recovery()") === "t");
  });
});
