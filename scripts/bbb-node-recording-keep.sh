#!/usr/bin/env bash
# Keeps, on a BigBlueButton node, a copy of each recording archive it hands to the Scalelite front, for a
# bounded time and space after delivery, so that the archive can be sent again to the other front after a
# failover: an archive delivered into the serving front's incoming/ or spool, but not yet imported there
# (so not yet in the standby's copy of published/), would otherwise be lost with that front's site, since
# scalelite_post_publish.rb deletes the node's recording once rsync succeeded (delete_recording) and writes
# <id>-sender.done. Installed as /usr/local/sbin/bbb-ovh-recording-keep; runs as the bigbluebutton user.
#
#   bbb-ovh-recording-keep keep MEETING_ID MAX_BYTES MAX_HOURS
#       Run by post_publish/bbb_ovh_keep.rb, which BigBlueButton runs just before
#       scalelite_post_publish.rb (its publish worker runs every post_publish/*.rb in sorted order:
#       bigbluebutton/bigbluebutton record-and-playback/core/lib/recordandplayback/workers/base.rb,
#       run_post_scripts). Makes <kept>/<id>.tar with the very command scalelite_post_publish.rb uses
#       (`tar --create` of the published <format>/<id> directories, from published_dir), so the copy is
#       byte for byte the archive the front receives; then prunes.
#   bbb-ovh-recording-keep prune MAX_BYTES MAX_HOURS
#       Run by the retry timer: first sends again the archives a resend could not deliver, then deletes
#       kept archives delivered more than MAX_HOURS ago, then the oldest while they hold more than
#       MAX_BYTES. An archive still to be sent again is never deleted.
#   bbb-ovh-recording-keep resend SINCE
#       Run by `ops failover` / `ops failback` once the node points at the new front: sends every kept
#       archive delivered (its <id>-sender.done written) at or after SINCE (Unix time) into this node's
#       target on the front, as post_publish does but keeping the copy. One that fails is marked
#       (<id>.tar.resend) and sent again by each timer run until it arrives. Prints one line per archive,
#       then `resent=N failed=N`.
#   bbb-ovh-recording-keep mark SINCE
#       The same archives, only marked to be sent by the retry timer's next run (within 10 minutes): what
#       `ops scale` and `schedule apply` run on a node they wake after a failover it slept through, which must
#       not wait for the transfers. Prints `marked=N`.
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
CORE="$ROOT/usr/local/bigbluebutton/core/scripts"
PUBLISHED_STATUS="$ROOT/var/bigbluebutton/recording/status/published"
KEPT="${KEPT_DIR:-$ROOT/var/bigbluebutton/bbb-ovh-kept}"
SSH_CONFIG="$ROOT/etc/bbb-ovh/recording-transfer/ssh_config"
RECORD_ID='^[0-9a-f]{40}-[0-9]{13}$'

log() {
  printf 'recording-keep: %s\n' "$*"
}

die() {
  printf 'recording-keep: error: %s\n' "$*" >&2
  exit 1
}

