/**
 * The Scalelite front steps (docker, certificate, recording spool, app, health), run for real over SSH
 * against loopback sshd hosts, with fakes standing in for docker, systemd, certbot, user accounts, exportfs
 * and apt (test/fakes); `docker exec scalelite-api bin/rake` runs Scalelite's own rake tasks on a real
 * Redis (test/support/scalelite), whose poller calls local BBB API servers as the nodes. Inputs come from
 * the same renderers the Pulumi program uses. The registration step's own tests are conformance tests
 * (test/conformance/scalelite-register.test.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepName } from "../../components/remote/catalogue";
import { base64, type StepInputs } from "../../components/remote/invocation";
import { RECORDING_DIR } from "../../components/scalelite/recordingLayout";
import { renderEnvFiles } from "../../components/scalelite/renderEnvFile";
import { renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { renderSpoolAuthorizedKeys } from "../../components/scalelite/renderRecordingTransfer";
import { nodeApiUrl } from "../../components/scalelite/renderServersYaml";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls, copyRoot, mode, output, owner, read, runWatched, tree } from "../support/hostState";
import { attachScalelite, registerInputs, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { selfSignedCert } from "../support/selfSignedCert";
import { killSessions, runStep, startTestHost, type StepResult, type TestHost } from "../support/sshd";
import { flockHeld, waitUntil } from "../support/waitUntil";

const POSTGRES_PASSWORD = randomBytes(16).toString("hex");
const SECRET_KEY_BASE = randomBytes(64).toString("hex");
const LOADBALANCER_SECRET = randomBytes(24).toString("hex");
const OVH_APP_SECRET = randomBytes(16).toString("hex");
const NODE_SECRETS: Record<string, string> = {
  "bbb1.campus.example": randomBytes(20).toString("hex"),
  "bbb2.campus.example": randomBytes(20).toString("hex"),
  "bbb3.campus.example": randomBytes(20).toString("hex"),
};
const FRONT = "scalelite.campus.example";
const TAG = "v1.8.5";
const SERVICES = ["scalelite-api", "scalelite-nginx", "scalelite-poller", "scalelite-recording-importer"];

const hosts: TestHost[] = [];
/** Scalelite's own code behind each front's `docker exec scalelite-api bin/rake`, when its pinned tree is prepared. */
const trees = scaleliteTrees();
const scalelites = new Map<TestHost, Scalelite>();
const nodeApis: BbbApiServer[] = [];
beforeAll(async () => {
  for (const secret of Object.values(NODE_SECRETS)) nodeApis.push(await startBbbApiServer({ secret }));
});
afterAll(async () => {
  await Promise.all([...hosts.map((h) => h.stop()), ...[...scalelites.values()].map((s) => s.stop()), ...nodeApis.map((n) => n.close())]);
});
/** A front test host (with a Scalelite of its own when the trees are prepared); with `from`, a copy of that host's filesystem. */
async function frontHost(from?: string): Promise<TestHost> {
  const h = await startTestHost({ fqdn: FRONT });
  hosts.push(h);
  if (from) copyRoot(from, h);
  if (trees) {
    const scalelite = await attachScalelite(trees, h);
    Object.keys(NODE_SECRETS).forEach((id, i) => scalelite.route(id, nodeApis[i].url));
    scalelites.set(h, scalelite);
  }
  return h;
}

const dockerInputs = (): StepInputs => ({ POSTGRES_IMAGE: "postgres:16", REDIS_IMAGE: "redis:7", POSTGRES_PASSWORD, DATA_DIR: "/var/lib/scalelite" });
const certificateInputs = (challenge = "http-01"): StepInputs => ({
  FQDN: FRONT,
  EMAIL: "ops@campus.example",
  CHALLENGE: challenge,
  ...(challenge === "dns-01"
    ? {
        DNS_CREDENTIALS_B64: base64(
          renderOvhDnsIni({ endpoint: "ovh-eu", applicationKey: "appkey", applicationSecret: OVH_APP_SECRET, consumerKey: "consumer" }),
        ),
      }
    : {}),
});
const AUTHORIZED_KEYS = renderSpoolAuthorizedKeys([
  { name: "bbb1", ipv4: "192.0.2.21", ipv6: "2001:db8::21", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbbb1" },
  { name: "bbb2", ipv4: "192.0.2.22", ipv6: "", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbbb2" },
]);
const spoolInputs = (keys = AUTHORIZED_KEYS, senders = "bbb1 bbb2"): StepInputs => ({
  RECORDING_DIR,
  AUTHORIZED_KEYS_B64: base64(keys),
  SENDERS: senders,
  RESERVE_BYTES: "1073741824",
});
const envFiles = (recordings = true) =>
  renderEnvFiles({
    fqdn: FRONT,
    secretKeyBase: SECRET_KEY_BASE,
    loadBalancerSecret: LOADBALANCER_SECRET,
    checksumAlgorithms: ["SHA256", "SHA512"],
    postgresPassword: POSTGRES_PASSWORD,
    pollIntervalSeconds: 60,
    recordings,
    protectedRecordings: false,
  });
const ENV = envFiles();
const appInputs = (recordings = true): StepInputs => {
  const files = envFiles(recordings);
  return {
    SCALELITE_TAG: TAG,
    RECORDING_DIR,
    RECORDINGS: String(recordings),
    ENV_FILE_B64: base64(files.api),
    ENV_NGINX_B64: base64(files.nginx),
    ENV_POLLER_B64: base64(files.poller),
    ...(recordings ? { ENV_RECORDING_IMPORTER_B64: base64(files["recording-importer"] ?? "") } : {}),
  };
};

/**
 * The fake web of test/fakes/lib/fake-web.sh (not ours) must answer https://<front>/health_check for the
 * health step to be exercised: body from knob FAKE_SCALELITE_HEALTH_BODY (default `success`) while the
 * fake scalelite-nginx.service is active, connection refused otherwise. Until then these tests skip.
 */
const FAKE_WEB_SERVES_HEALTH_CHECK = readFileSync(path.join(__dirname, "../fakes/lib/fake-web.sh"), "utf8").includes("/health_check");

const FRONT_STEPS: [StepName, () => StepInputs][] = [
  ["scaleliteDocker", dockerInputs],
  ["scaleliteCertificate", () => certificateInputs()],
  ["scaleliteSpool", () => spoolInputs()],
  ["scaleliteApp", appInputs],
  ["scaleliteRegister", () => registerInputs(NODE_SECRETS, ["bbb1.campus.example", "bbb2.campus.example"])],
];

const scaleliteServers = (h: TestHost) => scalelites.get(h)!.servers();
/** What servers:sync owns (not the poller's counters). */
const registration = async (h: TestHost) =>
  Object.fromEntries(Object.entries(await scaleliteServers(h)).map(([id, s]) => [id, [s.url, s.secret, s.state, s.load_multiplier, s.tag]]));
const unitState = (h: TestHost, unit: string, kind: "active" | "enabled") => {
  const file = path.join(h.root, "fake-state/systemd", `${unit}.${kind}`);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : "";
};
const setKnob = (h: TestHost, name: string, value: string | undefined) => {
  const file = path.join(h.root, "fake-state/knobs", name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, value ?? "");
};

async function runAll(h: TestHost, listings: string[]): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const [step, inputs] of FRONT_STEPS) {
    const r = await runWatched(h, step, inputs(), listings);
    expect(r.code, `${step}: ${output(r)}`).toBe(0);
    results.push(r);
  }
  return results;
}

/**
 * The filesystem of a front on which the first `count` steps of FRONT_STEPS have run, built once per file:
 * each from the one before it plus its step. The steps are those a test does not test; running them again
 * for every test was most of this file's processes.
 */
