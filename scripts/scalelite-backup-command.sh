#!/usr/bin/env bash
# The backup command of the Scalelite front, installed by the scaleliteBackup step (scalelite-backup.sh)
# as /usr/local/sbin/bbb-ovh-backup and run as root, by bbb-ovh-backup.timer or by hand (docs/backups.md):
#   run [--allow-empty]        one backup: database dump + recordings, retention, result in the status file
#                              (skipped on a front whose front-role says standby or fenced)
#   list [--json]              the snapshots
#   status                     the status file (JSON)
#   check                      restic check
#   restore [SNAPSHOT] [--force]  database and recordings back from SNAPSHOT (default latest)
set -euo pipefail
SCRIPT_DIR="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/backup.sh
source "$SCRIPT_DIR/lib/backup.sh"

# The database dump sits here (0700 directory, 0600 file) while restic reads it: one snapshot then
# holds the database and the recordings of the same moment.
DUMP_DIR="$ROOT/var/lib/bbb-ovh/backup"
DUMP_FILE="$DUMP_DIR/scalelite.pgdump"
# Scalelite's production database (config/database.yml of Scalelite: database scalelite) in the
# container scripts/scalelite-docker.sh runs, as its superuser (POSTGRES_USER defaults to postgres), over
# the container's local socket, which the official image leaves to initdb's local "trust" rule.
DB_CONTAINER=scalelite-postgres
DB_NAME=scalelite
DB_USER=postgres
SNAPSHOT_TAG=scalelite
RECORDING_SUBDIRS=(published unpublished spool)
# Also backed up, not counted as the front's data: what the nodes delivered and the mover has not handed to
# the spool yet (their targets, and its staging while the disk is under its reserve, for hours maybe). A
# restore's resend covers only the hour before the snapshot (docs/backups.md); a front just rebuilt receives
# into these before it is restored.
RECEIVED_SUBDIRS=(incoming .checking)
# Not backed up: a transfer still in flight. rsync's receiver writes into .<name>.XXXXXX beside the file and
# renames it once whole (receiver.c, get_tmpname); the node keeps the recording until then, and the file
# vanishing mid-backup would only make restic warn (exit 3).
RSYNC_IN_FLIGHT='incoming/*/.*.??????'

usage() {
  echo "usage: bbb-ovh-backup run [--allow-empty] | list [--json] | status | check | restore [SNAPSHOT] [--force]"
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

# scratch_file: prints the name of a new 0600 file in the backup's 0700 directory. Not in /tmp: restic's output
# names recording files, and a run killed midway leaves its files behind (backup_run removes them a day later).
scratch_file() {
  backup_dir && mktemp "$DUMP_DIR/restic.XXXXXX"
}

# backup_dir: the 0700 directory of the dump and of restic's output.
backup_dir() {
  mkdir -p "$DUMP_DIR" && chmod 0700 "$DUMP_DIR"
}

dump_database() {
  local status=0
  backup_dir
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
  errors="$(scratch_file)"
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
  find "$DUMP_DIR" -maxdepth 1 -name 'restic.??????' -mmin +1440 -delete 2>/dev/null || true
  dump_database
  paths=("${DUMP_FILE#"$ROOT"/}")
  for sub in "${RECORDING_SUBDIRS[@]}" "${RECEIVED_SUBDIRS[@]}"; do
    [[ -d "$ROOT$RECORDING_DIR/$sub" ]] && paths+=("${RECORDING_DIR#/}/$sub")
  done
  # Paths relative to the root: a snapshot restores to the same places on any host.
  summary="$(scratch_file)"
  # Written by restic_or_fail on exit 3 only (in the dump's 0700 directory: it names recording files).
  unreadable="$DUMP_DIR/unreadable"
  rm -f "$unreadable"
  (cd "$ROOT/" && restic_or_fail "restic backup" "$unreadable" restic backup --json --tag "$SNAPSHOT_TAG" --tag "recordings:$recordings" \
    --exclude "$RSYNC_IN_FLIGHT" "${paths[@]}" >"$summary")
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

# The front-role of a front that does not serve (standby, fenced), or nothing: absent, it is the front `pulumi up`
# made and never switched; primary, it serves. With a standby front both fronts have the timer, and only the one
# that serves backs up (docs/backups.md, "With a standby front").
not_serving_role() {
  local role
  role="$(front_role)"
  case "$role" in
    standby | fenced) printf '%s\n' "$role" ;;
  esac
}

backup_list() {
  load_all_settings
  local errors status=0
  errors="$(scratch_file)"
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

# set_aside_unlisted SNAPSHOT: moves the recordings under published/ and unpublished/ that the restored
# database does not list (imported after the snapshot, on a front restored with --force; or imported
# between the snapshot's dump and its read of the files) to <recordings>/set-aside/<SNAPSHOT>/, never
# deleted. Left in place, their files would make the front's mover drop the copies the nodes send again
# (it drops what the front holds byte for byte), and no database row would ever list them.
set_aside_unlisted() {
  local name listed id dir rel moved=0 aside
  # One folder per restore: restoring the same snapshot twice never meets a folder set aside before.
  name="$1-$(date -u +%Y%m%dT%H%M%SZ)"
  aside="$ROOT$RECORDING_DIR/set-aside/$name"
  listed="$(psql_value "$DB_NAME" "SELECT record_id FROM recordings")" || die "cannot list the restored recordings in $DB_NAME"
  declare -A known=()
  while read -r id; do
    [[ -n "$id" ]] && known[$id]=1
  done <<<"$listed"
  shopt -s nullglob
  for dir in "$ROOT$RECORDING_DIR"/published/*/*/ "$ROOT$RECORDING_DIR"/unpublished/*/*/; do
    dir="${dir%/}"
    [[ -z "${known[${dir##*/}]:-}" ]] || continue
    rel="${dir#"$ROOT$RECORDING_DIR"/}"
    mkdir -p "$aside/${rel%/*}"
    mv -T -- "$dir" "$aside/$rel"
    moved=$((moved + 1))
  done
  ((moved == 0)) || log "set aside $moved recording folder(s) the restored database does not list, in $RECORDING_DIR/set-aside/$name: nothing was deleted; nodes send again what they delivered since an hour before the snapshot, and docs/backups.md says how to import any other one again"
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
  set_aside_unlisted "$id"
  if [[ "$was_active" == true ]]; then
    trap - EXIT
    systemctl start scalelite.target
  fi
  count="$(recordings_in_database)"
  log "restored snapshot $id: $count recording(s) in the database, $(recording_files) file(s) under $RECORDING_DIR"
}

main() {
  local command="${1:-}" role
  case "$command" in
    -h | --help) usage ;;
    run)
      [[ "${2:-}" == "" || "${2:-}" == --allow-empty ]] || die "usage: bbb-ovh-backup run [--allow-empty]"
      role="$(not_serving_role)"
      if [[ -n "$role" ]]; then
        # The status file stays as it was: what `ops status` reads of a front that serves.
        log "skipped: this front does not serve (front-role $role); the front that serves backs up"
        return 0
      fi
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
