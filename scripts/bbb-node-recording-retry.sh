#!/usr/bin/env bash
# Sends again, until the front has them, the published recordings of this BigBlueButton node that
# Scalelite's post_publish script could not send; installed as /usr/local/sbin/bbb-ovh-recording-retry by
# bbb-node-recordings.sh and run as the bigbluebutton user every 10 minutes (bbb-ovh-recording-retry.timer).
#
# A recording is waiting when BigBlueButton marked one of its formats published
# (recording/status/published/<id>-<format>.done) and scalelite_post_publish.rb has not written
# <id>-sender.done, which it does only after rsync succeeded (and after `bbb-record --delete`, with
# scalelite.yml's delete_recording): so a recording leaves the node only once the front has it. For each
# waiting one, this runs that same pinned script again (`-m <id>`), with a backoff per recording (10 min,
# doubling, at most 6 h; never within 10 min of publishing, when the worker's own run may be under way).
# Past DEADLINE_HOURS (24 h) since publishing, a recording is overdue: logged as an error here, and
# reported to the front, where `ops status` shows it as a problem. Every run sends the front this node's
# backlog (how many wait, since when, how many are overdue; how many delivered archives it keeps, their
# bytes, how many a resend after a failover has still to deliver; how many of its recordings the front does
# not have yet, at any stage from the end of their meeting, and how many of those a stage failed) as backlog-<epoch>.<ns>.txt into its own target.
# The name's time is taken before the status files are read: a report says what the node held at that time
# or later, which is what `ops scale` and `ops upgrade` rely on before they shelve or replace a node.
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
CORE="$ROOT/usr/local/bigbluebutton/core/scripts"
POST_PUBLISH="$CORE/post_publish/scalelite_post_publish.rb"
PUBLISHED="$ROOT/var/bigbluebutton/recording/status/published"
SSH_CONFIG="$ROOT/etc/bbb-ovh/recording-transfer/ssh_config"
# The copies of delivered archives bbb-node-recording-keep.sh keeps (reported, for `ops status`).
KEPT="$ROOT/var/bigbluebutton/bbb-ovh-kept"
STATE="${STATE_DIRECTORY:-$ROOT/var/lib/bbb-ovh-recording-retry}"
GRACE_SECONDS="${GRACE_SECONDS:-600}"
BASE_DELAY=600
MAX_DELAY=21600
DEADLINE_HOURS="${DEADLINE_HOURS:-24}"
RECORD_ID='^[0-9a-f]{40}-[0-9]{13}$'
STATUS="$ROOT/var/bigbluebutton/recording/status"
# Installed beside this script by bbb-node-recordings.sh.
# shellcheck source-path=SCRIPTDIR source=lib/recording_status.sh
source "$ROOT/usr/local/lib/bbb-ovh/recording_status.sh"

log() {
  printf 'recording-retry: %s\n' "$*"
}