const frontTemplates = new Map<number, Promise<string>>();
function frontTemplate(count: number): Promise<string> {
  let root = frontTemplates.get(count);
  if (!root) {
    root = (async () => {
      const h = await frontHost(count > 1 ? await frontTemplate(count - 1) : undefined);
      const [step, inputs] = FRONT_STEPS[count - 1];
      const r = await runStep(h, step, inputs());
      if (r.code !== 0) throw new Error(`${step}: ${output(r)}`);
      return h.root;
    })();
    frontTemplates.set(count, root);
  }
  return root;
}

/** A fresh front as the first `count` steps of FRONT_STEPS leave it: a copy of that template, with its own sshd and Scalelite. */
async function frontAfter(count: number): Promise<TestHost> {
  return frontHost(await frontTemplate(count));
}

describe.skipIf(!trees)("the Scalelite front, end to end", () => {
  let h: TestHost;
  const listings: string[] = [];
  let first: StepResult[] = [];
  let second: StepResult[] = [];
  let firstCalls: string[] = [];
  let secondCalls: string[] = [];
  let treeAfterFirst: Map<string, string>;
  let registrationAfterFirst: Awaited<ReturnType<typeof registration>>;

  beforeAll(async () => {
    h = await frontHost();
    first = await runAll(h, listings);
    firstCalls = calls(h);
    treeAfterFirst = tree(h);
    registrationAfterFirst = await registration(h);
    second = await runAll(h, listings);
    secondCalls = calls(h).slice(firstCalls.length);
  });

  it("installs docker.io, creates the scalelite network, runs PostgreSQL and a persistent Redis under systemd", () => {
    expect(firstCalls).toContain("apt-get -o DPkg::Lock::Timeout=60 install -y -q docker.io");
    expect(firstCalls).toContain("docker network create scalelite");
    expect(read(h, "etc/default/scalelite-postgres")).toBe(`POSTGRES_PASSWORD=${POSTGRES_PASSWORD}\n`);
    expect(mode(h, "etc/default/scalelite-postgres")).toBe("600");
    const postgres = read(h, "etc/systemd/system/scalelite-postgres.service");
    expect(postgres).toMatch(
      /^ExecStart=\/usr\/bin\/docker run .*--name scalelite-postgres --network scalelite .*--env-file \/etc\/default\/scalelite-postgres .*source=\/var\/lib\/scalelite\/postgres,target=\/var\/lib\/postgresql\/data postgres:16@sha256:[0-9a-f]{64}$/m,
    );
    expect(read(h, "etc/systemd/system/scalelite-redis.service")).toMatch(
      /^ExecStart=\/usr\/bin\/docker run .*--name scalelite-redis --network scalelite .*source=\/var\/lib\/scalelite\/redis,target=\/data redis:7@sha256:[0-9a-f]{64} redis-server --appendonly yes$/m,
    );
    for (const unit of ["scalelite-postgres.service", "scalelite-redis.service"]) {
      expect(unitState(h, unit, "active")).toBe("active");
      expect(unitState(h, unit, "enabled")).toBe("enabled");
      expect(firstCalls.filter((c) => c === `systemctl restart ${unit}`)).toHaveLength(1);
    }
  });

  it("gets the certificate by HTTP-01 with hooks that free port 80, and a deploy hook reloading nginx", () => {
    const certbot = firstCalls.filter((c) => c.startsWith("certbot "));
    expect(certbot).toHaveLength(1);
    expect(certbot[0]).toContain(
      `certonly --non-interactive --agree-tos --email ops@campus.example --cert-name ${FRONT} -d ${FRONT} --keep-until-expiring --standalone`,
    );
    expect(certbot[0]).toContain("--pre-hook /etc/letsencrypt/bbb-ovh/stop-scalelite-nginx.sh --post-hook /etc/letsencrypt/bbb-ovh/start-scalelite-nginx.sh");
    expect(existsSync(path.join(h.root, `etc/letsencrypt/live/${FRONT}/fullchain.pem`))).toBe(true);
    expect(read(h, "etc/letsencrypt/bbb-ovh/stop-scalelite-nginx.sh")).toContain("systemctl stop scalelite-nginx.service");
    expect(read(h, "etc/letsencrypt/bbb-ovh/start-scalelite-nginx.sh")).toContain("systemctl start scalelite-nginx.service");
    expect(mode(h, "etc/letsencrypt/renewal-hooks/deploy/reload-scalelite-nginx.sh")).toBe("755");
    expect(read(h, "etc/letsencrypt/renewal-hooks/deploy/reload-scalelite-nginx.sh")).toContain("docker exec scalelite-nginx nginx -s reload");
  });

  it("lays out the recording directories 1000:2000 0775 and a spool user whose keys only write into the spool", () => {
    for (const dir of ["spool", "recording/scalelite", "published", "unpublished"]) {
      expect(owner(h, `${RECORDING_DIR}/${dir}`)).toBe("1000:2000");
      expect(mode(h, `${RECORDING_DIR}/${dir}`)).toBe("775");
    }
    expect(firstCalls.filter((c) => c.startsWith("apt-get") && c.endsWith("install -y -q rsync"))).toHaveLength(1);
    expect(read(h, "fake-state/group")).toMatch(/^scalelite-spool:x:2000:$/m);
    expect(read(h, "fake-state/passwd")).toMatch(/^scalelite-spool:x:\d+:2000::\/var\/lib\/scalelite-spool:\/bin\/sh$/m);
    // The user can neither replace its keys nor its home: both belong to root.
    for (const dir of ["var/lib/scalelite-spool", "var/lib/scalelite-spool/.ssh"]) expect([owner(h, dir), mode(h, dir)]).toEqual(["0:0", "755"]);
    expect([read(h, "var/lib/scalelite-spool/.ssh/authorized_keys"), owner(h, "var/lib/scalelite-spool/.ssh/authorized_keys")]).toEqual([
      AUTHORIZED_KEYS,
      "0:0",
    ]);
    expect(mode(h, "var/lib/scalelite-spool/.ssh/authorized_keys")).toBe("644");
    expect(firstCalls.filter((c) => /^(exportfs|mount)/.test(c))).toEqual([]);
    // Each node its own target, entered only by the transfer user; refused archives root's only.
    const spoolUser = /^scalelite-spool:x:(\d+):2000:/m.exec(read(h, "fake-state/passwd"))![1];
    expect([owner(h, `${RECORDING_DIR}/incoming`), mode(h, `${RECORDING_DIR}/incoming`)]).toEqual(["0:2000", "750"]);
    for (const node of ["bbb1", "bbb2"])
      expect([owner(h, `${RECORDING_DIR}/incoming/${node}`), mode(h, `${RECORDING_DIR}/incoming/${node}`)]).toEqual([`${spoolUser}:2000`, "700"]);
    expect([owner(h, `${RECORDING_DIR}/refused`), mode(h, `${RECORDING_DIR}/refused`)]).toEqual(["0:0", "700"]);
    // The receiver, the archive check and the mover belong to root; the mover runs on a change and every 5 minutes.
    for (const file of ["usr/local/lib/bbb-ovh/spool-receive", "usr/local/sbin/bbb-ovh-recording-mover"])
      expect([owner(h, file), mode(h, file)]).toEqual(["0:0", "755"]);
    expect(read(h, "etc/systemd/system/bbb-ovh-recording-mover.service")).toContain(
      `ExecStart=/usr/local/sbin/bbb-ovh-recording-mover ${RECORDING_DIR} 1073741824\n`,
    );
    expect(read(h, "etc/systemd/system/bbb-ovh-recording-mover.path")).toContain(
      `PathChanged=${RECORDING_DIR}/incoming/bbb1\nPathChanged=${RECORDING_DIR}/incoming/bbb2\n`,
    );
    expect(firstCalls).toEqual(expect.arrayContaining(["systemctl start bbb-ovh-recording-mover.path", "systemctl start bbb-ovh-recording-mover.timer"]));
  });

  it("runs the four Scalelite containers as in the official units, under scalelite.target", () => {
    for (const [file, content] of [
      ["scalelite", ENV.api],
      ["scalelite-nginx", ENV.nginx],
      ["scalelite-poller", ENV.poller],
      ["scalelite-recording-importer", ENV["recording-importer"]],
    ]) {
      expect(read(h, `etc/default/${file}`)).toBe(content);
      expect(mode(h, `etc/default/${file}`)).toBe("600");
    }
    for (const service of SERVICES) {
      const unit = read(h, `etc/systemd/system/${service}.service`);
      const file = service === "scalelite-api" ? "scalelite" : service;
      expect(unit).toMatch(
        new RegExp(
          `^ExecStart=/usr/bin/docker run --rm --name ${service} --network scalelite .*--env-file /etc/default/${file} .*blindsidenetwks/scalelite:${TAG}-${service.replace("scalelite-", "")}@sha256:[0-9a-f]{64}$`,
          "m",
        ),
      );
      expect(unit).toContain("PartOf=scalelite.target");
      expect(unit).toContain("WantedBy=scalelite.target");
      expect(unitState(h, `${service}.service`, "active")).toBe("active");
      expect(unitState(h, `${service}.service`, "enabled")).toBe("enabled");
    }
    const nginx = read(h, "etc/systemd/system/scalelite-nginx.service");
    expect(nginx).toMatch(
      /--publish 80:80 --publish 443:443 --mount type=bind,source=\/mnt\/scalelite-recordings\/var\/bigbluebutton\/published,target=\/var\/bigbluebutton\/published,readonly /,
    );
    // The certificates and nothing else of /etc/letsencrypt (no ACME account keys) for the nginx facing the internet.
    expect(nginx).toContain(
      "--mount type=bind,source=/etc/letsencrypt/live,target=/etc/nginx/ssl/live,readonly --mount type=bind,source=/etc/letsencrypt/archive,target=/etc/nginx/ssl/archive,readonly",
    );
    expect(nginx).not.toContain("source=/etc/letsencrypt,");
    expect(nginx).toContain("--mount type=bind,source=/etc/bbb-ovh/scalelite-nginx/hsts.nginx,target=/etc/bigbluebutton/nginx/bbb-ovh-hsts.nginx,readonly");
    expect(read(h, "etc/bbb-ovh/scalelite-nginx/hsts.nginx")).toContain('add_header Strict-Transport-Security "max-age=63072000" always;');
    expect(read(h, "etc/systemd/system/scalelite-api.service")).toContain(`--mount type=bind,source=${RECORDING_DIR},target=/var/bigbluebutton`);
    const importer = read(h, "etc/systemd/system/scalelite-recording-importer.service");
    expect(importer).toContain("TimeoutStopSec=140\n");
    expect(importer).toMatch(/^ExecStart=\/usr\/bin\/docker run .*--stop-timeout=120 /m);
    expect(read(h, "etc/systemd/system/scalelite.target")).toContain(`Wants=${SERVICES.map((s) => `${s}.service`).join(" ")}`);
    expect(unitState(h, "scalelite.target", "enabled")).toBe("enabled");
    // The api image loaded the schema itself (bin/start); the step waited for it instead of racing it.
    expect(firstCalls).toContain("docker exec scalelite-api curl -sS --max-time 5 http://127.0.0.1:3000/health_check");
    expect(firstCalls.filter((c) => c.includes("db:prepare"))).toEqual([]);
  });

  it("gives each container only the variables it reads: no secret for nginx, no API secret for the poller", () => {
    const vars = (file: string) =>
      read(h, `etc/default/${file}`)
        .split("\n")
        .filter(Boolean)
        .map((l) => l.slice(0, l.indexOf("=")));
    expect(vars("scalelite-nginx").sort()).toEqual(["NGINX_SSL", "URL_HOST"]);
    expect(vars("scalelite-poller")).not.toContain("LOADBALANCER_SECRET");
    expect(vars("scalelite-recording-importer")).not.toContain("LOADBALANCER_SECRET");
    expect(vars("scalelite")).toEqual(expect.arrayContaining(["LOADBALANCER_SECRET", "SECRET_KEY_BASE", "DATABASE_URL", "REDIS_URL", "URL_HOST"]));
    for (const secret of [POSTGRES_PASSWORD, SECRET_KEY_BASE, LOADBALANCER_SECRET]) expect(read(h, "etc/default/scalelite-nginx")).not.toContain(secret);
  });

  it("registers the nodes with servers:sync: enabled, untagged, then online after Scalelite's poll", async () => {
    const servers = await scaleliteServers(h);
    expect(Object.keys(servers).sort()).toEqual(["bbb1.campus.example", "bbb2.campus.example"]);
    for (const [id, s] of Object.entries(servers)) {
      expect(s).toMatchObject({ url: nodeApiUrl(id), secret: NODE_SECRETS[id], state: "enabled", online: true, tag: null });
    }
    expect(firstCalls).toContain("docker exec -i scalelite-api bin/rake servers:sync\\[-\\,cordon\\]");
    expect(first[4].stdout).toContain("[bbb1.campus.example] Server created");
    expect(first[4].stdout).toContain("all nodes enabled and online: bbb1.campus.example bbb2.campus.example");
  });

  it("changes nothing on a second run: same files, no install, user, restart, certificate or registration change", async () => {
    expect(tree(h)).toEqual(treeAfterFirst);
    expect(await registration(h)).toEqual(registrationAfterFirst);
    const changing = secondCalls.filter((c) =>
      /^(apt-get|certbot|exportfs|useradd|groupadd)|systemctl (restart|start|enable|daemon-reload)|network create|db:prepare/.test(c),
    );
    expect(changing).toEqual([]);
    expect(second[4].stdout).not.toMatch(/Server (created|updated|enabled|removed)/);
    for (const r of second.slice(0, 4)) expect(r.stdout).not.toContain("restarting");
  });

  it("never shows a secret: not in step output, in any argv, in the fakes' log, or in ps", () => {
    const everywhere = [...first, ...second].map(output).join("\n") + calls(h).join("\n") + listings.join("\n");
    expect(listings.length).toBeGreaterThan(10);
    for (const secret of [POSTGRES_PASSWORD, SECRET_KEY_BASE, LOADBALANCER_SECRET, ...Object.values(NODE_SECRETS)]) {
      expect(everywhere).not.toContain(secret);
    }
  });
});

