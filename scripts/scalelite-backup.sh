#!/usr/bin/env bash
# Scalelite front: backups of the recordings and of Scalelite's database into a restic repository on
# S3-compatible object storage in another datacenter (docs/backups.md).
#
# As a host step (no argument; inputs on stdin, KEY=VALUE): installs restic from Ubuntu's packages,
# copies itself to /usr/local/lib/bbb-ovh/backup (command bbb-ovh-backup), writes the repository
# settings (0600), initialises the repository once, and installs bbb-ovh-backup.service + .timer.
#   Inputs: RESTIC_REPOSITORY (s3:https://ENDPOINT/BUCKET), RESTIC_PASSWORD, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY (secrets), RECORDING_DIR, SCHEDULE (systemd OnCalendar), KEEP_DAILY,
#   KEEP_WEEKLY, KEEP_MONTHLY, MAX_AGE_HOURS; optional AWS_DEFAULT_REGION.
# As a command (bbb-ovh-backup, as root):
#   run [--allow-empty]        one backup: database dump + recordings, retention, result in the status file
#   list [--json]              the snapshots
#   status                     the status file (JSON)
#   check                      restic check
#   restore [SNAPSHOT] [--force]  database and recordings back from SNAPSHOT (default latest)
#
# Secrets never reach a command line: restic reads the password from RESTIC_PASSWORD_FILE and the S3
# keys from its environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, restic's documented S3
# variables), both loaded from 0600 files by this script.
# Redis (Scalelite's server pool and meetings) is not backed up: the pool is rebuilt from servers.yaml
# by the registration step and meetings are transient.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
STEP_NAME=scalelite-backup

CONF_DIR="$ROOT/etc/bbb-ovh/backup"
REPOSITORY_ENV="$CONF_DIR/repository.env"
PASSWORD_FILE="$CONF_DIR/password"
POLICY_ENV="$CONF_DIR/policy.env"
INSTALL_DIR="$ROOT/usr/local/lib/bbb-ovh/backup"
COMMAND_LINK="$ROOT/usr/local/sbin/bbb-ovh-backup"
UNIT_DIR="$ROOT/etc/systemd/system"
# The database dump sits here (0700 directory, 0600 file) while restic reads it: one snapshot then
# holds the database and the recordings of the same moment.
DUMP_DIR="$ROOT/var/lib/bbb-ovh/backup"
DUMP_FILE="$DUMP_DIR/scalelite.pgdump"
STATUS_FILE="$STATE_DIR/backup-status.json"
LOCK_FILE="$STATE_DIR/backup.lock"
# Scalelite's production database (config/database.yml of Scalelite: database scalelite) in the
# container scripts/scalelite-docker.sh runs, as its superuser (POSTGRES_USER defaults to postgres), over
# the container's local socket, which the official image leaves to initdb's local "trust" rule.
DB_CONTAINER=scalelite-postgres
DB_NAME=scalelite
DB_USER=postgres
SNAPSHOT_TAG=scalelite
RECORDING_SUBDIRS=(published unpublished spool)
REPOSITORY_KEYS=(RESTIC_REPOSITORY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION)
POLICY_KEYS=(RECORDING_DIR KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS)

usage() {
  cat <<EOF
usage: $0 < inputs            (host step; KEY=VALUE lines: RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID
                                AWS_SECRET_ACCESS_KEY RECORDING_DIR SCHEDULE KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY
                                MAX_AGE_HOURS [AWS_DEFAULT_REGION])
       bbb-ovh-backup run [--allow-empty] | list [--json] | status | check | restore [SNAPSHOT] [--force]
EOF
}

# ---------------------------------------------------------------------------------------------------
# Settings

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

# ---------------------------------------------------------------------------------------------------
# The host step

install_self() {
  local changed=1
  mkdir -p "$INSTALL_DIR/lib"
  install_content "$INSTALL_DIR/scalelite-backup.sh" 0755 <"${BASH_SOURCE[0]}" && changed=0
  install_content "$INSTALL_DIR/lib/common.sh" 0644 <"$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh" && changed=0
  mkdir -p "$(dirname "$COMMAND_LINK")"
  # Relative, so that the link also holds under another root.
  if [[ "$(readlink "$COMMAND_LINK" 2>/dev/null)" != ../lib/bbb-ovh/backup/scalelite-backup.sh ]]; then
    ln -sfn ../lib/bbb-ovh/backup/scalelite-backup.sh "$COMMAND_LINK"
    changed=0
  fi
  ((changed == 0)) && log "installed bbb-ovh-backup"
  return 0
}

