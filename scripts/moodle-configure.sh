#!/usr/bin/env bash
# Moodle: point the core BigBlueButton activity (mod_bigbluebuttonbn, Moodle 4.x) at Scalelite and
# enable it (new installs ship it hidden). Runs on the Moodle host, in MOODLE_DIR, as root.
#
# Inputs (stdin, KEY=VALUE): MOODLE_DIR, SERVER_URL (https://<front>/bigbluebutton/), SHARED_SECRET
# (secret: Scalelite's LOADBALANCER_SECRET), CHECKSUM_ALGORITHM (SHA1 | SHA256 | SHA512), ACCEPT_DPA
# (1 accepts the data processing agreement by default, 0 leaves it); optional PHP (default php) and
# PHP_USER (default www-data).
# Moodle's PHP runs as PHP_USER, the web server's user, through runuser: Moodle's CLI scripts must run
# as that user ("Administration via command line", docs.moodle.org), or the cache and data files they
# create belong to root and the site can no longer write them. runuser keeps file descriptor 3 open
# (sudo would close it).
# Older Moodle 4.x releases have no bigbluebuttonbn_checksum_algorithm setting and sign with SHA1 only
# (mod/bigbluebuttonbn/classes/local/proxy/proxy_base.php signs with sha1(), moodle/moodle at 04975560).
# A probe asks whether the installed module defines the setting's choices
# (mod_bigbluebuttonbn\local\config::CHECKSUM_ALGORITHMS, which classes/settings.php uses to offer the
# setting, moodle/moodle at 8fc1486d; absent from the 4.0-era class, moodle/moodle at 02425dd8). Without
# it, CHECKSUM_ALGORITHM must be SHA1 (Scalelite then accepts SHA1), or the step stops before changing
# anything, saying what to set (docs/moodle.md).
# Plain settings go through admin/cli/cfg.php. The secret does not: `cfg.php --set` would show it in
# the process list. A small PHP program, read by php on stdin, sets it with set_config() from its file
# descriptor 3, and enables the module through Moodle's plugin API. Only values that differ are written.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(MOODLE_DIR SERVER_URL SHARED_SECRET CHECKSUM_ALGORITHM ACCEPT_DPA)
OPTIONAL_INPUTS=(PHP PHP_USER)

# Exit codes of cfg.php (admin/cli/cfg.php): 3 the variable is not set, 4 it is hard-set in config.php.
CFG_UNSET=3
CFG_FORCED=4

# moodle_php ARGS...: Moodle's php as the web server user.
moodle_php() {
  if [[ "$(id -un)" == "$PHP_USER" ]]; then
    "$PHP" "$@"
  else
    runuser -u "$PHP_USER" -- "$PHP" "$@"
  fi
}

# cfg_get NAME: prints the current value (empty when unset).
cfg_get() {
  local value rc=0
  # stderr only says "No such configuration variable found." for an unset value.
  value="$(moodle_php admin/cli/cfg.php --name="$1" 2>/dev/null)" || rc=$?
  ((rc == 0 || rc == CFG_UNSET)) || die "cfg.php could not read $1 (exit $rc): run 'php admin/cli/cfg.php --name=$1' in $IN_MOODLE_DIR"
  printf '%s' "$value"
}

# cfg_ensure NAME VALUE: sets NAME only when it differs.
cfg_ensure() {
  local name="$1" value="$2" rc=0
  [[ "$(cfg_get "$name")" == "$value" ]] && return 0
  moodle_php admin/cli/cfg.php --name="$name" --set="$value" || rc=$?
  ((rc != CFG_FORCED)) || die "$name is forced in Moodle's config.php (\$CFG->$name): change it there"
  ((rc == 0)) || die "cfg.php could not set $name (exit $rc)"
  log "set $name"
}

# The probe: does this Moodle's mod_bigbluebuttonbn have the checksum algorithm setting?
checksum_probe_program() {
  cat <<'PHP'
<?php
// bbb-ovh: mod_bigbluebuttonbn checksum setting probe.
define('CLI_SCRIPT', true);
require(getcwd() . '/config.php');

// defined() loads the class through Moodle's autoloader; false when the class or the constant is missing.
$supported = defined('mod_bigbluebuttonbn\local\config::CHECKSUM_ALGORITHMS');
echo 'checksum_algorithm_setting=' . ($supported ? 'yes' : 'no') . "\n";
PHP
}

