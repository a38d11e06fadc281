/**
 * Our Scalelite units against Scalelite's own (systemd/*.service and scalelite.target of the pinned v1.8.5
 * tree): the units scalelite-app.sh writes on a loopback test host are parsed, their `docker run` taken
 * apart, and compared field by field with upstream's after systemd's variable substitution. Where we
 * differ on purpose, the comment above DIFFERENT says how and why; anything else that differs fails.
 * Then the HSTS snippet our nginx unit mounts is loaded by a real nginx with Scalelite's own HTTPS
 * configuration (nginx/conf.d/scalelite-ssl.template), at the path the unit mounts it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64 } from "../../components/remote/invocation";
import { RECORDING_DIR } from "../../components/scalelite/recordingLayout";
import { renderEnvFiles } from "../../components/scalelite/renderEnvFile";
import { output, read } from "../support/hostState";
import { attachScalelite, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { runStep, startTestHost, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";
import { selfSignedCert } from "../support/selfSignedCert";

const tree = upstreamTree("scalelite");
const TAG = "v1.8.5";
const FQDN = "scalelite.campus.example";
const SERVICES = ["scalelite-api", "scalelite-nginx", "scalelite-poller", "scalelite-recording-importer"] as const;
/** /etc/default/scalelite as Scalelite's docs fill it, for the variables its units use. */
const UPSTREAM_ENV: Record<string, string> = {
  SCALELITE_TAG: TAG,
  SCALELITE_RECORDING_DIR: RECORDING_DIR,
  SCALELITE_NGINX_EXTRA_OPTS: "--mount type=bind,source=/etc/letsencrypt,target=/etc/nginx/ssl,readonly",
  SCALELITE_API_EXTRA_OPTS: "",
};
const HSTS_SOURCE = "/etc/bbb-ovh/scalelite-nginx/hsts.nginx";
const HSTS_TARGET = "/etc/bigbluebutton/nginx/bbb-ovh-hsts.nginx";
const HSTS_MOUNT = `type=bind,source=${HSTS_SOURCE},target=${HSTS_TARGET},readonly`;
/** Ours for Scalelite's one `/etc/letsencrypt` mount: only the certificates, not the ACME account keys. */
const CERT_MOUNTS = ["live", "archive"].map((dir) => `type=bind,source=/etc/letsencrypt/${dir},target=/etc/nginx/ssl/${dir},readonly`);
const UPSTREAM_CERT_MOUNT = "type=bind,source=/etc/letsencrypt,target=/etc/nginx/ssl,readonly";
const HAVE_NGINX = (() => {
  try {
    execFileSync("nginx", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    process.stderr.write("conformance: SKIPPED the HSTS check with nginx, nginx is not installed\n");
    return false;
  }
})();

type Unit = Record<string, string[]>;
/** A unit file as systemd reads it: "Section.Key" -> values in order (a key may repeat). */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1];
    else {
      const eq = line.indexOf("=");
      (unit[`${section}.${line.slice(0, eq)}`] ??= []).push(line.slice(eq + 1));
    }
  }
  return unit;
}

/** systemd's substitution of ${VAR} and $VAR (the latter split into words) from EnvironmentFile. */
const substitute = (line: string, env: Record<string, string>) => line.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string, b: string) => env[a ?? b] ?? "");

interface DockerRun {
  name?: string;
  network?: string;
  envFiles: string[];
  mounts: string[];
  publish: string[];
  logOpts: string[];
  stopTimeout?: string;
  rm: boolean;
  image: string;
  command: string[];
}
/** The `docker run` of an ExecStart, taken apart the way docker's CLI parses it. */
function parseDockerRun(execStart: string): DockerRun {
  const words = execStart.split(/\s+/).filter(Boolean);
  expect(words.slice(0, 2)).toEqual(["/usr/bin/docker", "run"]);
  const run: DockerRun = { envFiles: [], mounts: [], publish: [], logOpts: [], rm: false, image: "", command: [] };
  let i = 2;
  for (; i < words.length && words[i].startsWith("--"); i++) {
    const [flag, inline] = words[i].split(/=(.*)/s, 2);
    if (flag === "--rm") {
      run.rm = true;
      continue;
    }
    const value = inline ?? words[++i];
    if (flag === "--name") run.name = value;
    else if (flag === "--network") run.network = value;
    else if (flag === "--env-file") run.envFiles.push(value);
    else if (flag === "--mount") run.mounts.push(value);
    else if (flag === "--publish") run.publish.push(value);
    else if (flag === "--log-opt") run.logOpts.push(value);
    else if (flag === "--stop-timeout") run.stopTimeout = value;
    else throw new Error(`docker run option ${flag} not understood by this test`);
  }
  run.image = words[i];
  run.command = words.slice(i + 1);
  return run;
}

