#!/usr/bin/env bash
# Our Scalelite exporter (Scalelite exposes no metrics): writes node_exporter's textfile-collector format
# into $TEXTFILE_DIR/scalelite.prom, atomically (temporary file + rename, as node_exporter's docs ask).
# Installed as /usr/local/sbin/bbb-ovh-scalelite-metrics, run every minute by bbb-ovh-scalelite-metrics.timer
# on the front. The metric names are the ones scripts/monitoring/rules.yml reads (docs/monitoring.md).
#
#   bbb-ovh-scalelite-metrics RECORDING_DIR [SLEEPING_LIST [PLAN [CREDIT_ESTIMATE]]]
#
# Servers are read from Scalelite's Redis as Scalelite v1.8.5 stores them (app/models/server.rb): the set
# `servers`, a hash `server:<id>` (url, state, online, meetings, users), the set `server_enabled` (servers
# saved before states existed) and the sorted sets `server_load` / `cordoned_server_load`. Redis runs in the
# scalelite-redis container and publishes no port, so redis-cli runs inside it (REDIS_CLI overrides that).
# Recordings: the spool (<recordings>/spool/*.tar, what Scalelite's importer has not taken yet), what the
# mover refused (<recordings>/refused/<node>/, each beside its .reason) and each node's incoming directory.
# Backups: the status file scripts/scalelite-backup.sh writes (docs/backups.md).
# Sleep: SLEEPING_LIST, where `ops schedule apply` / `ops scale` (cli/ops/nodePower.ts) list the servers they
# put to sleep, one id a line, `<id> wake=<epoch>` once they asked OVH to unshelve it; no file, nobody sleeps.
# Plan: PLAN, which the scaleliteMetrics step writes from the stack (components/monitoring/renderPlanFile.ts):
# `capacity_users <node> <users>` lines and `term_end <epoch>`. Credit: CREDIT_ESTIMATE, which `ops voucher
# status` / `ops schedule apply` / `ops scale` write over SSH (components/monitoring/creditEstimate.ts):
# `runs_out <epoch|+Inf>` and `estimated_at <epoch>`. A missing file gives none of its series.
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
TEXTFILE_DIR="${TEXTFILE_DIR:-$ROOT/var/lib/prometheus/node-exporter}"
BACKUP_STATUS="${BACKUP_STATUS:-$ROOT/var/lib/bbb-ovh/backup-status.json}"
# What `ops failover` / `ops failback` and the replication steps made of this front in a pair.
FRONT_ROLE="${FRONT_ROLE:-$ROOT/var/lib/bbb-ovh/front-role}"
# What the last run saw in the spool, and when an archive last left it (importer_progress).
SPOOL_STATE="${SPOOL_STATE:-$ROOT/var/lib/bbb-ovh/scalelite-spool.state}"
IMPORTER_UNIT=scalelite-recording-importer.service
# How many archives the importer failed on so far, and the journal cursor it was counted up to (importer_failures).
IMPORTER_FAILURES="${IMPORTER_FAILURES:-$ROOT/var/lib/bbb-ovh/scalelite-importer-failures}"
read -r -a REDIS <<<"${REDIS_CLI:-docker exec scalelite-redis redis-cli}"
read -r -a JOURNALCTL <<<"${JOURNALCTL:-journalctl}"

die() {
  echo "bbb-ovh-scalelite-metrics: $*" >&2
  exit 1
}

redis() {
  "${REDIS[@]}" "$@"
}

# label VALUE: VALUE escaped for a Prometheus label (backslash, double quote, newline).
label() {
  local v="${1//\\/\\\\}"
  v="${v//\"/\\\"}"
  printf '%s' "${v//$'\n'/\\n}"
}

