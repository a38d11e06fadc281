/**
 * A throwaway PostgreSQL 15 cluster (Debian's server binaries) standing in for the scalelite-postgres
 * container's server: initdb in a temporary directory owned by the postgres user (the server refuses
 * to run as root), listening on a Unix socket in that directory only (no TCP port), trust
 * authentication, as the container's local socket is. test/backup/bin/docker points the client
 * programs of `docker exec scalelite-postgres ...` at its socket (BACKUP_TEST_PGHOST).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

export interface PgCluster {
  /** The socket directory (PGHOST). */
  socketDir: string;
  /** Runs SQL as the superuser on a database; returns psql's unaligned, tuples-only output. */
  sql(database: string, sql: string): string;
  start(): void;
  stop(): void;
  destroy(): void;
}

export const postgresAvailable = (): boolean => existsSync(`${BIN}/initdb`) && existsSync(`${BIN}/pg_ctl`);

function asPostgres(args: string[]): string {
  return execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function createCluster(): PgCluster {
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pg-"));
  chmodSync(dir, 0o755);
  const ids = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
  const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
  chownSync(dir, Number(ids), Number(gid));
  const data = path.join(dir, "data");
  asPostgres([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const options = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c fsync=off`;
  const cluster: PgCluster = {
    socketDir: dir,
    sql: (database, sql) =>
      execFileSync(`${BIN}/psql`, ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", dir, "-U", "postgres", "-d", database, "-c", sql], {
        encoding: "utf8",
      }).trim(),
    start: () => {
      asPostgres([`${BIN}/pg_ctl`, "-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
    },
    stop: () => {
      asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]);
    },
    destroy: () => {
      try {
        cluster.stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  return cluster;
}
