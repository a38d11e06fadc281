#!/usr/bin/env bash
# The backup's settings and restic helpers, shared by the host step (scalelite-backup.sh) and the
# command it installs (scalelite-backup-command.sh, as bbb-ovh-backup). Sourced after common.sh, never run.
#
# Secrets never reach a command line: restic reads the password from RESTIC_PASSWORD_FILE and the S3
# keys from its environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, restic's documented S3
# variables), both loaded from 0600 files here.

# shellcheck disable=SC2034 # read by the scripts that source this file
STEP_NAME=scalelite-backup
CONF_DIR="$ROOT/etc/bbb-ovh/backup"
REPOSITORY_ENV="$CONF_DIR/repository.env"
PASSWORD_FILE="$CONF_DIR/password"
POLICY_ENV="$CONF_DIR/policy.env"
STATUS_FILE="$STATE_DIR/backup-status.json"
LOCK_FILE="$STATE_DIR/backup.lock"
REPOSITORY_KEYS=(RESTIC_REPOSITORY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION)
POLICY_KEYS=(RECORDING_DIR KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS)

# load_settings FILE KEY...: exports the listed keys found in FILE (KEY=VALUE lines, never sourced).
load_settings() {
  local file="$1" line key
  shift
  [[ -f "$file" ]] || die "$file is missing: the backup step has not run on this host (pulumi up with campus.backup)"
  while IFS= read -r line || [[ -n "$line" ]]; do
    key="${line%%=*}"
    if [[ " $* " == *" $key "* ]]; then
      export "$key=${line#*=}"
    fi
  done <"$file"
}

load_all_settings() {
  load_settings "$REPOSITORY_ENV" "${REPOSITORY_KEYS[@]}"
  load_settings "$POLICY_ENV" "${POLICY_KEYS[@]}"
  export RESTIC_PASSWORD_FILE="$PASSWORD_FILE"
  # restic keeps its cache under XDG_CACHE_HOME or HOME; a systemd service has neither set.
  export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-$ROOT/var/cache/bbb-ovh/restic}"
}

# restic_error TEXT: the line of restic's stderr that says what went wrong.
restic_error() {
  grep -E 'Fatal|error|Error|denied|Denied|does not exist|Quota|quota' <<<"$1" | grep -v '^Is there a repository' | tail -n 1 || true
}

# explain_restic_error TEXT: restic's message, with what to do for the failures an operator can fix.
explain_restic_error() {
  local message
  message="$(restic_error "$1")"
  [[ -n "$message" ]] || message="$(tail -n 1 <<<"$1")"
  case "$message" in
    *"wrong password"*) message+=" (the repository password in /etc/bbb-ovh/backup/password is not this repository's)" ;;
    *"Access Key Id"* | *"signature"* | *"AccessDenied"* | *"Access Denied"* | *"InvalidAccessKeyId"*)
      message+=" (the S3 credentials were refused: check the backup user's keys and policy)" ;;
    *QuotaExceeded* | *"quota"* | *"Quota"* | *"Insufficient Storage"* | *"no space"*)
      message+=" (the bucket is full or over its quota: nothing was committed; raise the quota or lower the retention)" ;;
  esac
  printf '%s' "$message"
}

# with_lock CMD...: one backup, restore or init at a time (the timer and `backup now` may meet).
with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>>"$LOCK_FILE"
  flock -n 9 || die "another backup or restore is running on this host (lock $LOCK_FILE)"
  "$@"
}
