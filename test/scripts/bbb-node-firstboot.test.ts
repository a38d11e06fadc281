/**
 * A node's first boot from the node image (scripts/bbb-node-firstboot.sh), run for real over SSH on a loopback
 * sshd host. The host's root first holds an image builder as bbb-install.sh leaves it, then the real cleaning
 * step makes it the image (test/support/nodeImageHost.ts), and the first-boot step makes it the node. certbot and bbb-conf are the fakes of test/fakes/bin
 * (bbb-conf --setip as bbb-conf's source does it, its event-socket password block included; certbot --webroot
 * answered only when nginx serves the name).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { calls, mode, output, read, runWatched, tree } from "../support/hostState";
import {
  ADDRESS_FILES,
  BUILDER,
  BUILDER_ESL_PASSWORD,
  BUILDER_TURN_SECRET,
  builderHost as builder,
  ESL_FILES,
  imageHost as image,
  NAME_FILES,
  put,
} from "../support/nodeImageHost";
import { killSessions, runStep, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const EMAIL = "admin@campus.example";
const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});
const track = (h: TestHost) => {
  hosts.push(h);
  return h;
};
const builderHost = async (fqdn: string, publicIpv4: string) => track(await builder({ fqdn, publicIpv4 }));
const imageHost = async (fqdn: string, publicIpv4: string) => track(await image({ fqdn, publicIpv4 }));

const inputs = (h: TestHost, extra: StepInputs = {}): StepInputs => ({ FQDN: h.fqdn, PUBLIC_IPV4: h.publicIpv4, EMAIL, ...extra });
const firstBoot = (h: TestHost, extra: StepInputs = {}) => runStep(h, "bbbFirstBoot", inputs(h, extra));
const coturnSecret = (h: TestHost) => /^static-auth-secret=(.*)$/m.exec(read(h, "etc/turnserver.conf"))?.[1] ?? "";
const count = (h: TestHost, prefix: string) => calls(h).filter((c) => c.startsWith(prefix)).length;
/** Everything a run could change, including the FreeSWITCH files under opt/ that tree() leaves out. */
const snapshot = (h: TestHost) => ({ tree: tree(h), opt: [...ADDRESS_FILES, ...ESL_FILES].filter((f) => f.startsWith("opt/")).map((f) => read(h, f)) });
/** The event-socket password each file carries: akka's password="...", FreeSWITCH's password param, the sfu's esl_password. */
const ESL_LINE = [/password="([^"]*)"/, /<param name="password" value="([^"]*)"/, /esl_password: "?([^"\n]*)"?/];
const eslPasswords = (h: TestHost) => ESL_FILES.map((f, i) => ESL_LINE[i].exec(read(h, f))?.[1]);
/** The node's one event-socket password, after checking every file carries it. */
const eslPassword = (h: TestHost): string => {
  const all = eslPasswords(h);
  expect(new Set(all), `${ESL_FILES.join(", ")}: ${all.join(", ")}`).toHaveLength(1);
  return all[0]!;
};

