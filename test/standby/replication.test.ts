/**
 * The standby front's database, for real: scripts/scalelite-replication-{primary,standby}.sh over SSH on
 * two loopback test hosts, each with a real PostgreSQL 15 cluster (Debian's) on its own TCP port standing
 * in for its scalelite-postgres container (test/standby/bin/docker and systemctl name exactly which calls
 * they model). Streaming replication over TLS with a certificate for the fronts' address, the replication
 * role's own password, pg_hba refusing everything else, pg_basebackup into a standby, then promotion.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { calls } from "../support/hostState";
import { FAKE_BIN, freePort, runStep, startTestHost, type TestHost } from "../support/sshd";

const BIN = "/usr/lib/postgresql/15/bin";
const STANDBY_BIN = path.resolve(__dirname, "bin");
const ready = existsSync(`${BIN}/initdb`) && existsSync(`${BIN}/pg_basebackup`);
const PASSWORD = "Repl1cat1onPassw0rdForTests";
const DATA_DIR = "/var/lib/scalelite";
const LOCKED_POSTGRES = `postgres:16@sha256:${"5".repeat(64)}`;

interface Front {
  host: TestHost;
  port: number;
  socket: string;
  data: string;
  sql(sql: string, database?: string): string;
}

const fronts: Front[] = [];
const scratch = mkdtempSync(path.join(tmpdir(), "bbb-ovh-standby-"));
// The servers run as postgres: they must reach their socket directories in here.
chmodSync(scratch, 0o755);
const postgresIds = () => ({
  uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
  gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
});
const asPostgres = (args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const serverOptions = (port: number, socket: string) => `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${socket} -c fsync=off`;

/** A front: a test host whose DATA_DIR/postgres holds a cluster initialised as the image does (local trust, scram over TCP). */
async function front(name: string): Promise<Front> {
  const port = await freePort();
  const socket = path.join(scratch, `${name}-sock`);
  mkdirSync(socket);
  const { uid, gid } = postgresIds();
  chownSync(socket, uid, gid);
  const host = await startTestHost({
    fqdn: `${name}.campus.example`,
    env: {
      PATH: `${STANDBY_BIN}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
      STANDBY_TEST_PGPORT: String(port),
      STANDBY_TEST_PGSOCK: socket,
      STANDBY_TEST_PGOPTS: serverOptions(port, socket),
    },
  });
  // The server runs as postgres: it must reach the data directory under the host's root.
  for (let dir = host.root; dir !== path.dirname(dir) && dir.startsWith(tmpdir()) && dir !== tmpdir(); dir = path.dirname(dir)) chmodSync(dir, 0o755);
  const data = path.join(host.root, DATA_DIR.slice(1), "postgres");
  mkdirSync(path.dirname(data), { recursive: true });
  mkdirSync(data, { mode: 0o700 });
  chownSync(data, uid, gid);
  asPostgres([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"]);
  // What scalelite-docker.sh leaves: the unit (the fake systemctl needs it to exist) and the image's digest lock.
  mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
  writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-postgres.service"), "[Unit]\n");
  mkdirSync(path.join(host.root, "var/lib/bbb-ovh"), { recursive: true });
  writeFileSync(path.join(host.root, "var/lib/bbb-ovh/image-lock"), `${LOCKED_POSTGRES}\n`);
  asPostgres([`${BIN}/pg_ctl`, "-D", data, "-o", serverOptions(port, socket), "-l", path.join(socket, "server.log"), "-w", "start"]);
  const f: Front = {
    host,
    port,
    socket,
    data,
    sql: (sql, database = "postgres") =>
      execFileSync(
        `${BIN}/psql`,
        ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", socket, "-p", String(port), "-U", "postgres", "-d", database, "-c", sql],
        { encoding: "utf8" },
      ).trim(),
  };
  fronts.push(f);
  return f;
}

/** What Pulumi's @pulumi/tls makes: a CA, and a server certificate it signs for the fronts' addresses. */
function certificates(): { ca: string; cert: string; key: string } {
  const dir = path.join(scratch, "tls");
  mkdirSync(dir);
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=bbb-ovh replication CA",
  ]);
  openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=scalelite-postgres",
  ]);
  writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ]);
  const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
  return { ca: read("ca.crt"), cert: read("server.crt"), key: read("server.key") };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Polls until `check` holds: replication is asynchronous. */
async function until(what: string, check: () => boolean, seconds = 60): Promise<void> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    try {
      if (check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A libpq connection from outside, as an attacker on the standby's address would try. */
function tryConnect(f: Front, conninfo: string): { ok: boolean; error: string } {
  try {
    execFileSync(`${BIN}/psql`, ["-X", "-t", "-A", "-c", "IDENTIFY_SYSTEM", `host=127.0.0.1 port=${f.port} ${conninfo}`], {
      encoding: "utf8",
      stdio: "pipe",
      env: { ...process.env, PGPASSWORD: "" },
    });
    return { ok: true, error: "" };
  } catch (e) {
    return { ok: false, error: String((e as { stderr?: string }).stderr ?? e) };
  }
}

afterAll(async () => {
  for (const f of fronts) {
    try {
      asPostgres([`${BIN}/pg_ctl`, "-D", f.data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already stopped
    }
    await f.host.stop();
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!ready)("PostgreSQL streaming replication between the fronts", () => {
  let primary: Front;
  let standby: Front;
  let tls: ReturnType<typeof certificates>;
  let primaryRun: Awaited<ReturnType<typeof runStep>>;
  let standbyRun: Awaited<ReturnType<typeof runStep>>;
  const primaryInputs = (): StepInputs => ({
    DATA_DIR,
    STANDBY_ADDRESSES: "127.0.0.1",
    REPLICATION_PASSWORD: PASSWORD,
    TLS_CERT_B64: b64(tls.cert),
    TLS_KEY_B64: b64(tls.key),
  });
  const standbyInputs = (): StepInputs => ({
    DATA_DIR,
    POSTGRES_IMAGE: "postgres:16",
    PRIMARY_ADDRESS: "127.0.0.1",
    PRIMARY_PORT: String(primary.port),
    REPLICATION_PASSWORD: PASSWORD,
    CA_CERT_B64: b64(tls.ca),
  });

  beforeAll(async () => {
    [primary, standby] = await Promise.all([front("primary"), front("standby")]);
    tls = certificates();
    primary.sql("CREATE DATABASE scalelite");
    primary.sql("CREATE TABLE recordings (id bigserial PRIMARY KEY, record_id varchar UNIQUE, published boolean)", "scalelite");
    primary.sql("INSERT INTO recordings (record_id, published) VALUES ('before-standby', true)", "scalelite");
    // What the image made on the standby's first start: a database of its own, which must not be lost.
    standby.sql("CREATE TABLE left_behind (note text); INSERT INTO left_behind VALUES ('first start')");
    primaryRun = await runStep(primary.host, "scaleliteReplicationPrimary", primaryInputs());
    standbyRun = await runStep(standby.host, "scaleliteReplicationStandby", standbyInputs());
  }, 240_000);

  it("the primary admits the replication role over TLS only, from the standby's address only", () => {
    expect(primaryRun.code, primaryRun.stderr).toBe(0);
    expect(primary.sql("SHOW ssl")).toBe("on");
    expect(primary.sql("SELECT rolreplication AND NOT rolsuper FROM pg_roles WHERE rolname = 'bbb_ovh_replication'")).toBe("t");
    const hba = readFileSync(path.join(primary.data, "pg_hba.conf"), "utf8");
    expect(hba.split("\n")[0]).toMatch(/^# BEGIN bbb-ovh replication/);
    expect(hba).toContain("hostssl replication bbb_ovh_replication 127.0.0.1/32 scram-sha-256");
    expect(primaryRun.stdout + primaryRun.stderr).not.toContain(PASSWORD);
  });

  it("the standby copied the primary (the image's own first database moved aside, not deleted) and streams over TLS", async () => {
    expect(standbyRun.code, standbyRun.stderr).toBe(0);
    expect(standbyRun.stderr).toMatch(/moving the database that was here aside to \S+postgres\.replaced-\d{8}T\d{6}Z/);
    const aside = readdirSync(path.dirname(standby.data)).filter((d) => d.startsWith("postgres.replaced-"));
    expect(aside).toHaveLength(1);
    expect(existsSync(path.join(path.dirname(standby.data), aside[0], "PG_VERSION"))).toBe(true);
    expect(standby.sql("SELECT pg_is_in_recovery()")).toBe("t");
    expect(standby.sql("SELECT record_id FROM recordings", "scalelite")).toBe("before-standby");
    // The primary sees one streaming standby, authenticated as the replication role, over TLS.
    expect(primary.sql("SELECT r.usename, r.state, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)")).toBe("bbb_ovh_replication|streaming|t");
    primary.sql("INSERT INTO recordings (record_id, published) VALUES ('while-streaming', true)", "scalelite");
    await until("the new row on the standby", () => standby.sql("SELECT count(*) FROM recordings WHERE record_id = 'while-streaming'", "scalelite") === "1");
    expect(() => standby.sql("INSERT INTO recordings (record_id) VALUES ('on-standby')", "scalelite")).toThrow(/read-only transaction/);
    expect(standbyRun.stdout + standbyRun.stderr).not.toContain(PASSWORD);
    // pg_basebackup ran from the image the front locked, not by its tag.
    expect(calls(standby.host).filter((c) => c.includes("pg_basebackup"))).toEqual([expect.stringContaining(` ${LOCKED_POSTGRES} pg_basebackup `)]);
  });

  it("refuses replication without TLS, with a wrong password, and any other login from the standby's address", () => {
    const passfile = path.join(scratch, "pgpass");
    writeFileSync(passfile, `127.0.0.1:${primary.port}:*:bbb_ovh_replication:${PASSWORD}\n`, { mode: 0o600 });
    const plain = tryConnect(primary, `user=bbb_ovh_replication replication=true sslmode=disable passfile=${passfile}`);
    expect(plain.ok).toBe(false);
    expect(plain.error).toMatch(/pg_hba\.conf rejects replication connection for host "127\.0\.0\.1", user "bbb_ovh_replication", no encryption/);
    const wrong = path.join(scratch, "wrong");
    writeFileSync(wrong, `127.0.0.1:${primary.port}:*:bbb_ovh_replication:not-the-password\n`, { mode: 0o600 });
    expect(tryConnect(primary, `user=bbb_ovh_replication replication=true sslmode=require passfile=${wrong}`).error).toMatch(
      /password authentication failed for user "bbb_ovh_replication"/,
    );
    expect(tryConnect(primary, `user=postgres dbname=scalelite sslmode=require passfile=${passfile}`).error).toMatch(/pg_hba\.conf rejects connection/);
    // With the right password and TLS, the role can replicate (what the standby does).
    expect(
      tryConnect(primary, `user=bbb_ovh_replication replication=true sslmode=verify-full sslrootcert=${path.join(scratch, "tls/ca.crt")} passfile=${passfile}`),
    ).toEqual({ ok: true, error: "" });
  });

  it("a re-run changes nothing: the primary keeps streaming, the standby takes no new base backup", async () => {
    const again = await Promise.all([
      runStep(primary.host, "scaleliteReplicationPrimary", primaryInputs()),
      runStep(standby.host, "scaleliteReplicationStandby", standbyInputs()),
    ]);
    for (const run of again) expect(run.code, run.stderr).toBe(0);
    expect(again[1].stdout + again[1].stderr).not.toMatch(/pg_basebackup|moving the database/);
    expect(readdirSync(path.dirname(standby.data)).filter((d) => d.startsWith("postgres.replaced-"))).toHaveLength(1);
    expect(primary.sql("SELECT count(*) FROM pg_stat_replication")).toBe("1");
  });

  it("promoted, the standby takes writes, and the standby step then refuses to replace its database", async () => {
    expect(standby.sql("SELECT pg_promote()")).toBe("t");
    await until("the promoted standby takes writes", () => standby.sql("SELECT pg_is_in_recovery()") === "f");
    standby.sql("INSERT INTO recordings (record_id, published) VALUES ('after-failover', true)", "scalelite");
    expect(standby.sql("SELECT string_agg(record_id, ',' ORDER BY id) FROM recordings", "scalelite")).toBe("before-standby,while-streaming,after-failover");
    // What `ops failover` records on the promoted front.
    writeFileSync(path.join(standby.host.root, "var/lib/bbb-ovh/front-role"), "primary\n");
    const refused = await runStep(standby.host, "scaleliteReplicationStandby", standbyInputs());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/this front is the primary since `ops failover`.*a base backup would replace Scalelite's live database/);
    expect(standby.sql("SELECT count(*) FROM recordings", "scalelite")).toBe("3");
  });

  it("refuses bad inputs by name before touching anything", async () => {
    const bad = await runStep(primary.host, "scaleliteReplicationPrimary", { ...primaryInputs(), REPLICATION_PASSWORD: "short", STANDBY_ADDRESSES: "" });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/REPLICATION_PASSWORD must be at least 16 letters and digits/);
  });
});