# waiting_ids: "<id> <published epoch>" of each published recording without its sender.done, oldest first.
waiting_ids() {
  local file base id
  declare -A first=()
  shopt -s nullglob
  for file in "$PUBLISHED"/*.done; do
    base="$(basename "$file" .done)"
    id="${base%-*}"
    [[ "$id" =~ $RECORD_ID && "${base##*-}" != sender ]] || continue
    [[ -f "$PUBLISHED/$id-sender.done" ]] && continue
    local when
    when="$(stat -c %Y "$file")"
    if [[ -z "${first[$id]:-}" ]] || ((when < first[$id])); then first[$id]="$when"; fi
  done
  for id in "${!first[@]}"; do
    printf '%s %s\n' "$id" "${first[$id]}"
  done | sort -k2,2n
}

# retry ID: runs the post_publish script for ID when its backoff allows; records the next try on failure.
retry() {
  local id="$1" now="$2" attempts=0 next=0 delay
  if [[ -f "$STATE/$id" ]]; then read -r attempts next <"$STATE/$id"; fi
  ((now >= next)) || return 0
  if ruby "$POST_PUBLISH" -m "$id" >"$STATE/$id.log" 2>&1; then
    rm -f "$STATE/$id" "$STATE/$id.log"
    log "sent $id to the front after $((attempts + 1)) more attempt(s)"
    return 0
  fi
  attempts=$((attempts + 1))
  delay=$((BASE_DELAY << (attempts < 6 ? attempts - 1 : 5)))
  ((delay <= MAX_DELAY)) || delay=$MAX_DELAY
  printf '%s %s\n' "$attempts" "$((now + delay))" >"$STATE/$id"
  log "attempt $attempts for $id failed ($(tail -n 1 "$STATE/$id.log")); next in $((delay / 60)) min"
}

# kept_summary: "kept=N kept_bytes=B resend=N" of the kept copies.
kept_summary() {
  local count=0 bytes=0 resend=0 size
  if [[ -d "$KEPT" ]]; then
    while read -r size; do
      count=$((count + 1))
      bytes=$((bytes + size))
    done < <(find "$KEPT" -maxdepth 1 -type f -name '*.tar' -printf '%s\n')
    resend="$(find "$KEPT" -maxdepth 1 -type f -name '*.tar.resend' | wc -l)"
  fi
  printf 'kept=%s kept_bytes=%s resend=%s\n' "$count" "$bytes" "$resend"
}

# report STAMP WAITING OLDEST OVERDUE UNSENT FAILED: the backlog line, sent into this node's own target on the front.
# STAMP (epoch.nanoseconds) was taken before anything it reports was read.
report() {
  local file
  # Nanoseconds in the name: two runs in one second send two names, and the front's per-node target
  # refuses to overwrite a name (rrsync -no-overwrite), which would keep the older report.
  file="$STATE/backlog-$1.txt"
  printf 'waiting=%s oldest=%s overdue=%s %s unsent=%s failed=%s\n' "$2" "$3" "$4" "$(kept_summary)" "$5" "$6" >"$file"
  if ! rsync --no-protect-args --rsh="ssh -F $SSH_CONFIG" "$file" scalelite-front:. 2>"$STATE/report.log"; then
    log "could not report the backlog to the front: $(tail -n 1 "$STATE/report.log")"
  fi
  rm -f "$file"
}

# forget_sent: drops the backoff of recordings no longer waiting (sent by the worker, or deleted by hand).
forget_sent() {
  local file id
  for file in "$STATE"/*; do
    id="$(basename "$file")"
    [[ "$id" =~ $RECORD_ID ]] || continue
    if [[ -f "$PUBLISHED/$id-sender.done" ]] || ! compgen -G "$PUBLISHED/$id-*.done" >/dev/null; then
      rm -f "$file" "$file.log"
    fi
  done
}

main() {
  [[ -f "$POST_PUBLISH" ]] || { log "no post_publish script at ${POST_PUBLISH#"$ROOT"}: nothing to send"; return 0; }
  mkdir -p "$STATE"
  local now id published waiting=0 overdue=0 oldest=0 stamp unsent failed
  now="$(date +%s)"
  while read -r id published; do
    [[ -n "$id" ]] || continue
    if ((now - published >= DEADLINE_HOURS * 3600)); then
      log "ERROR: recording $id was published $(((now - published) / 3600)) h ago and has still not reached the front"
    fi
    ((now - published >= GRACE_SECONDS)) || continue
    retry "$id" "$now"
  done < <(waiting_ids)
  forget_sent
  # What still waits after this run's attempts, read after the report's time.
  stamp="$(date +%s.%N)"
  while read -r id published; do
    [[ -n "$id" ]] || continue
    waiting=$((waiting + 1))
    ((oldest != 0)) || oldest="$published"
    ((now - published < DEADLINE_HOURS * 3600)) || overdue=$((overdue + 1))
  done < <(waiting_ids)
  unsent="$(unsent_recordings "$STATUS" | wc -l)"
  failed="$(failed_recordings "$STATUS" | wc -l)"
  ((failed == 0)) || log "ERROR: $failed recording(s) failed processing here: bbb-record --rebuild <id> (or --delete <id>); see /var/log/bigbluebutton"
  report "$stamp" "$waiting" "$oldest" "$overdue" "$unsent" "$failed"
  log "$waiting recording(s) waiting, $overdue overdue"
}

main "$@"