# Sets the checksum algorithm, or checks that a Moodle without the setting (SHA1 only) may use SHA1.
ensure_checksum_algorithm() {
  local output answer=""
  output="$(checksum_probe_program | moodle_php)" || die "the Moodle probe failed: run php as $PHP_USER in $IN_MOODLE_DIR to see why"
  # Moodle may print notices of its own while it loads: only the probe's line counts.
  [[ "$output" =~ checksum_algorithm_setting=(yes|no) ]] && answer="${BASH_REMATCH[0]}"
  case "$answer" in
    checksum_algorithm_setting=yes) cfg_ensure bigbluebuttonbn_checksum_algorithm "$IN_CHECKSUM_ALGORITHM" ;;
    checksum_algorithm_setting=no)
      [[ "$IN_CHECKSUM_ALGORITHM" == SHA1 ]] ||
        die "this Moodle's mod_bigbluebuttonbn has no bigbluebuttonbn_checksum_algorithm setting: it signs with SHA1 only, and Scalelite is set to refuse SHA1 ($IN_CHECKSUM_ALGORITHM was asked). Either set campus.moodle.checksumAlgorithm: SHA1 in the stack (Scalelite then accepts SHA1 too) and run pulumi up again, or upgrade Moodle to a release whose BigBlueButton settings offer a checksum algorithm"
      log "this Moodle's mod_bigbluebuttonbn has no checksum algorithm setting and signs with SHA1, which Scalelite accepts"
      ;;
    *) die "unexpected answer from the Moodle probe: ${output:0:300}" ;;
  esac
}

# The PHP program: the secret on fd 3 (never argv, never in this text), the module enabled with
# core\plugininfo\mod::enable_plugin (Moodle 4.0+), both only when needed.
moodle_program() {
  cat <<'PHP'
<?php
// bbb-ovh: mod_bigbluebuttonbn shared secret and visibility.
define('CLI_SCRIPT', true);
require(getcwd() . '/config.php');
// php reading its program from stdin defines no STDERR constant (php.net/manual/en/features.commandline.io-streams.php).
$stderr = fopen('php://stderr', 'w');

$name = 'bigbluebuttonbn_shared_secret';
$secret = rtrim(stream_get_contents(fopen('php://fd/3', 'r')), "\n");
if ($secret === '') {
    fwrite($stderr, "no shared secret on file descriptor 3\n");
    exit(1);
}
if (get_config('core', $name) !== $secret) {
    if (array_key_exists($name, $CFG->config_php_settings)) {
        fwrite($stderr, "$name is forced in config.php: change it there\n");
        exit(4);
    }
    set_config($name, $secret);
    echo "set $name\n";
}

if (!$DB->record_exists('modules', ['name' => 'bigbluebuttonbn'])) {
    fwrite($stderr, "mod_bigbluebuttonbn is not installed (Moodle 4.0 and later ship it)\n");
    exit(5);
}
if (!$DB->get_field('modules', 'visible', ['name' => 'bigbluebuttonbn'])) {
    \core\plugininfo\mod::enable_plugin('bigbluebuttonbn', 1);
    if (!$DB->get_field('modules', 'visible', ['name' => 'bigbluebuttonbn'])) {
        fwrite($stderr, "mod_bigbluebuttonbn refused to be enabled\n");
        exit(5);
    }
    echo "enabled mod_bigbluebuttonbn\n";
}
PHP
}

apply_secret_and_enable() {
  local rc=0
  moodle_program | moodle_php 3< <(printf '%s\n' "$IN_SHARED_SECRET") || rc=$?
  ((rc != CFG_FORCED)) || die "bigbluebuttonbn_shared_secret is forced in Moodle's config.php: change it there"
  ((rc == 0)) || die "the Moodle program failed (exit $rc)"
}

main() {
  PHP="${IN_PHP:-php}"
  PHP_USER="${IN_PHP_USER:-www-data}"
  [[ "$PHP_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "PHP_USER must be a Unix user name"
  id -u "$PHP_USER" >/dev/null 2>&1 ||
    die "user $PHP_USER does not exist on this host: set campus.moodle.phpUser to the user your web server runs PHP as"
  [[ "$IN_CHECKSUM_ALGORITHM" =~ ^SHA(1|256|512)$ ]] || die "CHECKSUM_ALGORITHM must be SHA1, SHA256 or SHA512 (Scalelite cannot check SHA384)"
  [[ "$IN_ACCEPT_DPA" == 0 || "$IN_ACCEPT_DPA" == 1 ]] || die "ACCEPT_DPA must be 0 or 1"
  [[ "$IN_SERVER_URL" =~ ^https?://[^/]+/ ]] || die "SERVER_URL must be an http(s) URL such as https://front.example.org/bigbluebutton/"
  [[ -n "$IN_SHARED_SECRET" ]] || die "SHARED_SECRET is empty"
  [[ -f "$ROOT$IN_MOODLE_DIR/config.php" && -f "$ROOT$IN_MOODLE_DIR/admin/cli/cfg.php" ]] ||
    die "$IN_MOODLE_DIR is not a Moodle directory (no config.php or admin/cli/cfg.php)"
  cd "$ROOT$IN_MOODLE_DIR"
  ensure_checksum_algorithm
  cfg_ensure bigbluebuttonbn_server_url "$IN_SERVER_URL"
  if [[ "$IN_ACCEPT_DPA" == 1 ]]; then
    cfg_ensure bigbluebuttonbn_default_dpa_accepted 1
  fi
  apply_secret_and_enable
  log "Moodle uses $IN_SERVER_URL for BigBlueButton"
}

run_step "$@"
