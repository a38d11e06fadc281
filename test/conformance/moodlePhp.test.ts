/**
 * The PHP programs moodle-configure.sh sends to Moodle, run by the real php-cli (8.2 here; Moodle 4.x
 * runs on PHP 7.4 to 8.3): each one parses (`php -l`), and the checksum setting probe answers from a
 * Moodle tree the way Moodle's autoloader would load mod_bigbluebuttonbn\local\config. The stub
 * config.php below stands in for Moodle's bootstrap only in that: like core_component's class loader,
 * it maps the class to mod/bigbluebuttonbn/classes/local/config.php. The two class files are reduced
 * from Moodle's own (moodle/moodle at 8fc1486d, where classes/settings.php offers the setting from these
 * constants, and the 4.0-era file at 02425dd8, without them).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = path.resolve(__dirname, "../../scripts/moodle-configure.sh");
const php = spawnSync("php", ["--version"], { encoding: "utf8" }).status === 0;

/** Every `<<'PHP'` here-document of the script, by its marker comment. */
function programs(): Map<string, string> {
  const text = readFileSync(SCRIPT, "utf8");
  const found = new Map<string, string>();
  for (const m of text.matchAll(/<<'PHP'\n([\s\S]*?)\nPHP\n/g)) {
    const marker = /^\/\/ bbb-ovh: (.*)$/m.exec(m[1])?.[1] ?? `program ${found.size + 1}`;
    found.set(marker, `${m[1]}\n`);
  }
  return found;
}

const runPhp = (args: string[], input: string, cwd?: string) => spawnSync("php", args, { input, cwd, encoding: "utf8" });

const CLASS_FILES = {
  withSetting:
    "<?php\nnamespace mod_bigbluebuttonbn\\local;\nclass config {\n    public const DEFAULT_CHECKSUM_ALGORITHM = 'SHA1';\n    public const CHECKSUM_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'];\n}\n",
  sha1Only:
    "<?php\nnamespace mod_bigbluebuttonbn\\local;\nclass config {\n    public const DEFAULT_SERVER_URL = 'https://test-moodle.blindsidenetworks.com/bigbluebutton/';\n}\n",
};
const CONFIG_PHP = `<?php
spl_autoload_register(function ($class) {
    if ($class === 'mod_bigbluebuttonbn\\\\local\\\\config' && is_file(__DIR__ . '/mod/bigbluebuttonbn/classes/local/config.php')) {
        require(__DIR__ . '/mod/bigbluebuttonbn/classes/local/config.php');
    }
});
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function moodleTree(classFile?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "moodle-php-"));
  dirs.push(dir);
  writeFileSync(path.join(dir, "config.php"), CONFIG_PHP);
  if (classFile) {
    mkdirSync(path.join(dir, "mod/bigbluebuttonbn/classes/local"), { recursive: true });
    writeFileSync(path.join(dir, "mod/bigbluebuttonbn/classes/local/config.php"), classFile);
  }
  return dir;
}

describe.skipIf(!php)("the PHP programs sent to Moodle, under the real php-cli", () => {
  it("finds both programs and each one parses", () => {
    const found = programs();
    expect([...found.keys()]).toEqual(["mod_bigbluebuttonbn checksum setting probe.", "mod_bigbluebuttonbn shared secret and visibility."]);
    for (const [name, program] of found) {
      const r = runPhp(["-l"], program);
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it("the probe tells a module with the checksum setting from a SHA1-only one, and a missing class from both", () => {
    const probe = programs().get("mod_bigbluebuttonbn checksum setting probe.")!;
    const answer = (dir: string) => {
      const r = runPhp([], probe, dir);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(answer(moodleTree(CLASS_FILES.withSetting))).toBe("checksum_algorithm_setting=yes");
    expect(answer(moodleTree(CLASS_FILES.sha1Only))).toBe("checksum_algorithm_setting=no");
    expect(answer(moodleTree())).toBe("checksum_algorithm_setting=no");
  });

  // The Moodle calls the program makes (get_config, set_config, $CFG->config_php_settings, $DB,
  // core\plugininfo\mod::enable_plugin) stubbed as their Moodle 4.x signatures (lib/moodlelib.php,
  // lib/classes/plugininfo/mod.php), keeping the site's state in a JSON file: this runs our program's own
  // logic (the secret read from fd 3, compared, written once; the module enabled once) in real PHP.
  const API_STUB = `<?php
namespace {
    $CFG = new stdClass();
    $CFG->config_php_settings = json_decode(getenv('FORCED') ?: '{}', true);
    function stub_state() { return json_decode(@file_get_contents(__DIR__ . '/site.json') ?: '{"config":{},"visible":0}', true); }
    function stub_save($s) { file_put_contents(__DIR__ . '/site.json', json_encode($s)); }
    function get_config($plugin, $name) { global $CFG; return $CFG->config_php_settings[$name] ?? stub_state()['config'][$name] ?? false; }
    function set_config($name, $value) { $s = stub_state(); $s['config'][$name] = $value; stub_save($s); }
    class stub_db {
        public function record_exists($table, $conditions) { return $table === 'modules' && $conditions === ['name' => 'bigbluebuttonbn']; }
        public function get_field($table, $field, $conditions) { return stub_state()['visible']; }
    }
    $DB = new stub_db();
}
namespace core\\plugininfo {
    class mod {
        public static function enable_plugin(string $name, int $enabled): bool { $s = \\stub_state(); $s['visible'] = $enabled; \\stub_save($s); return true; }
    }
}
`;

  it("the secret program reads the secret from fd 3, sets it and enables the module once, and refuses a forced secret", () => {
    const program = programs().get("mod_bigbluebuttonbn shared secret and visibility.")!;
    const dir = moodleTree();
    writeFileSync(path.join(dir, "config.php"), API_STUB);
    const secret = "s3cr3t-with-no-newline";
    const run = (forced: Record<string, string> = {}) =>
      spawnSync("bash", ["-c", 'php 3< <(printf "%s\\n" "$SECRET")'], {
        cwd: dir,
        input: program,
        encoding: "utf8",
        env: { ...process.env, SECRET: secret, FORCED: JSON.stringify(forced) },
      });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe("set bigbluebuttonbn_shared_secret\nenabled mod_bigbluebuttonbn\n");
    expect(JSON.parse(readFileSync(path.join(dir, "site.json"), "utf8"))).toEqual({ config: { bigbluebuttonbn_shared_secret: secret }, visible: 1 });
    const second = run();
    expect([second.status, second.stdout]).toEqual([0, ""]);
    const forced = run({ bigbluebuttonbn_shared_secret: "other" });
    expect(forced.status, forced.stdout + forced.stderr).toBe(4);
    expect(forced.stderr).toContain("bigbluebuttonbn_shared_secret is forced in config.php");
    expect(forced.stdout + forced.stderr).not.toContain(secret);
  });
});
