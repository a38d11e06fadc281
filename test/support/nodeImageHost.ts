/**
 * A loopback sshd test host (test/support/sshd.ts) whose root holds a BigBlueButton image builder as
 * bbb-install.sh leaves it: the files and lines its pinned commits write the builder's -s name and address
 * into (check_nat, install_ssl, install_coturn, install_haproxy, the bbb-webrtc-sfu settings; contents are
 * stand-ins), with nginx, haproxy, coturn and BigBlueButton running (fake systemctl). `imageHost` then
 * runs the real cleaning step on it: the node image as a node boots from it.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { output } from "./hostState";
import { runStep, startTestHost, type TestHost, type TestHostOptions } from "./sshd";

export const BUILDER = { fqdn: "bbb-image-builder.campus.example", ipv4: "198.51.100.7" };
export const BUILDER_SECRET = "builderSecret0123456789abcdef";
export const BUILDER_TURN_SECRET = "YnVpbGRlci1jb3R1cm4tc2VjcmV0LW9mLXRoZS1pbWFnZQ==";
/** The FreeSWITCH event-socket password bbb-conf --setip gave the builder (`openssl rand -hex 8` in place of ClueCon). */
export const BUILDER_ESL_PASSWORD = "5f0c9e1ab27d4863";
export const put = (h: TestHost, rel: string, content: string) => {
  const file = path.join(h.root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
};

/** The files where bbb-install.sh wrote the builder's address, and those where it wrote its name. */
export const ADDRESS_FILES = [
  "opt/freeswitch/conf/vars.xml",
  "opt/freeswitch/conf/sip_profiles/external.xml",
  "usr/share/bigbluebutton/nginx/sip.nginx",
  "etc/bigbluebutton/bbb-webrtc-sfu/production.yml",
  "etc/turnserver.conf",
  "etc/haproxy/haproxy.cfg",
];
/** The files that carry the event-socket password on a 3.0 node (scripts/lib/esl.sh; bbb-conf --setip writes them). */
export const ESL_FILES = [
  "etc/bigbluebutton/bbb-fsesl-akka.conf",
  "opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml",
  "etc/bigbluebutton/bbb-webrtc-sfu/production.yml",
];
export const NAME_FILES = ["etc/nginx/sites-available/bigbluebutton", "etc/turnserver.conf", "etc/letsencrypt/renewal-hooks/deploy/haproxy"];

/** A host whose root is an image builder after bbb-install.sh, running (nginx, haproxy, coturn, BigBlueButton). The caller stops it. */
export async function builderHost(options: TestHostOptions): Promise<TestHost> {
  const h = await startTestHost(options);
  const { fqdn: b, ipv4: ip } = BUILDER;
  put(h, "etc/bigbluebutton/bigbluebutton-release", "BIGBLUEBUTTON_RELEASE=3.0.4\n");
  put(h, "usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties", "bigbluebutton.web.serverURL=http://127.0.0.1\nsecuritySalt=\n");
  put(h, "etc/bigbluebutton/bbb-web.properties", `bigbluebutton.web.serverURL=https://${b}\nsecuritySalt=${BUILDER_SECRET}\n`);
  put(h, "etc/bigbluebutton/bbb-apps-akka.conf", `services {\n  bbbWebAPI = "https://${b}/bigbluebutton/api"\n  sharedSecret = "${BUILDER_SECRET}"\n}\n`);
  put(h, "usr/local/bigbluebutton/core/scripts/bigbluebutton.yml", `playback_host: ${b}\nplayback_protocol: https\n`);
  put(h, "usr/local/bigbluebutton/bbb-webhooks/config/default.yml", `bbb:\n  serverDomain: ${b}\n  sharedSecret: ${BUILDER_SECRET}\n`);
  put(h, "opt/freeswitch/conf/vars.xml", `<X-PRE-PROCESS cmd="set" data="external_rtp_ip=${ip}"/>\n<X-PRE-PROCESS cmd="set" data="external_sip_ip=${ip}"/>\n`);
  put(h, "opt/freeswitch/conf/sip_profiles/external.xml", `<param name="ws-binding" value="${ip}:5066"/>\n<param name="wss-binding" value="${ip}:7443"/>\n`);
  put(h, "usr/share/bigbluebutton/nginx/sip.nginx", `location /ws {\n  proxy_pass http://${ip}:5066;\n}\n`);
  put(
    h,
    "etc/bigbluebutton/bbb-webrtc-sfu/production.yml",
    `freeswitch:\n  ip: ${ip}\n  sip_ip: ${ip}\n  esl_password: ${BUILDER_ESL_PASSWORD}\nmediasoup:\n  webrtc:\n    listenIps:\n      - ip: 0.0.0.0\n        announcedIp: ${ip}\n  plainRtp:\n    listenIp:\n      ip: 0.0.0.0\n      announcedIp: ${ip}\n`,
  );
  // bbb-fsesl-akka's preinst writes this file with ClueCon, bbb-freeswitch-core ships event_socket.conf.xml with
  // it; bbb-conf --setip replaced it by a random one in both and in the sfu's production.yml (above).
  put(
    h,
    "etc/bigbluebutton/bbb-fsesl-akka.conf",
    `// include default config from upstream\ninclude "/usr/share/bbb-fsesl-akka/conf/application.conf"\n\nfreeswitch {\n    esl {\n        password="${BUILDER_ESL_PASSWORD}"\n    }\n}\n`,
  );
  put(
    h,
    "opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml",
    `<configuration name="event_socket.conf" description="Socket Client">\n  <settings>\n    <param name="listen-ip" value="127.0.0.1"/>\n    <param name="listen-port" value="8021"/>\n    <param name="password" value="${BUILDER_ESL_PASSWORD}"/>\n  </settings>\n</configuration>\n`,
  );
  put(
    h,
    "etc/turnserver.conf",
    `listening-port=3478\nlistening-ip=${ip}\nrelay-ip=${ip}\nstatic-auth-secret=${BUILDER_TURN_SECRET}\nrealm=${b}\ndenied-peer-ip=0.0.0.0-255.255.255.255\nallowed-peer-ip=${ip}\n`,
  );
  put(
    h,
    "etc/haproxy/haproxy.cfg",
    `frontend nginx_or_turn\n  bind *:443,:::443 ssl crt /etc/haproxy/certbundle.pem\nbackend turn\n  server localhost ${ip}:3478\n`,
  );
  put(h, "etc/haproxy/certbundle.pem", "builder certificate\n\nbuilder key\n");
  put(
    h,
    "etc/nginx/sites-available/bigbluebutton",
    `server {\n  listen 80;\n  server_name ${b};\n}\nserver {\n  listen 127.0.0.1:81 proxy_protocol;\n  server_name ${b};\n}\n`,
  );
  put(
    h,
    "etc/letsencrypt/renewal-hooks/deploy/haproxy",
    `#!/bin/bash -e\n{ cat /etc/letsencrypt/live/${b}/fullchain.pem; echo; cat /etc/letsencrypt/live/${b}/privkey.pem; } > /etc/haproxy/certbundle.pem.new\n`,
  );
  put(h, `etc/letsencrypt/live/${b}/privkey.pem`, "builder key\n");
  put(h, `etc/letsencrypt/renewal/${b}.conf`, "authenticator = webroot\n");
  put(h, "etc/bigbluebutton/turn-stun-servers.xml", `<constructor-arg index="0" value="${BUILDER_TURN_SECRET}"/>\n`);
  put(h, "etc/machine-id", "4c4c4544004a3510804bc3c04f384d32\n");
  for (const unit of ["nginx.service", "haproxy.service", "coturn.service", "bigbluebutton.target"]) {
    put(h, `usr/lib/systemd/system/${unit}`, `[Unit]\nDescription=${unit} (fake package)\n`);
    put(h, `fake-state/systemd/${unit}.active`, "active\n");
  }
  return h;
}

/** The builder made into the image by the real cleaning step. */
export async function imageHost(options: TestHostOptions): Promise<TestHost> {
  const h = await builderHost(options);
  const clean = await runStep(h, "bbbImageClean", { FQDN: BUILDER.fqdn });
  expect(clean.code, output(clean)).toBe(0);
  rmSync(path.join(h.root, "fake-calls.log"), { force: true });
  return h;
}