number() {
  [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a whole number, got '$2'"
}

# published_dir: where BigBlueButton publishes (bigbluebutton.yml's published_dir, as the post_publish script reads it).
published_dir() {
  local dir
  dir="$(sed -n 's/^published_dir:[[:space:]]*//p' "$CORE/bigbluebutton.yml" 2>/dev/null | tail -n 1)"
  printf '%s\n' "${dir:-/var/bigbluebutton/published}"
}

keep() {
  local id="$1" published formats=()
  [[ "$id" =~ $RECORD_ID ]] || die "'$id' is not a recording id"
  published="$(published_dir)"
  mkdir -p "$KEPT"
  cd "$published"
  shopt -s nullglob
  formats=(*/"$id")
  if ((${#formats[@]} == 0)); then
    log "no published format of $id: nothing kept"
    return 0
  fi
  rm -f "$KEPT/.$id.tar.tmp"
  tar --create --file "$KEPT/.$id.tar.tmp" "${formats[@]}"
  mv -f "$KEPT/.$id.tar.tmp" "$KEPT/$id.tar"
  log "kept $id.tar ($(stat -c %s "$KEPT/$id.tar") bytes)"
}

# send ID: the kept archive into this node's target on the front, as scalelite_post_publish.rb sends it
# (scalelite.yml's --no-protect-args and --rsh), without --remove-source-files.
send() {
  rsync --no-protect-args --rsh="ssh -F $SSH_CONFIG" "$KEPT/$1.tar" scalelite-front:. 2>&1 | tail -n 1
  return "${PIPESTATUS[0]}"
}

# delivered_since SINCE: the ids of the kept archives delivered (their sender.done written) at or after SINCE.
delivered_since() {
  local since="$1" tar id done_file
  shopt -s nullglob
  for tar in "$KEPT"/*.tar; do
    id="$(basename "$tar" .tar)"
    [[ "$id" =~ $RECORD_ID ]] || continue
    done_file="$PUBLISHED_STATUS/$id-sender.done"
    [[ -f "$done_file" ]] || continue
    (($(stat -c %Y "$done_file") >= since)) || continue
    printf '%s\n' "$id"
  done
}

mark() {
  local id marked=0
  while read -r id; do
    touch "$KEPT/$id.tar.resend"
    marked=$((marked + 1))
  done < <(delivered_since "$1")
  log "marked=$marked"
}

resend() {
  local id tar sent=0 failed=0 why
  while read -r id; do
    tar="$KEPT/$id.tar"
    # stdin from /dev/null: ssh would read the rest of the list.
    if why="$(send "$id" </dev/null)"; then
      rm -f "$tar.resend"
      sent=$((sent + 1))
      log "resent $id"
    else
      touch "$tar.resend"
      failed=$((failed + 1))
      log "could not resend $id ($why): the retry timer sends it again"
    fi
  done < <(delivered_since "$1")
  log "resent=$sent failed=$failed"
}

# retry_pending: the archives a resend could not deliver, sent again.
retry_pending() {
  local marker id
  shopt -s nullglob
  for marker in "$KEPT"/*.tar.resend; do
    id="$(basename "$marker" .tar.resend)"
    if [[ ! -f "$KEPT/$id.tar" ]]; then
      rm -f "$marker"
    elif send "$id" >/dev/null; then
      rm -f "$marker"
      log "resent $id"
    fi
  done
}

# kept_list: "<delivered> <bytes> <name>" of each copy, newest first. Delivered is when post_publish wrote
# <id>-sender.done (a recording the front could not take for days is kept from its delivery on), else when
# the copy was made.
kept_list() {
  local made size name done_file
  find "$KEPT" -maxdepth 1 -type f -name '*.tar' -printf '%T@ %s %f\n' | while read -r made size name; do
    done_file="$PUBLISHED_STATUS/${name%.tar}-sender.done"
    [[ -f "$done_file" ]] && made="$(stat -c %Y "$done_file")"
    printf '%s %s %s\n' "${made%.*}" "$size" "$name"
  done | sort -rn
}

# prune MAX_BYTES MAX_HOURS: older than MAX_HOURS goes, then the oldest while the rest holds more than MAX_BYTES.
prune() {
  local max_bytes="$1" max_hours="$2" now total=0 when size name
  [[ -d "$KEPT" ]] || return 0
  now="$(date +%s)"
  local -a kept=()
  mapfile -t kept < <(kept_list)
  for line in "${kept[@]}"; do
    read -r when size name <<<"$line"
    if [[ -f "$KEPT/$name.resend" ]]; then
      total=$((total + size))
    elif ((now - when > max_hours * 3600)) || ((total + size > max_bytes)); then
      rm -f "$KEPT/$name"
      log "no longer kept: $name (kept $(((now - when) / 3600)) h, $size bytes)"
    else
      total=$((total + size))
    fi
  done
}

main() {
  local command="${1:-}"
  case "$command" in
    keep)
      (($# == 4)) || die "usage: bbb-ovh-recording-keep keep MEETING_ID MAX_BYTES MAX_HOURS"
      number MAX_BYTES "$3"
      number MAX_HOURS "$4"
      keep "$2"
      prune "$3" "$4"
      ;;
    prune)
      (($# == 3)) || die "usage: bbb-ovh-recording-keep prune MAX_BYTES MAX_HOURS"
      number MAX_BYTES "$2"
      number MAX_HOURS "$3"
      retry_pending
      prune "$2" "$3"
      ;;
    resend)
      (($# == 2)) || die "usage: bbb-ovh-recording-keep resend SINCE"
      number SINCE "$2"
      resend "$2"
      ;;
    mark)
      (($# == 2)) || die "usage: bbb-ovh-recording-keep mark SINCE"
      number SINCE "$2"
      mark "$2"
      ;;
    *) die "usage: bbb-ovh-recording-keep keep|prune|resend|mark ..." ;;
  esac
}

main "$@"
