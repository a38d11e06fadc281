/**
 * moodle-configure.sh run for real over SSH against a loopback sshd host whose `php` is the fake Moodle
 * of test/fakes (cfg.php semantics, set_config, the module's visibility).
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { renderMoodleSettings } from "../../components/moodle/renderMoodleSettings";
import { calls, output, runWatched } from "../support/hostState";
import { FAKE_BIN, runStep, startTestHost, type TestHost } from "../support/sshd";

const SECRET = randomBytes(32).toString("hex");
const MOODLE_DIR = "/var/www/moodle";
const settings = renderMoodleSettings({ frontFqdn: "scalelite.campus.example", checksumAlgorithm: "SHA256", acceptDpa: true });
const inputs = (extra: StepInputs = {}): StepInputs => ({
  MOODLE_DIR,
  SERVER_URL: settings.bigbluebuttonbn_server_url,
  SHARED_SECRET: SECRET,
  CHECKSUM_ALGORITHM: settings.bigbluebuttonbn_checksum_algorithm,
  ACCEPT_DPA: "1",
  ...extra,
});

/**
 * The fakes, copied where www-data can read them: the checkout may live in a private (0700) directory,
 * from which the fake php, run as www-data, could not even be opened.
 */
const FAKES = mkdtempSync(path.join(tmpdir(), "bbb-ovh-moodle-fakes-"));
cpSync(path.dirname(FAKE_BIN), FAKES, { recursive: true });
chmodSync(FAKES, 0o755);

const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(FAKES, { recursive: true, force: true });
});

/**
 * mod/bigbluebuttonbn/classes/local/config.php as Moodle ships it, reduced to what matters here: with the
 * checksum algorithm setting (its constants, used by classes/settings.php to offer
 * bigbluebuttonbn_checksum_algorithm; moodle/moodle at 8fc1486d) or without it (moodle/moodle at 02425dd8,
 * a 4.0-era file whose module signs with SHA1 only).
 */
const BBB_CONFIG_CLASS = {
  withChecksumSetting:
    "<?php\nnamespace mod_bigbluebuttonbn\\local;\nclass config {\n    public const DEFAULT_CHECKSUM_ALGORITHM = 'SHA1';\n    public const CHECKSUM_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'];\n}\n",
  sha1Only:
    "<?php\nnamespace mod_bigbluebuttonbn\\local;\nclass config {\n    public const DEFAULT_SERVER_URL = 'https://test-moodle.blindsidenetworks.com/bigbluebutton/';\n}\n",
};

/**
 * A host with a Moodle directory (config.php, admin/cli/cfg.php, the module's config class) and the given
 * config.php overrides. Moodle's PHP runs as www-data there: the host's area is opened to it as a real
 * Moodle host's web root is (the fake php writes its state and call log there).
 */
async function moodleHost(forced: Record<string, string> = {}, module: keyof typeof BBB_CONFIG_CLASS = "withChecksumSetting"): Promise<TestHost> {
  const h = await startTestHost({ fqdn: "moodle.campus.example", env: { PATH: `${FAKES}/bin:/usr/sbin:/usr/bin:/sbin:/bin` } });
  hosts.push(h);
  mkdirSync(path.join(h.root, MOODLE_DIR, "admin/cli"), { recursive: true });
  mkdirSync(path.join(h.root, MOODLE_DIR, "mod/bigbluebuttonbn/classes/local"), { recursive: true });
  writeFileSync(path.join(h.root, MOODLE_DIR, "config.php"), "<?php // fake Moodle\n");
  writeFileSync(path.join(h.root, MOODLE_DIR, "admin/cli/cfg.php"), "<?php // fake cfg.php\n");
  writeFileSync(path.join(h.root, MOODLE_DIR, "mod/bigbluebuttonbn/classes/local/config.php"), BBB_CONFIG_CLASS[module]);
  mkdirSync(path.join(h.root, "fake-state/knobs"), { recursive: true });
  writeFileSync(
    path.join(h.root, "fake-state/knobs/FAKE_MOODLE_FORCED"),
    Object.entries(forced)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(""),
  );
  for (const dir of [path.dirname(h.root), h.root]) chmodSync(dir, 0o755);
  chmodSync(path.join(h.root, "fake-state"), 0o777);
  appendFileSync(path.join(h.root, "fake-calls.log"), "");
  chmodSync(path.join(h.root, "fake-calls.log"), 0o666);
  return h;
}

/** The fake Moodle site's state, without the record of who ran its PHP (see phpUsers). */
const moodle = (h: TestHost): { config: Record<string, string>; modules: Record<string, number> } => {
  const { config, modules } = JSON.parse(readFileSync(path.join(h.root, "fake-state/moodle.json"), "utf8"));
  return { config, modules };
};
const phpUsers = (h: TestHost): string[] => JSON.parse(readFileSync(path.join(h.root, "fake-state/moodle.json"), "utf8")).php_users ?? [];

