/**
 * The image builder's cleaning (scripts/bbb-node-image-clean.sh), run for real over SSH against a loopback
 * sshd host whose root holds a BigBlueButton tree laid out as bbb-install and our steps leave it
 * (file names from BBB 3.0's packages and bbb-conf; contents are stand-ins).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep, startTestHost, type TestHost } from "../support/sshd";

const BUILDER_SECRET = "builder-secret-0123456789abcdef";
const BUILDER_ESL = "5f0c9e1ab27d4863"; // bbb-conf --setip's `openssl rand -hex 8`
/** Where bbb-conf --setip writes the event-socket password: 3.0's production.yml, 2.7's default.yml, and both lines' akka and FreeSWITCH files. */
const ESL = {
  "etc/bigbluebutton/bbb-fsesl-akka.conf": (p: string) =>
    `include "/usr/share/bbb-fsesl-akka/conf/application.conf"\nfreeswitch {\n    esl {\n        password="${p}"\n    }\n}\n`,
  "opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml": (p: string) =>
    `<configuration name="event_socket.conf">\n  <settings>\n    <param name="listen-port" value="8021"/>\n    <param name="password" value="${p}"/>\n  </settings>\n</configuration>\n`,
  "etc/bigbluebutton/bbb-webrtc-sfu/production.yml": (p: string) => `freeswitch:\n  sip_ip: 198.51.100.7\n  esl_password: ${p}\n`,
  "usr/local/bigbluebutton/bbb-webrtc-sfu/config/default.yml": (p: string) => `freeswitch:\n  esl_ip: 127.0.0.1\n  esl_password: '${p}'\nlog:\n  level: info\n`,
};
let h: TestHost;

