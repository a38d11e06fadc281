/**
 * The nginx server block that serves the BigBlueButton exporter with TLS and the scrape login
 * (components/monitoring/renderBbbExporterProxy.ts), run by the real nginx of Debian 12 in a temporary
 * prefix: `nginx -t` accepts it, and on loopback it proxies to a small listener standing in for the exporter
 * (127.0.0.1, plain HTTP, as greenstatic's exporter serves), while the real Prometheus scrapes it with the
 * `bbb` job of the fronts' rendered prometheus.yml. Only the listen and upstream ports (free ones on
 * loopback) and the file paths (under the prefix) are changed from what a node gets.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MONITORING_PORTS } from "../../components/monitoring/monitoringLayout";
import { renderBbbExporterNginx, renderHtpasswd } from "../../components/monitoring/renderBbbExporterProxy";
import { renderPrometheusYml } from "../../components/monitoring/renderPrometheusYml";
import { freePort } from "../support/sshd";
import { monitoringCerts, SCRAPE_HASH, SCRAPE_PASSWORD } from "../support/monitoringCerts";
import { BINARIES, instantQuery, pollUntil, Stack } from "../support/monitoringStack";

const NGINX = "/usr/sbin/nginx";
const run = promisify(execFile);
const has = (program: string, args: string[]) => spawnSync(program, args, { encoding: "utf8" }).status === 0;
const nginx = has(NGINX, ["-v"]);
const prometheus = has(BINARIES.prometheus, ["--version"]);
if (!nginx) process.stderr.write("bbbExporterProxy: SKIPPED, nginx is not installed\n");

const NODE = "bbb1.campus.example";
const PASSWORD = SCRAPE_PASSWORD;
const HASH = SCRAPE_HASH;

const stack = new Stack();
let upstream: Server | undefined;
afterAll(async () => {
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
  await stack.stop();
});

const readLog = (dir: string) => (existsSync(`${dir}/logs/error.log`) ? readFileSync(`${dir}/logs/error.log`, "utf8").slice(-500) : "");

/** The campus CA and NODE's certificate, as paths. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const c = monitoringCerts(dir, NODE, "127.0.0.1");
  return { ca: c.caPath, cert: c.certPath, key: c.keyPath };
}

/** An nginx prefix holding the rendered server block (ports moved to `listen` and `upstreamPort`) and a minimal nginx.conf including it as Ubuntu's includes conf.d. */
function prefix(listen?: number, upstreamPort?: number): { dir: string; conf: string; ca: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-nginx-"));
  mkdirSync(path.join(dir, "conf.d"));
  mkdirSync(path.join(dir, "logs"));
  const c = certificates(dir);
  const htpasswd = path.join(dir, "htpasswd");
  writeFileSync(htpasswd, renderHtpasswd(HASH));
  // On a node 0640 root:www-data in /etc/nginx; here the workers run as the build's default user, who must reach it too.
  chmodSync(dir, 0o755);
  chmodSync(htpasswd, 0o644);
  let site = renderBbbExporterNginx({ cert: c.cert, key: c.key, htpasswd });
  if (listen) site = site.replace(`listen ${MONITORING_PORTS.bbbExporterTls} ssl;`, `listen 127.0.0.1:${listen} ssl;`);
  if (upstreamPort) site = site.replace(`127.0.0.1:${MONITORING_PORTS.bbbExporter};`, `127.0.0.1:${upstreamPort};`);
  writeFileSync(path.join(dir, "conf.d/bbb-ovh-exporter.conf"), site);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};`).join("\n");
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(conf, `pid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\nevents {}\nhttp {\n${temp}\n  include ${dir}/conf.d/*.conf;\n}\n`);
  return { dir, conf, ca: c.ca };
}

describe("the BigBlueButton exporter behind nginx", () => {
  it("renders a server block on its own port, TLS with the host's certificate, the scrape login, the exporter on loopback", () => {
    const site = renderBbbExporterNginx();
    expect(site).toContain("listen 9689 ssl;");
    expect(site).not.toMatch(/listen \[::\]/);
    expect(site).toContain("ssl_certificate /etc/bbb-ovh/monitoring/exporter.pem;");
    expect(site).toContain("auth_basic_user_file /etc/nginx/bbb-ovh-exporter.htpasswd;");
    expect(site).toContain("proxy_pass http://127.0.0.1:9688;");
    expect(renderHtpasswd(HASH)).toBe(`prometheus:${HASH}\n`);
    expect(() => renderHtpasswd("plain")).toThrow(/htpasswd: the scrape password's hash is not a bcrypt hash/);
  });

  it.skipIf(!nginx)("is accepted by the real nginx -t", () => {
    const p = prefix();
    const r = spawnSync(NGINX, ["-t", "-p", p.dir, "-c", p.conf], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("syntax is ok");
  });

  it.skipIf(!nginx || !prometheus)(
    "serves the exporter's metrics over TLS to the scrape login only, and the real Prometheus scrapes them with the fronts' bbb job",
    async ({ signal }) => {
      const [upstreamPort, nginxPort, promPort] = [await freePort(), await freePort(), await freePort()];
      upstream = createServer((req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end(`# TYPE bbb_api_up gauge\nbbb_api_up 1\n# path ${req.url}\n`);
      }).listen(upstreamPort, "127.0.0.1");
      const p = prefix(nginxPort, upstreamPort);
      stack.start("nginx", NGINX, ["-p", p.dir, "-c", p.conf, "-g", "daemon off;"]);
      // curl runs beside this process (never spawnSync): the listener nginx proxies to answers from this event loop.
      const curl = async (...args: string[]) =>
        (
          await run(
            "/usr/bin/curl",
            ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--resolve", `${NODE}:${nginxPort}:127.0.0.1`, "--cacert", p.ca, ...args],
            {
              encoding: "utf8",
            },
          ).catch((e: { stdout: string }) => e)
        ).stdout;
      const url = (pathname: string) => `https://${NODE}:${nginxPort}${pathname}`;
      let last = "";
      await pollUntil(
        async () => (last = await curl("-u", `prometheus:${PASSWORD}`, url("/metrics"))) === "200",
        signal,
        () => `nginx serving the exporter (last answer ${last}; nginx: ${readLog(p.dir)})`,
      );
      expect(await curl(url("/metrics"))).toBe("401");
      expect(await curl("-u", "prometheus:wrong", url("/metrics"))).toBe("401");
      expect(await curl("-u", `prometheus:${PASSWORD}`, url("/"))).toBe("404");
      // Plain HTTP on the TLS port is refused by nginx (its 400 "plain HTTP request was sent to HTTPS port").
      expect(
        (await run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${nginxPort}/metrics`], { encoding: "utf8" })).stdout,
      ).toBe("400");

      // The fronts' bbb job as rendered, its target and files moved to this loopback test.
      const rendered = parse(
        renderPrometheusYml({
          campusId: "campus",
          self: "visio.campus.example",
          hosts: [
            { fqdn: "visio.campus.example", role: "front", address: "192.0.2.1" },
            { fqdn: NODE, role: "node", address: "127.0.0.1" },
          ],
          serviceFqdn: "visio.campus.example",
        }),
      );
      const job = rendered.scrape_configs.find((j: { job_name: string }) => j.job_name === "bbb");
      // Scraped at the node's address, checked against the address in its certificate (no server_name).
      expect(job.static_configs[0].targets).toEqual([`127.0.0.1:${MONITORING_PORTS.bbbExporterTls}`]);
      expect(job.tls_config.server_name).toBeUndefined();
      const passwordFile = path.join(p.dir, "scrape-password");
      writeFileSync(passwordFile, PASSWORD);
      stack.startPrometheus(promPort, {
        global: { scrape_interval: "1s" },
        scrape_configs: [
          {
            ...job,
            static_configs: [{ ...job.static_configs[0], targets: [`127.0.0.1:${nginxPort}`] }],
            tls_config: { ...job.tls_config, ca_file: p.ca },
            basic_auth: { ...job.basic_auth, password_file: passwordFile },
          },
        ],
      });
      const promUrl = `http://127.0.0.1:${promPort}`;
      await pollUntil(
        async () => (await instantQuery(promUrl, 'bbb_api_up{job="bbb"}').catch(() => [])).length > 0,
        signal,
        () => "Prometheus scraping bbb_api_up through nginx",
      );
      expect(await instantQuery(promUrl, 'up{job="bbb"}')).toEqual([expect.objectContaining({ value: [expect.any(Number), "1"] })]);
      expect((await instantQuery(promUrl, "bbb_api_up"))[0].metric).toMatchObject({ job: "bbb", host: NODE, role: "node" });
    },
  );
});