# number VALUE: VALUE when it is a number, else 0 (a field Scalelite has not written yet).
number() {
  if [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf 0; fi
}

# server_metrics: one sample per server and metric, labelled with the node's host name (the rules join on
# host) and Scalelite's id.
server_metrics() {
  local sleeping_list="$1" id field value url host state enabled cordoned online load rest
  local -A h asleep=() wake=()
  if [[ -n "$sleeping_list" && -f "$sleeping_list" ]]; then
    while read -r id rest; do
      [[ -n "$id" ]] || continue
      asleep["$id"]=1
      [[ "$rest" =~ (^|[[:space:]])wake=([0-9]+) ]] && wake["$id"]="${BASH_REMATCH[2]}"
    done <"$sleeping_list"
  fi
  if ! redis PING 2>/dev/null | grep -qx PONG; then
    echo "scalelite_up 0"
    return 0
  fi
  echo "scalelite_up 1"
  echo "# HELP scalelite_server_enabled 1 when Scalelite gives the server new meetings (state enabled)."
  echo "# TYPE scalelite_server_enabled gauge"
  while IFS= read -r id; do
    [[ -n "$id" ]] || continue
    h=()
    while IFS= read -r field && IFS= read -r value; do
      h["$field"]="$value"
    done < <(redis HGETALL "server:$id")
    [[ -n "${h[url]:-}" ]] || continue
    url="${h[url]}"
    host="${url#*://}"
    host="${host%%/*}"
    host="${host%%:*}"
    state="${h[state]:-}"
    if [[ -z "$state" ]]; then
      # Servers saved before Scalelite had states: enabled is membership of server_enabled.
      state=disabled
      [[ "$(redis SISMEMBER server_enabled "$id")" == 1 ]] && state=enabled
    fi
    enabled=0 cordoned=0 online=0
    [[ "$state" == enabled ]] && enabled=1
    [[ "$state" == cordoned ]] && cordoned=1
    [[ "${h[online]:-}" == true ]] && online=1
    load=""
    case "$state" in
      enabled) load="$(redis ZSCORE server_load "$id")" ;;
      cordoned) load="$(redis ZSCORE cordoned_server_load "$id")" ;;
    esac
    local labels
    labels="host=\"$(label "$host")\",id=\"$(label "$id")\""
    printf 'scalelite_server_enabled{%s} %s\n' "$labels" "$enabled"
    printf 'scalelite_server_cordoned{%s} %s\n' "$labels" "$cordoned"
    printf 'scalelite_server_state{%s,state="%s"} 1\n' "$labels" "$(label "$state")"
    printf 'scalelite_server_online{%s} %s\n' "$labels" "$online"
    printf 'scalelite_server_load{%s} %s\n' "$labels" "$(number "$load")"
    printf 'scalelite_server_meetings{%s} %s\n' "$labels" "$(number "${h[meetings]:-}")"
    printf 'scalelite_server_users{%s} %s\n' "$labels" "$(number "${h[users]:-}")"
    # 0 only while ops keeps the node asleep: a pending wake means it should come up now.
    if [[ -n "${asleep[$id]:-}" && -z "${wake[$id]:-}" ]]; then
      printf 'bbb_ovh_node_expected_awake{%s} 0\n' "$labels"
    else
      printf 'bbb_ovh_node_expected_awake{%s} 1\n' "$labels"
    fi
    if [[ -n "${wake[$id]:-}" ]]; then
      printf 'bbb_ovh_node_wake_requested_timestamp_seconds{%s} %s\n' "$labels" "${wake[$id]}"
    fi
  done < <(redis SMEMBERS servers | sort)
}

# count_files DIR: regular files in DIR (not hidden: rsync's temporary files and the mover's hand-overs
# are), excluding the mover's .reason notes.
count_files() {
  [[ -d "$1" ]] || {
    echo 0
    return 0
  }
  find "$1" -mindepth 1 -maxdepth 1 -type f ! -name '.*' ! -name '*.reason' -printf . | wc -c
}

# spool_archives SPOOL FORMAT: find's -printf FORMAT for each archive waiting in SPOOL; nothing when SPOOL is
# missing (a front before its first recording), where find would fail the pipeline under pipefail.
spool_archives() {
  [[ -d "$1" ]] || return 0
  find "$1" -mindepth 1 -maxdepth 1 -type f -name '*.tar' ! -name '.*' -printf "$2"
}

recording_metrics() {
  local dir="$1" now="$2" oldest dir_node
  local spool="$dir/spool"
  echo "scalelite_spool_archives $(count_files "$spool")"
  oldest="$(spool_archives "$spool" '%T@\n' | sort -n | head -n 1)"
  oldest="${oldest%.*}"
  echo "scalelite_spool_oldest_archive_age_seconds $((${oldest:-now} < now ? now - ${oldest:-now} : 0))"
  for dir_node in "$dir"/refused/*/; do
    [[ -d "$dir_node" ]] || continue
    printf 'bbb_ovh_recordings_refused{node="%s"} %s\n' "$(label "$(basename -- "$dir_node")")" "$(count_files "$dir_node")"
  done
  for dir_node in "$dir"/incoming/*/; do
    [[ -d "$dir_node" ]] || continue
    printf 'bbb_ovh_recordings_incoming{node="%s"} %s\n' "$(label "$(basename -- "$dir_node")")" "$(count_files "$dir_node")"
  done
  if systemctl is-active --quiet "$IMPORTER_UNIT" 2>/dev/null; then
    echo "scalelite_importer_up 1"
  else
    echo "scalelite_importer_up 0"
  fi
  importer_progress "$spool" "$now"
  importer_failures
}

