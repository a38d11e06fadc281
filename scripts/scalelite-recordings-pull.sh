#!/usr/bin/env bash
# Copies the serving front's recordings to this front while it is the standby (campus.standbyFront), so
# that a failover serves the recordings as well as the database, and a failback loses none published
# meanwhile; installed on BOTH fronts as /usr/local/sbin/bbb-ovh-recordings-pull and run as root by
# bbb-ovh-recordings-pull.service every few minutes (its timer).
#
#   bbb-ovh-recordings-pull [--verify] RECORDING_DIR SSH_CONFIG
#
# rsync over SSH with this front's own key, which the other front accepts only from this front's address
# and only as `rrsync -ro <recordings>` (read-only; renderCopyAuthorizedKey): this front can read the
# other's recordings and change nothing there. The published and unpublished trees come over with their
# owners (Scalelite's 1000:2000) and modes; a file this front already holds in a newer version is kept
# (--update), and nothing is deleted here when the other front deleted it (a recording is never lost by a
# copy).
# Only a standby copies: /var/lib/bbb-ovh/front-role says `standby` (written by the replication standby
# step and by `ops failback`) and Scalelite is not running here. A front that serves (front-role primary,
# or absent as on a front `pulumi up` made primary, or scalelite.target active) or that `ops failover`
# fenced copies nothing, so the copy never runs both ways at once and a serving front never pulls.
# --verify (what `ops failback` runs before its switch): waits for a copy under way, copies, then checks
# with an rsync dry run that nothing is left to copy; exits 3 naming how many files are left otherwise.
# Each run writes its outcome to /var/lib/bbb-ovh/recordings-copy.status (key=value lines, for `ops
# status`): last_attempt, last_result (ok | failed | serving | fenced...), role, last_success (the START
# of the last run that succeeded: the copy holds everything the serving front had then), pending_since (the
# time of the oldest archive the serving front had received then and not yet imported, in incoming/ or
# spool/: not in published/, so not in the copy; that run's start when there was none; empty when it could
# not be listed), files and bytes it copied, and, on the standby only, the same as node_exporter textfile
# metrics when that collector's directory exists. After a failover, nodes send again what they delivered
# since the earlier of last_success and pending_since (cli/ops/recordingsResend.ts).
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
STATUS="$ROOT/var/lib/bbb-ovh/recordings-copy.status"
LOCK="$ROOT/var/lib/bbb-ovh/recordings-copy.lock"
ROLE_FILE="$ROOT/var/lib/bbb-ovh/front-role"
TEXTFILE_DIR="$ROOT/var/lib/prometheus/node-exporter"
TREES=(published unpublished)
# The name the ssh config gives the other front (FRONT_ALIAS in components/scalelite/recordingLayout.ts).
SOURCE=scalelite-front
# Exit status of --verify when files are left to copy.
LEFT_TO_COPY=3

log() {
  printf 'recordings-pull: %s\n' "$*"
}

die() {
  printf 'recordings-pull: error: %s\n' "$*" >&2
  exit 1
}

# status_value KEY: KEY's value in the status file, empty when absent.
status_value() {
  [[ -f "$STATUS" ]] || return 0
  local line value=""
  while IFS= read -r line; do
    [[ "$line" == "$1="* ]] && value="${line#*=}"
  done <"$STATUS"
  printf '%s\n' "$value"
}