const put = (rel: string, content: string) => {
  const file = path.join(h.root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
};
const at = (rel: string) => path.join(h.root, rel);
const clean = () => runStep(h, "bbbImageClean", { FQDN: "bbb-image-builder.campus.example" });

beforeAll(async () => {
  h = await startTestHost({ fqdn: "bbb-image-builder.campus.example" });
  put("etc/machine-id", "4c4c4544004a3510804bc3c04f384d32\n");
  mkdirSync(at("var/lib/dbus"), { recursive: true });
  symlinkSync("/etc/machine-id", at("var/lib/dbus/machine-id"));
  put("etc/ssh/ssh_host_ed25519_key", "builder host key\n");
  put("etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA builder\n");
  put("etc/ssh/sshd_config", "PasswordAuthentication no\n");
  put("home/ubuntu/.ssh/authorized_keys", "ssh-ed25519 AAAA deploy-key-of-the-builder\n");
  put("home/ubuntu/.bash_history", "sudo bbb-conf --secret\n");
  put("root/.ssh/authorized_keys", "ssh-ed25519 AAAA builder\n");
  put(
    "etc/bigbluebutton/bbb-web.properties",
    `serverURL=https://bbb-image-builder.campus.example\nsecuritySalt=${BUILDER_SECRET}\nallowRevealOfBBBVersion=true\n`,
  );
  put(
    "etc/bigbluebutton/bbb-apps-akka.conf",
    `services {\n  bbbWebAPI = "https://bbb-image-builder.campus.example/bigbluebutton/api"\n  sharedSecret = "${BUILDER_SECRET}"\n}\n`,
  );
  put("usr/local/bigbluebutton/bbb-webhooks/config/default.yml", `bbb:\n  serverDomain: bbb-image-builder.campus.example\n  sharedSecret: ${BUILDER_SECRET}\n`);
  put("usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js", `var url = "http://localhost";\nvar shared_secret = "${BUILDER_SECRET}";\n`);
  put("etc/bigbluebutton/turn-stun-servers.xml", '<beans><constructor-arg index="0" value="turn-secret"/></beans>\n');
  put("etc/turnserver.conf", "listening-ip=198.51.100.7\nstatic-auth-secret=Y290dXJuLXNlY3JldA==\nrealm=bbb-image-builder.campus.example\n");
  put("etc/haproxy/certbundle.pem", "builder certificate\n\nbuilder certificate key\n");
  put("etc/bbb-ovh/recording-transfer/id_ed25519", "transfer key\n");
  put("etc/letsencrypt/live/bbb-image-builder.campus.example/privkey.pem", "builder certificate key\n");
  put("etc/letsencrypt/renewal/bbb-image-builder.campus.example.conf", "renewal\n");
  put("var/lib/cloud/instances/i-0123/user-data.txt", "#cloud-config\n");
  put("opt/freeswitch/conf/vars.xml", '<X-PRE-PROCESS cmd="set" data="external_rtp_ip=198.51.100.7"/>\n');
  put("var/lib/bbb-ovh/bbb-install.stamp", "stamp naming the builder\n");
  put("var/log/bigbluebutton/bbb-web.log", "log line\n");
  put("var/log/bbb-ovh/bbb-install.log", "installer log\n");
  put("usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties", "securitySalt=\n");
  mkdirSync(at("var/bigbluebutton/published/presentation"), { recursive: true });
  for (const [file, content] of Object.entries(ESL)) put(file, content(BUILDER_ESL));
  chmodSync(at("opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml"), 0o640);
});

afterAll(async () => {
  await h?.stop();
});

describe("bbb-node-image-clean.sh", () => {
  it("removes what is the builder's own and keeps BigBlueButton; a second run finds nothing to do", async () => {
    const first = await clean();
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(readFileSync(at("etc/machine-id"), "utf8")).toBe("");
    expect(lstatSync(at("var/lib/dbus/machine-id")).isSymbolicLink()).toBe(true); // a link to the emptied id is kept
    for (const gone of [
      "etc/ssh/ssh_host_ed25519_key",
      "etc/ssh/ssh_host_ed25519_key.pub",
      "home/ubuntu/.ssh/authorized_keys",
      "home/ubuntu/.bash_history",
      "root/.ssh/authorized_keys",
      "etc/bigbluebutton/turn-stun-servers.xml",
      "etc/haproxy/certbundle.pem",
      "etc/bbb-ovh/recording-transfer",
      "etc/letsencrypt/live/bbb-image-builder.campus.example",
      "etc/letsencrypt/renewal/bbb-image-builder.campus.example.conf",
      "var/lib/cloud/instances",
      "var/lib/bbb-ovh/bbb-install.stamp",
      "var/log/bigbluebutton/bbb-web.log",
      "var/log/bbb-ovh/bbb-install.log",
    ])
      expect(existsSync(at(gone)), gone).toBe(false);
    // The builder's secret is nowhere left; the files and their other settings are.
    for (const file of [
      "etc/bigbluebutton/bbb-web.properties",
      "etc/bigbluebutton/bbb-apps-akka.conf",
      "usr/local/bigbluebutton/bbb-webhooks/config/default.yml",
      "usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js",
    ]) {
      expect(readFileSync(at(file), "utf8")).not.toContain(BUILDER_SECRET);
    }
    expect(readFileSync(at("etc/bigbluebutton/bbb-web.properties"), "utf8")).toBe(
      "serverURL=https://bbb-image-builder.campus.example\nsecuritySalt=\nallowRevealOfBBBVersion=true\n",
    );
    expect(readFileSync(at("etc/bigbluebutton/bbb-apps-akka.conf"), "utf8")).toContain('  sharedSecret = ""\n');
    expect(readFileSync(at("usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js"), "utf8")).toContain('var shared_secret = "";\n');
    expect(readFileSync(at("etc/ssh/sshd_config"), "utf8")).toBe("PasswordAuthentication no\n");
    expect(readFileSync(at("etc/turnserver.conf"), "utf8")).toBe("listening-ip=198.51.100.7\nstatic-auth-secret=\nrealm=bbb-image-builder.campus.example\n");
    // FreeSWITCH's event-socket password: blank in every file that carries it, each file otherwise unchanged.
    expect(readFileSync(at("etc/bigbluebutton/bbb-fsesl-akka.conf"), "utf8")).toBe(ESL["etc/bigbluebutton/bbb-fsesl-akka.conf"](""));
    const eventSocket = "opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml";
    expect(readFileSync(at(eventSocket), "utf8")).toBe(ESL[eventSocket](""));
    expect(statSync(at(eventSocket)).mode & 0o777).toBe(0o640);
    expect(readFileSync(at("etc/bigbluebutton/bbb-webrtc-sfu/production.yml"), "utf8")).toBe('freeswitch:\n  sip_ip: 198.51.100.7\n  esl_password: ""\n');
    expect(readFileSync(at("usr/local/bigbluebutton/bbb-webrtc-sfu/config/default.yml"), "utf8")).toBe(
      'freeswitch:\n  esl_ip: 127.0.0.1\n  esl_password: ""\nlog:\n  level: info\n',
    );
    expect(first.stdout).not.toContain(BUILDER_ESL);
    // The image's stamp: what the first-boot step replaces, and what it requires.
    expect(readFileSync(at("etc/bbb-ovh/node-image"), "utf8")).toBe("BUILDER_FQDN=bbb-image-builder.campus.example\nBUILDER_IPV4=198.51.100.7\n");
    expect(existsSync(at("var/log/bigbluebutton"))).toBe(true);
    expect(existsSync(at("usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties"))).toBe(true);

    const second = await clean();
    expect(second.code).toBe(0);
    expect(second.stdout).not.toMatch(/removed|blanked|emptied|wrote/);
  });

  it("refuses a host where bbb-install.sh set no address (BigBlueButton not installed by it), and removes nothing", async () => {
    const vars = readFileSync(at("opt/freeswitch/conf/vars.xml"), "utf8");
    rmSync(at("opt/freeswitch/conf/vars.xml"));
    put("etc/ssh/ssh_host_ed25519_key", "a host key\n");
    const run = await clean();
    put("opt/freeswitch/conf/vars.xml", vars);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /no external_rtp_ip address in \/opt\/freeswitch\/conf\/vars\.xml: BigBlueButton is not installed by bbb-install\.sh here; nothing was removed/,
    );
    expect(readFileSync(at("etc/ssh/ssh_host_ed25519_key"), "utf8")).toBe("a host key\n");
  });

  it("refuses a host that holds a recording, and removes nothing", async () => {
    put("var/bigbluebutton/published/presentation/0123abcd-1700000000000/metadata.xml", "<recording/>\n");
    put("etc/ssh/ssh_host_ed25519_key", "a real node's key\n");
    const run = await clean();
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /\/var\/bigbluebutton\/published\/presentation\/0123abcd-1700000000000 is a recording: this is not an image builder; nothing was removed/,
    );
    expect(readFileSync(at("etc/ssh/ssh_host_ed25519_key"), "utf8")).toBe("a real node's key\n");
  });
});