describe("moodle-configure", () => {
  it("points mod_bigbluebuttonbn at Scalelite, sets the secret off argv, enables the module; a second run only reads", async () => {
    const h = await moodleHost();
    const listings: string[] = [];
    const first = await runWatched(h, "moodleConfigure", inputs(), listings);
    expect(first.code, output(first)).toBe(0);
    expect(moodle(h)).toEqual({
      config: {
        bigbluebuttonbn_server_url: "https://scalelite.campus.example/bigbluebutton/",
        bigbluebuttonbn_checksum_algorithm: "SHA256",
        bigbluebuttonbn_default_dpa_accepted: "1",
        bigbluebuttonbn_shared_secret: SECRET,
      },
      modules: { bigbluebuttonbn: 1 },
    });
    expect(first.stdout).toContain("enabled mod_bigbluebuttonbn");
    const firstCalls = calls(h);
    expect(firstCalls).toContain("php admin/cli/cfg.php --name=bigbluebuttonbn_server_url --set=https://scalelite.campus.example/bigbluebutton/");
    expect(firstCalls.filter((c) => c.includes("shared_secret"))).toEqual([]);

    const stateAfterFirst = moodle(h);
    const second = await runWatched(h, "moodleConfigure", inputs(), listings);
    expect(second.code, output(second)).toBe(0);
    expect(moodle(h)).toEqual(stateAfterFirst);
    expect(
      calls(h)
        .slice(firstCalls.length)
        .filter((c) => c.includes("--set=")),
    ).toEqual([]);
    expect(second.stdout).not.toMatch(/^set |enabled mod_/m);

    const everywhere = [first, second].map(output).join("\n") + calls(h).join("\n") + listings.join("\n");
    expect(listings.length).toBeGreaterThan(3);
    expect(everywhere).not.toContain(SECRET);
  });

  it("updates only what changed (a rotated secret) and leaves the DPA alone when not accepted", async () => {
    const h = await moodleHost();
    expect((await runStep(h, "moodleConfigure", inputs({ ACCEPT_DPA: "0" }))).code).toBe(0);
    expect(moodle(h).config).not.toHaveProperty("bigbluebuttonbn_default_dpa_accepted");
    const rotated = randomBytes(32).toString("hex");
    const mark = calls(h).length;
    const r = await runStep(h, "moodleConfigure", inputs({ ACCEPT_DPA: "0", SHARED_SECRET: rotated }));
    expect(r.code, output(r)).toBe(0);
    expect(moodle(h).config.bigbluebuttonbn_shared_secret).toBe(rotated);
    expect(r.stdout).toContain("set bigbluebuttonbn_shared_secret");
    expect(
      calls(h)
        .slice(mark)
        .filter((c) => c.includes("--set=")),
    ).toEqual([]);
  });

  it("stops with a clear message when config.php forces another value", async () => {
    const h = await moodleHost({ bigbluebuttonbn_server_url: "https://old-bbb.campus.example/bigbluebutton/" });
    const r = await runStep(h, "moodleConfigure", inputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bigbluebuttonbn_server_url is forced in Moodle's config.php ($CFG->bigbluebuttonbn_server_url): change it there");
  });

  it("accepts a value forced to what we want, and reports a forced secret", async () => {
    const same = await moodleHost({ bigbluebuttonbn_checksum_algorithm: "SHA256" });
    expect((await runStep(same, "moodleConfigure", inputs())).code).toBe(0);

    const forcedSecret = await moodleHost({ bigbluebuttonbn_shared_secret: "something-else" });
    const r = await runStep(forcedSecret, "moodleConfigure", inputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bigbluebuttonbn_shared_secret is forced in Moodle's config.php: change it there");
    expect(output(r)).not.toContain(SECRET);
  });

  it("runs Moodle's PHP as the web server user (www-data by default), never as root", async () => {
    const h = await moodleHost();
    const r = await runStep(h, "moodleConfigure", inputs());
    expect(r.code, output(r)).toBe(0);
    expect(phpUsers(h)).toEqual(["www-data"]);
  });

  it("refuses a web server user that does not exist, naming the setting", async () => {
    const h = await moodleHost();
    const r = await runStep(h, "moodleConfigure", inputs({ PHP_USER: "nginx-php" }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("user nginx-php does not exist on this host: set campus.moodle.phpUser");
  });

  it("stops, changing nothing, when the module has no checksum setting (SHA1 only) and Scalelite expects SHA256", async () => {
    const h = await moodleHost({}, "sha1Only");
    const r = await runStep(h, "moodleConfigure", inputs());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has no bigbluebuttonbn_checksum_algorithm setting: it signs with SHA1 only");
    expect(r.stderr).toContain("set campus.moodle.checksumAlgorithm: SHA1");
    expect(calls(h).filter((c) => c.includes("--set="))).toEqual([]);
    expect(output(r)).not.toContain(SECRET);
  });

  it("with SHA1 chosen, configures such a Moodle without writing a setting it does not have", async () => {
    const h = await moodleHost({}, "sha1Only");
    const r = await runStep(h, "moodleConfigure", inputs({ CHECKSUM_ALGORITHM: "SHA1" }));
    expect(r.code, output(r)).toBe(0);
    expect(moodle(h).config).not.toHaveProperty("bigbluebuttonbn_checksum_algorithm");
    expect(moodle(h).config.bigbluebuttonbn_shared_secret).toBe(SECRET);
    expect(r.stdout).toContain("signs with SHA1");
  });

  it("refuses a directory that is not Moodle", async () => {
    const h = await moodleHost();
    const r = await runStep(h, "moodleConfigure", inputs({ MOODLE_DIR: "/srv/nothing" }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/srv/nothing is not a Moodle directory");
  });
});
