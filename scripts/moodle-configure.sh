#!/usr/bin/env bash
# Moodle: point the core BigBlueButton activity (mod_bigbluebuttonbn, Moodle 4.x) at Scalelite and
# enable it (new installs ship it hidden). Runs on the Moodle host, in MOODLE_DIR.
#
# Inputs (stdin, KEY=VALUE): MOODLE_DIR, SERVER_URL (https://<front>/bigbluebutton/), SHARED_SECRET
# (secret: Scalelite's LOADBALANCER_SECRET), CHECKSUM_ALGORITHM (SHA1 | SHA256 | SHA512), ACCEPT_DPA
# (1 accepts the data processing agreement by default, 0 leaves it); optional PHP (default php).
# Plain settings go through admin/cli/cfg.php. The secret does not: `cfg.php --set` would show it in
# the process list. A small PHP program, read by php on stdin, sets it with set_config() from its file
# descriptor 3, and enables the module through Moodle's plugin API. Only values that differ are written.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Exit codes of cfg.php (admin/cli/cfg.php): 3 the variable is not set, 4 it is hard-set in config.php.
CFG_UNSET=3
CFG_FORCED=4

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: MOODLE_DIR SERVER_URL SHARED_SECRET CHECKSUM_ALGORITHM ACCEPT_DPA [PHP])"
}

# cfg_get NAME: prints the current value (empty when unset).
cfg_get() {
  local value rc=0
  # stderr only says "No such configuration variable found." for an unset value.
  value="$("$PHP" admin/cli/cfg.php --name="$1" 2>/dev/null)" || rc=$?
  ((rc == 0 || rc == CFG_UNSET)) || die "cfg.php could not read $1 (exit $rc): run 'php admin/cli/cfg.php --name=$1' in $IN_MOODLE_DIR"
  printf '%s' "$value"
}

# cfg_ensure NAME VALUE: sets NAME only when it differs.
cfg_ensure() {
  local name="$1" value="$2" rc=0
  [[ "$(cfg_get "$name")" == "$value" ]] && return 0
  "$PHP" admin/cli/cfg.php --name="$name" --set="$value" || rc=$?
  ((rc != CFG_FORCED)) || die "$name is forced in Moodle's config.php (\$CFG->$name): change it there"
  ((rc == 0)) || die "cfg.php could not set $name (exit $rc)"
  log "set $name"
}

# The PHP program: the secret on fd 3 (never argv, never in this text), the module enabled with
# core\plugininfo\mod::enable_plugin (Moodle 4.0+), both only when needed.
moodle_program() {
  cat <<'PHP'
<?php
// bbb-ovh: mod_bigbluebuttonbn shared secret and visibility.
define('CLI_SCRIPT', true);
require(getcwd() . '/config.php');

$name = 'bigbluebuttonbn_shared_secret';
$secret = rtrim(stream_get_contents(fopen('php://fd/3', 'r')), "\n");
if ($secret === '') {
    fwrite(STDERR, "no shared secret on file descriptor 3\n");
    exit(1);
}
if (get_config('core', $name) !== $secret) {
    if (array_key_exists($name, $CFG->config_php_settings)) {
        fwrite(STDERR, "$name is forced in config.php: change it there\n");
        exit(4);
    }
    set_config($name, $secret);
    echo "set $name\n";
}

if (!$DB->record_exists('modules', ['name' => 'bigbluebuttonbn'])) {
    fwrite(STDERR, "mod_bigbluebuttonbn is not installed (Moodle 4.0 and later ship it)\n");
    exit(5);
}
if (!$DB->get_field('modules', 'visible', ['name' => 'bigbluebuttonbn'])) {
    \core\plugininfo\mod::enable_plugin('bigbluebuttonbn', 1);
    if (!$DB->get_field('modules', 'visible', ['name' => 'bigbluebuttonbn'])) {
        fwrite(STDERR, "mod_bigbluebuttonbn refused to be enabled\n");
        exit(5);
    }
    echo "enabled mod_bigbluebuttonbn\n";
}
PHP
}

apply_secret_and_enable() {
  local rc=0
  moodle_program | "$PHP" 3< <(printf '%s\n' "$IN_SHARED_SECRET") || rc=$?
  ((rc != CFG_FORCED)) || die "bigbluebuttonbn_shared_secret is forced in Moodle's config.php: change it there"
  ((rc == 0)) || die "the Moodle program failed (exit $rc)"
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs MOODLE_DIR SERVER_URL SHARED_SECRET CHECKSUM_ALGORITHM ACCEPT_DPA
  PHP="${IN_PHP:-php}"
  [[ "$IN_CHECKSUM_ALGORITHM" =~ ^SHA(1|256|512)$ ]] || die "CHECKSUM_ALGORITHM must be SHA1, SHA256 or SHA512 (Scalelite cannot check SHA384)"
  [[ "$IN_ACCEPT_DPA" == 0 || "$IN_ACCEPT_DPA" == 1 ]] || die "ACCEPT_DPA must be 0 or 1"
  [[ "$IN_SERVER_URL" =~ ^https?://[^/]+/ ]] || die "SERVER_URL must be an http(s) URL such as https://front.example.org/bigbluebutton/"
  [[ -n "$IN_SHARED_SECRET" ]] || die "SHARED_SECRET is empty"
  [[ -f "$ROOT$IN_MOODLE_DIR/config.php" && -f "$ROOT$IN_MOODLE_DIR/admin/cli/cfg.php" ]] ||
    die "$IN_MOODLE_DIR is not a Moodle directory (no config.php or admin/cli/cfg.php)"
  cd "$ROOT$IN_MOODLE_DIR"
  cfg_ensure bigbluebuttonbn_server_url "$IN_SERVER_URL"
  cfg_ensure bigbluebuttonbn_checksum_algorithm "$IN_CHECKSUM_ALGORITHM"
  if [[ "$IN_ACCEPT_DPA" == 1 ]]; then
    cfg_ensure bigbluebuttonbn_default_dpa_accepted 1
  fi
  apply_secret_and_enable
  log "Moodle uses $IN_SERVER_URL for BigBlueButton"
}

main "$@"
