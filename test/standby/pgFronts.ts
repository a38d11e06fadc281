/**
 * Two fronts with real databases, for the replication and failover drills: each a loopback test host
 * (real sshd) whose DATA_DIR/postgres holds a real PostgreSQL 15 cluster (Debian's binaries) standing in
 * for its scalelite-postgres container (test/standby/bin/docker and systemctl name exactly which calls
 * they model), and the CA and server certificate Pulumi's @pulumi/tls makes for the fronts' addresses.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StepInputs } from "../../components/remote/invocation";
import { FAKE_BIN, freePort, startTestHost, type TestHost } from "../support/sshd";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
const STANDBY_BIN = path.resolve(__dirname, "bin");
export const pgReady = existsSync(`${PG_BIN}/initdb`) && existsSync(`${PG_BIN}/pg_basebackup`);
export const REPLICATION_PASSWORD = "Repl1cat1onPassw0rdForTests";
export const DATA_DIR = "/var/lib/scalelite";
export const LOCKED_POSTGRES = `postgres:16@sha256:${"5".repeat(64)}`;

export interface PgFront {
  host: TestHost;
  port: number;
  socket: string;
  data: string;
  sql(sql: string, database?: string): string;
  /** Stops the server at once, as a power cut would (no shutdown checkpoint sent to the standby). */
  crash(): void;
  /** Starts it again, as the machine coming back would. */
  start(): void;
  /** Its server rebuilt: the old data directory gone with the disk, a new, empty cluster started as the image initialises one. */
  rebuild(): void;
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  caFile: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

export class PgFronts {
  readonly scratch = mkdtempSync(path.join(tmpdir(), "bbb-ovh-standby-"));
  private readonly fronts: PgFront[] = [];

  constructor() {
    // The servers run as postgres: they must reach their socket directories in here.
    chmodSync(this.scratch, 0o755);
  }

  private ids() {
    return {
      uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })),
      gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })),
    };
  }

  asPostgres(args: string[]): string {
    return execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /**
   * A front: a test host whose DATA_DIR/postgres holds a cluster initialised as the image does (local trust,
   * scram over TCP), listening on `listen` (loopback addresses standing for the front's public ones).
   */
  async front(
    name: string,
    { listen = ["127.0.0.1"], env = {}, extraAuthorizedKeys }: { listen?: string[]; env?: Record<string, string>; extraAuthorizedKeys?: string[] } = {},
  ): Promise<PgFront> {
    // PostgreSQL binds it again each time a test or the fake systemctl starts it.
    const port = await freePort();
    const socket = path.join(this.scratch, `${name}-sock`);
    mkdirSync(socket);
    const { uid, gid } = this.ids();
    chownSync(socket, uid, gid);
    const options = `-c listen_addresses=${listen.join(",")} -c port=${port} -c unix_socket_directories=${socket} -c fsync=off`;
    const host = await startTestHost({
      fqdn: `${name}.campus.example`,
      extraAuthorizedKeys,
      env: {
        PATH: `${STANDBY_BIN}:${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
        STANDBY_TEST_PGPORT: String(port),
        STANDBY_TEST_PGSOCK: socket,
        STANDBY_TEST_PGOPTS: options,
        ...env,
      },
    });
    // The server runs as postgres: it must reach the data directory under the host's root.
    for (let dir = host.root; dir !== path.dirname(dir) && dir.startsWith(tmpdir()) && dir !== tmpdir(); dir = path.dirname(dir)) chmodSync(dir, 0o755);
    const data = path.join(host.root, DATA_DIR.slice(1), "postgres");
    mkdirSync(path.dirname(data), { recursive: true });
    const init = () => {
      mkdirSync(data, { mode: 0o700 });
      chownSync(data, uid, gid);
      this.asPostgres([`${PG_BIN}/initdb`, "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"]);
    };
    init();
    // What scalelite-docker.sh leaves: the unit (the fake systemctl needs it to exist) and the image's digest lock.
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-postgres.service"), "[Unit]\n");
    mkdirSync(path.join(host.root, "var/lib/bbb-ovh"), { recursive: true });
    writeFileSync(path.join(host.root, "var/lib/bbb-ovh/image-lock"), `${LOCKED_POSTGRES}\n`);
    const start = () => void this.asPostgres([`${PG_BIN}/pg_ctl`, "-D", data, "-o", options, "-l", path.join(socket, "server.log"), "-w", "start"]);
    start();
    const crash = () => this.asPostgres([`${PG_BIN}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]);
    const f: PgFront = {
      start,
      rebuild: () => {
        if (existsSync(path.join(data, "postmaster.pid"))) crash();
        rmSync(data, { recursive: true, force: true });
        init();
        start();
      },
      host,
      port,
      socket,
      data,
      sql: (sql, database = "postgres") =>
        execFileSync(
          `${PG_BIN}/psql`,
          ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", socket, "-p", String(port), "-U", "postgres", "-d", database, "-c", sql],
          { encoding: "utf8" },
        ).trim(),
      crash,
    };
    this.fronts.push(f);
    return f;
  }

  /** What Pulumi's @pulumi/tls makes: a CA, and a server certificate it signs for the fronts' addresses. */
  certificates(addresses: string[] = ["127.0.0.1"]): TlsFiles {
    const dir = path.join(this.scratch, "tls");
    mkdirSync(dir);
    const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bbb-ovh replication CA"]);
    openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=scalelite-postgres"]);
    writeFileSync(path.join(dir, "san.ext"), `subjectAltName=${addresses.map((a) => `IP:${a}`).join(",")}\n`);
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
    return { ca: read("ca.crt"), cert: read("server.crt"), key: read("server.key"), caFile: path.join(dir, "ca.crt") };
  }

  /** The inputs of scalelite-replication-primary.sh and -standby.sh, as the Pulumi program gives them. */
  static primaryInputs(tls: TlsFiles, standbyAddresses: string): StepInputs {
    return { DATA_DIR, STANDBY_ADDRESSES: standbyAddresses, REPLICATION_PASSWORD, TLS_CERT_B64: b64(tls.cert), TLS_KEY_B64: b64(tls.key) };
  }

  static standbyInputs(tls: TlsFiles, primary: PgFront, primaryAddress = "127.0.0.1"): StepInputs {
    return {
      DATA_DIR,
      POSTGRES_IMAGE: "postgres:16",
      PRIMARY_ADDRESS: primaryAddress,
      PRIMARY_PORT: String(primary.port),
      REPLICATION_PASSWORD,
      CA_CERT_B64: b64(tls.ca),
    };
  }

  async stop(): Promise<void> {
    for (const f of this.fronts) {
      try {
        f.crash();
      } catch {
        // already stopped
      }
      await f.host.stop();
    }
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** Polls until `check` holds: replication is asynchronous. */
export async function until(what: string, check: () => boolean, seconds = 60): Promise<void> {
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
