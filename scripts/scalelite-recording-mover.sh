#!/usr/bin/env bash
# Hands the recording archives the nodes sent (each into its own <recordings>/incoming/<node>/) to
# Scalelite's spool, after checking them; installed as /usr/local/sbin/bbb-ovh-recording-mover and run as
# root by bbb-ovh-recording-mover.service (a path unit on the node directories, and a timer as backstop).
#
#   bbb-ovh-recording-mover RECORDING_DIR RESERVE_BYTES
#
# Each entry is first renamed into <recordings>/.checking/<node>/ (root's only), out of the node's reach,
# then checked there. An archive goes to <recordings>/spool/<id>.tar only when: it is a regular file (no
# link, no directory)
# named <40 hex>-<13 digits>.tar, as scalelite_post_publish.rb names it; its tar members pass
# recording_archive_check.py (plain files and directories inside <format>/<id>/, no links, devices,
# setuid/setgid or world-writable members, metadata.xml naming that id); no other node delivered that id
# before (the ledger /var/lib/bbb-ovh/recordings/delivered/<id>: node and sha256), and it is not a
# recording already on the front that came another way. A second, identical copy from the same node (a
# retry after a cut connection) is dropped: the first one was handed over; so is an archive whose every
# file the front already holds, byte for byte (a node sending again after a failover what the standby's
# copy already brought over: the ledger stayed on the lost front). A new version from the same
# node (a rebuild) is handed over like the first.
# Anything else is moved to <recordings>/refused/<node>/ with a .reason file beside it: never deleted.
# What is staged in .checking (while it is checked, or for hours when the reserve was reached) is out of the
# standby's read-only copy's sight: <recordings>/held-since holds a time no later than the oldest archive
# there (absent when none), which the standby's pull reads between its listings of incoming/ and of the
# spool (scripts/scalelite-recordings-pull.sh, pending_since). A run writes it before it stages anything,
# counting what it is about to stage, and again at its end for what is left.
# A node's retry timer (bbb-node-recording-retry.sh) also sends backlog-<epoch>.<ns>.txt, one line saying how
# many of its recordings wait and since when, and how many it holds that the front lacks: the newest is kept
# in /var/lib/bbb-ovh/recordings/backlog/<node> for `ops status`, and for `ops scale`, `schedule apply` and
# `ops upgrade` before they shelve or replace the node.
# Nothing is handed over while the filesystem has less than RESERVE_BYTES free: Scalelite's importer
# unpacks each archive there, beside PostgreSQL and Redis. Scalelite's database cannot tell which node a
# meeting ran on (Scalelite 1.x keeps meetings in Redis, without BigBlueButton's internal meeting id, and
# drops them when they end), so the node of a recording is the one that first delivered it.
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
STATE="$ROOT/var/lib/bbb-ovh/recordings"
LEDGER="$STATE/delivered"
LOCK="$STATE/mover.lock"
CHECKER="$ROOT/usr/local/lib/bbb-ovh/recording_archive_check.py"
# Scalelite's containers run as uid 1000; gid 2000 is the spool group (Scalelite's docs/sharedvolume-README.md).
IMPORTER_OWNER=1000:2000
RECORD_ID='^[0-9a-f]{40}-[0-9]{13}$'
# rsync writes into a hidden temporary file; one left behind this long is from a transfer that was cut.
STALE_MINUTES="${STALE_MINUTES:-1440}"
HANDOVER_SUFFIX=.bbb-ovh-handover

log() {
  printf 'recording-mover: %s\n' "$*"
}

die() {
  printf 'recording-mover: error: %s\n' "$*" >&2
  exit 1
}

# free_bytes PATH: sets FREE to the bytes available on PATH's filesystem.
free_bytes() {
  FREE=""
  { read -r _ && read -r FREE; } < <(df -B1 --output=avail "$1") || true
  [[ "$FREE" =~ ^[0-9]+$ ]] || die "df gives no free space for $1"
}

