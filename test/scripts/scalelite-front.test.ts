/**
 * The Scalelite front steps (docker, certificate, NFS, app, health, node registration), run for real over
 * SSH against loopback sshd hosts, with fakes standing in for docker, systemd, certbot, exportfs and apt
 * (test/fakes); `docker exec scalelite-api bin/rake` runs Scalelite's own rake tasks on a real Redis
 * (test/support/scalelite), whose poller calls local BBB API servers as the nodes. Inputs come from the
 * same renderers the Pulumi program uses. The registration step's own tests are conformance tests
 * (test/conformance/scalelite-register.test.ts).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepName } from "../../components/remote/catalogue";
import { base64, type StepInputs } from "../../components/remote/invocation";
import { RECORDING_DIR } from "../../components/scalelite/recordingLayout";
import { renderEnvFile } from "../../components/scalelite/renderEnvFile";
import { renderNfsExports } from "../../components/scalelite/renderNfsExports";
import { renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { nodeApiUrl } from "../../components/scalelite/renderServersYaml";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls, mode, output, owner, read, runWatched, tree } from "../support/hostState";
import { attachScalelite, registerInputs, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { killSessions, runStep, startTestHost, type StepResult, type TestHost } from "../support/sshd";

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
async function frontHost(): Promise<TestHost> {
  const h = await startTestHost({ fqdn: FRONT });
  hosts.push(h);
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
    ? { DNS_CREDENTIALS_B64: base64(renderOvhDnsIni({ endpoint: "ovh-eu", applicationKey: "appkey", applicationSecret: OVH_APP_SECRET, consumerKey: "consumer" })) }
    : {}),
});
const EXPORTS = renderNfsExports(RECORDING_DIR, [
  { name: "bbb1", ipv4: "192.0.2.21", ipv6: "2001:db8::21" },
  { name: "bbb2", ipv4: "192.0.2.22", ipv6: "" },
]);
const nfsInputs = (): StepInputs => ({ RECORDING_DIR, EXPORTS_B64: base64(EXPORTS) });
const ENV_FILE = renderEnvFile({
  fqdn: FRONT,
  secretKeyBase: SECRET_KEY_BASE,
  loadBalancerSecret: LOADBALANCER_SECRET,
  checksumAlgorithms: ["SHA256", "SHA512"],
  postgresPassword: POSTGRES_PASSWORD,
  scaleliteTag: TAG,
  pollIntervalSeconds: 60,
});
const appInputs = (): StepInputs => ({ SCALELITE_TAG: TAG, ENV_FILE_B64: base64(ENV_FILE), RECORDING_DIR });

/**
 * The fake web of test/fakes/lib/fake-web.sh (not ours) must answer https://<front>/health_check for the
 * health step to be exercised: body from knob FAKE_SCALELITE_HEALTH_BODY (default `success`) while the
 * fake scalelite-nginx.service is active, connection refused otherwise. Until then these tests skip.
 */
const FAKE_WEB_SERVES_HEALTH_CHECK = readFileSync(path.join(__dirname, "../fakes/lib/fake-web.sh"), "utf8").includes("/health_check");