check_inputs() {
  local key
  [[ "$IN_RESTIC_REPOSITORY" =~ ^s3:https?://[^[:space:]]+/[^[:space:]]+$ ]] ||
    die "RESTIC_REPOSITORY must be s3:https://ENDPOINT/BUCKET[/PREFIX], got '$IN_RESTIC_REPOSITORY'"
  [[ "$IN_RECORDING_DIR" == /* ]] || die "RECORDING_DIR must be an absolute path"
  for key in KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS; do
    local var="IN_$key"
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$key must be a whole number, got '${!var}'"
  done
  ((IN_KEEP_DAILY + IN_KEEP_WEEKLY + IN_KEEP_MONTHLY > 0)) || die "the retention keeps nothing: KEEP_DAILY, KEEP_WEEKLY or KEEP_MONTHLY must be > 0"
  [[ "$IN_SCHEDULE" =~ ^[A-Za-z0-9:*,./~\ -]+$ ]] || die "SCHEDULE must be a systemd OnCalendar expression, got '$IN_SCHEDULE'"
  if command -v systemd-analyze >/dev/null && ! systemd-analyze calendar "$IN_SCHEDULE" >/dev/null 2>&1; then
    die "SCHEDULE '$IN_SCHEDULE' is not a valid systemd OnCalendar expression (systemd-analyze calendar)"
  fi
  for key in RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    local var="IN_$key"
    [[ -n "${!var}" ]] || die "$key is empty"
  done
}

write_settings() {
  mkdir -p "$CONF_DIR"
  chmod 0700 "$CONF_DIR"
  printf '%s' "$IN_RESTIC_PASSWORD" | install_content "$PASSWORD_FILE" 0600 || true
  {
    printf 'RESTIC_REPOSITORY=%s\n' "$IN_RESTIC_REPOSITORY"
    printf 'AWS_ACCESS_KEY_ID=%s\n' "$IN_AWS_ACCESS_KEY_ID"
    printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$IN_AWS_SECRET_ACCESS_KEY"
    if [[ -n "${IN_AWS_DEFAULT_REGION:-}" ]]; then printf 'AWS_DEFAULT_REGION=%s\n' "$IN_AWS_DEFAULT_REGION"; fi
  } | install_content "$REPOSITORY_ENV" 0600 || true
  {
    printf 'RECORDING_DIR=%s\n' "$IN_RECORDING_DIR"
    printf 'KEEP_DAILY=%s\nKEEP_WEEKLY=%s\nKEEP_MONTHLY=%s\n' "$IN_KEEP_DAILY" "$IN_KEEP_WEEKLY" "$IN_KEEP_MONTHLY"
    printf 'MAX_AGE_HOURS=%s\n' "$IN_MAX_AGE_HOURS"
  } | install_content "$POLICY_ENV" 0600 || true
}

# init_repository: `restic init` only when the repository does not exist yet. restic adds "Is there a
# repository at the following location?" to every failure to read the config, refused credentials
# included: only a missing config object or bucket counts as "not there".
init_repository() {
  local errors
  # --no-cache: checking the repository leaves nothing behind on the host.
  errors="$(restic --no-cache cat config 2>&1 >/dev/null)" && return 0
  if ! grep -qE 'specified key does not exist|specified bucket does not exist|NoSuchKey|NoSuchBucket' <<<"$errors"; then
    die "cannot open the backup repository: $(explain_restic_error "$errors")"
  fi
  log "initialising the backup repository $RESTIC_REPOSITORY"
  errors="$(restic --no-cache init 2>&1 >/dev/null)" || {
    # Another run may have initialised it in between.
    restic --no-cache cat config >/dev/null 2>&1 || die "restic init failed: $(explain_restic_error "$errors")"
  }
}

install_units() {
  local changed=1
  mkdir -p "$UNIT_DIR"
  install_content "$UNIT_DIR/bbb-ovh-backup.service" 0644 <<EOF && changed=0
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh backup of Scalelite's database and recordings (restic)
Wants=network-online.target
After=network-online.target scalelite-postgres.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/bbb-ovh-backup run
Nice=10
IOSchedulingClass=idle
EOF
  install_content "$UNIT_DIR/bbb-ovh-backup.timer" 0644 <<EOF && changed=0
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh backup of Scalelite, on schedule

[Timer]
OnCalendar=$IN_SCHEDULE
RandomizedDelaySec=10min
Persistent=true

[Install]
WantedBy=timers.target
EOF
  if ((changed == 0)); then
    systemctl daemon-reload
  fi
  # Only the timer is started: installing must not start a backup in the middle of a deployment.
  systemctl is-enabled --quiet bbb-ovh-backup.timer || systemctl enable bbb-ovh-backup.timer
  systemctl is-active --quiet bbb-ovh-backup.timer || systemctl start bbb-ovh-backup.timer
}

setup() {
  read_inputs
  require_inputs RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY RECORDING_DIR SCHEDULE \
    KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS
  check_inputs
  # shellcheck source-path=SCRIPTDIR source=lib/apt.sh
  source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/apt.sh"
  apt_install restic
  install_self
  # The repository is checked with the new settings before they replace the old ones: wrong keys or a
  # wrong password stop here and leave a working configuration in place.
  export RESTIC_REPOSITORY="$IN_RESTIC_REPOSITORY" AWS_ACCESS_KEY_ID="$IN_AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$IN_AWS_SECRET_ACCESS_KEY"
  if [[ -n "${IN_AWS_DEFAULT_REGION:-}" ]]; then export AWS_DEFAULT_REGION="$IN_AWS_DEFAULT_REGION"; fi
  export RESTIC_PASSWORD="$IN_RESTIC_PASSWORD"
  init_or_check_repository
  write_settings
  install_units
  log "backups to $RESTIC_REPOSITORY are set up (schedule: $IN_SCHEDULE)"
}

# ---------------------------------------------------------------------------------------------------
# Running

# init_or_check_repository: under the backup lock, initialise the repository if needed. A backup can hold
# that lock for hours: a deployment meanwhile only checks that the new settings open the repository
# (which the running backup proves exists; `restic cat config` takes no lock) instead of failing.
init_or_check_repository() {
  local errors
  mkdir -p "$STATE_DIR"
  exec 9>>"$LOCK_FILE"
  if flock -n 9; then
    init_repository
    return
  fi
  log "a backup or restore is running: checking the repository with the new settings without waiting for it"
  errors="$(restic --no-cache cat config 2>&1 >/dev/null)" || die "cannot open the backup repository: $(explain_restic_error "$errors")"
}

# with_lock CMD...: one backup, restore or init at a time (the timer and `backup now` may meet).
with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>>"$LOCK_FILE"
  flock -n 9 || die "another backup or restore is running on this host (lock $LOCK_FILE)"
  "$@"
}

# json_string TEXT: TEXT as a JSON string (quotes, backslashes and control characters escaped away).
json_string() {
  local text="${1//\\/\\\\}"
  text="${text//\"/\\\"}"
  printf '"%s"' "$(tr -d '\000-\037' <<<"$text")"
}

# status_field NAME: a field of the current status file (strings and numbers as written below).
status_field() {
  [[ -f "$STATUS_FILE" ]] || return 0
  sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$STATUS_FILE" | grep -vx null | head -n 1 || true
}

# write_status STATE ERROR [SNAPSHOT BYTES ADDED WARNING]: the status file ops status reads, written
# atomically. The last success is carried over from the previous file when this attempt did not succeed.
write_status() {
  local state="$1" error="$2" snapshot="${3:-}" bytes="${4:-}" added="${5:-}" warning="${6:-}" now epoch
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  epoch="$(date -u +%s)"
  local ok_time ok_epoch ok_snapshot ok_bytes ok_added
  if [[ "$state" == ok ]]; then
    ok_time="$now" ok_epoch="$epoch" ok_snapshot="$snapshot" ok_bytes="$bytes" ok_added="$added"
  else
    ok_time="$(status_field lastSuccess)" ok_epoch="$(status_field lastSuccessEpoch)"
    ok_snapshot="$(status_field snapshot)" ok_bytes="$(status_field bytes)" ok_added="$(status_field added)"
  fi
  mkdir -p "$STATE_DIR"
  {
    printf '{\n'
    printf '  "state": "%s",\n' "$state"
    printf '  "attempt": "%s",\n' "$now"
    printf '  "attemptEpoch": %s,\n' "$epoch"
    printf '  "error": %s,\n' "$(json_string "$error")"
    printf '  "warning": %s,\n' "$(json_string "$warning")"
    printf '  "lastSuccess": "%s",\n' "$ok_time"
    printf '  "lastSuccessEpoch": %s,\n' "${ok_epoch:-null}"
    printf '  "snapshot": "%s",\n' "$ok_snapshot"
    printf '  "bytes": %s,\n' "${ok_bytes:-null}"
    printf '  "added": %s,\n' "${ok_added:-null}"
    printf '  "maxAgeHours": %s\n' "${MAX_AGE_HOURS:-26}"
    printf '}\n'
  } | install_content "$STATUS_FILE" 0644 || true
}

# psql_value DATABASE SQL: one value from the database container.
psql_value() {
  docker exec "$DB_CONTAINER" psql -U "$DB_USER" -d "$1" -XtAc "$2"
}

# recordings_in_database: how many recordings Scalelite's database lists (0 for a database or schema
# not created yet); fails when the container does not answer.
recordings_in_database() {
  local exists
  exists="$(psql_value postgres "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")" ||
    die "the database container $DB_CONTAINER does not answer (docker exec $DB_CONTAINER psql)"
  [[ "$exists" == 1 ]] || { echo 0; return 0; }
  if [[ "$(psql_value "$DB_NAME" "SELECT to_regclass('public.recordings') IS NOT NULL")" != t ]]; then
    echo 0
    return 0
  fi
  psql_value "$DB_NAME" "SELECT count(*) FROM recordings"
}

# recording_files: how many files the recording directories hold.
recording_files() {
  local sub dirs=()
  for sub in "${RECORDING_SUBDIRS[@]}"; do
    [[ -d "$ROOT$RECORDING_DIR/$sub" ]] && dirs+=("$ROOT$RECORDING_DIR/$sub")
  done
  ((${#dirs[@]} > 0)) || { echo 0; return 0; }
  find "${dirs[@]}" -mindepth 1 -not -type d | wc -l
}

# newest_snapshot: "SHORT_ID RECORDINGS" of the newest snapshot, nothing when there is none. Chosen by
# time over all of them: `snapshots --latest` keeps one per host and path, and a rebuilt front may have
# another host name. Each snapshot object of restic's JSON opens with "time" and ends with "short_id".
newest_snapshot() {
  local listing
  listing="$(restic snapshots --tag "$SNAPSHOT_TAG" --json)" || return 1
  awk -v RS='[{]"time":"' 'NR > 1 {
      time = substr($0, 1, index($0, "\"") - 1)
      if (time <= newest) next
      newest = time; id = ""; count = ""
      if (match($0, /"short_id":"[0-9a-f]+"/)) id = substr($0, RSTART + 12, RLENGTH - 13)
      if (match($0, /"recordings:[0-9]+"/)) count = substr($0, RSTART + 12, RLENGTH - 13)
    }
    END { if (id != "") print id, count }' <<<"$listing"
}

dump_database() {
  local status=0
  mkdir -p "$DUMP_DIR"
  chmod 0700 "$DUMP_DIR"
  (umask 077 && docker exec "$DB_CONTAINER" pg_dump -U "$DB_USER" --format=custom "$DB_NAME" >"$DUMP_FILE.tmp") || status=$?
  if ((status != 0)); then
    rm -f "$DUMP_FILE.tmp"
    fail "pg_dump of $DB_NAME in $DB_CONTAINER failed (exit $status)"
  fi
  mv -f "$DUMP_FILE.tmp" "$DUMP_FILE"
}

# fail MESSAGE: records the failed attempt, then stops.
fail() {
  write_status failed "$1"
  die "$1"
}

# restic_or_fail WHAT UNREADABLE CMD...: runs restic, keeping its stderr; on failure records and stops.
# With UNREADABLE (a file), exit 3 is not a failure: `restic backup` wrote the snapshot but could not
# read some source files (restic's documented exit code 3, since 0.12; a spool archive the importer
# removed meanwhile is the usual one); the files restic names (its --json "error" lines) go to UNREADABLE.
restic_or_fail() {
  local what="$1" unreadable="$2" errors status=0
  shift 2
  errors="$(mktemp)"
  "$@" 2>"$errors" || status=$?
  if ((status == 3)) && [[ -n "$unreadable" ]]; then
    { grep -o '"item":"[^"]*"' "$errors" || true; } | cut -d'"' -f4 | sort -u >"$unreadable"
  elif ((status != 0)); then
    local message
    message="$(explain_restic_error "$(cat "$errors")")"
    cat "$errors" >&2
    rm -f "$errors"
    fail "$what failed (restic exit $status): $message"
  fi
  rm -f "$errors"
}

# unreadable_warning FILE: the status's words for the files restic could not read (FILE lists them).
unreadable_warning() {
  local count first
  count="$(wc -l <"$1")"
  first="$(head -n 1 "$1")"
  if ((count == 0)); then
    printf 'completed with warnings: some files unreadable (restic exit 3)'
  else
    printf 'completed with warnings: %s files unreadable (vanished or not readable during the backup; first: %s)' "$count" "$first"
  fi
}

backup_run() {
  local allow_empty="$1" recordings files previous paths=() sub summary snapshot bytes added unreadable warning=""
  load_all_settings
  write_status running ""
  recordings="$(recordings_in_database)" || fail "cannot count the recordings in $DB_NAME"
  files="$(recording_files)"
  # A rebuilt front is empty until restored: backing it up would make an empty snapshot the latest one.
  previous="$(newest_snapshot 2>/dev/null | cut -s -d' ' -f2)" || true
  if [[ "$allow_empty" != true && "$recordings" == 0 && "$files" == 0 && "${previous:-0}" -gt 0 ]]; then
    fail "this front has no recordings but the latest backup holds $previous: restore it first (npm run ops -- backup restore STACK), or back up anyway with run --allow-empty"
  fi
  # Locks of a backup killed midway are stale (its process is gone): release them, never live ones.
  restic unlock >/dev/null 2>&1 || true
  dump_database
  paths=("${DUMP_FILE#"$ROOT"/}")
  for sub in "${RECORDING_SUBDIRS[@]}"; do
    [[ -d "$ROOT$RECORDING_DIR/$sub" ]] && paths+=("${RECORDING_DIR#/}/$sub")
  done
  # Paths relative to the root: a snapshot restores to the same places on any host.
  summary="$(mktemp)"
  # Written by restic_or_fail on exit 3 only (in the dump's 0700 directory: it names recording files).
  unreadable="$DUMP_DIR/unreadable"
  rm -f "$unreadable"
  (cd "$ROOT/" && restic_or_fail "restic backup" "$unreadable" restic backup --json --tag "$SNAPSHOT_TAG" --tag "recordings:$recordings" \
    "${paths[@]}" >"$summary")
  if [[ -e "$unreadable" ]]; then
    warning="$(unreadable_warning "$unreadable")"
    rm -f "$unreadable"
  fi
  snapshot="$(grep -o '"snapshot_id":"[0-9a-f]*"' "$summary" | tail -n 1 | cut -d'"' -f4)"
  bytes="$(grep -o '"total_bytes_processed":[0-9]*' "$summary" | tail -n 1 | cut -d: -f2)"
  added="$(grep -o '"data_added":[0-9]*' "$summary" | tail -n 1 | cut -d: -f2)"
  rm -f "$summary"
  [[ -n "$snapshot" ]] || fail "restic backup printed no snapshot id"
  # One group for all: a rebuilt front has another host name, and each snapshot's tags differ (recordings:N).
  # A snapshot tagged `keep` (restic tag --add keep ID) is never forgotten.
  restic_or_fail "restic forget --prune" "" restic forget --prune --tag "$SNAPSHOT_TAG" --group-by '' --keep-daily "$KEEP_DAILY" \
    --keep-weekly "$KEEP_WEEKLY" --keep-monthly "$KEEP_MONTHLY" --keep-tag keep >/dev/null
  rm -f "$DUMP_FILE"
  write_status ok "" "$snapshot" "${bytes:-0}" "${added:-0}" "$warning"
  log "snapshot $snapshot: $recordings recording(s) in the database, $files file(s), ${bytes:-0} bytes (${added:-0} new)"
  if [[ -n "$warning" ]]; then warn "snapshot $snapshot $warning"; fi
}

backup_list() {
  load_all_settings
  local errors status=0
  errors="$(mktemp)"
  if [[ "${1:-}" == --json ]]; then
    restic snapshots --tag "$SNAPSHOT_TAG" --json 2>"$errors" || status=$?
  else
    restic snapshots --tag "$SNAPSHOT_TAG" --compact 2>"$errors" || status=$?
  fi
  if ((status != 0)); then
    local message
    message="$(explain_restic_error "$(cat "$errors")")"
    rm -f "$errors"
    die "cannot list the snapshots: $message"
  fi
  rm -f "$errors"
}

backup_check() {
  load_all_settings
  restic check
}

# ---------------------------------------------------------------------------------------------------
# Restore

restore_database() {
  local exists
  exists="$(psql_value postgres "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")" ||
    die "the database container $DB_CONTAINER does not answer"
  if [[ "$exists" != 1 ]]; then
    docker exec "$DB_CONTAINER" psql -U "$DB_USER" -d postgres -Xqc "CREATE DATABASE $DB_NAME" >/dev/null
  fi
  # One transaction: a failed restore leaves the database as it was.
  docker exec -i "$DB_CONTAINER" pg_restore -U "$DB_USER" -d "$DB_NAME" --clean --if-exists --no-owner --single-transaction <"$DUMP_FILE" ||
    die "pg_restore into $DB_NAME failed: the database is unchanged"
}

backup_restore() {
  local snapshot="$1" force="$2" recordings files was_active=false id count
  load_all_settings
  if [[ "$snapshot" == latest ]]; then
    id="$(newest_snapshot)" || die "cannot list the snapshots in $RESTIC_REPOSITORY (restic's error above)"
    id="${id%% *}"
  else
    id="$(restic snapshots --tag "$SNAPSHOT_TAG" --json "$snapshot" 2>/dev/null | grep -o '"short_id":"[0-9a-f]*"' | tail -n 1 | cut -d'"' -f4)" || true
  fi
  [[ -n "$id" ]] || die "no snapshot '$snapshot' in $RESTIC_REPOSITORY (bbb-ovh-backup list shows them)"
  recordings="$(recordings_in_database)"
  files="$(recording_files)"
  if [[ "$force" != true ]] && ((recordings > 0 || files > 0)); then
    die "this front already has data ($recordings recording(s) in the database, $files file(s) under $RECORDING_DIR): restoring would overwrite it; pass --force to restore anyway"
  fi
  if systemctl is-active --quiet scalelite.target; then
    was_active=true
    log "stopping scalelite.target while restoring"
    systemctl stop scalelite.target
    # A failed restore must not leave the front down: Scalelite comes back whatever happens next.
    trap 'systemctl start scalelite.target || true' EXIT
  fi
  log "restoring snapshot $id"
  rm -f "$DUMP_FILE"
  # Snapshot paths are relative to the root (see backup_run): restored in place, with owners and modes.
  restic restore "$id" --target "$ROOT/" >/dev/null || die "restic restore of $id failed"
  [[ -f "$DUMP_FILE" ]] || die "snapshot $id holds no database dump"
  restore_database
  rm -f "$DUMP_FILE"
  if [[ "$was_active" == true ]]; then
    trap - EXIT
    systemctl start scalelite.target
  fi
  count="$(recordings_in_database)"
  log "restored snapshot $id: $count recording(s) in the database, $(recording_files) file(s) under $RECORDING_DIR"
}

main() {
  local command="${1:-}"
  case "$command" in
    -h | --help) usage ;;
    "") setup ;;
    run)
      [[ "${2:-}" == "" || "${2:-}" == --allow-empty ]] || die "usage: bbb-ovh-backup run [--allow-empty]"
      with_lock backup_run "$([[ "${2:-}" == --allow-empty ]] && echo true || echo false)"
      ;;
    list) backup_list "${2:-}" ;;
    status)
      [[ -f "$STATUS_FILE" ]] || die "no backup has run on this host yet ($STATUS_FILE)"
      cat "$STATUS_FILE"
      ;;
    check) with_lock backup_check ;;
    restore)
      shift
      local snapshot=latest force=false arg
      for arg in "$@"; do
        case "$arg" in
          --force) force=true ;;
          latest | [0-9a-f]*) snapshot="$arg" ;;
          *) die "usage: bbb-ovh-backup restore [SNAPSHOT] [--force]" ;;
        esac
      done
      with_lock backup_restore "$snapshot" "$force"
      ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
