#!/usr/bin/env python3
"""Fake Moodle 4.x behind the fake `php`, run from the Moodle directory (config.php there).

`php admin/cli/cfg.php --name=N` prints N's value (exit 3 "No such configuration variable found." when
unset); `--set=V` sets it, exit 4 when N is hard-set in config.php; as Moodle's cfg.php does.
`php` with a program on stdin emulates bbb-ovh's programs (moodle-configure.sh), each recognised by its
marker comment and the Moodle calls it must make:
- the mod_bigbluebuttonbn program reads the shared secret on file descriptor 3, set_config()s it when it
  differs (exit 4 when forced), and enables the module through core\\plugininfo\\mod::enable_plugin when hidden;
- the checksum setting probe prints whether `mod_bigbluebuttonbn\\local\\config::CHECKSUM_ALGORITHMS` is
  defined. Moodle's class autoloader loads that class from mod/bigbluebuttonbn/classes/local/config.php, so
  the fake reads that file of the site: the constant is there in the Moodle versions whose
  classes/settings.php offers bigbluebuttonbn_checksum_algorithm (moodle/moodle at 8fc1486d), and absent in
  the 4.0-era file (moodle/moodle at 02425dd8), whose module signs with SHA1 only.
When a real php is installed each program is linted (test/conformance/moodlePhp.test.ts runs them for real).

State: $BBB_OVH_ROOT/fake-state/moodle.json {"config": {name: value}, "modules": {"bigbluebuttonbn": 0|1},
"php_users": [the Unix users php ran as]} (a new site: no config, the module installed and hidden).
Knob FAKE_MOODLE_FORCED (environment or fake-state/knobs/): "name=value" lines hard-set in config.php.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys

STATE_FILE = os.path.join(os.environ["BBB_OVH_ROOT"], "fake-state", "moodle.json")
PROGRAM_MARKER = "// bbb-ovh: mod_bigbluebuttonbn shared secret"
PROBE_MARKER = "// bbb-ovh: mod_bigbluebuttonbn checksum setting probe"
PROBE_CALLS = [
    "define('CLI_SCRIPT', true);",
    "defined('mod_bigbluebuttonbn\\local\\config::CHECKSUM_ALGORITHMS')",
]
PROGRAM_CALLS = [
    "define('CLI_SCRIPT', true);",
    "php://fd/3",
    "get_config('core', $name)",
    "$CFG->config_php_settings",
    "set_config($name, $secret);",
    "\\core\\plugininfo\\mod::enable_plugin('bigbluebuttonbn', 1);",
]


def load_state():
    try:
        with open(STATE_FILE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"config": {}, "modules": {"bigbluebuttonbn": 0}}


def save_state(state):
    os.makedirs(os.path.dirname(STATE_FILE), exist_ok=True)
    with open(STATE_FILE, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=2, sort_keys=True)


def forced():
    lines = os.environ.get("FAKE_MOODLE_FORCED", "").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def require_moodle_dir():
    if not os.path.isfile("config.php"):
        print("PHP Warning:  require(config.php): Failed to open stream: No such file or directory", file=sys.stderr)
        sys.exit(255)


def cfg_php(args):
    if not os.path.isfile("admin/cli/cfg.php"):
        print("Could not open input file: admin/cli/cfg.php", file=sys.stderr)
        return 1
    require_moodle_dir()
    options = dict(arg[2:].split("=", 1) if "=" in arg else (arg[2:], True) for arg in args)
    name, state, hard = options.get("name"), load_state(), forced()
    if "set" in options or "unset" in options:
        if not name:
            print("Missing configuration variable name", file=sys.stderr)
            return 2
        if name in hard:
            print("The configuration variable is hard-set in the config.php, unable to change.", file=sys.stderr)
            return 4
        if "unset" in options:
            state["config"].pop(name, None)
        else:
            state["config"][name] = options["set"]
        save_state(state)
        return 0
    values = {**state["config"], **hard}
    if name is None:
        for key, value in values.items():
            print(f"{key}\t{value}")
        return 0
    if name not in values:
        print("No such configuration variable found.", file=sys.stderr)
        return 3
    print(values[name])
    return 0


def lint(program):
    php = shutil.which("php", path="/usr/local/bin:/usr/bin")
    if php:
        result = subprocess.run([php, "-l"], input=program, text=True, capture_output=True)
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
            sys.exit(255)


def accept(program, calls):
    """Like php loading Moodle: the program makes the calls expected of it, parses, and finds config.php."""
    missing = [call for call in calls if call not in program]
    if missing:
        print(f"fake php: the program does not make the expected Moodle calls: {missing}", file=sys.stderr)
        sys.exit(2)
    lint(program)
    require_moodle_dir()


def bigbluebuttonbn_program(program):
    accept(program, PROGRAM_CALLS)
    with os.fdopen(3, encoding="utf-8") as fd3:
        secret = fd3.read().rstrip("\n")
    if not secret:
        print("no shared secret on file descriptor 3", file=sys.stderr)
        return 1
    state, hard, name = load_state(), forced(), "bigbluebuttonbn_shared_secret"
    if {**state["config"], **hard}.get(name) != secret:
        if name in hard:
            print(f"{name} is forced in config.php: change it there", file=sys.stderr)
            return 4
        state["config"][name] = secret
        print(f"set {name}")
    if "bigbluebuttonbn" not in state["modules"]:
        print("mod_bigbluebuttonbn is not installed (Moodle 4.0 and later ship it)", file=sys.stderr)
        return 5
    if not state["modules"]["bigbluebuttonbn"]:
        state["modules"]["bigbluebuttonbn"] = 1
        print("enabled mod_bigbluebuttonbn")
    save_state(state)
    return 0


def note_php_user():
    state = load_state()
    users = set(state.get("php_users", []))
    users.add(pwd.getpwuid(os.geteuid()).pw_name)
    state["php_users"] = sorted(users)
    save_state(state)


def checksum_setting_probe(program):
    accept(program, PROBE_CALLS)
    try:
        with open("mod/bigbluebuttonbn/classes/local/config.php", encoding="utf-8") as f:
            defined = "const CHECKSUM_ALGORITHMS" in f.read()
    except FileNotFoundError:
        defined = False
    print(f"checksum_algorithm_setting={'yes' if defined else 'no'}")
    return 0


def main(argv):
    note_php_user()
    if argv and argv[0] == "admin/cli/cfg.php":
        return cfg_php(argv[1:])
    if not argv:
        program = sys.stdin.read()
        if PROGRAM_MARKER in program:
            return bigbluebuttonbn_program(program)
        if PROBE_MARKER in program:
            return checksum_setting_probe(program)
    print(f"fake php: nothing emulated for {argv or 'this program on stdin'}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