# write_status RESULT STARTED FILES BYTES [PENDING_SINCE]: the status file and the metrics, each replaced
# atomically. PENDING_SINCE belongs to a successful run; another run keeps the last successful one's.
write_status() {
  local result="$1" started="$2" files="$3" bytes="$4" pending="${5:-}" success tmp role
  success="$(status_value last_success)"
  if [[ "$result" == ok ]]; then
    success="$started"
  else
    pending="$(status_value pending_since)"
  fi
  [[ -d "${STATUS%/*}" ]] || mkdir -p "${STATUS%/*}"
  tmp="$(mktemp "$STATUS.XXXXXX")"
  role="$(front_role)"
  printf 'last_attempt=%s\nlast_result=%s\nrole=%s\nlast_success=%s\npending_since=%s\nfiles=%s\nbytes=%s\n' \
    "$started" "$result" "$role" "${success:-}" "$pending" "$files" "$bytes" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$STATUS"
  [[ -d "$TEXTFILE_DIR" ]] || return 0
  # Only the standby has a copy that can fall behind: on the other front the series goes, so that
  # StandbyRecordingsCopyStale (scripts/monitoring/rules.yml) never fires on the front that serves.
  if [[ "$result" != ok && "$result" != failed ]]; then
    rm -f "$TEXTFILE_DIR/bbb_ovh_recordings_copy.prom"
    return 0
  fi
  tmp="$(mktemp "$TEXTFILE_DIR/.bbb_ovh_recordings_copy.XXXXXX")"
  {
    echo "# HELP bbb_ovh_recordings_copy_last_success_timestamp_seconds Start of the last recordings copy from the serving front that succeeded."
    echo "# TYPE bbb_ovh_recordings_copy_last_success_timestamp_seconds gauge"
    echo "bbb_ovh_recordings_copy_last_success_timestamp_seconds ${success:-0}"
    echo "# HELP bbb_ovh_recordings_copy_last_run_ok Whether the last recordings copy succeeded (1) or failed (0)."
    echo "# TYPE bbb_ovh_recordings_copy_last_run_ok gauge"
    echo "bbb_ovh_recordings_copy_last_run_ok $([[ "$result" == ok ]] && echo 1 || echo 0)"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$TEXTFILE_DIR/bbb_ovh_recordings_copy.prom"
}

# The role the replication steps and `ops failover` / `ops failback` write; absent: the primary `pulumi up` made.
front_role() {
  local role=""
  [[ -f "$ROLE_FILE" ]] && { IFS= read -r role <"$ROLE_FILE" || true; }
  role="${role%%[[:space:]]*}"
  printf '%s\n' "${role:-primary}"
}

# Why this front copies nothing, or nothing when it is the standby: serving (primary, or Scalelite runs) or the role it has.
not_standby() {
  local role
  role="$(front_role)"
  if [[ "$role" == primary ]] || systemctl is-active --quiet scalelite.target; then
    echo serving
  elif [[ "$role" != standby ]]; then
    echo "$role"
  fi
}

# pull_tree TREE [RSYNC_OPTION...]: rsync's --stats of copying the serving front's TREE into ours.
pull_tree() {
  local tree="$1"
  shift
  mkdir -p "$RECORDING_DIR/$tree"
  rsync "$@" --recursive --links --perms --times --owner --group --numeric-ids --update --partial-dir=.rsync-partial \
    --timeout=600 --stats --rsh="ssh -F $SSH_CONFIG" "$SOURCE:$tree/" "$RECORDING_DIR/$tree/"
}

# pending_since STARTED: the Unix time of the oldest archive the serving front holds in incoming/ or spool/
# (received, not yet imported by Scalelite), or keeps staged out of sight while its disk is under the
# reserve (its mover's held-since); STARTED when there is none; nothing (and a warning) when they cannot be
# listed. rsync --list-only prints each file's time in the zone of this end as YYYY/MM/DD HH:MM:SS: in UTC,
# that sorts as text (no hour repeats), and one date(1) call converts the oldest. Names starting with a dot
# are transfers under way (rsync's temporary files), delivered after STARTED. rsync's exit 24 (files
# vanished while listed: imported meanwhile) still lists the rest.
pending_since() {
  local started="$1" tree out rc perms size day time name oldest="" held=""
  # In the order archives go (incoming/, the mover's staging, the spool), so that one moving on while this
  # looks is seen where it goes: held-since is read between the two listings.
  for tree in incoming held-since spool; do
    if [[ "$tree" == held-since ]]; then
      if ! held="$(held_since)"; then
        log "warning: cannot read the serving front's held-since: after a failover, nodes send again from the last copy's start only" >&2
        return 0
      fi
      continue
    fi
    rc=0
    out="$(TZ=UTC rsync --list-only --recursive --timeout=600 --rsh="ssh -F $SSH_CONFIG" "$SOURCE:$tree/" 2>&1)" || rc=$?
    if ((rc != 0 && rc != 24)); then
      [[ "$out" == *"No such file or directory"* ]] && continue
      log "warning: cannot list the serving front's $tree/ ($(tail -n 1 <<<"$out")): after a failover, nodes send again from the last copy's start only" >&2
      return 0
    fi
    while read -r perms size day time name; do
      [[ "$perms" == -* && "$name" == *.tar && "${name##*/}" != .* && -n "$size" ]] || continue
      [[ -z "$oldest" || "$day $time" < "$oldest" ]] && oldest="$day $time"
    done <<<"$out"
  done
  [[ -z "$oldest" ]] || oldest="$(date -u -d "$oldest UTC" +%s)"
  if [[ -n "$held" ]] && { [[ -z "$oldest" ]] || ((held < oldest)); }; then oldest="$held"; fi
  printf '%s\n' "${oldest:-$started}"
}

# held_since: the serving front's held-since (scripts/scalelite-recording-mover.sh), empty when absent;
# fails when it cannot be read.
held_since() {
  local tmp out value
  tmp="$(mktemp "$STATUS.held-since.XXXXXX")"
  if ! out="$(rsync --timeout=600 --rsh="ssh -F $SSH_CONFIG" "$SOURCE:held-since" "$tmp" 2>&1)"; then
    rm -f -- "$tmp"
    [[ "$out" == *"No such file or directory"* ]] && return 0
    return 1
  fi
  value="$(head -c 20 -- "$tmp")"
  rm -f -- "$tmp"
  [[ "$value" =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$value"
}

# stat_sum OUTPUT LABEL: the number after LABEL in rsync --stats OUTPUT (commas removed). In the shell: a
# copy runs every 5 minutes, and sed | tr | head were four processes a figure.
stat_sum() {
  local line
  while IFS= read -r line; do
    [[ "$line" =~ ^"$2: "([0-9,]*) ]] && { printf '%s\n' "${BASH_REMATCH[1]//,/}"; return 0; }
  done <<<"$1"
}

# left_to_copy: the regular files a copy now would still transfer (an rsync dry run of each tree).
left_to_copy() {
  local tree out left=0
  for tree in "${TREES[@]}"; do
    out="$(pull_tree "$tree" --dry-run 2>&1)" || {
      printf '%s\n' "$out" >&2
      die "checking $tree against the serving front failed"
    }
    left=$((left + $(stat_sum "$out" "Number of regular files transferred")))
  done
  echo "$left"
}

main() {
  local verify=false
  if [[ "${1:-}" == --verify ]]; then
    verify=true
    shift
  fi
  (($# == 2)) || die "usage: bbb-ovh-recordings-pull [--verify] RECORDING_DIR SSH_CONFIG"
  RECORDING_DIR="$ROOT$1"
  SSH_CONFIG="$2"
  [[ -f "$SSH_CONFIG" ]] || die "$SSH_CONFIG is missing (the scaleliteRecordingsCopy step writes it)"
  [[ -d "${LOCK%/*}" ]] || mkdir -p "${LOCK%/*}"
  exec 9>>"$LOCK"
  if [[ "$verify" == true ]]; then
    flock 9
  elif ! flock -n 9; then
    log "another copy is under way"
    return 0
  fi
  local started files=0 bytes=0 tree out why left pending
  started="$(date +%s)"
  why="$(not_standby)"
  if [[ -n "$why" ]]; then
    write_status "$why" "$started" 0 0
    [[ "$verify" == false ]] || die "this front is not the standby ($why): it copies nothing"
    log "this front is not the standby ($why): nothing to copy"
    return 0
  fi
  # Listed before the copy: what is not imported yet now may be imported while published/ is being copied.
  pending="$(pending_since "$started")"
  for tree in "${TREES[@]}"; do
    if ! out="$(pull_tree "$tree" 2>&1)"; then
      write_status failed "$started" "$files" "$bytes"
      printf '%s\n' "$out" >&2
      die "copying $tree from the serving front failed; the previous copy stays"
    fi
    files=$((files + $(stat_sum "$out" "Number of regular files transferred")))
    bytes=$((bytes + $(stat_sum "$out" "Total transferred file size")))
  done
  write_status ok "$started" "$files" "$bytes" "$pending"
  log "copied $files file(s), $bytes bytes of recordings from the serving front"
  [[ "$verify" == true ]] || return 0
  left="$(left_to_copy)"
  if ((left > 0)); then
    log "$left file(s) still to copy from the serving front"
    exit "$LEFT_TO_COPY"
  fi
  log "nothing left to copy: this front holds every recording the serving front has"
}

main "$@"