# refuse NODE PATH REASON: moves PATH (whatever it is; mv does not follow links) aside with its reason.
refuse() {
  local node="$1" path="$2" reason="$3" dir="$REFUSED/$1" name dest
  mkdir -p "$dir"
  chmod 700 "$REFUSED" "$dir"
  name="$(basename -- "$path" | LC_ALL=C tr -c 'A-Za-z0-9._-' '_')"
  dest="$(mktemp -u "$dir/$(date -u +%Y%m%dT%H%M%SZ)-XXXXXX")-${name:0:100}"
  mv -T -- "$path" "$dest"
  printf 'node: %s\nname: %q\nrefused: %s\nreason: %s\n' "$node" "$(basename -- "$path")" "$(date -u +%FT%TZ)" "$reason" >"$dest.reason"
  log "REFUSED from $node: $(basename -- "$path"): $reason (kept as ${dest#"$ROOT"})"
}

# on_front ID: the recording is already published or unpublished on the front.
on_front() {
  compgen -G "$RECORDING_DIR/published/*/$1" >/dev/null || compgen -G "$RECORDING_DIR/unpublished/*/$1" >/dev/null
}

# finish_handover SPOOLFILE: records the delivery in the ledger, then shows the archive to the importer.
# A run cut between the two steps finishes it on its next start (see recover_handovers).
finish_handover() {
  local hidden="$1" base id node sha
  base="${hidden##*/}"
  base="${base#.}"
  id="${base%%.tar.*}"
  node="${base#"$id".tar.from-}"
  node="${node%"$HANDOVER_SUFFIX"}"
  sha="$(sha256sum <"$hidden" | cut -d' ' -f1)"
  mkdir -p "$LEDGER"
  printf '%s %s\n' "$node" "$sha" >"$LEDGER/.$id.tmp"
  mv -f "$LEDGER/.$id.tmp" "$LEDGER/$id"
  mv -f -T -- "$hidden" "$SPOOL/$id.tar"
  log "handed over $id.tar from $node (sha256 $sha)"
}

recover_handovers() {
  local hidden
  while IFS= read -r -d '' hidden; do
    finish_handover "$hidden"
  done < <(find "$SPOOL" -mindepth 1 -maxdepth 1 -type f -name ".*.tar.from-*$HANDOVER_SUFFIX" -print0)
}

