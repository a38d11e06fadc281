#!/usr/bin/env bash
# The standby front's replication, for Prometheus: how far its database is behind the primary's and whether
# its WAL receiver streams, in node_exporter's textfile-collector format ($TEXTFILE_DIR/standby_replication.prom),
# replaced atomically (temporary file + rename, as node_exporter's docs ask). Installed on the standby as
# /usr/local/sbin/bbb-ovh-replication-metrics by scalelite-replication-standby.sh and run every minute by
# bbb-ovh-replication-metrics.timer. The names are the ones scripts/monitoring/rules.yml reads
# (docs/monitoring.md, "The standby's replication metrics").
#
#   bbb-ovh-replication-metrics
#
# PostgreSQL 15's own functions (docs: "System Administration Functions", "Recovery Information Functions";
# the view pg_stat_wal_receiver): pg_is_in_recovery(), pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(),
# pg_last_xact_replay_timestamp(). The lag in seconds is postgres_exporter's pg_replication_lag: 0 when
# everything received is replayed, else the age of the last replayed transaction; except that a receiver that
# does not stream receives nothing, so there "all received is replayed" proves nothing and the age counts.
# psql runs inside the scalelite-postgres container (it publishes no port to the host).
set -euo pipefail

ROOT="${BBB_OVH_ROOT:-}"
TEXTFILE_DIR="${TEXTFILE_DIR:-$ROOT/var/lib/prometheus/node-exporter}"
ROLE_FILE="$ROOT/var/lib/bbb-ovh/front-role"

die() {
  echo "bbb-ovh-replication-metrics: $*" >&2
  exit 1
}

# One line, fields separated by |: in recovery (t/f), the WAL receiver's status (none without one), bytes
# received and not replayed, the last replayed transaction's commit time (epoch, empty before the first),
# whether all received is replayed (t/f), the server's clock (epoch).
QUERY="SELECT pg_is_in_recovery(),
  coalesce((SELECT status FROM pg_stat_wal_receiver LIMIT 1), 'none'),
  coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
  extract(epoch FROM pg_last_xact_replay_timestamp())::bigint,
  pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(),
  extract(epoch FROM now())::bigint"

query() {
  docker exec -i scalelite-postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -U postgres -d postgres -c "$QUERY" </dev/null 2>/dev/null
}

metric() {
  printf '# HELP %s %s\n# TYPE %s gauge\n%s %s\n' "$1" "$3" "$1" "$1" "$2"
}

# replication_metrics NOW: the samples; a front `ops failover` promoted has no replication to watch.
replication_metrics() {
  local now="$1" row recovery status bytes replayed caught_up role=""
  [[ -f "$ROLE_FILE" ]] && { IFS= read -r role <"$ROLE_FILE" || true; }
  if [[ "${role%%[[:space:]]*}" == primary ]]; then
    metric bbb_ovh_standby_promoted 1 "1 when ops failover made this front the primary: nothing replicates here."
    return 0
  fi
  if ! row="$(query)" || [[ -z "$row" ]]; then
    metric bbb_ovh_standby_database_up 0 "1 when the standby's database answered."
    metric bbb_ovh_standby_wal_receiver_streaming 0 "1 when the standby's WAL receiver streams from the primary."
    return 0
  fi
  IFS='|' read -r recovery status bytes replayed caught_up now <<<"$row"
  metric bbb_ovh_standby_database_up 1 "1 when the standby's database answered."
  metric bbb_ovh_standby_in_recovery "$([[ "$recovery" == t ]] && echo 1 || echo 0)" "1 while the database is a standby (replaying the primary's WAL)."
  metric bbb_ovh_standby_wal_receiver_streaming "$([[ "$status" == streaming ]] && echo 1 || echo 0)" \
    "1 when the standby's WAL receiver streams from the primary."
  metric bbb_ovh_standby_replay_lag_bytes "$bytes" "WAL received from the primary and not replayed yet."
  [[ -n "$replayed" ]] || return 0
  metric bbb_ovh_standby_last_replay_timestamp_seconds "$replayed" "Commit time (on the primary) of the last transaction replayed here."
  if [[ "$status" == streaming && "$caught_up" == t ]]; then
    metric bbb_ovh_standby_replication_lag_seconds 0 "How far the standby's database is behind the primary's."
  else
    metric bbb_ovh_standby_replication_lag_seconds "$((now > replayed ? now - replayed : 0))" "How far the standby's database is behind the primary's."
  fi
}

main() {
  [[ $# -eq 0 ]] || die "usage: bbb-ovh-replication-metrics (no arguments)"
  local now tmp
  now="$(date +%s)"
  mkdir -p "$TEXTFILE_DIR"
  # Same directory as the target, so the rename is atomic; node_exporter ignores names not ending in .prom.
  tmp="$(mktemp "$TEXTFILE_DIR/.standby_replication.prom.XXXXXX")"
  trap 'rm -f -- "$tmp"' EXIT
  {
    replication_metrics "$now"
    metric bbb_ovh_standby_metrics_last_run_timestamp_seconds "$now" "When bbb-ovh-replication-metrics last ran."
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f -T -- "$tmp" "$TEXTFILE_DIR/standby_replication.prom"
  trap - EXIT
}

main "$@"
