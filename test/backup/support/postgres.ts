/**
 * A throwaway PostgreSQL 15 cluster (Debian's server binaries) standing in for the scalelite-postgres
 * container's server: initdb in a temporary directory owned by the postgres user (the server refuses
 * to run as root), listening on a Unix socket in that directory only (no TCP port), trust
 * authentication, as the container's local socket is. test/backup/bin/docker points the client
 * programs of `docker exec scalelite-postgres ...` at its socket (BACKUP_TEST_PGHOST).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

export interface PgCluster {
  /** The socket directory (PGHOST). */
  socketDir: string;
  /** Runs SQL as the superuser on a database; returns psql's unaligned, tuples-only output. */
  sql(database: string, sql: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export const postgresAvailable = (): boolean => existsSync(`${BIN}/initdb`) && existsSync(`${BIN}/pg_ctl`);

/**
 * Runs a server program as the postgres user. Asynchronous: initdb and pg_ctl take seconds on a busy
 * machine, and the backup scenarios that run beside this one must not stall meanwhile.
 */
function asPostgres(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8" }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${args[0]} failed: ${error.message} ${stderr}`)) : resolve(),
    ),
  );
}

let template: Promise<string> | undefined;

/** A postgres-owned 0755 temporary directory the server can reach. */
function postgresDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pg-"));
  chmodSync(dir, 0o755);
  const uid = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
  const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
  chownSync(dir, Number(uid), Number(gid));
  return dir;
}

/**
 * One initdb per test process: each cluster starts from a copy of its data directory (`cp -a` keeps the
 * owner and modes initdb gave). An initdb cost about 1.5 s of CPU, a copy 0.3 s.
 */
function templateData(): Promise<string> {
  template ??= (async () => {
    const data = path.join(postgresDir(), "data");
    await asPostgres([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    return data;
  })();
  return template;
}

/** Removes the data directory the clusters were copied from (a test file's afterAll). */
export async function removeTemplate(): Promise<void> {
  if (template) rmSync(path.dirname(await template), { recursive: true, force: true });
  template = undefined;
}

export async function createCluster(): Promise<PgCluster> {
  const dir = postgresDir();
  const data = path.join(dir, "data");
  const source = await templateData();
  await new Promise<void>((resolve, reject) => execFile("cp", ["-a", source, data], (error) => (error ? reject(error) : resolve())));
  const options = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c fsync=off`;
  const cluster: PgCluster = {
    socketDir: dir,
    sql: (database, sql) =>
      execFileSync(`${BIN}/psql`, ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", dir, "-U", "postgres", "-d", database, "-c", sql], {
        encoding: "utf8",
      }).trim(),
    start: () => asPostgres([`${BIN}/pg_ctl`, "-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]),
    stop: () => asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]),
    destroy: async () => {
      await cluster.stop().catch(() => undefined); // already stopped
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
