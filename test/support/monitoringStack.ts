/**
 * A monitoring stack of real programs on loopback for the dashboard and drill tests: Debian's
 * prometheus (2.42), prometheus-node-exporter (with its textfile collector), prometheus-blackbox-exporter,
 * prometheus-alertmanager, and the pinned bigbluebutton-exporter (Python, with Debian's python3-requests,
 * python3-xmltodict and python3-prometheus-client). Job names and labels follow the front's prometheus.yml
 * (job node with honor_labels, bbb, bbb_api; `host` on every target), without its TLS and basic auth,
 * which are not what these tests are about. Every process is stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { BBB_EXPORTER, renderBbbExporterSettings } from "../../components/bbb/bbbExporter";
import { startBbbApiServer, type BbbApiServer } from "./bbbApiServer";
import { freePort } from "./sshd";
import { waitingFor } from "./waitUntil";

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
export function scrapeJobs(a: {
  node: string;
  front: string;
  frontNodeExporter: number;
  nodeNodeExporter: number;
  bbbExporter: number;
  blackbox: number;
  apiUrl: string;
}): object[] {
  return [
    {
      job_name: "node",
      honor_labels: true,
      static_configs: [
        { targets: [`127.0.0.1:${a.frontNodeExporter}`], labels: { host: a.front, role: "front" } },
        { targets: [`127.0.0.1:${a.nodeNodeExporter}`], labels: { host: a.node, role: "node" } },
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
  // Bounded: a query answers in milliseconds, and a server that accepts and never answers would otherwise
  // hold the poll until the test's budget ends (undici waits 300 s for headers).
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let body: { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`query ${expr}: ${promUrl} answered ${response.status} with no JSON (is it Prometheus?): ${text.slice(0, 200)}`);
  }
  if (body.status !== "success") throw new Error(`query ${expr}: ${body.error}`);
  return body.data!.result;
}

/** Polls an asynchronous condition until it holds; the test's budget bounds it (as waitUntil does). */
export async function pollUntil(condition: () => Promise<boolean>, signal: AbortSignal, what: () => string, intervalMs = 100): Promise<void> {
  await waitingFor(what, signal, async () => {
    while (!(await condition())) {
      if (signal.aborted) throw new Error(`stopped waiting for ${what()}: the test ended`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  });
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

/**
 * The front's own metrics (Scalelite, backup, plan, voucher), as a node_exporter textfile with the names
 * and labels scripts/monitoring/rules.yml reads. It stands in for our Scalelite exporter
 * (scripts/scalelite-metrics.sh, tested on its own in test/monitoring/scaleliteMetrics.test.ts) so that the
 * rules and dashboards can be exercised on real Prometheus: the spool figures come from the real files in
 * `spoolDir` (their count and the oldest mtime), the rest are a healthy campus's values.
 */
export function renderFrontTextfile(a: { front: string; node: string; spoolDir: string; nowSeconds: number }): string {
  const archives = readdirSync(a.spoolDir).filter((f) => f.endsWith(".tar"));
  const oldest = archives.reduce((min, f) => Math.min(min, statSync(path.join(a.spoolDir, f)).mtimeMs / 1000), a.nowSeconds);
  const front = `host="${a.front}"`;
  const node = `host="${a.node}"`;
  const now = a.nowSeconds;
  return [
    `scalelite_up{${front}} 1`,
    `scalelite_metrics_last_run_timestamp_seconds{${front}} ${now}`,
    `scalelite_server_enabled{${node}} 1`,
    `scalelite_server_online{${node}} 1`,
    `scalelite_server_users{${node}} 8`,
    `scalelite_spool_archives{${front}} ${archives.length}`,
    `scalelite_spool_oldest_archive_age_seconds{${front}} ${Math.round(now - oldest)}`,
    `scalelite_importer_up{${front}} 1`,
    `scalelite_importer_failures_total{${front}} 0`,
    `scalelite_importer_last_progress_timestamp_seconds{${front}} ${now}`,
    `bbb_ovh_backup_last_success_timestamp_seconds{${front}} ${now - 3600}`,
    `bbb_ovh_backup_max_age_seconds{${front}} ${26 * 3600}`,
    `bbb_ovh_node_capacity_users{${node}} 120`,
    `bbb_ovh_node_expected_awake{${node}} 1`,
    `bbb_ovh_recordings_copy_last_success_timestamp_seconds{${front}} ${now - 60}`,
    `bbb_ovh_credit_runs_out_timestamp_seconds{${front}} ${now + 200 * 86400}`,
    `bbb_ovh_credit_estimate_timestamp_seconds{${front}} ${now - 300}`,
    `bbb_ovh_term_end_timestamp_seconds{${front}} ${now + 120 * 86400}`,
    "",
  ].join("\n");
}

/** Writes `content` as textfile `name` atomically (node_exporter must never read half a file). */
export function writeTextfile(dir: string, name: string, content: string): void {
  const tmp = path.join(dir, `.${name}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, path.join(dir, `${name}.prom`));
}

export const RULES_FILE = path.resolve(__dirname, "../../scripts/monitoring/rules.yml");

export interface Campus {
  stack: Stack;
  peer: BbbApiServer;
  exporter: Proc;
  prometheus: Proc;
  promUrl: string;
  /** The rules file Prometheus loaded. */
  rulesFile: string;
  node: string;
  front: string;
  campus: string;
  spoolDir: string;
  textfileDir: string;
  /** Rewrites the front's textfile from the spool as it is now. */
  refreshTextfile(): void;
}

/**
 * One node (the fake BBB API + the real exporter) and one front (node_exporter with the textfile,
 * blackbox, Prometheus with rules.yml) on loopback; `intervalSeconds` for scrapes and rule evaluation,
 * `rulesFor` to shorten some rules' `for` (rulesWithFor).
 */
export async function startCampus(
  tree: string,
  options: { intervalSeconds: number; alertmanagerPort?: number; signal: AbortSignal; rulesFor?: Record<string, string> },
): Promise<Campus> {
  const stack = new Stack();
  const secret = randomBytes(20).toString("hex");
  const peer = await startBbbApiServer({ secret });
  peer.seedMeeting("lesson-a", 3);
  peer.seedMeeting("lesson-b", 5);
  const bbbDir = path.join(stack.dir, "var-bigbluebutton");
  mkdirSync(path.join(bbbDir, "recording/status/sanity"), { recursive: true });
  writeFileSync(path.join(bbbDir, "recording/status/sanity", "rec-1.done"), "");
  mkdirSync(path.join(bbbDir, "published/presentation/rec-0"), { recursive: true });
  mkdirSync(path.join(bbbDir, "recording/process/presentation/rec-2"), { recursive: true });
  const spoolDir = path.join(stack.dir, "spool");
  const textfileDir = path.join(stack.dir, "textfile");
  mkdirSync(spoolDir);
  mkdirSync(textfileDir);
  const names = { node: "bbb1.campus.test", front: "lb.campus.test", campus: "drill" };
  const refreshTextfile = () =>
    writeTextfile(textfileDir, "bbb_ovh_front", renderFrontTextfile({ ...names, spoolDir, nowSeconds: Math.floor(Date.now() / 1000) }));
  refreshTextfile();
  const [exporterPort, frontNodeExporter, nodeNodeExporter, blackboxPort, promPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const exporter = stack.startBbbExporter(tree, peer.apiUrl, secret, bbbDir, exporterPort);
  // Only the front's node_exporter has our textfile metrics, as on a campus; the node's has none.
  stack.startNodeExporter(frontNodeExporter, textfileDir);
  const nodeTextfiles = path.join(stack.dir, "node-textfile");
  mkdirSync(nodeTextfiles);
  stack.startNodeExporter(nodeNodeExporter, nodeTextfiles);
  stack.startBlackbox(blackboxPort);
  const interval = `${options.intervalSeconds}s`;
  const rulesFile = options.rulesFor ? rulesWithFor(stack.dir, options.rulesFor) : RULES_FILE;
  const prometheus = stack.startPrometheus(promPort, {
    global: { scrape_interval: interval, evaluation_interval: interval, external_labels: { campus: names.campus } },
    rule_files: [rulesFile],
    ...(options.alertmanagerPort ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${options.alertmanagerPort}`] }] }] } } : {}),
    scrape_configs: scrapeJobs({ ...names, frontNodeExporter, nodeNodeExporter, bbbExporter: exporterPort, blackbox: blackboxPort, apiUrl: peer.apiUrl }),
  });
  const promUrl = `http://127.0.0.1:${promPort}`;
  await pollUntil(
    async () => {
      if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited: ${prometheus.log()}`);
      // Prometheus's own answer, not any server's 200 on that port.
      return (await scrape(`${promUrl}/-/ready`))?.includes("Prometheus Server is Ready") === true;
    },
    options.signal,
    () => `prometheus ready: ${prometheus.log()}`,
  );
  return { stack, peer, exporter, prometheus, promUrl, rulesFile, ...names, spoolDir, textfileDir, refreshTextfile };
}

/** The samples of an exposition, keyed by `name{labels}` as the exporter prints them. */
export function samples(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * The rules pack as it is but for the `for` of each alert in `fors` (alert -> duration such as "15s"), written
 * into `dir`; returns the file. Each rule's own `for` is promtool's to test, in simulated time
 * (rules.promtest.yml): a test on real programs needs only the chain that follows it.
 */
export function rulesWithFor(dir: string, fors: Record<string, string>): string {
  const rules = parse(readFileSync(RULES_FILE, "utf8")) as { groups: Array<{ rules: Array<{ alert?: string; for?: string }> }> };
  for (const [alert, duration] of Object.entries(fors)) {
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    if (!rule) throw new Error(`no rule ${alert} in ${RULES_FILE}`);
    rule.for = duration;
  }
  const file = path.join(dir, "rules.yml");
  writeFileSync(file, stringify(rules));
  return file;
}

/** The rules pack with `alerts` firing at Prometheus's first evaluation (their `for` set to 0). */
export const rulesFiringAtOnce = (dir: string, ...alerts: string[]): string => rulesWithFor(dir, Object.fromEntries(alerts.map((a) => [a, "0s"])));

/** The alerts named `alertname` that Prometheus (its /api/v1/alerts) says fire; undefined while it does not answer. */
export async function firingAlerts(promUrl: string, alertname: string): Promise<Array<{ labels: Record<string, string> }> | undefined> {
  const response = await fetch(`${promUrl}/api/v1/alerts`).catch(() => undefined);
  if (!response?.ok) return undefined;
  const body = (await response.json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
  return body.data.alerts.filter((a) => a.labels.alertname === alertname && a.state === "firing");
}