/**
 * Where our units differ from Scalelite's on purpose (docs/front.md explains each to users):
 * - env-file: one per container (/etc/default/scalelite for the api, /etc/default/scalelite-<name> for
 *   the others) holding only what it reads, so the internet-facing nginx holds no secret.
 * - nginx mounts an HSTS snippet into /etc/bigbluebutton/nginx/, which Scalelite's SSL template includes.
 * - nginx gets /etc/letsencrypt/live and /etc/letsencrypt/archive (where live/ links point), not all of
 *   /etc/letsencrypt: the ACME account keys and renewal settings stay out of the internet-facing container.
 * - Restart=always (upstream: none, systemd's default `no`): a crashed container comes back by itself.
 * - `docker run --rm` and `docker rm -f` before start (upstream: kill + rm before start): same effect,
 *   no stale container. Images run by the digest locked on first pull and are pulled only when missing
 *   (upstream runs the tag, pulls on each start and prunes after): a restart neither waits on Docker Hub,
 *   nor runs other bytes, nor deletes images.
 * - No EnvironmentFile: the tag and paths are written into the units, not substituted at start.
 * - Requires=/After= docker.service and, for the api, poller and importer, the PostgreSQL and Redis units
 *   (upstream runs them outside its units); no After=remote-fs.target (recordings are not on NFS here).
 */
const DIFFERENT = ["envFiles"] as const;

