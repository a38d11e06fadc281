#!/usr/bin/env bash
# Copies the primary front's recordings to this standby front (campus.standbyFront), so that a failover
# serves the recordings as well as the database; installed as /usr/local/sbin/bbb-ovh-recordings-pull and
# run as root by bbb-ovh-recordings-pull.service every few minutes (its timer).
#
#   bbb-ovh-recordings-pull RECORDING_DIR SSH_CONFIG
#
# rsync over SSH with the standby's own key, which the primary accepts only from the standby's address and
# only as `rrsync -ro <recordings>` (read-only; renderCopyAuthorizedKey): the standby can read the
# recordings and change nothing on the primary. The published and unpublished trees come over with their
# owners (Scalelite's 1000:2000) and modes; a file the standby already holds in a newer version is kept
# (--update), and nothing is deleted here when the primary deleted it (a recording is never lost by a copy).
# A front that serves (promoted by `ops failover`: /var/lib/bbb-ovh/front-role says primary, or its
# scalelite.target is active) copies nothing: it is the primary now.
# Each run writes its outcome to /var/lib/bbb-ovh/recordings-copy.status (key=value lines, for `ops
# status`): last_attempt, last_result (ok | failed | serving), last_success (the START of the last run
# that succeeded: the copy holds everything the primary had then), files and bytes it copied, and the
# same as node_exporter textfile metrics when that collector's directory exists.
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
STATUS="$ROOT/var/lib/bbb-ovh/recordings-copy.status"
LOCK="$ROOT/var/lib/bbb-ovh/recordings-copy.lock"
ROLE_FILE="$ROOT/var/lib/bbb-ovh/front-role"
TEXTFILE_DIR="$ROOT/var/lib/prometheus/node-exporter"
TREES=(published unpublished)
# The name the ssh config gives the primary (FRONT_ALIAS in components/scalelite/recordingLayout.ts).
PRIMARY=scalelite-front

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
  sed -n "s/^$1=//p" "$STATUS" | tail -n 1
}

# write_status RESULT STARTED FILES BYTES: the status file and the metrics, each replaced atomically.
write_status() {
  local result="$1" started="$2" files="$3" bytes="$4" success tmp
  success="$(status_value last_success)"
  [[ "$result" == ok ]] && success="$started"
  mkdir -p "$(dirname "$STATUS")"
  tmp="$(mktemp "$STATUS.XXXXXX")"
  printf 'last_attempt=%s\nlast_result=%s\nlast_success=%s\nfiles=%s\nbytes=%s\n' "$started" "$result" "${success:-}" "$files" "$bytes" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$STATUS"
  [[ -d "$TEXTFILE_DIR" ]] || return 0
  tmp="$(mktemp "$TEXTFILE_DIR/.bbb_ovh_recordings_copy.XXXXXX")"
  {
    echo "# HELP bbb_ovh_recordings_copy_last_success_timestamp_seconds Start of the last recordings copy from the primary front that succeeded."
    echo "# TYPE bbb_ovh_recordings_copy_last_success_timestamp_seconds gauge"
    echo "bbb_ovh_recordings_copy_last_success_timestamp_seconds ${success:-0}"
    echo "# HELP bbb_ovh_recordings_copy_last_run_ok Whether the last recordings copy succeeded (1), failed (0); a serving front does not copy (1)."
    echo "# TYPE bbb_ovh_recordings_copy_last_run_ok gauge"
    echo "bbb_ovh_recordings_copy_last_run_ok $([[ "$result" == failed ]] && echo 0 || echo 1)"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$TEXTFILE_DIR/bbb_ovh_recordings_copy.prom"
}

# Promoted by `ops failover` (front-role says primary, as the replication steps read it) or serving anyway.
serving() {
  [[ "$(cat "$ROLE_FILE" 2>/dev/null || echo standby)" == primary ]] || systemctl is-active --quiet scalelite.target
}

# pull_tree TREE: rsync's --stats of copying the primary's TREE into ours.
pull_tree() {
  local tree="$1"
  mkdir -p "$RECORDING_DIR/$tree"
  rsync --recursive --links --perms --times --owner --group --numeric-ids --update --partial-dir=.rsync-partial \
    --timeout=600 --stats --rsh="ssh -F $SSH_CONFIG" "$PRIMARY:$tree/" "$RECORDING_DIR/$tree/"
}

# stat_sum OUTPUT LABEL: the number after LABEL in rsync --stats OUTPUT (commas removed).
stat_sum() {
  sed -n "s/^$2: \([0-9,]*\).*/\1/p" <<<"$1" | tr -d , | head -n 1
}

main() {
  (($# == 2)) || die "usage: bbb-ovh-recordings-pull RECORDING_DIR SSH_CONFIG"
  RECORDING_DIR="$ROOT$1"
  SSH_CONFIG="$2"
  [[ -f "$SSH_CONFIG" ]] || die "$SSH_CONFIG is missing (the scaleliteRecordingsCopy step writes it)"
  mkdir -p "$(dirname "$LOCK")"
  exec 9>>"$LOCK"
  flock -n 9 || {
    log "another copy is under way"
    return 0
  }
  local started files=0 bytes=0 tree out
  started="$(date +%s)"
  if serving; then
    write_status serving "$started" 0 0
    log "this front serves Scalelite (promoted): it is the primary, nothing to copy"
    return 0
  fi
  for tree in "${TREES[@]}"; do
    if ! out="$(pull_tree "$tree" 2>&1)"; then
      write_status failed "$started" "$files" "$bytes"
      printf '%s\n' "$out" >&2
      die "copying $tree from the primary front failed; the previous copy stays"
    fi
    files=$((files + $(stat_sum "$out" "Number of regular files transferred")))
    bytes=$((bytes + $(stat_sum "$out" "Total transferred file size")))
  done
  write_status ok "$started" "$files" "$bytes"
  log "copied $files file(s), $bytes bytes of recordings from the primary front"
}

main "$@"
