#!/usr/bin/env bash
# Scalelite front with a standby (campus.standbyFront), on the standby: its scalelite-postgres container
# runs as a hot standby streaming from the primary's database over TLS.
#   - A data directory that is already a standby (standby.signal) keeps its data: only the connection
#     settings are brought up to date (a reload).
#   - Otherwise (empty, or the fresh database the image made on first start, or a former primary being
#     re-protected by `ops failback`) the container is stopped, the old directory is MOVED ASIDE (never
#     deleted: DATA_DIR/postgres.replaced-<UTC time>), and pg_basebackup (the image's own, in a throwaway
#     container on the host network) copies the primary's; then standby.signal and primary_conninfo are
#     written and the container started.
# The connection: user bbb_ovh_replication, its password in a 0600 passfile, sslmode=verify-full against
# the CA Pulumi made (the primary's certificate names both fronts' addresses), the primary's slot.
# Paths in primary_conninfo are relative: the server resolves them from its data directory (the postmaster
# runs there), which is the same inside the container and out.
#
# Inputs (stdin, KEY=VALUE): DATA_DIR, POSTGRES_IMAGE, PRIMARY_ADDRESS, REPLICATION_PASSWORD (secret),
# CA_CERT_B64. Optional PRIMARY_PORT (default 5432), IMAGE_PINS (lib/units.sh). pg_basebackup runs from
# the image the database container runs, by the digest the front locked (lib/units.sh, lock_image).
# Also installs the standby's replication metrics (standby-replication-metrics.sh, every minute, for
# node_exporter's textfile collector: docs/monitoring.md), first, so that a standby that does not stream is
# seen by the alerts even when this step then fails.
# Refuses to run on a front `ops failover` promoted (/var/lib/bbb-ovh/front-role says primary): that
# database is Scalelite's now, and a base backup would replace it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(DATA_DIR POSTGRES_IMAGE PRIMARY_ADDRESS REPLICATION_PASSWORD CA_CERT_B64)
OPTIONAL_INPUTS=(PRIMARY_PORT IMAGE_PINS)
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"

REPLICATION_ROLE=bbb_ovh_replication
SLOT=bbb_ovh_standby
REPLICA_DIR=bbb-ovh-replica
CONTAINER_DATA=/var/lib/postgresql/data
# The postgres user of the official image (uid 999), when no data directory tells us its owner.
DEFAULT_OWNER=999:999
PG_WAIT_ATTEMPTS="${PG_WAIT_ATTEMPTS:-90}"