# record_backlog NODE PATH: keeps the node's newest backlog report (see the header), then drops the file.
# Reports are ordered by the nanosecond stamp of their name (kept in .<node>.stamp); a name without
# nanoseconds (a node not updated yet) counts as the start of its second.
record_backlog() {
  local node="$1" path="$2" line stamp reported nanos current=0
  stamp="${path##*/}"
  stamp="${stamp%.txt}"
  stamp="${stamp#backlog-}"
  reported="${stamp%%.*}"
  nanos=0
  [[ "$stamp" == *.* ]] && nanos="${stamp#*.}"
  stamp=$((reported * 1000000000 + 10#$nanos))
  line="$(head -c 200 -- "$path")"
  # The kept copies' part comes from nodes updated since copies are kept, the unsent and failed counts
  # from nodes updated since each is reported.
  if [[ ! "$line" =~ ^waiting=[0-9]+\ oldest=[0-9]+\ overdue=[0-9]+(\ kept=[0-9]+\ kept_bytes=[0-9]+\ resend=[0-9]+(\ unsent=[0-9]+(\ failed=[0-9]+)?)?)?$ ]]; then
    refuse "$node" "$path" "not a backlog report (waiting=N oldest=EPOCH overdue=N [kept=N kept_bytes=N resend=N [unsent=N [failed=N]]])"
    return 0
  fi
  mkdir -p "$STATE/backlog"
  [[ -f "$STATE/backlog/.$node.stamp" ]] && current="$(head -c 20 "$STATE/backlog/.$node.stamp")"
  if ((stamp > ${current:-0})); then
    printf '%s reported=%s\n' "$line" "$reported" >"$STATE/backlog/.$node.tmp"
    printf '%s\n' "$stamp" >"$STATE/backlog/.$node.stamp"
    mv -f "$STATE/backlog/.$node.tmp" "$STATE/backlog/$node"
  fi
  rm -f -- "$path"
}

# stage NODE PATH: takes one entry of NODE's directory out of the node's reach (a rename into CHECKING,
# root's only) before anything is checked, so that what is checked is what is handed over: the node cannot
# rename another file over it in between.
stage() {
  local node="$1" path="$2" name="${2##*/}"
  if [[ "$name" =~ ^backlog-[0-9]{10}(\.[0-9]{9})?\.txt$ && -f "$path" && ! -L "$path" ]]; then
    record_backlog "$node" "$path"
    return 0
  fi
  if [[ "$name" == .* ]]; then
    # rsync's temporary file of a transfer under way, unless it has been there for a day.
    if [[ -n "$(find "$path" -maxdepth 0 -mmin +"$STALE_MINUTES" 2>/dev/null)" ]]; then
      refuse "$node" "$path" "a transfer that was cut left this incomplete file behind"
    fi
    return 0
  fi
  mkdir -p "$CHECKING/$node"
  # A staged entry of the same name (a run cut after staging it) goes first; this one waits for the next run.
  [[ -e "$CHECKING/$node/$name" || -L "$CHECKING/$node/$name" ]] && return 0
  mv -T -- "$path" "$CHECKING/$node/$name"
}

# take NODE PATH: checks one staged entry of NODE and hands it over, refuses it or drops a duplicate.
# Returns 1 when the reserve is reached (nothing more is handed over this run; it stays staged).
take() {
  local node="$1" path="$2" name="${2##*/}" id reason sha first_node first_sha
  if [[ -L "$path" || ! -f "$path" ]]; then
    refuse "$node" "$path" "not a regular file"
    return 0
  fi
  id="${name%.tar}"
  if [[ "$name" != *.tar || ! "$id" =~ $RECORD_ID ]]; then
    refuse "$node" "$path" "the name is not <recording id>.tar (a recording id is 40 hex digits, '-', 13 digits)"
    return 0
  fi
  if [[ "$(stat -c %h "$path")" != 1 ]]; then
    refuse "$node" "$path" "the file has other hard links"
    return 0
  fi
  if ! reason="$(python3 "$CHECKER" "$path" "$id")"; then
    refuse "$node" "$path" "${reason:-the archive check failed}"
    return 0
  fi
  sha="$(sha256sum <"$path" | cut -d' ' -f1)"
  if [[ -f "$LEDGER/$id" ]]; then
    read -r first_node first_sha <"$LEDGER/$id"
    if [[ "$first_node" != "$node" ]]; then
      refuse "$node" "$path" "recording $id was delivered by node $first_node, not by $node"
      return 0
    fi
    if [[ "$first_sha" == "$sha" ]]; then
      # Dropped only while the front has it: waiting in the spool, or imported whole. Scalelite's importer
      # removes an archive even when it skipped one of its formats (lib/recording_importer.rb), and the
      # operator's remedy is to send it again (RecordingFormatSkipped): that copy must go through.
      if [[ -e "$SPOOL/$id.tar" ]] || { on_front "$id" && python3 "$CHECKER" --held "$path" "$id" "$RECORDING_DIR" >/dev/null; }; then
        rm -f -- "$path"
        log "duplicate of $id.tar from $node dropped (identical to the one handed over, which the front holds)"
        return 0
      fi
      log "$id.tar from $node sent again, and the front does not hold it whole (its importer dropped it): handed over again"
    fi
  elif on_front "$id"; then
    # After a failover the nodes send again what they delivered to the lost front; what the standby's copy
    # had already brought over is here, without a ledger line (the ledger stays on the lost front).
    if python3 "$CHECKER" --held "$path" "$id" "$RECORDING_DIR" >/dev/null; then
      rm -f -- "$path"
      log "$id.tar from $node dropped: the front already holds that very recording"
      return 0
    fi
    refuse "$node" "$path" "recording $id is already on the front and was not delivered by $node through the spool"
    return 0
  fi
  free_bytes "$SPOOL"
  if ((FREE < RESERVE)); then
    log "HOLDING: less than $RESERVE bytes free on the recording filesystem; $name from $node waits"
    return 1
  fi
  chown "$IMPORTER_OWNER" "$path"
  chmod 0644 "$path"
  mv -T -- "$path" "$SPOOL/.$id.tar.from-$node$HANDOVER_SUFFIX"
  finish_handover "$SPOOL/.$id.tar.from-$node$HANDOVER_SUFFIX"
}

# note_held [PATH...]: the modification time (epoch s) of the oldest archive staged in CHECKING, or among
# PATHs (about to be staged), into held-since.
note_held() {
  local oldest
  # awk, not sort | head: head closing the pipe early would fail the run under pipefail.
  oldest="$({ find "$CHECKING" -mindepth 2 -maxdepth 2 -type f -name '*.tar' -printf '%T@\n'; (($# == 0)) || stat -c %Y -- "$@" 2>/dev/null || true; } |
    awk 'NR == 1 || $1 < min { min = $1 } END { if (NR) printf "%d\n", min }')"
  if [[ -z "$oldest" ]]; then
    rm -f -- "$RECORDING_DIR/held-since"
    return 0
  fi
  printf '%s\n' "$oldest" >"$RECORDING_DIR/.held-since.tmp"
  chmod 0644 "$RECORDING_DIR/.held-since.tmp"
  mv -f -- "$RECORDING_DIR/.held-since.tmp" "$RECORDING_DIR/held-since"
}

# move_all: stages what the nodes sent, then checks and hands over what is staged, while the reserve lasts.
move_all() {
  recover_handovers
  # Below the reserve nothing is staged: what waits stays in the node's directory, where the receiver
  # counts it against the node's limit.
  free_bytes "$SPOOL"
  if ((FREE < RESERVE)); then
    log "HOLDING: less than $RESERVE bytes free on the recording filesystem; nothing is handed over"
    return 0
  fi
  # Globs, not find | sort: each node directory would cost two processes a run. dotglob: rsync's hidden
  # temporary files are entries too; `.` and `..` never match. A glob is expanded (sorted) when its loop starts.
  local dir node path
  local -a entries=() archives=()
  shopt -s nullglob dotglob
  for dir in "$INCOMING"/*; do
    [[ -d "$dir" && ! -L "$dir" ]] || continue
    entries+=("$dir"/*)
  done
  for path in "${entries[@]}"; do
    [[ "$path" == *.tar && "${path##*/}" != .* ]] && archives+=("$path")
  done
  # Exactly what is counted is staged: an archive arriving meanwhile waits for the next run, in sight.
  note_held "${archives[@]}"
  for path in "${entries[@]}"; do
    dir="${path%/*}"
    stage "${dir##*/}" "$path"
  done
  for dir in "$CHECKING"/*; do
    [[ -d "$dir" && ! -L "$dir" ]] || continue
    node="${dir##*/}"
    for path in "$dir"/*; do
      take "$node" "$path" || return 0
    done
  done
}

main() {
  (($# == 2)) || die "usage: bbb-ovh-recording-mover RECORDING_DIR RESERVE_BYTES"
  RECORDING_DIR="$ROOT$1"
  RESERVE="$2"
  [[ "$RESERVE" =~ ^[0-9]+$ ]] || die "RESERVE_BYTES must be a number of bytes"
  INCOMING="$RECORDING_DIR/incoming"
  REFUSED="$RECORDING_DIR/refused"
  SPOOL="$RECORDING_DIR/spool"
  CHECKING="$RECORDING_DIR/.checking"
  [[ -d "$INCOMING" && -d "$SPOOL" ]] || die "$INCOMING or $SPOOL is missing (the scaleliteSpool step makes them)"
  mkdir -p "$STATE"
  exec 9>>"$LOCK"
  flock -n 9 || { log "another mover run is under way"; return 0; }
  mkdir -p "$CHECKING"
  chmod 700 "$CHECKING"
  move_all
  note_held
}

main "$@"