const FRONT_STEPS: [StepName, () => StepInputs][] = [
  ["scaleliteDocker", dockerInputs],
  ["scaleliteCertificate", () => certificateInputs()],
  ["scaleliteNfs", nfsInputs],
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
  }, 120_000);

  it("installs docker.io, creates the scalelite network, runs PostgreSQL and a persistent Redis under systemd", () => {
    expect(firstCalls).toContain("apt-get install -y -q docker.io");
    expect(firstCalls).toContain("docker network create scalelite");
    expect(read(h, "etc/default/scalelite-postgres")).toBe(`POSTGRES_PASSWORD=${POSTGRES_PASSWORD}\n`);
    expect(mode(h, "etc/default/scalelite-postgres")).toBe("600");
    const postgres = read(h, "etc/systemd/system/scalelite-postgres.service");
    expect(postgres).toMatch(/^ExecStart=\/usr\/bin\/docker run .*--name scalelite-postgres --network scalelite .*--env-file \/etc\/default\/scalelite-postgres .*source=\/var\/lib\/scalelite\/postgres,target=\/var\/lib\/postgresql\/data postgres:16$/m);
    expect(read(h, "etc/systemd/system/scalelite-redis.service")).toMatch(
      /^ExecStart=\/usr\/bin\/docker run .*--name scalelite-redis --network scalelite .*source=\/var\/lib\/scalelite\/redis,target=\/data redis:7 redis-server --appendonly yes$/m,
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
    expect(certbot[0]).toContain(`certonly --non-interactive --agree-tos --email ops@campus.example --cert-name ${FRONT} -d ${FRONT} --keep-until-expiring --standalone`);
    expect(certbot[0]).toContain("--pre-hook /etc/letsencrypt/bbb-ovh/stop-scalelite-nginx.sh --post-hook /etc/letsencrypt/bbb-ovh/start-scalelite-nginx.sh");
    expect(existsSync(path.join(h.root, `etc/letsencrypt/live/${FRONT}/fullchain.pem`))).toBe(true);
    expect(read(h, "etc/letsencrypt/bbb-ovh/stop-scalelite-nginx.sh")).toContain("systemctl stop scalelite-nginx.service");
    expect(read(h, "etc/letsencrypt/bbb-ovh/start-scalelite-nginx.sh")).toContain("systemctl start scalelite-nginx.service");
    expect(mode(h, "etc/letsencrypt/renewal-hooks/deploy/reload-scalelite-nginx.sh")).toBe("755");
    expect(read(h, "etc/letsencrypt/renewal-hooks/deploy/reload-scalelite-nginx.sh")).toContain("docker exec scalelite-nginx nginx -s reload");
  });

  it("lays out the recording directories 1000:2000 0775 and exports them to the nodes only", () => {
    for (const dir of ["spool", "recording/scalelite", "published", "unpublished"]) {
      expect(owner(h, `${RECORDING_DIR}/${dir}`)).toBe("1000:2000");
      expect(mode(h, `${RECORDING_DIR}/${dir}`)).toBe("775");
    }
    expect(read(h, "etc/exports.d/scalelite.exports")).toBe(EXPORTS);
    expect(firstCalls.filter((c) => c === "exportfs -ra")).toHaveLength(1);
    expect(read(h, "fake-state/exports")).toBe(EXPORTS);
  });

  it("runs the four Scalelite containers as in the official units, under scalelite.target", () => {
    expect(read(h, "etc/default/scalelite")).toBe(ENV_FILE);
    expect(mode(h, "etc/default/scalelite")).toBe("600");
    for (const service of SERVICES) {
      const unit = read(h, `etc/systemd/system/${service}.service`);
      expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/docker run --rm --name ${service} --network scalelite .*--env-file /etc/default/scalelite .*blindsidenetwks/scalelite:${TAG}-${service.replace("scalelite-", "")}$`, "m"));
      expect(unit).toContain("PartOf=scalelite.target");
      expect(unit).toContain("WantedBy=scalelite.target");
      expect(unitState(h, `${service}.service`, "active")).toBe("active");
      expect(unitState(h, `${service}.service`, "enabled")).toBe("enabled");
    }
    const nginx = read(h, "etc/systemd/system/scalelite-nginx.service");
    expect(nginx).toContain("EnvironmentFile=/etc/default/scalelite");
    expect(nginx).toMatch(/--publish 80:80 --publish 443:443 --mount type=bind,source=\/mnt\/scalelite-recordings\/var\/bigbluebutton\/published,target=\/var\/bigbluebutton\/published,readonly \$SCALELITE_NGINX_EXTRA_OPTS /);
    expect(read(h, "etc/systemd/system/scalelite-api.service")).toContain(`--mount type=bind,source=${RECORDING_DIR},target=/var/bigbluebutton`);
    expect(read(h, "etc/systemd/system/scalelite.target")).toContain(`Wants=${SERVICES.map((s) => `${s}.service`).join(" ")}`);
    expect(unitState(h, "scalelite.target", "enabled")).toBe("enabled");
    expect(firstCalls.filter((c) => c === "docker exec scalelite-api bin/rake db:prepare")).toHaveLength(1);
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

  it("changes nothing on a second run: same files, no install, restart, export, certificate or registration change", async () => {
    expect(tree(h)).toEqual(treeAfterFirst);
    expect(await registration(h)).toEqual(registrationAfterFirst);
    const changing = secondCalls.filter((c) => /^(apt-get|certbot|exportfs)|systemctl (restart|start|enable|daemon-reload)|network create|db:prepare/.test(c));
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

describe("scalelite-certificate", () => {
  it("uses DNS-01 through the OVH API with a 0600 credentials file, never on argv", async () => {
    const h = await frontHost();
    const r = await runStep(h, "scaleliteCertificate", certificateInputs("dns-01"));
    expect(r.code, output(r)).toBe(0);
    expect(calls(h)).toContain("apt-get install -y -q certbot python3-certbot-dns-ovh");
    const certbot = calls(h).filter((c) => c.startsWith("certbot "));
    expect(certbot).toEqual([
      `certbot certonly --non-interactive --agree-tos --email ops@campus.example --cert-name ${FRONT} -d ${FRONT} --keep-until-expiring --dns-ovh --dns-ovh-credentials /etc/letsencrypt/ovh.ini`,
    ]);
    expect(mode(h, "etc/letsencrypt/ovh.ini")).toBe("600");
    expect(read(h, "etc/letsencrypt/ovh.ini")).toContain(`dns_ovh_application_secret = ${OVH_APP_SECRET}`);
    expect(read(h, `etc/letsencrypt/renewal/${FRONT}.conf`)).toContain("authenticator = dns-ovh");
    expect(output(r) + calls(h).join("\n")).not.toContain(OVH_APP_SECRET);

    // Switching back to HTTP-01 replaces the certificate, so that renewals use the new challenge.
    const back = await runStep(h, "scaleliteCertificate", certificateInputs("http-01"));
    expect(back.code, output(back)).toBe(0);
    expect(calls(h).filter((c) => c.startsWith("certbot ")).at(-1)).toMatch(/--standalone .*--force-renewal$/);
    expect(read(h, `etc/letsencrypt/renewal/${FRONT}.conf`)).toContain("authenticator = standalone");
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

// scalelite-app runs db:version/db:prepare through the Scalelite harness (test/support/scalelite/rake.rb).
describe.skipIf(!trees)("scalelite-app", () => {
  it("refuses to start nginx without the certificate, naming the step to run first", async () => {
    const h = await frontHost();
    const r = await runStep(h, "scaleliteApp", appInputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no certificate at /etc/letsencrypt/live/${FRONT}/: run scalelite-certificate.sh first`);
    expect(existsSync(path.join(h.root, "etc/default/scalelite"))).toBe(false);
  });

  it("restarts only the containers when the env file changes, and converges after a run killed midway", async () => {
    const h = await frontHost();
    for (const [step, inputs] of FRONT_STEPS.slice(0, 2)) expect((await runStep(h, step, inputs())).code).toBe(0);

    // Killed while waiting for the api container, after the units were started: the schema is not loaded.
    setKnob(h, "FAKE_DOCKER_HANG", "inspect");
    const killed = runStep(h, "scaleliteApp", appInputs());
    const deadline = Date.now() + 10_000;
    while (!calls(h).some((c) => c.startsWith("docker inspect") && c.endsWith("scalelite-api")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(killSessions(h)).toBeGreaterThan(0);
    expect((await killed).code).not.toBe(0);
    expect(calls(h)).not.toContain("docker exec scalelite-api bin/rake db:prepare");

    setKnob(h, "FAKE_DOCKER_HANG", undefined);
    const before = calls(h).length;
    const again = await runStep(h, "scaleliteApp", appInputs());
    expect(again.code, output(again)).toBe(0);
    expect(calls(h).slice(before)).toContain("docker exec scalelite-api bin/rake db:prepare");

    // A new env file (rotated LOADBALANCER_SECRET) restarts the four containers and nothing else.
    const rotated = ENV_FILE.replace(LOADBALANCER_SECRET, randomBytes(24).toString("hex"));
    const mark = calls(h).length;
    const r = await runStep(h, "scaleliteApp", { ...appInputs(), ENV_FILE_B64: base64(rotated) });
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "etc/default/scalelite")).toBe(rotated);
    const restarts = calls(h).slice(mark).filter((c) => c.startsWith("systemctl restart"));
    expect(restarts).toEqual(SERVICES.map((s) => `systemctl restart ${s}.service`));
  });
});

describe("scalelite-docker", () => {
  it("restarts the units of a run killed between writing them and restarting them", async () => {
    const h = await frontHost();
    const unit = path.join(h.root, "etc/systemd/system/scalelite-redis.service");
    const pending = path.join(h.root, "var/lib/bbb-ovh/scalelite-docker.pending-units");
    const running = runStep(h, "scaleliteDocker", dockerInputs());
    const deadline = Date.now() + 10_000;
    while (!existsSync(unit) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
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
    expect(calls(h).slice(third).filter((c) => /systemctl (restart|daemon-reload)/.test(c))).toEqual([]);
  });
});

describe.runIf(FAKE_WEB_SERVES_HEALTH_CHECK && trees)("scalelite-health", () => {
  let h: TestHost;
  const health = (): StepInputs => ({ FQDN: FRONT, ATTEMPTS: "2", DELAY_SECONDS: "0" });
  beforeAll(async () => {
    h = await frontHost();
    for (const [step, inputs] of FRONT_STEPS.slice(0, 4)) expect((await runStep(h, step, inputs())).code).toBe(0);
  }, 60_000);

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