describe("bbb-node-firstboot.sh", () => {
  it("makes the image this node's own (address, name, certificate, TURN, bbb-conf --setip), then it serves with its own secret; a second run changes nothing", async () => {
    const h = await imageHost("bbb7.campus.example", "203.0.113.27");
    expect(read(h, "etc/bbb-ovh/node-image")).toBe(`BUILDER_FQDN=${BUILDER.fqdn}\nBUILDER_IPV4=${BUILDER.ipv4}\n`);
    expect(existsSync(path.join(h.root, "etc/haproxy/certbundle.pem"))).toBe(false); // the builder's key is not in the image
    expect(coturnSecret(h)).toBe("");
    expect(eslPasswords(h)).toEqual(["", "", ""]); // the cleaner blanked the builder's

    const firstListings: string[] = [];
    const first = await runWatched(h, "bbbFirstBoot", inputs(h), firstListings);
    expect(first.code, output(first)).toBe(0);
    for (const file of ADDRESS_FILES) {
      expect(read(h, file), file).not.toContain(BUILDER.ipv4);
      expect(read(h, file), file).toContain(h.publicIpv4);
    }
    for (const file of NAME_FILES) {
      expect(read(h, file), file).not.toContain(BUILDER.fqdn);
      expect(read(h, file), file).toContain(h.fqdn);
    }
    expect(read(h, "opt/freeswitch/conf/sip_profiles/external.xml")).toBe(
      `<param name="ws-binding" value="${h.publicIpv4}:5066"/>\n<param name="wss-binding" value="${h.publicIpv4}:7443"/>\n`,
    );
    // What bbb-conf --setip owns.
    expect(read(h, "etc/bigbluebutton/bbb-web.properties")).toContain(`bigbluebutton.web.serverURL=https://${h.fqdn}\n`);
    expect(read(h, "etc/bigbluebutton/bbb-apps-akka.conf")).toContain(`bbbWebAPI="https://${h.fqdn}/bigbluebutton/api"`);
    expect(read(h, "usr/local/bigbluebutton/core/scripts/bigbluebutton.yml")).toContain(`playback_host: ${h.fqdn}\n`);
    expect(read(h, "usr/local/bigbluebutton/bbb-webhooks/config/default.yml")).toContain(`serverDomain: ${h.fqdn}\n`);
    // The certificate, by the webroot nginx serves, and haproxy's bundle of it.
    const certbot = calls(h).filter((c) => c.startsWith("certbot"));
    expect(certbot).toHaveLength(1);
    expect(certbot[0]).toContain(`--webroot -w /var/www/bigbluebutton-default/assets/ -d ${h.fqdn}`);
    const live = `etc/letsencrypt/live/${h.fqdn}`;
    expect(read(h, "etc/haproxy/certbundle.pem")).toBe(`${read(h, `${live}/fullchain.pem`)}\n${read(h, `${live}/privkey.pem`)}`);
    expect(mode(h, "etc/haproxy/certbundle.pem")).toBe("640");
    // TURN: coturn's own new secret, and bbb-web pointed at this node's coturn with it.
    const secret = coturnSecret(h);
    expect(secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(secret).not.toBe(BUILDER_TURN_SECRET);
    const turnXml = read(h, "etc/bigbluebutton/turn-stun-servers.xml");
    expect(turnXml).toContain(`value="turn:${h.fqdn}:3478"`);
    expect(turnXml).toContain(`value="${secret}"`);
    expect(mode(h, "etc/bigbluebutton/turn-stun-servers.xml")).toBe("640");
    expect(output(first)).not.toContain(secret);
    // FreeSWITCH's event-socket password: a new one, the same in every file that carries it.
    const esl = eslPassword(h);
    expect(esl).toMatch(/^[0-9a-f]{32}$/);
    expect(esl).not.toBe(BUILDER_ESL_PASSWORD);
    expect(output(first)).not.toContain(esl);
    for (const listing of firstListings) expect(listing).not.toContain(esl);
    expect(first.stdout).toContain("/etc/bigbluebutton/bbb-fsesl-akka.conf: the event-socket password is this node's own");
    expect(calls(h)).toContain("systemctl restart haproxy coturn");
    expect(calls(h)).toContain(`bbb-conf --setip ${h.fqdn}`);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-node-firstboot.restart-pending"))).toBe(false);

    const before = snapshot(h);
    const callsBefore = calls(h).length;
    const second = await firstBoot(h);
    expect(second.code, output(second)).toBe(0);
    expect(second.stdout).toMatch(/already this node's own; nothing to do/);
    expect(snapshot(h)).toEqual(before);
    expect(calls(h).slice(callsBefore)).toEqual([]);
    expect(eslPassword(h)).toBe(esl);

    // Then the node's own shared secret (bbbConfigure), and it answers signed API calls with it (bbbHealth).
    const nodeSecret = "nodeSecret0123456789abcdefABCDEF";
    const configure = await runStep(h, "bbbConfigure", { FQDN: h.fqdn, SHARED_SECRET: nodeSecret });
    expect(configure.code, output(configure)).toBe(0);
    expect(read(h, "etc/bigbluebutton/bbb-apps-akka.conf")).toContain(`sharedSecret="${nodeSecret}"`); // as bbb-conf --setip writes it
    const health = await runStep(h, "bbbHealth", { FQDN: h.fqdn, SHARED_SECRET: nodeSecret, CHECKSUM_ALGORITHM: "SHA256", DELAY_SECONDS: "0" });
    expect(health.code, output(health)).toBe(0);

    // Then campus.turn.mode external: bbb-web's TURN servers change (the secret on stdin only), and a restart follows.
    const turnSecret = "ExternalTurnSecret0123456789";
    const listings: string[] = [];
    const external = await runWatched(h, "bbbFirstBoot", inputs(h, { TURN_HOST: "turn.campus.example", TURN_SECRET: turnSecret }), listings);
    expect(external.code, output(external)).toBe(0);
    expect(read(h, "etc/bigbluebutton/turn-stun-servers.xml")).toContain(`value="turns:turn.campus.example:443?transport=tcp"`);
    expect(read(h, "etc/bigbluebutton/turn-stun-servers.xml")).toContain(`value="${turnSecret}"`);
    expect(coturnSecret(h)).toBe(secret);
    expect(count(h, "bbb-conf --setip")).toBe(2);
    for (const listing of listings) expect(listing).not.toContain(turnSecret);
    expect(output(external)).not.toContain(turnSecret);
  });

  it("a run cut while certbot waits for the CA converges on the next run, which restarts what the cut run changed", async ({ signal }) => {
    const h = await imageHost("bbb8.campus.example", "203.0.113.28");
    mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
    writeFileSync(path.join(h.root, "fake-state/knobs/FAKE_CERTBOT_SLEEP"), "60");
    const running = firstBoot(h);
    await waitUntil(() => calls(h).some((c) => c.startsWith("certbot")), signal);
    let killed = 0;
    for (let n = killSessions(h); n > 0; n = killSessions(h)) killed += n;
    expect(killed).toBeGreaterThan(0);
    expect((await running).code).not.toBe(0);
    // Cut midway: the name and address are the node's, no certificate yet, nothing restarted, the marker down.
    expect(read(h, "etc/nginx/sites-available/bigbluebutton")).toContain(`server_name ${h.fqdn};`);
    expect(existsSync(path.join(h.root, `etc/letsencrypt/live/${h.fqdn}`))).toBe(false);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-node-firstboot.restart-pending"))).toBe(true);
    expect(count(h, "bbb-conf")).toBe(0);

    rmSync(path.join(h.root, "fake-state/knobs/FAKE_CERTBOT_SLEEP"));
    const resumed = await firstBoot(h);
    expect(resumed.code, output(resumed)).toBe(0);
    // Nothing left to replace, yet what the cut run changed is restarted: haproxy and coturn, BigBlueButton by --setip.
    expect(resumed.stdout).not.toMatch(/->/);
    expect(count(h, "systemctl restart nginx")).toBe(2);
    expect(calls(h)).toContain("systemctl restart haproxy coturn");
    expect(count(h, "bbb-conf --setip")).toBe(1);
    expect(existsSync(path.join(h.root, `etc/letsencrypt/live/${h.fqdn}/fullchain.pem`))).toBe(true);
    expect(read(h, "etc/bigbluebutton/bbb-web.properties")).toContain(`bigbluebutton.web.serverURL=https://${h.fqdn}\n`);
    expect(existsSync(path.join(h.root, "var/lib/bbb-ovh/bbb-node-firstboot.restart-pending"))).toBe(false);

    const before = snapshot(h);
    expect((await firstBoot(h)).code).toBe(0);
    expect(snapshot(h)).toEqual(before);
    expect(count(h, "bbb-conf --setip")).toBe(1);
  });

  it("gives two nodes of one image different event-socket passwords, each the same in all its files; a run cut among them converges", async () => {
    const [a, b] = await Promise.all([imageHost("bbb10.campus.example", "203.0.113.30"), imageHost("bbb11.campus.example", "203.0.113.31")]);
    const [runA, runB] = await Promise.all([firstBoot(a), firstBoot(b)]);
    expect(runA.code, output(runA)).toBe(0);
    expect(runB.code, output(runB)).toBe(0);
    const [eslA, eslB] = [eslPassword(a), eslPassword(b)];
    expect(eslA).not.toBe(eslB);
    for (const esl of [eslA, eslB]) expect([BUILDER_ESL_PASSWORD, "ClueCon", ""]).not.toContain(esl);

    // A run cut after it wrote bbb-fsesl-akka.conf (the first file) and before the others: the next run
    // carries that password into them and restarts BigBlueButton (bbb-conf --setip); then nothing changes.
    const c = await imageHost("bbb12.campus.example", "203.0.113.32");
    const own = "0123456789abcdef0123456789abcdef";
    put(c, ESL_FILES[0], read(c, ESL_FILES[0]).replace('password=""', `password="${own}"`));
    put(c, "var/lib/bbb-ovh/bbb-node-firstboot.restart-pending", "");
    const resumed = await firstBoot(c);
    expect(resumed.code, output(resumed)).toBe(0);
    expect(eslPassword(c)).toBe(own);
    expect(count(c, "bbb-conf --setip")).toBe(1);
    const before = snapshot(c);
    expect((await firstBoot(c)).code).toBe(0);
    expect(snapshot(c)).toEqual(before);
    expect(count(c, "bbb-conf --setip")).toBe(1);
  });

  it("refuses a host that was not made from the image, changing nothing; leaves a node the install step installed alone", async () => {
    // A builder never cleaned: BigBlueButton is there, the image's stamp is not.
    const h = await builderHost("bbb9.campus.example", "203.0.113.29");
    const before = snapshot(h);
    const run = await firstBoot(h);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/\/etc\/bbb-ovh\/node-image is missing: bbb9\.campus\.example was not made from a bbb-ovh node image .* nothing was changed/);
    expect(snapshot(h)).toEqual(before);
    expect(calls(h)).toEqual([]);
    expect(readFileSync(path.join(h.root, "etc/turnserver.conf"), "utf8")).toContain(`static-auth-secret=${BUILDER_TURN_SECRET}`);

    // A node our install step installed (a campus that gains a node image keeps it until `ops upgrade`): left alone.
    put(h, "var/lib/bbb-ovh/bbb-install.stamp", "stamp\n");
    const installed = snapshot(h);
    const kept = await firstBoot(h);
    expect(kept.code, output(kept)).toBe(0);
    expect(kept.stdout).toMatch(/installed by bbb-install\.sh \(the install step\), not made from the node image: nothing to do/);
    expect(snapshot(h)).toEqual(installed);
    expect(calls(h)).toEqual([]);
  });
});
