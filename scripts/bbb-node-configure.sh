#!/usr/bin/env bash
# Sets the node's shared secret and allowRevealOfBBBVersion=true (so Scalelite can show the version),
# writing the files `bbb-conf --setsecret` writes, but without the secret on any command line: it is
# replaced line by line in bash (no sed/awk process sees it). `bbb-conf --restart` runs only when a file
# changed; its output goes to the 0600 log, because its checks can print secrets.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(FQDN SHARED_SECRET)

BBB_ETC="$ROOT/etc/bigbluebutton"
WEB_PROPERTIES="$BBB_ETC/bbb-web.properties"
AKKA_CONFIG="$BBB_ETC/bbb-apps-akka.conf"
WEBHOOKS_CONFIG="$ROOT/usr/local/bigbluebutton/bbb-webhooks/config/default.yml"
WEBHOOKS_CATCHER="$ROOT/usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js"
CONFIGURE_LOG="$LOG_DIR/bbb-node-configure.log"
CHANGED=0

# rewrite FILE FILTER: passes FILE through the bash function FILTER and installs the result with the
# file's own mode and owner when it differs.
rewrite() {
  local file="$1" filter="$2" mode owner
  shift 2
  [[ -f "$file" ]] || return 0
  mode="$(stat -c %a "$file")"
  owner="$(stat -c %u:%g "$file")"
  # shellcheck disable=SC2094 # install_content writes a temporary file and renames it over FILE
  if "$filter" "$@" <"$file" | install_content "$file" "$mode" "$owner"; then
    log "updated ${file#"$ROOT"}"
    CHANGED=1
  fi
}

# bbb-web.properties: securitySalt and allowRevealOfBBBVersion, replaced where they are, else appended.
web_properties_filter() {
  local line salt=0 reveal=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
      securitySalt=*) line="securitySalt=$IN_SHARED_SECRET" salt=1 ;;
      allowRevealOfBBBVersion=*) line="allowRevealOfBBBVersion=true" reveal=1 ;;
    esac
    printf '%s\n' "$line"
  done
  ((salt)) || printf 'securitySalt=%s\n' "$IN_SHARED_SECRET"
  ((reveal)) || printf 'allowRevealOfBBBVersion=true\n'
}

# secret_filter PATTERN [QUOTE]: copies stdin to stdout; on a line matching PATTERN, whose two groups
# are what stands before and after the value, the value becomes the shared secret wrapped in QUOTE.
secret_filter() {
  local pattern="$1" quote="${2:-}" line
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ $pattern ]] && line="${BASH_REMATCH[1]}$quote$IN_SHARED_SECRET$quote${BASH_REMATCH[2]}"
    printf '%s\n' "$line"
  done
}

restart_bigbluebutton() {
  log "restarting BigBlueButton (output in ${CONFIGURE_LOG#"$ROOT"})"
  mkdir -p "$LOG_DIR"
  (umask 077 && touch "$CONFIGURE_LOG")
  chmod 0600 "$CONFIGURE_LOG"
  if ! bbb-conf --restart >>"$CONFIGURE_LOG" 2>&1 </dev/null; then
    die "bbb-conf --restart failed on $IN_FQDN; see ${CONFIGURE_LOG#"$ROOT"}"
  fi
}

main() {
  # Letters and digits only, like the secrets BigBlueButton generates; also keeps every format above safe.
  [[ "$IN_SHARED_SECRET" =~ ^[A-Za-z0-9]+$ ]] || die "SHARED_SECRET must be letters and digits only"
  [[ -f "$WEB_PROPERTIES" ]] || die "${WEB_PROPERTIES#"$ROOT"} is missing: BigBlueButton is not installed on $IN_FQDN (run bbb-node-install first)"

  rewrite "$WEB_PROPERTIES" web_properties_filter
  # bbb-apps-akka.conf (HOCON): sharedSecret = "..."
  rewrite "$AKKA_CONFIG" secret_filter '^(.*sharedSecret[[:blank:]]*=[[:blank:]]*)"[^"]*"(.*)$' '"'
  # bbb-webhooks config/default.yml: sharedSecret: ...
  rewrite "$WEBHOOKS_CONFIG" secret_filter '^([[:blank:]#]*sharedSecret: ).*()$'
  # bbb-webhooks extra/post_catcher.js: var shared_secret = "...";
  rewrite "$WEBHOOKS_CATCHER" secret_filter '^([[:blank:]]*var shared_secret[ =]*)[^;]*(.*)$' '"'


  if ((CHANGED)); then
    restart_bigbluebutton
    log "shared secret and allowRevealOfBBBVersion set on $IN_FQDN"
  else
    log "shared secret and allowRevealOfBBBVersion already set on $IN_FQDN; nothing to do"
  fi
}

run_step "$@"