# importer_failures: what Scalelite's importer failed to import, from its log, the only record.
# - An archive it cannot import stays in the spool and is retried at every poll, each failure logged (v1.8.5
#   lib/tasks/recordings.rake, recordings:watch: `Rails.logger.error("Failed to import recording: #{e}")`, line
#   26): nothing on disk marks it (no failed/ directory; lib/recording_importer.rb moves nothing aside).
# - A playback format it cannot import is skipped with a warning (lib/recording_importer.rb, line 79, "Skipping
#   recording format from ... due to import error") and the archive is deleted all the same (line 88): that
#   format is gone from the front, silently unless counted.
# Rails logs to stdout in Scalelite's images (RAILS_LOG_TO_STDOUT=true, dockerfiles/v1/jammy300-alpine line 92;
# our env file sets it too) and the importer runs in the foreground of its unit (`docker run` without -d,
# scripts/lib/units.sh), so its output is in the journal under that unit. Each run counts the lines written
# since the cursor the last run saved (journalctl --cursor-file); the first run counts what the journal still
# holds (until it writes a cursor: a unit with no line yet leaves none). A journal that cannot be read adds
# nothing and moves no cursor. IMPORTER_FAILURES holds the two totals, a line each (an older one-line file is
# the failures).
importer_failures() {
  local failed=0 skipped=0 new_failed=0 new_skipped=0 counts tmp
  if [[ -f "$IMPORTER_FAILURES" ]]; then
    { read -r failed && read -r skipped; } <"$IMPORTER_FAILURES" || true
  fi
  [[ "$failed" =~ ^[0-9]+$ ]] || failed=0
  [[ "$skipped" =~ ^[0-9]+$ ]] || skipped=0
  mkdir -p "$(dirname "$IMPORTER_FAILURES")"
  counts="$("${JOURNALCTL[@]}" --unit "$IMPORTER_UNIT" --output cat --no-pager --quiet --cursor-file "$IMPORTER_FAILURES.cursor" 2>/dev/null |
    awk '/Failed to import recording: / { f++ } /Skipping recording format from / { s++ } END { print f + 0, s + 0 }' || true)"
  read -r new_failed new_skipped <<<"$counts" || true
  failed=$((failed + ${new_failed:-0}))
  skipped=$((skipped + ${new_skipped:-0}))
  tmp="$(mktemp "$IMPORTER_FAILURES.XXXXXX")"
  printf '%s\n%s\n' "$failed" "$skipped" >"$tmp"
  mv -f -T -- "$tmp" "$IMPORTER_FAILURES"
  echo "# TYPE scalelite_importer_failures_total counter"
  echo "scalelite_importer_failures_total $failed"
  echo "# TYPE scalelite_importer_skipped_formats_total counter"
  echo "scalelite_importer_skipped_formats_total $skipped"
}

# importer_progress SPOOL NOW: when the importer last made progress. Scalelite's importer deletes an archive
# once imported (v1.8.5 lib/recording_importer.rb, FileUtils.rm) and leaves one it fails on in place, retried
# every poll; nothing else of ours takes archives out of spool/. So progress is an archive of the last run gone
# from the spool, or an empty spool (nothing waits). Without a previous run the clock starts now.
# SPOOL_STATE: the time of the last progress, then the archives seen, one a line.
importer_progress() {
  local spool="$1" now="$2" progress="" current tmp
  [[ -f "$SPOOL_STATE" ]] && read -r progress <"$SPOOL_STATE"
  current="$(spool_archives "$spool" '%f\n' | sort)"
  if [[ -z "$current" || ! "$progress" =~ ^[0-9]+$ ]] ||
    [[ -n "$(comm -23 <(tail -n +2 "$SPOOL_STATE" | sort) <(printf '%s\n' "$current"))" ]]; then
    progress="$now"
  fi
  mkdir -p "$(dirname "$SPOOL_STATE")"
  tmp="$(mktemp "$SPOOL_STATE.XXXXXX")"
  printf '%s\n%s\n' "$progress" "$current" | sed '/^$/d' >"$tmp"
  mv -f -T -- "$tmp" "$SPOOL_STATE"
  echo "scalelite_importer_last_progress_timestamp_seconds $progress"
}

