/**
 * A throwaway PostgreSQL 15 cluster (Debian's postgresql-15 binaries) on a loopback port, run as the
 * postgres user, for tests that need Scalelite's real database (ActiveRecord over ruby-pg).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./sshd";

export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
export const postgresInstalled = (): boolean => existsSync(`${POSTGRES_BIN}/initdb`) && existsSync(`${POSTGRES_BIN}/pg_ctl`);

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/DATABASE (local trust: a test cluster, loopback only). */
  url(database: string): string;
  sql(sql: string, database?: string): string;
  stop(): void;
}

export async function startPostgres(databases: string[] = []): Promise<Postgres> {
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-pg-"));
  // The server runs as postgres: it must reach its data and socket directories.
  chmodSync(dir, 0o755);
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
  const data = path.join(dir, "data");
  mkdirSync(data, { mode: 0o700 });
  chownSync(data, uid, gid);
  chownSync(dir, uid, gid);
  const asPostgres = (args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  asPostgres([`${POSTGRES_BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off`;
  asPostgres([`${POSTGRES_BIN}/pg_ctl`, "-D", data, "-o", options, "-l", path.join(dir, "server.log"), "-w", "start"]);
  const sql = (statement: string, database = "postgres") =>
    execFileSync(
      `${POSTGRES_BIN}/psql`,
      ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", String(port), "-U", "postgres", "-d", database, "-c", statement],
      { encoding: "utf8" },
    ).trim();
  for (const name of databases) sql(`CREATE DATABASE ${name}`);
  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    sql,
    stop() {
      try {
        asPostgres([`${POSTGRES_BIN}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
