/**
 * A monitoring stack of real programs on loopback for the dashboard and drill tests: Debian's
 * prometheus (2.42), prometheus-node-exporter (with its textfile collector), prometheus-blackbox-exporter,
 * prometheus-alertmanager, and the pinned bigbluebutton-exporter (Python, with Debian's python3-requests,
 * python3-xmltodict and python3-prometheus-client). Job names and labels follow the front's prometheus.yml
 * (job node with honor_labels, bbb, bbb_api; `host` on every target), without its TLS and basic auth,
 * which are not what these tests are about. Every process is stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { BBB_EXPORTER, renderBbbExporterSettings } from "../../components/bbb/bbbExporter";

/** Debian's Python, whose packages the exporter uses (as Ubuntu's does on a node: the unit runs /usr/bin/python3). */
export const PYTHON = "/usr/bin/python3";

export const BINARIES = {
  prometheus: "/usr/bin/prometheus",
  nodeExporter: "/usr/bin/prometheus-node-exporter",
  blackbox: "/usr/bin/prometheus-blackbox-exporter",
  alertmanager: "/usr/bin/prometheus-alertmanager",
};

/** What is missing on this machine for the real stack (the tests skip loudly naming it). */
export function missingPrograms(extra: string[] = []): string[] {
  const missing = Object.values(BINARIES).filter((b) => !existsSync(b));
  for (const module of ["requests", "xmltodict", "prometheus_client", ...extra]) {
    if (spawnSync(PYTHON, ["-c", `import ${module}`]).status !== 0) missing.push(`${PYTHON} module ${module}`);
  }
  if (spawnSync("unshare", ["-m", "true"]).status !== 0)
    missing.push("unshare -m (root): the exporter reads /var/bigbluebutton, given to it in its own mount namespace");
  return missing;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Proc {
  name: string;
  child: ChildProcess;
  log: () => string;
}

export class Stack {
  readonly dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-monitoring-"));
  private procs: Proc[] = [];

  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    let log = "";
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const proc = { name, child, log: () => log };
    this.procs.push(proc);
    return proc;
  }

  /** SIGTERM to the process group of one process we started (the exporter runs under unshare). */
  kill(proc: Proc): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => proc.child.once("exit", () => resolve()));
    process.kill(-proc.child.pid!, "SIGTERM");
    return exited;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => this.kill(p)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * The pinned bigbluebutton-exporter (server.py of `tree`) against `apiUrl`, with the settings our nodes
   * get (renderBbbExporterSettings) but on loopback; `bbbDir` is what it sees as /var/bigbluebutton. The
   * secret goes through its environment, never argv.
   */
  startBbbExporter(tree: string, apiUrl: string, secret: string, bbbDir: string, port: number): Proc {
    const settings = Object.fromEntries(
      renderBbbExporterSettings(`${apiUrl}/`, secret)
        .trimEnd()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const script = 'mount -t tmpfs none /var && mkdir /var/bigbluebutton && mount --bind "$BBB_DIR" /var/bigbluebutton && exec "$PYTHON" "$SERVER"';
    return this.start("bigbluebutton-exporter", "unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
      ...settings,
      BIND_IP: "127.0.0.1",
      PORT: String(port),
      BBB_DIR: bbbDir,
      PYTHON,
      SERVER: path.join(tree, "bbb-exporter/server.py"),
    });
  }

  startNodeExporter(port: number, textfileDir: string): Proc {
    return this.start("node_exporter", BINARIES.nodeExporter, [`--web.listen-address=127.0.0.1:${port}`, `--collector.textfile.directory=${textfileDir}`]);
  }

  /** blackbox_exporter with an http module that wants BigBlueButton's SUCCESS answer (plain HTTP on loopback). */
  startBlackbox(port: number): Proc {
    const config = path.join(this.dir, "blackbox.yml");
    writeFileSync(
      config,
      stringify({ modules: { bbb_api: { prober: "http", timeout: "2s", http: { fail_if_body_not_matches_regexp: ["<returncode>SUCCESS</returncode>"] } } } }),
    );
    return this.start("blackbox_exporter", BINARIES.blackbox, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`]);
  }

  startPrometheus(port: number, config: object): Proc {
    const file = path.join(this.dir, "prometheus.yml");
    writeFileSync(file, stringify(config));
    const data = path.join(this.dir, "prometheus-data");
    mkdirSync(data, { recursive: true });
    return this.start("prometheus", BINARIES.prometheus, [`--config.file=${file}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`]);
  }

  startAlertmanager(port: number, clusterPort: number, config: object): Proc {
    const file = path.join(this.dir, "alertmanager.yml");
    writeFileSync(file, stringify(config));
    const data = path.join(this.dir, "alertmanager-data");
    mkdirSync(data, { recursive: true });
    return this.start("alertmanager", BINARIES.alertmanager, [
      `--config.file=${file}`,
      `--storage.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--cluster.listen-address=127.0.0.1:${clusterPort}`,
    ]);
  }
}

/** The scrape jobs the rules and dashboards read, for one node (`node`) and one front (`front`). */
export function scrapeJobs(a: { node: string; front: string; nodeExporter: number; bbbExporter: number; blackbox: number; apiUrl: string }): object[] {
  return [
    {
      job_name: "node",
      honor_labels: true,
      static_configs: [
        { targets: [`127.0.0.1:${a.nodeExporter}`], labels: { host: a.front, role: "front" } },
        // The same node_exporter stands for the node too: the label set differs, so these are two targets.
        { targets: [`127.0.0.1:${a.nodeExporter}`], labels: { host: a.node, role: "node" } },
      ],
    },
    { job_name: "bbb", static_configs: [{ targets: [`127.0.0.1:${a.bbbExporter}`], labels: { host: a.node, role: "node" } }] },
    {
      job_name: "bbb_api",
      metrics_path: "/probe",
      params: { module: ["bbb_api"] },
      static_configs: [{ targets: [a.apiUrl], labels: { host: a.node } }],
      relabel_configs: [
        { source_labels: ["__address__"], target_label: "__param_target" },
        { source_labels: ["__param_target"], target_label: "instance" },
        { target_label: "__address__", replacement: `127.0.0.1:${a.blackbox}` },
      ],
    },
  ];
}

export const EXPORTER_PORT = BBB_EXPORTER.port;

/** Prometheus's HTTP API: an instant query's result vector. */
export async function instantQuery(promUrl: string, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== "success") throw new Error(`query ${expr}: ${body.error}`);
  return body.data!.result;
}

/** Polls an asynchronous condition until it holds; the test's budget bounds it (as waitUntil does). */
export async function pollUntil(condition: () => Promise<boolean>, signal: AbortSignal, what: () => string, intervalMs = 100): Promise<void> {
  while (!(await condition())) {
    if (signal.aborted) throw new Error(`stopped waiting for ${what()}: the test ended`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The text a metrics endpoint answers, or undefined when it does not. */
export async function scrape(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The value of an unlabelled sample `name` in exposition text. */
export function sample(text: string | undefined, name: string): number | undefined {
  const m = text?.match(new RegExp(`^${name} (\\S+)$`, "m"));
  return m ? Number(m[1]) : undefined;
}