describe.skipIf(!tree)("our Scalelite units against Scalelite v1.8.5's systemd units", () => {
  let h: TestHost;
  const ours = new Map<string, Unit>();
  const theirs = new Map<string, Unit>();

  let scalelite: Scalelite | undefined;

  beforeAll(async () => {
    h = await startTestHost({ fqdn: FQDN });
    // The app step asks Scalelite (db:version) through `docker exec scalelite-api bin/rake`: Scalelite's own code.
    const trees = scaleliteTrees();
    if (trees) scalelite = await attachScalelite(trees, h);
    const pg = randomBytes(16).toString("hex");
    const files = renderEnvFiles({
      fqdn: FQDN,
      secretKeyBase: randomBytes(64).toString("hex"),
      loadBalancerSecret: randomBytes(24).toString("hex"),
      checksumAlgorithms: ["SHA256", "SHA512"],
      postgresPassword: pg,
      pollIntervalSeconds: 60,
      recordings: true,
      protectedRecordings: false,
    });
    const docker = await runStep(h, "scaleliteDocker", {
      POSTGRES_IMAGE: "postgres:16",
      REDIS_IMAGE: "redis:7",
      POSTGRES_PASSWORD: pg,
      DATA_DIR: "/var/lib/scalelite",
    });
    expect(docker.code, output(docker)).toBe(0);
    const cert = await runStep(h, "scaleliteCertificate", { FQDN, EMAIL: "ops@campus.example", CHALLENGE: "http-01" });
    expect(cert.code, output(cert)).toBe(0);
    // The recording directories come from another step; only their existence matters here.
    mkdirSync(path.join(h.root, RECORDING_DIR, "published"), { recursive: true });
    const app = await runStep(h, "scaleliteApp", {
      SCALELITE_TAG: TAG,
      RECORDING_DIR,
      RECORDINGS: "true",
      ENV_FILE_B64: base64(files.api),
      ENV_NGINX_B64: base64(files.nginx),
      ENV_POLLER_B64: base64(files.poller),
      ENV_RECORDING_IMPORTER_B64: base64(files["recording-importer"] ?? ""),
    });
    expect(app.code, output(app)).toBe(0);
    for (const name of [...SERVICES.map((s) => `${s}.service`), "scalelite.target"]) {
      ours.set(name, parseUnit(read(h, `etc/systemd/system/${name}`)));
      theirs.set(name, parseUnit(readFileSync(path.join(tree as string, "systemd", name), "utf8")));
    }
  });
  afterAll(async () => {
    await Promise.all([h?.stop(), scalelite?.stop()]);
  });

  it.each(SERVICES)("%s runs the same image, name, network, ports, mounts, logs and stop timeout", (service) => {
    const mine = parseDockerRun(ours.get(`${service}.service`)?.["Service.ExecStart"]?.[0] ?? "");
    const upstream = parseDockerRun(substitute(theirs.get(`${service}.service`)?.["Service.ExecStart"]?.[0] ?? "", UPSTREAM_ENV));
    const comparable = (run: DockerRun) => {
      const mounts = run.mounts.filter((m) => m !== HSTS_MOUNT && !CERT_MOUNTS.includes(m) && m !== UPSTREAM_CERT_MOUNT);
      // Ours runs the tag by the digest locked on first pull (docs/front.md, Images by digest).
      const copy: Partial<DockerRun> = {
        ...run,
        image: run.image.replace(/@sha256:[0-9a-f]{64}$/, ""),
        mounts: mounts.sort(),
        publish: [...run.publish].sort(),
        rm: undefined,
      };
      for (const key of DIFFERENT) delete copy[key];
      return copy;
    };
    expect(comparable(mine)).toEqual(comparable(upstream));
    expect(upstream.image).toBe(`blindsidenetwks/scalelite:${TAG}-${service.replace("scalelite-", "")}`);
    expect(mine.image).toMatch(new RegExp(`^${upstream.image}@sha256:[0-9a-f]{64}$`));
    // Documented differences, checked to be exactly what we say.
    expect(upstream.envFiles).toEqual(["/etc/default/scalelite"]);
    expect(mine.envFiles).toEqual([service === "scalelite-api" ? "/etc/default/scalelite" : `/etc/default/${service}`]);
    expect(mine.mounts.filter((m) => m === HSTS_MOUNT)).toHaveLength(service === "scalelite-nginx" ? 1 : 0);
    expect(mine.mounts.filter((m) => CERT_MOUNTS.includes(m))).toEqual(service === "scalelite-nginx" ? CERT_MOUNTS : []);
    expect(upstream.mounts.filter((m) => m === UPSTREAM_CERT_MOUNT)).toHaveLength(service === "scalelite-nginx" ? 1 : 0);
  });

  it.each(SERVICES)("%s has the same stop timeouts, membership of scalelite.target and start order", (service) => {
    const mine = ours.get(`${service}.service`) ?? {};
    const upstream = theirs.get(`${service}.service`) ?? {};
    expect(mine["Service.TimeoutStopSec"]).toEqual(upstream["Service.TimeoutStopSec"]);
    expect(mine["Unit.PartOf"]).toEqual(upstream["Unit.PartOf"]);
    expect(mine["Unit.Before"]).toEqual(upstream["Unit.Before"]);
    expect(mine["Install.WantedBy"]).toEqual(upstream["Install.WantedBy"]);
    expect(mine["Unit.Wants"]).toEqual(upstream["Unit.Wants"]);
    const words = (unit: Unit, key: string) => new Set((unit[key] ?? []).flatMap((v) => v.split(/\s+/)));
    const upstreamAfter = [...words(upstream, "Unit.After")].filter((u) => u !== "remote-fs.target");
    expect([...words(mine, "Unit.After")]).toEqual(expect.arrayContaining(upstreamAfter));
    expect([...words(mine, "Unit.Requires")]).toEqual(expect.arrayContaining([...words(upstream, "Unit.Requires")]));
    // Documented: we restart a crashed container, upstream leaves it down.
    expect(upstream["Service.Restart"]).toBeUndefined();
    expect(mine["Service.Restart"]).toEqual(["always"]);
  });

  it("the importer is given time to finish a recording: docker stop waits 120 s, systemd 140 s", () => {
    const importer = ours.get("scalelite-recording-importer.service") ?? {};
    expect(importer["Service.TimeoutStopSec"]).toEqual(["140"]);
    expect(parseDockerRun(importer["Service.ExecStart"]?.[0] ?? "").stopTimeout).toBe("120");
  });

  it("scalelite.target is wanted by multi-user.target, as upstream's", () => {
    expect(ours.get("scalelite.target")?.["Install.WantedBy"]).toEqual(theirs.get("scalelite.target")?.["Install.WantedBy"]);
  });

  it.runIf(HAVE_NGINX)("nginx with Scalelite's HTTPS configuration sends our HSTS header on HTTPS, not on HTTP", async () => {
    const nginxRun = parseDockerRun(ours.get("scalelite-nginx.service")?.["Service.ExecStart"]?.[0] ?? "");
    expect(nginxRun.mounts).toContain(HSTS_MOUNT);
    const prefix = mkdtempSync(path.join(tmpdir(), "bbb-ovh-nginx-"));
    const port = () =>
      new Promise<number>((resolve) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
          const address = server.address();
          server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
        });
      });
    const [https, http, api] = [await port(), await port(), await port()];
    // The image's filesystem, under a prefix: Scalelite's files where its Dockerfile copies them, ours
    // where the unit mounts it, a throw-away certificate where NGINX_SSL expects it.
    const inImage = (p: string) => path.join(prefix, p);
    // certbot's layout, as our two mounts show it: live/NAME/*.pem are links to ../../archive/NAME/*1.pem.
    const live = inImage(`etc/nginx/ssl/live/${FQDN}`);
    const archive = inImage(`etc/nginx/ssl/archive/${FQDN}`);
    for (const dir of [inImage("etc/nginx/http.d"), inImage("etc/bigbluebutton/nginx"), inImage("tmp"), live, archive]) mkdirSync(dir, { recursive: true });
    selfSignedCert({ key: path.join(archive, "privkey1.pem"), cert: path.join(archive, "fullchain1.pem"), name: FQDN, rsa: true });
    for (const file of ["privkey", "fullchain"]) symlinkSync(`../../archive/${FQDN}/${file}1.pem`, path.join(live, `${file}.pem`));
    const upstreamNginx = path.join(tree as string, "nginx");
    copyFileSync(path.join(upstreamNginx, "dhparam.pem"), inImage("etc/nginx/dhparam.pem"));
    copyFileSync(path.join(upstreamNginx, "conf.d/scalelite.common"), inImage("etc/nginx/http.d/scalelite.common"));
    for (const file of readdirSync(path.join(upstreamNginx, "playback")))
      copyFileSync(path.join(upstreamNginx, "playback", file), inImage(`etc/bigbluebutton/nginx/${file}`));
    copyFileSync(path.join(h.root, HSTS_SOURCE), inImage(HSTS_TARGET));
    // nginx/start: envsubst '$SCALELITE_API_PORT $URL_HOST'. Then, test-only: the image's absolute paths
    // under the prefix, loopback ports, and the api's name as an address (no docker network here).
    const conf = readFileSync(path.join(upstreamNginx, "conf.d/scalelite-ssl.template"), "utf8")
      .replaceAll("$SCALELITE_API_PORT", String(api))
      .replaceAll("$URL_HOST", FQDN)
      .replaceAll("/etc/nginx/", `${inImage("etc/nginx")}/`)
      .replaceAll("/etc/bigbluebutton/nginx/", `${inImage("etc/bigbluebutton/nginx")}/`)
      .replace(/^\s*listen \[::\]:\d+.*$/gm, "")
      .replace("listen 443 ", `listen 127.0.0.1:${https} `)
      .replace("listen 80 ", `listen 127.0.0.1:${http} `)
      .replace("http://scalelite-api:", "http://127.0.0.1:");
    writeFileSync(inImage("etc/nginx/http.d/scalelite.conf"), conf);
    writeFileSync(
      inImage("nginx.conf"),
      `pid ${inImage("nginx.pid")};\nerror_log ${inImage("error.log")};\nevents {}\nhttp {\n  client_body_temp_path ${inImage("tmp")};\n  proxy_temp_path ${inImage("tmp")};\n  include ${inImage("etc/nginx/http.d")}/*.conf;\n}\n`,
    );
    const nginx = (...args: string[]) => execFileSync("nginx", ["-p", prefix, "-c", inImage("nginx.conf"), ...args], { encoding: "utf8", stdio: "pipe" });
    try {
      nginx("-t");
      nginx();
      const headers = (url: string) => execFileSync("curl", ["-sk", "-o", "/dev/null", "-D", "-", "-H", `Host: ${FQDN}`, url], { encoding: "utf8" });
      // The api is not running: nginx answers 502, and `always` adds the header to error answers too.
      const secure = headers(`https://127.0.0.1:${https}/health_check`);
      expect(secure).toMatch(/^HTTP\/[\d.]+ 502/);
      expect(secure).toMatch(/^strict-transport-security: max-age=63072000\r$/im);
      // RFC 6797 8.1: a browser ignores HSTS over plain HTTP; the HTTP server only redirects.
      const plain = headers(`http://127.0.0.1:${http}/health_check`);
      expect(plain).toMatch(/^HTTP\/[\d.]+ 301/);
      expect(plain).not.toMatch(/Strict-Transport-Security/i);
    } finally {
      try {
        nginx("-s", "stop");
      } catch {
        // not started
      }
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});