check_inputs() {
  [[ "$IN_DATA_DIR" == /* ]] || die "DATA_DIR must be an absolute path"
  [[ "$IN_REPLICATION_PASSWORD" =~ ^[A-Za-z0-9]{16,}$ ]] || die "REPLICATION_PASSWORD must be at least 16 letters and digits"
  [[ "$IN_PRIMARY_ADDRESS" =~ ^[0-9.]+$ || "$IN_PRIMARY_ADDRESS" =~ ^[0-9a-fA-F:]+$ ]] || die "PRIMARY_ADDRESS: '$IN_PRIMARY_ADDRESS' is not an IP address"
  [[ "$IN_PRIMARY_PORT" =~ ^[0-9]{1,5}$ ]] || die "PRIMARY_PORT must be a port number"
  check_pins
  check_image "$IN_POSTGRES_IMAGE"
  grep -q -- "-----BEGIN CERTIFICATE-----" <<<"$IN_CA_CERT" || die "CA_CERT is not a PEM certificate"
}

check_role() {
  local role
  role="$(front_role)"
  [[ "${role:=standby}" == standby ]] ||
    die "this front is the $role since \`ops failover\` ($FRONT_ROLE_FILE): a base backup would replace Scalelite's live database; set campus.servingFront: standbyFront in the stack, which holds this step (docs/front.md, \"A failover that lasts\")"
}

conninfo() {
  printf 'host=%s port=%s user=%s passfile=%s/pgpass sslmode=verify-full sslrootcert=%s/ca.crt application_name=%s' \
    "$IN_PRIMARY_ADDRESS" "$IN_PRIMARY_PORT" "$REPLICATION_ROLE" "$REPLICA_DIR" "$REPLICA_DIR" "$SLOT"
}

# write_credentials DIR OWNER: the passfile (hostname:port:database:username:password) and the CA.
write_credentials() {
  local dir="$1" owner="$2" pgpass
  mkdir -p "$dir"
  chown "$owner" "$dir"
  chmod 0700 "$dir"
  printf -v pgpass '%s:%s:replication:%s:%s\n' "$IN_PRIMARY_ADDRESS" "$IN_PRIMARY_PORT" "$REPLICATION_ROLE" "$IN_REPLICATION_PASSWORD"
  install_text "$dir/pgpass" 0600 "$pgpass" "$owner" || true
  install_text "$dir/ca.crt" 0644 "$IN_CA_CERT"$'\n' "$owner" || true
}

# Our settings in postgresql.auto.conf; returns 0 when they changed.
write_standby_settings() {
  local data="$1" owner="$2" auto="$1/postgresql.auto.conf"
  touch "$data/standby.signal"
  chown "$owner" "$data/standby.signal"
  {
    grep -Ev "^(primary_conninfo|primary_slot_name|hot_standby) " "$auto" 2>/dev/null || true
    printf "primary_conninfo = '%s'\n" "$(conninfo)"
    printf "primary_slot_name = '%s'\n" "$SLOT"
    printf "hot_standby = 'on'\n"
  } | install_content "$auto" 0600 "$owner"
}

is_standby() {
  [[ -f "$1/PG_VERSION" && -f "$1/standby.signal" ]]
}

base_backup() {
  local data="$1" owner="$2" aside credentials
  log "no standby database here: copying the primary's ($IN_PRIMARY_ADDRESS:$IN_PRIMARY_PORT) with pg_basebackup"
  systemctl stop scalelite-postgres.service
  if [[ -e "$data" ]] && [[ -n "$(ls -A "$data")" ]]; then
    aside="$data.replaced-$(date -u +%Y%m%dT%H%M%SZ)"
    warn "moving the database that was here aside to $aside (delete it once the standby is in sync)"
    mv "$data" "$aside"
  fi
  mkdir -p "$data"
  chown "$owner" "$data"
  chmod 0700 "$data"
  lock_image "$IN_POSTGRES_IMAGE"
  credentials="$(mktemp -d "$ROOT$IN_DATA_DIR/replica-credentials.XXXXXX")"
  write_credentials "$credentials" "$owner"
  if ! docker run --rm --network host --user "$owner" \
    --mount "type=bind,source=${data#"$ROOT"},target=$CONTAINER_DATA" \
    --mount "type=bind,source=${credentials#"$ROOT"},target=/$REPLICA_DIR,readonly" \
    "$LOCKED_IMAGE" pg_basebackup --pgdata="$CONTAINER_DATA" --wal-method=stream --checkpoint=fast --slot="$SLOT" \
    --dbname="host=$IN_PRIMARY_ADDRESS port=$IN_PRIMARY_PORT user=$REPLICATION_ROLE passfile=/$REPLICA_DIR/pgpass sslmode=verify-full sslrootcert=/$REPLICA_DIR/ca.crt"; then
    rm -rf "$credentials"
    die "pg_basebackup from $IN_PRIMARY_ADDRESS:$IN_PRIMARY_PORT failed (see above); the old database, if any, is in ${aside:-(none)}"
  fi
  rm -rf "$credentials"
}

install_metrics() {
  install_metrics_program bbb-ovh-replication-metrics "write the standby database's replication lag for node_exporter" \
    <"$SCRIPT_DIR/standby-replication-metrics.sh"
  apply_pending_units
}

standby_streaming() {
  [[ "$(docker exec -i scalelite-postgres psql -X -t -A -U postgres -d postgres -c "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')" </dev/null 2>/dev/null)" == t ]]
}

main() {
  IN_PRIMARY_PORT="${IN_PRIMARY_PORT:-5432}"
  check_inputs
  check_role
  install_metrics
  local data="$ROOT$IN_DATA_DIR/postgres" owner=$DEFAULT_OWNER changed=0
  [[ -d "$data" ]] && owner="$(stat -c %u:%g "$data")"
  if ! is_standby "$data"; then
    base_backup "$data" "$owner"
    changed=1
  fi
  write_credentials "$data/$REPLICA_DIR" "$owner"
  write_standby_settings "$data" "$owner" && changed=1
  mkdir -p "$STATE_DIR"
  install_text "$FRONT_ROLE_FILE" 0644 $'standby\n' || true
  if ((changed)); then
    systemctl restart scalelite-postgres.service
  fi
  retry "$PG_WAIT_ATTEMPTS" 2 standby_streaming ||
    die "the standby database does not stream from $IN_PRIMARY_ADDRESS:$IN_PRIMARY_PORT: see docker logs scalelite-postgres (TLS, password, pg_hba on the primary)"
  log "the standby database streams from $IN_PRIMARY_ADDRESS:$IN_PRIMARY_PORT over TLS"
}

run_step "$@"