describe("apt on the front", () => {
  it("installs from the docker and certificate steps started at the same time", async () => {
    const h = await frontHost();
    setKnob(h, "FAKE_APT_SECONDS", "1");
    const [docker, certificate] = await Promise.all([runStep(h, "scaleliteDocker", dockerInputs()), runStep(h, "scaleliteCertificate", certificateInputs())]);
    expect(docker.code, output(docker)).toBe(0);
    expect(certificate.code, output(certificate)).toBe(0);
    expect(read(h, "fake-state/dpkg").split("\n").filter(Boolean).sort()).toEqual(["certbot", "docker.io"]);
  });

  it("refuses a new PostgreSQL password for a database that exists, changing nothing (the database keeps its old one)", async () => {
    const h = await frontHost();
    const first = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(first.code, output(first)).toBe(0);
    // What the postgres image leaves once it has initialised its data directory.
    writeFileSync(path.join(h.root, "var/lib/scalelite/postgres/PG_VERSION"), "16\n");
    const before = tree(h);
    const seen = calls(h).length;
    const rotated = randomBytes(16).toString("hex");
    const r = await runStep(h, "scaleliteDocker", { ...dockerInputs(), POSTGRES_PASSWORD: rotated });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("POSTGRES_PASSWORD changed but the database in /var/lib/scalelite/postgres already exists");
    expect(r.stderr).toContain('"Rotating the database password"');
    expect(read(h, "etc/default/scalelite-postgres")).toBe(`POSTGRES_PASSWORD=${POSTGRES_PASSWORD}\n`);
    expect(tree(h)).toEqual(before);
    expect(
      calls(h)
        .slice(seen)
        .filter((c) => /systemctl (restart|start)/.test(c)),
    ).toEqual([]);
    expect(output(r)).not.toContain(rotated);
    // The documented rotation: once the file holds the new value (the database was altered by hand), the step goes on.
    writeFileSync(path.join(h.root, "etc/default/scalelite-postgres"), `POSTGRES_PASSWORD=${rotated}\n`);
    const after = await runStep(h, "scaleliteDocker", { ...dockerInputs(), POSTGRES_PASSWORD: rotated });
    expect(after.code, output(after)).toBe(0);
  });

  it("waits for unattended-upgrades holding the dpkg lock after first boot", async () => {
    const h = await frontHost();
    setKnob(h, "FAKE_APT_UNATTENDED_UPGRADES_SECONDS", "3");
    const started = Date.now();
    const r = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(r.code, output(r)).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
    expect(read(h, "fake-state/dpkg")).toContain("docker.io");
  });
});