# plan_metrics PLAN: each node's planned capacity (BbbNodeOverCapacity) and the end of term
# (CreditRunsOutBeforeTermEnd). The per-node series carry the node's name in `host`, as the server series do.
plan_metrics() {
  local plan="$1" key node value
  [[ -n "$plan" && -f "$plan" ]] || return 0
  while read -r key node value; do
    case "$key" in
      capacity_users)
        [[ "$value" =~ ^[0-9]+$ ]] || continue
        printf 'bbb_ovh_node_capacity_users{host="%s"} %s\n' "$(label "$node")" "$value"
        ;;
      term_end)
        # One field: read put it in `node`.
        [[ "$node" =~ ^[0-9]+$ ]] && echo "bbb_ovh_term_end_timestamp_seconds $node"
        ;;
    esac
  done <"$plan"
  return 0
}

# credit_metrics CREDIT_ESTIMATE: when the OVH credit stops paying (+Inf: nothing is spent and nothing
# expires) and when ops estimated it, so that a stale estimate shows (CreditEstimateStale).
credit_metrics() {
  local estimate="$1" key value runs_out="" at=""
  [[ -n "$estimate" && -f "$estimate" ]] || return 0
  while read -r key value; do
    case "$key" in
      runs_out) [[ "$value" =~ ^([0-9]+|\+Inf)$ ]] && runs_out="$value" ;;
      estimated_at) [[ "$value" =~ ^[0-9]+$ ]] && at="$value" ;;
    esac
  done <"$estimate"
  # Both or neither: an estimate without its time could not go stale.
  [[ -n "$runs_out" && -n "$at" ]] || return 0
  echo "bbb_ovh_credit_runs_out_timestamp_seconds $runs_out"
  echo "bbb_ovh_credit_estimate_timestamp_seconds $at"
}

# backup_metrics: from the status file scalelite-backup-command.sh writes (one `"name": value` per line;
# null where it has nothing yet, which reads as 0 here).
backup_metrics() {
  [[ -f "$BACKUP_STATUS" ]] || return 0
  local key value state="" success="" attempt="" bytes="" added="" max_age=26 role=""
  # A front that does not serve (standby, fenced) skips its backups (docs/backups.md, "With a standby front"):
  # a status file left from when it served would only age into BackupTooOld.
  [[ -f "$FRONT_ROLE" ]] && { IFS= read -r role <"$FRONT_ROLE" || true; }
  case "${role%%[[:space:]]*}" in
    standby | fenced) return 0 ;;
  esac
  while read -r key value; do
    case "$key" in
      state) state="$value" ;;
      lastSuccessEpoch) success="$value" ;;
      attemptEpoch) attempt="$value" ;;
      bytes) bytes="$value" ;;
      added) added="$value" ;;
      maxAgeHours) max_age="$value" ;;
    esac
  done < <(sed -n 's/^  "\([A-Za-z]*\)": "\{0,1\}\([^",]*\)"\{0,1\},\{0,1\}$/\1 \2/p' "$BACKUP_STATUS")
  echo "bbb_ovh_backup_last_success_timestamp_seconds $(number "$success")"
  echo "bbb_ovh_backup_last_attempt_timestamp_seconds $(number "$attempt")"
  echo "bbb_ovh_backup_last_attempt_ok $([[ "$state" == ok ]] && echo 1 || echo 0)"
  # restic's summary of the last successful backup: total_bytes_processed and data_added.
  echo "bbb_ovh_backup_last_size_bytes $(number "$bytes")"
  echo "bbb_ovh_backup_last_added_bytes $(number "$added")"
  echo "bbb_ovh_backup_max_age_seconds $(($(number "$max_age") * 3600))"
}

main() {
  [[ $# -ge 1 && $# -le 4 ]] || die "usage: bbb-ovh-scalelite-metrics RECORDING_DIR [SLEEPING_LIST [PLAN [CREDIT_ESTIMATE]]]"
  local dir="$1" sleeping_list="${2:-}" plan="${3:-}" credit="${4:-}" now
  now="$(date +%s)"
  mkdir -p "$TEXTFILE_DIR"
  # Same directory as the target, so the rename is atomic; node_exporter ignores names not ending in .prom.
  # Global: the EXIT trap runs after main's locals are gone.
  METRICS_TMP="$(mktemp "$TEXTFILE_DIR/.scalelite.prom.XXXXXX")"
  trap 'rm -f -- "$METRICS_TMP"' EXIT
  {
    server_metrics "$sleeping_list"
    recording_metrics "$dir" "$now"
    backup_metrics
    plan_metrics "$plan"
    credit_metrics "$credit"
    echo "scalelite_metrics_last_run_timestamp_seconds $now"
  } >"$METRICS_TMP"
  chmod 0644 "$METRICS_TMP"
  mv -f -T -- "$METRICS_TMP" "$TEXTFILE_DIR/scalelite.prom"
  trap - EXIT
}

main "$@"
