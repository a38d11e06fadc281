/**
 * The standby front's database, for real: scripts/scalelite-replication-{primary,standby}.sh over SSH on
 * two loopback test hosts, each with a real PostgreSQL 15 cluster (Debian's) on its own TCP port standing
 * in for its scalelite-postgres container (test/standby/bin/docker and systemctl name exactly which calls
 * they model). Streaming replication over TLS with a certificate for the fronts' address, the replication
 * role's own password, pg_hba refusing everything else, pg_basebackup into a standby, then promotion.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { calls } from "../support/hostState";
import { runStep } from "../support/sshd";
import {
  LOCKED_POSTGRES,
  PG_BIN as BIN,
  pgReady as ready,
  PgFronts,
  REPLICATION_PASSWORD as PASSWORD,
  until,
  type PgFront as Front,
  type TlsFiles,
} from "./pgFronts";

const fronts = new PgFronts();
const scratch = fronts.scratch;
const front = (name: string) => fronts.front(name);
const certificates = () => fronts.certificates();

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

afterAll(() => fronts.stop());

describe.skipIf(!ready)("PostgreSQL streaming replication between the fronts", () => {
  let primary: Front;
  let standby: Front;
  let tls: TlsFiles;
  let primaryRun: Awaited<ReturnType<typeof runStep>>;
  let standbyRun: Awaited<ReturnType<typeof runStep>>;
  const primaryInputs = (): StepInputs => PgFronts.primaryInputs(tls, "127.0.0.1");
  const standbyInputs = (): StepInputs => PgFronts.standbyInputs(tls, primary);

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
    // pg_basebackup ran from the image the front locked, not by its tag (the fake docker's own runuser
    // call, which runs it for the container, is recorded too and left out).
    expect(calls(standby.host).filter((c) => c.startsWith("docker ") && c.includes("pg_basebackup"))).toEqual([
      expect.stringContaining(` ${LOCKED_POSTGRES} pg_basebackup `),
    ]);
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