describe("apt held by another of our steps for too long", () => {
  it("stops, naming the lock, instead of failing silently", async ({ signal }) => {
    const h = await startTestHost({ fqdn: FRONT, env: { APT_LOCK_TIMEOUT: "1" } });
    hosts.push(h);
    const lock = path.join(h.root, "var/lib/bbb-ovh/apt.lock");
    mkdirSync(path.dirname(lock), { recursive: true });
    // Held until the test is over (flock and its sleep, one process group), however slow the step starts.
    const holder = spawn("flock", [lock, "sleep", "600"], { stdio: "ignore", detached: true });
    await waitUntil(() => flockHeld(lock), signal);
    try {
      const r = await runStep(h, "scaleliteDocker", dockerInputs());
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("another bbb-ovh step kept apt busy for more than 1 s (/var/lib/bbb-ovh/apt.lock)");
    } finally {
      process.kill(-holder.pid!, "SIGKILL");
    }
  });
});

describe("scalelite-certificate", () => {
  it("uses DNS-01 through the OVH API with a 0600 credentials file, never on argv", async () => {
    const h = await frontHost();
    const r = await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"));
    expect(r.code, output(r)).toBe(0);
    expect(calls(h)).toContain("apt-get -o DPkg::Lock::Timeout=60 install -y -q certbot python3-certbot-dns-ovh");
    const certbot = calls(h).filter((c) => c.startsWith("certbot "));
    expect(certbot).toEqual([
      `certbot certonly --non-interactive --agree-tos --email ops@campus.example --cert-name ${FRONT} -d ${FRONT} --keep-until-expiring --dns-ovh --dns-ovh-credentials /etc/bbb-ovh/certbot-dns-ovh.ini`,
    ]);
    // Outside /etc/letsencrypt, which the internet-facing nginx container mounts.
    expect(mode(h, "etc/bbb-ovh/certbot-dns-ovh.ini")).toBe("600");
    expect(read(h, "etc/bbb-ovh/certbot-dns-ovh.ini")).toContain(`dns_ovh_application_secret = ${OVH_APP_SECRET}`);
    expect(existsSync(path.join(h.root, "etc/letsencrypt/ovh.ini"))).toBe(false);
    expect(read(h, `etc/letsencrypt/renewal/${FRONT}.conf`)).toContain("authenticator = dns-ovh");
    expect(output(r) + calls(h).join("\n")).not.toContain(OVH_APP_SECRET);

    // Switching back to HTTP-01 replaces the certificate, so that renewals use the new challenge.
    const back = await runStep(h, "scaleliteCertificate", certificateInputs("http-01"));
    expect(back.code, output(back)).toBe(0);
    expect(
      calls(h)
        .filter((c) => c.startsWith("certbot "))
        .at(-1),
    ).toMatch(/--standalone .*--force-renewal$/);
    expect(read(h, `etc/letsencrypt/renewal/${FRONT}.conf`)).toContain("authenticator = standalone");
  });

  it("fails, with the end of certbot's log, when switching challenge fails (the old certificate hides nothing)", async () => {
    const h = await frontHost();
    expect((await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"))).code).toBe(0);
    setKnob(h, "FAKE_CERTBOT_FAIL", "1");
    const r = await runStep(h, "scaleliteCertificate", certificateInputs("http-01"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Challenge failed for domain ${FRONT}`);
    expect(r.stderr).toContain(`certbot could not get a certificate for ${FRONT} by http-01`);
    expect(read(h, `etc/letsencrypt/renewal/${FRONT}.conf`)).toContain("authenticator = dns-ovh");
  });

  it("moves OVH credentials left in /etc/letsencrypt by an earlier version, renewals included", async () => {
    const h = await frontHost();
    expect((await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"))).code).toBe(0);
    // What an earlier version left: the credentials inside /etc/letsencrypt, named by the renewal conf.
    const ini = read(h, "etc/bbb-ovh/certbot-dns-ovh.ini");
    writeFileSync(path.join(h.root, "etc/letsencrypt/ovh.ini"), ini, { mode: 0o600 });
    const conf = path.join(h.root, `etc/letsencrypt/renewal/${FRONT}.conf`);
    writeFileSync(conf, readFileSync(conf, "utf8").replace("/etc/bbb-ovh/certbot-dns-ovh.ini", "/etc/letsencrypt/ovh.ini"));
    rmSync(path.join(h.root, "etc/bbb-ovh/certbot-dns-ovh.ini"));
    const r = await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"));
    expect(r.code, output(r)).toBe(0);
    expect(existsSync(path.join(h.root, "etc/letsencrypt/ovh.ini"))).toBe(false);
    expect(read(h, "etc/bbb-ovh/certbot-dns-ovh.ini")).toBe(ini);
    expect(mode(h, "etc/bbb-ovh/certbot-dns-ovh.ini")).toBe("600");
    expect(readFileSync(conf, "utf8")).toContain("dns_ovh_credentials = /etc/bbb-ovh/certbot-dns-ovh.ini\n");
    expect(calls(h).filter((c) => c.startsWith("certbot "))).toHaveLength(1);
  });

  it("replaces a certificate that ends within 30 days or does not name the front, and then keeps it", async () => {
    const h = await frontHost();
    const certbotCalls = () => calls(h).filter((c) => c.startsWith("certbot "));
    const cert = () => path.join(h.root, `etc/letsencrypt/live/${FRONT}/cert.pem`);
    const endsWithin = (days: number) => spawnSync("openssl", ["x509", "-noout", "-checkend", String(days * 86400), "-in", cert()]).status !== 0;
    // What a standby front holds after its renewals failed while the name pointed at the other front.
    setKnob(h, "FAKE_CERTBOT_DAYS", "10");
    expect((await runStep(h, "scaleliteCertificate", certificateInputs())).code).toBe(0);
    expect(endsWithin(30)).toBe(true);
    setKnob(h, "FAKE_CERTBOT_DAYS", "90");
    const expiring = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(expiring.code, output(expiring)).toBe(0);
    expect(expiring.stdout).toMatch(new RegExp(`the certificate for ${FRONT.replaceAll(".", "\\.")} ends on .*, within 30 days: replacing it`));
    expect(certbotCalls()).toHaveLength(2);
    expect(certbotCalls()[1]).toMatch(/--standalone .*--force-renewal$/);
    expect(endsWithin(30)).toBe(false);

    // A certificate for another name in the lineage (a restored or copied /etc/letsencrypt).
    selfSignedCert({ key: "/dev/null", cert: cert(), name: "other.example", dns: true, days: 90 });
    const wrongName = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(wrongName.code, output(wrongName)).toBe(0);
    expect(wrongName.stdout).toContain(`does not name ${FRONT}: replacing it`);
    expect(certbotCalls()).toHaveLength(3);
    expect(spawnSync("openssl", ["x509", "-noout", "-checkhost", FRONT, "-in", cert()], { encoding: "utf8" }).stdout).toContain(" does match ");

    const again = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(again.stdout).toContain("nothing to do");
    expect(certbotCalls()).toHaveLength(3);
  });

  it("on a front ops failover fenced, asks nothing by HTTP-01 (the name points at the other front) and does not fail; DNS-01 renews as ever", async () => {
    const h = await frontHost();
    const certbotCalls = () => calls(h).filter((c) => c.startsWith("certbot "));
    setKnob(h, "FAKE_CERTBOT_DAYS", "10");
    expect((await runStep(h, "scaleliteCertificate", certificateInputs())).code).toBe(0);
    setKnob(h, "FAKE_CERTBOT_DAYS", "90");
    mkdirSync(path.join(h.root, "var/lib/bbb-ovh"), { recursive: true });
    writeFileSync(path.join(h.root, "var/lib/bbb-ovh/front-role"), "fenced\n");
    const fenced = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(fenced.code, output(fenced)).toBe(0);
    expect(fenced.stderr).toMatch(
      /the front's name points at the other front since `ops failover` \(\/var\/lib\/bbb-ovh\/front-role: fenced\): HTTP-01 cannot succeed here, so no certificate is requested \(the one on disk ends on .*, within 30 days\)/,
    );
    expect(certbotCalls()).toHaveLength(1);
    // DNS-01 does not depend on where the name points: the certificate is replaced.
    const dns = await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"));
    expect(dns.code, output(dns)).toBe(0);
    expect(certbotCalls()).toHaveLength(2);
    expect(certbotCalls()[1]).toMatch(/--dns-ovh .*--force-renewal$/);
  });

  it("on a rebuilt front (campus.rebuildFront), after its role step recorded it fenced: no certificate on disk, none asked by HTTP-01, no failure", async () => {
    const h = await frontHost();
    const role = await runStep(h, "scaleliteFrontServes", { SERVES: "false", RECORD: "fenced" });
    expect(role.code, output(role)).toBe(0);
    const cert = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(cert.code, output(cert)).toBe(0);
    expect(cert.stderr).toContain("HTTP-01 cannot succeed here, so no certificate is requested; `ops failback` requests it once the name is back");
    expect(calls(h).filter((c) => c.startsWith("certbot "))).toEqual([]);
  });

  it("with DNS-01 and no credentials given, uses the file an earlier run wrote, and refuses when there is none", async () => {
    const h = await frontHost();
    const { DNS_CREDENTIALS_B64: _given, ...withoutCredentials } = certificateInputs("dns-01");
    const refused = await runStep(h, "scaleliteCertificate", withoutCredentials);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "CHALLENGE=dns-01 needs DNS_CREDENTIALS_B64 (the certbot-dns-ovh credentials): there are none at /etc/bbb-ovh/certbot-dns-ovh.ini yet",
    );
    expect(calls(h).filter((c) => c.startsWith("certbot "))).toEqual([]);
    expect((await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"))).code).toBe(0);
    rmSync(path.join(h.root, "etc/letsencrypt"), { recursive: true, force: true });
    const reused = await runStep(h, "scaleliteCertificate", withoutCredentials);
    expect(reused.code, output(reused)).toBe(0);
    expect(
      calls(h)
        .filter((c) => c.startsWith("certbot "))
        .at(-1),
    ).toContain("--dns-ovh --dns-ovh-credentials /etc/bbb-ovh/certbot-dns-ovh.ini");
    expect(read(h, "etc/bbb-ovh/certbot-dns-ovh.ini")).toContain(`dns_ovh_application_secret = ${OVH_APP_SECRET}`);
  });

  it("fails with certbot's reason when the challenge fails, and leaves no certificate", async () => {
    const h = await frontHost();
    setKnob(h, "FAKE_CERTBOT_FAIL", "1");
    const r = await runStep(h, "scaleliteCertificate", certificateInputs());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Some challenges have failed.");
    expect(existsSync(path.join(h.root, `etc/letsencrypt/live/${FRONT}`))).toBe(false);
  });
});

/** Kills a host's sessions until none is left: a process forking while the first pass kills would survive it. */
function killAll(h: TestHost): number {
  let total = 0;
  for (let n = killSessions(h); n > 0; n = killSessions(h)) total += n;
  return total;
}

describe("scalelite-spool", () => {
  it("on a front that exported the recordings over NFS: stops exporting, keeps every recording", async () => {
    const h = await frontHost();
    // What our former scalelite-nfs step left: the exports file, the kernel's export table, recordings.
    const legacy = `${RECORDING_DIR} 192.0.2.21(rw,sync,no_subtree_check,root_squash)\n`;
    mkdirSync(path.join(h.root, "etc/exports.d"), { recursive: true });
    writeFileSync(path.join(h.root, "etc/exports.d/scalelite.exports"), legacy);
    writeFileSync(path.join(h.root, "etc/exports"), "/srv/other 192.0.2.99(ro)\n");
    mkdirSync(path.join(h.root, "srv/other"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/exports"), legacy);
    const recording = path.join(h.root, RECORDING_DIR, "published/presentation/meeting-1/index.html");
    mkdirSync(path.dirname(recording), { recursive: true });
    writeFileSync(recording, "lesson");
    mkdirSync(path.join(h.root, RECORDING_DIR, "spool"), { recursive: true });
    writeFileSync(path.join(h.root, RECORDING_DIR, "spool/meeting-2.tar"), "archive");

    const r = await runStep(h, "scaleliteSpool", spoolInputs());
    expect(r.code, output(r)).toBe(0);
    expect(existsSync(path.join(h.root, "etc/exports.d/scalelite.exports"))).toBe(false);
    expect(calls(h).filter((c) => c.startsWith("exportfs"))).toEqual(["exportfs -ra"]);
    // Only the other export is left in the kernel's table; the recordings are untouched.
    expect(read(h, "fake-state/exports")).toBe("/srv/other 192.0.2.99(ro)\n");
    expect(readFileSync(recording, "utf8")).toBe("lesson");
    expect(read(h, `${RECORDING_DIR}/spool/meeting-2.tar`)).toBe("archive");
    expect(read(h, "etc/exports")).toBe("/srv/other 192.0.2.99(ro)\n");

    const mark = calls(h).length;
    expect((await runStep(h, "scaleliteSpool", spoolInputs())).code).toBe(0);
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /^(exportfs|useradd|groupadd|apt-get)/.test(c)),
    ).toEqual([]);
  });

  it("re-exports after a run killed between removing our exports file and exportfs", async ({ signal }) => {
    const h = await frontHost();
    const legacy = `${RECORDING_DIR} 192.0.2.21(rw)\n`;
    mkdirSync(path.join(h.root, "etc/exports.d"), { recursive: true });
    writeFileSync(path.join(h.root, "etc/exports.d/scalelite.exports"), legacy);
    writeFileSync(path.join(h.root, "fake-state/exports"), legacy);
    setKnob(h, "FAKE_EXPORTFS_SLEEP", "30");
    const killed = runStep(h, "scaleliteSpool", spoolInputs());
    await waitUntil(() => calls(h).includes("exportfs -ra"), signal, 10);
    expect(killAll(h)).toBeGreaterThan(0);
    expect((await killed).code).not.toBe(0);
    // Killed with our file gone but the share still exported.
    expect(existsSync(path.join(h.root, "etc/exports.d/scalelite.exports"))).toBe(false);
    expect(read(h, "fake-state/exports")).toBe(legacy);

    setKnob(h, "FAKE_EXPORTFS_SLEEP", "0");
    const r = await runStep(h, "scaleliteSpool", spoolInputs());
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "fake-state/exports")).toBe("");
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/scalelite-spool.unexport-pending"))).toBe(false);
    const mark = calls(h).length;
    expect((await runStep(h, "scaleliteSpool", spoolInputs())).code).toBe(0);
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => c.startsWith("exportfs")),
    ).toEqual([]);
  });

  it("takes a new node's key by rewriting authorized_keys only, and refuses an unrestricted key list", async () => {
    const h = await frontHost();
    expect((await runStep(h, "scaleliteSpool", spoolInputs())).code).toBe(0);
    const more = renderSpoolAuthorizedKeys([
      { name: "bbb1", ipv4: "192.0.2.21", ipv6: "", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbbb1" },
      { name: "bbb3", ipv4: "192.0.2.23", ipv6: "", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbbb3" },
    ]);
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteSpool", spoolInputs(more, "bbb1 bbb3"));
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "var/lib/scalelite-spool/.ssh/authorized_keys")).toBe(more);
    // bbb3 gets its own target, watched by the mover; bbb2's stays (it may still hold archives).
    expect(existsSync(path.join(h.root, RECORDING_DIR, "incoming/bbb3"))).toBe(true);
    expect(existsSync(path.join(h.root, RECORDING_DIR, "incoming/bbb2"))).toBe(true);
    expect(read(h, "etc/systemd/system/bbb-ovh-recording-mover.path")).toContain(`PathChanged=${RECORDING_DIR}/incoming/bbb3\n`);
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /^(useradd|groupadd|apt-get)/.test(c)),
    ).toEqual([]);

    const bad = await runStep(h, "scaleliteSpool", spoolInputs("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbbb9 anyone\n"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("AUTHORIZED_KEYS_B64 holds no restricted key line");
    expect(read(h, "var/lib/scalelite-spool/.ssh/authorized_keys")).toBe(more);
  });
});

// scalelite-app runs db:version/db:prepare through the Scalelite harness (test/support/scalelite/rake.rb).
describe.skipIf(!trees)("scalelite-app", () => {
  it("refuses to start nginx without the certificate, naming the step to run first", async () => {
    const h = await frontHost();
    const r = await runStep(h, "scaleliteApp", appInputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no certificate at /etc/letsencrypt/live/${FRONT}/: run scalelite-certificate.sh first`);
    expect(existsSync(path.join(h.root, "etc/default/scalelite"))).toBe(false);
  });

  it("restarts only the api when its env file changes, and converges after a run killed midway", async ({ signal }) => {
    const h = await frontAfter(3);

    // Killed while waiting for the api to answer, after the units were started.
    setKnob(h, "FAKE_DOCKER_HANG", "exec scalelite-api curl");
    const killed = runStep(h, "scaleliteApp", appInputs());
    await waitUntil(() => calls(h).some((c) => c.startsWith("docker exec scalelite-api curl")), signal, 10);
    expect(killSessions(h)).toBeGreaterThan(0);
    expect((await killed).code).not.toBe(0);

    setKnob(h, "FAKE_DOCKER_HANG", undefined);
    const before = calls(h).length;
    const again = await runStep(h, "scaleliteApp", appInputs());
    expect(again.code, output(again)).toBe(0);
    expect(
      calls(h)
        .slice(before)
        .filter((c) => /db:prepare|systemctl restart/.test(c)),
    ).toEqual([]);

    // A new api env file (rotated LOADBALANCER_SECRET) restarts the api and nothing else.
    const rotated = ENV.api.replace(LOADBALANCER_SECRET, randomBytes(24).toString("hex"));
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteApp", { ...appInputs(), ENV_FILE_B64: base64(rotated) });
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "etc/default/scalelite")).toBe(rotated);
    const restarts = calls(h)
      .slice(mark)
      .filter((c) => c.startsWith("systemctl restart"));
    expect(restarts).toEqual(["systemctl restart scalelite-api.service"]);
  });

  it("waits for the api image's own schema load instead of racing it with db:prepare", async () => {
    const h = await frontAfter(3);
    // The start outlasts two health checks (however long the step took to get there on a busy machine).
    setKnob(h, "FAKE_SCALELITE_API_START_CURLS", "2");
    const r = await runStep(h, "scaleliteApp", appInputs());
    expect(r.code, output(r)).toBe(0);
    expect(calls(h).filter((c) => c.includes("db:prepare"))).toEqual([]);
    expect(calls(h).filter((c) => c.startsWith("docker exec scalelite-api curl")).length).toBeGreaterThan(1);
  });

  it("loads the schema itself when the image's start left none", async () => {
    const h = await frontAfter(3);
    setKnob(h, "FAKE_SCALELITE_SCHEMA_LOAD_FAILS", "1");
    const r = await runStep(h, "scaleliteApp", appInputs());
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("the api started without a database schema (Health Check Failure: Database not responding): loading it");
    expect(calls(h)).toContain("docker exec scalelite-api bin/rake db:prepare");
    expect(calls(h).at(-1)).toBe("systemctl restart scalelite.target");
  });

  it("with recordings off: RECORDING_DISABLED, nothing mounted from the recording directory, no importer", async () => {
    const h = await frontAfter(2);
    const r = await runStep(h, "scaleliteApp", appInputs(false));
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "etc/default/scalelite")).toContain("RECORDING_DISABLED=true\n");
    for (const service of ["scalelite-api", "scalelite-nginx", "scalelite-poller"]) {
      expect(read(h, `etc/systemd/system/${service}.service`)).not.toContain("/mnt/scalelite-recordings");
      expect(unitState(h, `${service}.service`, "active")).toBe("active");
    }
    expect(existsSync(path.join(h.root, "etc/systemd/system/scalelite-recording-importer.service"))).toBe(false);
    expect(read(h, "etc/systemd/system/scalelite.target")).toContain("Wants=scalelite-api.service scalelite-nginx.service scalelite-poller.service\n");
  });

  it("stops and disables an importer left by a run with recordings on, and keeps the recordings", async () => {
    const h = await frontAfter(4);
    writeFileSync(path.join(h.root, RECORDING_DIR, "published", "lesson-1.tar"), "a recording");
    // As left by a run killed before it restarted the importer.
    writeFileSync(path.join(h.root, "var/lib/bbb-ovh/scalelite-app.pending-units"), "scalelite-recording-importer.service\n");
    const r = await runStep(h, "scaleliteApp", appInputs(false));
    expect(r.code, output(r)).toBe(0);
    expect(calls(h)).toContain("systemctl disable --now scalelite-recording-importer.service");
    expect(unitState(h, "scalelite-recording-importer.service", "active")).toBe("inactive");
    expect(existsSync(path.join(h.root, "etc/default/scalelite-recording-importer"))).toBe(false);
    expect(read(h, `${RECORDING_DIR}/published/lesson-1.tar`)).toBe("a recording");
    const mark = calls(h).length;
    expect((await runStep(h, "scaleliteApp", appInputs(false))).code).toBe(0);
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /systemctl (restart|disable|daemon-reload)/.test(c)),
    ).toEqual([]);
  });

  it("keeps what ops failover decided over the stack's START: the promoted standby keeps serving, the fenced front stays stopped", async () => {
    const h = await frontAfter(3);
    const setRole = (role: string) => {
      mkdirSync(path.join(h.root, "var/lib/bbb-ovh"), { recursive: true });
      writeFileSync(path.join(h.root, "var/lib/bbb-ovh/front-role"), `${role}\n`);
    };
    const starts = (from: number) =>
      calls(h)
        .slice(from)
        .filter((c) => /systemctl (start|restart|enable)/.test(c));

    // The old front after `ops failover` fenced it; a `pulumi up` still has it as the front (START=true).
    setRole("fenced");
    let mark = calls(h).length;
    const fenced = await runStep(h, "scaleliteApp", appInputs());
    expect(fenced.code, output(fenced)).toBe(0);
    expect(fenced.stderr).toContain("`ops failover` left this front fenced (/var/lib/bbb-ovh/front-role): Scalelite stays stopped");
    expect(starts(mark)).toEqual([]);
    expect(unitState(h, "scalelite.target", "active")).not.toBe("active");

    // The standby `ops failover` promoted, serving; a `pulumi up` still has it as the standby (START=false).
    setRole("primary");
    writeFileSync(path.join(h.root, "fake-state/systemd/scalelite.target.active"), "active\n");
    writeFileSync(path.join(h.root, "fake-state/systemd/scalelite.target.enabled"), "enabled\n");
    mark = calls(h).length;
    const promoted = await runStep(h, "scaleliteApp", { ...appInputs(), START: "false" });
    expect(promoted.code, output(promoted)).toBe(0);
    expect(promoted.stderr).toContain("this front serves since `ops failover` (/var/lib/bbb-ovh/front-role: primary): Scalelite keeps running");
    expect(calls(h).slice(mark)).not.toContain("systemctl disable --now scalelite.target");
    expect(unitState(h, "scalelite.target", "active")).toBe("active");
    expect(promoted.stdout).toContain("is up to date");
  });

  it("on a standby front (START=false): installed without a certificate, nothing started, a running Scalelite stopped and disabled", async () => {
    const h = await frontAfter(1);
    expect((await runStep(h, "scaleliteSpool", spoolInputs())).code).toBe(0);
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteApp", { ...appInputs(), START: "false" });
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("is installed and stopped (standby front)");
    expect(read(h, "etc/default/scalelite")).toBe(ENV.api);
    for (const service of ["scalelite-api", "scalelite-nginx", "scalelite-poller", "scalelite-recording-importer"]) {
      expect(existsSync(path.join(h.root, `etc/systemd/system/${service}.service`)), service).toBe(true);
      expect(unitState(h, `${service}.service`, "active"), service).not.toBe("active");
    }
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /systemctl (start|restart|enable)|docker exec scalelite-api/.test(c)),
    ).toEqual([]);
    // A front fenced by `ops failover` and made the standby: its Scalelite must not keep accepting meetings.
    writeFileSync(path.join(h.root, "fake-state/systemd/scalelite.target.active"), "active\n");
    writeFileSync(path.join(h.root, "fake-state/systemd/scalelite.target.enabled"), "enabled\n");
    const fenced = await runStep(h, "scaleliteApp", { ...appInputs(), START: "false" });
    expect(fenced.code, output(fenced)).toBe(0);
    expect(calls(h)).toContain("systemctl disable --now scalelite.target");
    expect(unitState(h, "scalelite.target", "active")).toBe("inactive");
  });

  it("with recordings on, refuses a missing recording directory, naming the step that creates it", async () => {
    const h = await frontAfter(2);
    const r = await runStep(h, "scaleliteApp", appInputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the recording directory ${RECORDING_DIR} does not exist: run scalelite-spool.sh first`);
  });
});

describe("scalelite-docker", () => {
  it("restarts the units of a run killed between writing them and restarting them", async ({ signal }) => {
    const h = await frontHost();
    const unit = path.join(h.root, "etc/systemd/system/scalelite-redis.service");
    const pending = path.join(h.root, "var/lib/bbb-ovh/scalelite-docker.pending-units");
    const running = runStep(h, "scaleliteDocker", dockerInputs());
    await waitUntil(() => existsSync(unit), signal, 1);
    killSessions(h);
    expect((await running).code).not.toBe(0);
    // Killed with the new units on disk but not (all) restarted yet.
    expect(readFileSync(pending, "utf8")).toContain("scalelite-redis.service");

    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(r.code, output(r)).toBe(0);
    const rerun = calls(h).slice(mark);
    expect(rerun).toContain("systemctl daemon-reload");
    expect(rerun).toContain("systemctl restart scalelite-redis.service");
    expect(unitState(h, "scalelite-redis.service", "active")).toBe("active");
    expect(unitState(h, "scalelite-postgres.service", "active")).toBe("active");
    expect(existsSync(pending)).toBe(false);

    const third = calls(h).length;
    expect((await runStep(h, "scaleliteDocker", dockerInputs())).code).toBe(0);
    expect(
      calls(h)
        .slice(third)
        .filter((c) => /systemctl (restart|daemon-reload)/.test(c)),
    ).toEqual([]);
  });
});

// The tests that run the app step need Scalelite's tree (its rake tasks); without it they skip, as the
// harness has said on stderr.
describe("images by digest", () => {
  // Test values only: the shape of a digest, not a published one.
  const PG = `postgres:16@sha256:${"a".repeat(64)}`;
  const API = `blindsidenetwks/scalelite:${TAG}-api@sha256:${"b".repeat(64)}`;
  const LOCK = "var/lib/bbb-ovh/image-lock";
  const UNITS: Record<string, string> = {
    "postgres:16": "scalelite-postgres",
    "redis:7": "scalelite-redis",
    ...Object.fromEntries(SERVICES.map((s) => [`blindsidenetwks/scalelite:${TAG}-${s.replace("scalelite-", "")}`, s])),
  };
  const lockLines = (h: TestHost) =>
    read(h, LOCK)
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
  const locked = (h: TestHost) => Object.fromEntries(lockLines(h).map((l) => [l.slice(0, l.indexOf("@")), l]));
  /** The image a unit's ExecStart runs. */
  const unitImage = (h: TestHost, service: string) =>
    read(h, `etc/systemd/system/${service}.service`).match(/^ExecStart=.* ((?:postgres|redis|blindsidenetwks\/scalelite):\S+)/m)?.[1];
  /** What the registry gave when the tag was pulled, as the fake docker's image store keeps it. */
  const pulled = (h: TestHost, image: string) =>
    read(h, "fake-state/docker-images")
      .split("\n")
      .find((l) => l.startsWith(`${image}@`));
  const inode = (h: TestHost) => statSync(path.join(h.root, LOCK)).ino;

  it.skipIf(!trees)("locks each image's digest on first pull, and the units run it by that digest", async () => {
    const h = await frontAfter(4);
    expect(mode(h, LOCK)).toBe("644");
    expect(lockLines(h)).toHaveLength(6);
    for (const line of lockLines(h)) expect(line).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$/);
    for (const [image, service] of Object.entries(UNITS)) {
      expect(calls(h)).toContain(`docker pull ${image}`);
      expect(locked(h)[image]).toBe(pulled(h, image));
      expect(unitImage(h, service)).toBe(locked(h)[image]);
      // Pulled when missing by digest alone, the form `docker pull` documents.
      const byDigest = locked(h)[image].replace(/:[^:@]+@/, "@");
      expect(read(h, `etc/systemd/system/${service}.service`)).toContain(
        `ExecStartPre=/bin/sh -c 'docker image inspect ${byDigest} >/dev/null 2>&1 || docker pull ${byDigest}'`,
      );
    }
  });

  it.skipIf(!trees)("keeps the recorded digest when a tag is re-pushed upstream, and moves only when its line is deleted", async () => {
    const h = await frontAfter(4);
    const lockBefore = read(h, LOCK);
    const units = () => Object.values(UNITS).map((s) => read(h, `etc/systemd/system/${s}.service`));
    const unitsBefore = units();
    setKnob(h, "FAKE_DOCKER_REPUSHED", `postgres:16 blindsidenetwks/scalelite:${TAG}-api`);
    const mark = calls(h).length;
    for (const [step, inputs] of [FRONT_STEPS[0], FRONT_STEPS[3]]) {
      const r = await runStep(h, step, inputs());
      expect(r.code, output(r)).toBe(0);
    }
    // No tag resolved again, nothing rewritten, nothing restarted.
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /^docker (pull|image)|systemctl restart/.test(c)),
    ).toEqual([]);
    expect(read(h, LOCK)).toBe(lockBefore);
    expect(units()).toEqual(unitsBefore);

    // The operator takes postgres:16's current image by deleting its line: only postgres moves.
    const old = locked(h)["postgres:16"];
    writeFileSync(path.join(h.root, LOCK), lockBefore.replace(`${old}\n`, ""));
    const moved = calls(h).length;
    const r = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(r.code, output(r)).toBe(0);
    expect(locked(h)["postgres:16"]).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(locked(h)["postgres:16"]).not.toBe(old);
    expect(unitImage(h, "scalelite-postgres")).toBe(locked(h)["postgres:16"]);
    expect(
      calls(h)
        .slice(moved)
        .filter((c) => /^docker pull|systemctl restart/.test(c)),
    ).toEqual(["docker pull postgres:16", "systemctl restart scalelite-postgres.service"]);
  });

  it("refuses an image without the digest its pin gives; a pin overrides the lock and replaces its line", async () => {
    const h = await frontAfter(1);
    const refused = await runStep(h, "scaleliteDocker", { ...dockerInputs(), IMAGE_PINS: PG });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`image 'postgres:16' must be ${PG} (its digest is pinned)`);

    const redis = locked(h)["redis:7"];
    const before = inode(h);
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteDocker", { ...dockerInputs(), POSTGRES_IMAGE: PG, IMAGE_PINS: PG });
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain(
      `image postgres:16: the lock had ${pulled(h, "postgres:16")?.split("@")[1]}, now pinned to sha256:${"a".repeat(64)}: recording the pin`,
    );
    expect(locked(h)).toEqual({ "postgres:16": PG, "redis:7": redis });
    expect(unitImage(h, "scalelite-postgres")).toBe(PG);
    // The lock was replaced by a whole new file, never edited in place.
    expect(inode(h)).not.toBe(before);
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => /^docker pull|systemctl restart/.test(c)),
    ).toEqual(["systemctl restart scalelite-postgres.service"]);
  });

  it.skipIf(!trees)("runs the Scalelite images the pins name by their pinned digest, the others by the locked one", async () => {
    const h = await frontAfter(3);
    const r = await runStep(h, "scaleliteApp", { ...appInputs(), IMAGE_PINS: API });
    expect(r.code, output(r)).toBe(0);
    expect(unitImage(h, "scalelite-api")).toBe(API);
    expect(calls(h)).not.toContain(`docker pull blindsidenetwks/scalelite:${TAG}-api`);
    expect(unitImage(h, "scalelite-poller")).toBe(pulled(h, `blindsidenetwks/scalelite:${TAG}-poller`));
    expect(locked(h)[`blindsidenetwks/scalelite:${TAG}-api`]).toBe(API);
  });

  it("converges after a run killed while locking, with only whole lines in the lock", async ({ signal }) => {
    const h = await frontHost();
    setKnob(h, "FAKE_DOCKER_HANG", "pull redis:7");
    const killed = runStep(h, "scaleliteDocker", dockerInputs());
    await waitUntil(() => calls(h).includes("docker pull redis:7"), signal, 10);
    // The fake records the call before it starts hanging: let it get there, so that nothing forks past the kill.
    await new Promise((r) => setTimeout(r, 500));
    expect(killSessions(h)).toBeGreaterThan(0);
    expect((await killed).code).not.toBe(0);
    expect(lockLines(h)).toEqual([pulled(h, "postgres:16")]);

    setKnob(h, "FAKE_DOCKER_HANG", undefined);
    const again = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(again.code, output(again)).toBe(0);
    expect(locked(h)).toEqual({ "postgres:16": pulled(h, "postgres:16"), "redis:7": pulled(h, "redis:7") });
    expect(unitImage(h, "scalelite-redis")).toBe(locked(h)["redis:7"]);
  });

  it("loses no line when steps record into the lock at the same time (one writer at a time)", () => {
    // The library itself, 20 writers at once, as the docker and app steps may record side by side.
    const root = mkdtempSync(path.join(tmpdir(), "bbb-ovh-lock-"));
    const images = Array.from({ length: 20 }, (_, i) => `image${i}:1@sha256:${String(i).padStart(64, "0")}`);
    const lib = path.join(__dirname, "../../scripts/lib");
    const r = spawnSync(
      "bash",
      ["-c", `set -euo pipefail; source ${lib}/common.sh; source ${lib}/units.sh; for ref in "$@"; do record_lock "$ref" & done; wait`, "bash", ...images],
      {
        env: { ...process.env, BBB_OVH_ROOT: root },
        encoding: "utf8",
      },
    );
    try {
      expect(r.status, r.stderr).toBe(0);
      expect(
        readFileSync(path.join(root, LOCK), "utf8")
          .split("\n")
          .filter((l) => l && !l.startsWith("#")),
      ).toEqual([...images].sort());
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("stops on a lock line that is not a whole entry instead of resolving the tag again", async () => {
    const h = await frontAfter(1);
    const unit = read(h, "etc/systemd/system/scalelite-postgres.service");
    writeFileSync(path.join(h.root, LOCK), `postgres:16@sha256:${"c".repeat(20)}\n`);
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteDocker", dockerInputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/var/lib/bbb-ovh/image-lock line 1 is not name:tag@sha256:<64 hex digits>: correct or delete it");
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => c.startsWith("docker pull")),
    ).toEqual([]);
    expect(read(h, "etc/systemd/system/scalelite-postgres.service")).toBe(unit);
  });
});

describe.runIf(FAKE_WEB_SERVES_HEALTH_CHECK && trees)("scalelite-health", () => {
  let h: TestHost;
  const health = (): StepInputs => ({ FQDN: FRONT, ATTEMPTS: "2", DELAY_SECONDS: "0" });
  beforeAll(async () => {
    h = await frontHost();
    for (const [step, inputs] of FRONT_STEPS.slice(0, 4)) expect((await runStep(h, step, inputs())).code).toBe(0);
  });

  it("passes when the body is exactly success", async () => {
    const r = await runStep(h, "scaleliteHealth", health());
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain(`https://${FRONT}/health_check answers success`);
  });

  it("fails on an HTTP 200 whose body is not success, quoting it", async () => {
    setKnob(h, "FAKE_SCALELITE_HEALTH_BODY", "PG::ConnectionBad");
    const r = await runStep(h, "scaleliteHealth", health());
    setKnob(h, "FAKE_SCALELITE_HEALTH_BODY", "success");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not healthy after 2 attempt(s): HTTP 200 with body 'PG::ConnectionBad' instead of 'success'");
  });
});
