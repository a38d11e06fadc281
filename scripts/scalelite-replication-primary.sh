#!/usr/bin/env bash
# Scalelite front with a standby (campus.standbyFront), on the primary: lets the standby front stream the
# database. PostgreSQL (the scalelite-postgres container, data under DATA_DIR/postgres) gets:
#   - a replication role of its own (bbb_ovh_replication, REPLICATION LOGIN, its own password);
#   - TLS (ssl=on) with the certificate Pulumi made for both fronts' addresses, so either can serve it;
#   - a managed block at the top of pg_hba.conf: `hostssl replication` for that role from each standby
#     address (scram-sha-256), and every other connection from those addresses refused;
#   - a physical replication slot, capped by max_slot_wal_keep_size so a standby that is gone for good
#     cannot fill the disk (it then needs a new base backup, which the standby step takes by itself).
# All of it is reloaded, not restarted: ssl, the hba file and the slot cap take a reload (PostgreSQL docs,
# "ssl (boolean) ... This parameter can only be set in the postgresql.conf file or on the server command
# line", context sighup).
#
# Inputs (stdin, KEY=VALUE): DATA_DIR, STANDBY_ADDRESSES (space-separated IPs), REPLICATION_PASSWORD
# (secret, letters and digits), TLS_CERT_B64, TLS_KEY_B64 (secret). Optional WAL_KEEP (default 8GB).
# The password only travels on psql's stdin, never on a command line.
# Refuses to run on a front that `ops failover` fenced (/var/lib/bbb-ovh/front-role says so): the
# database there is no longer the one Scalelite uses.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(DATA_DIR STANDBY_ADDRESSES REPLICATION_PASSWORD TLS_CERT_B64 TLS_KEY_B64)
OPTIONAL_INPUTS=(WAL_KEEP)

REPLICATION_ROLE=bbb_ovh_replication
SLOT=bbb_ovh_standby
TLS_DIR=bbb-ovh-tls
HBA_BEGIN="# BEGIN bbb-ovh replication (scalelite-replication-primary.sh)"
HBA_END="# END bbb-ovh replication"
PG_WAIT_ATTEMPTS="${PG_WAIT_ATTEMPTS:-60}"

# psql_in_container [ARGS...]: psql as the superuser inside the database container, SQL on stdin.
psql_in_container() {
  docker exec -i scalelite-postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -U postgres -d postgres "$@"
}

check_inputs() {
  local address
  [[ "$IN_DATA_DIR" == /* ]] || die "DATA_DIR must be an absolute path"
  [[ "$IN_REPLICATION_PASSWORD" =~ ^[A-Za-z0-9]{16,}$ ]] || die "REPLICATION_PASSWORD must be at least 16 letters and digits"
  [[ -n "$IN_STANDBY_ADDRESSES" ]] || die "STANDBY_ADDRESSES is empty: give the standby front's address"
  for address in $IN_STANDBY_ADDRESSES; do
    [[ "$address" =~ ^[0-9.]+$ || "$address" =~ ^[0-9a-fA-F:]+$ ]] || die "STANDBY_ADDRESSES: '$address' is not an IP address"
  done
  [[ "$IN_WAL_KEEP" =~ ^[0-9]+(MB|GB)$ ]] || die "WAL_KEEP must be a size such as 8GB"
  grep -q -- "-----BEGIN CERTIFICATE-----" <<<"$IN_TLS_CERT" || die "TLS_CERT is not a PEM certificate"
  grep -q -- "-----BEGIN .*PRIVATE KEY-----" <<<"$IN_TLS_KEY" || die "TLS_KEY is not a PEM private key"
}

check_role() {
  local role
  role="$(front_role)"
  [[ "${role:=primary}" == primary ]] ||
    die "this front is the $role since \`ops failover\` ($FRONT_ROLE_FILE): its database is not Scalelite's any more; run \`ops failback\` to make it serve again, or, while the standby front serves, set campus.servingFront: standbyFront in the stack, which holds this front's steps"
}

wait_for_postgres() {
  retry "$PG_WAIT_ATTEMPTS" 2 docker exec scalelite-postgres pg_isready -q -U postgres ||
    die "PostgreSQL in scalelite-postgres does not answer: see journalctl -u scalelite-postgres"
}

# The data directory's owner is the container's postgres user: files we put there must be its.
install_tls() {
  local data="$ROOT$IN_DATA_DIR/postgres" owner
  owner="$(stat -c %u:%g "$data")"
  mkdir -p "$data/$TLS_DIR"
  chown "$owner" "$data/$TLS_DIR"
  chmod 0700 "$data/$TLS_DIR"
  install_text "$data/$TLS_DIR/server.crt" 0644 "$IN_TLS_CERT"$'\n' "$owner" || true
  # PostgreSQL refuses a key readable by others ("has group or world access").
  install_text "$data/$TLS_DIR/server.key" 0600 "$IN_TLS_KEY"$'\n' "$owner" || true
}

# hba_block: the lines of our block, one hostssl replication line and one reject line per standby.
hba_block() {
  local address prefix
  printf '%s\n' "$HBA_BEGIN"
  for address in $IN_STANDBY_ADDRESSES; do
    prefix=32
    [[ "$address" == *:* ]] && prefix=128
    printf 'hostssl replication %s %s/%s scram-sha-256\n' "$REPLICATION_ROLE" "$address" "$prefix"
    printf 'host all all %s/%s reject\n' "$address" "$prefix"
    printf 'host replication all %s/%s reject\n' "$address" "$prefix"
  done
  printf '%s\n' "$HBA_END"
}

# Our block first (pg_hba.conf: the first matching line wins), the rest of the file as it was.
install_hba() {
  local hba="$ROOT$IN_DATA_DIR/postgres/pg_hba.conf" owner
  [[ -f "$hba" ]] || die "no pg_hba.conf in $IN_DATA_DIR/postgres: has scalelite-docker.sh initialised the database?"
  owner="$(stat -c %u:%g "$hba")"
  if { hba_block; sed "/^$HBA_BEGIN\$/,/^$HBA_END\$/d" "$hba"; } | install_content "$hba" 0600 "$owner"; then
    log "pg_hba.conf: replication admitted from $IN_STANDBY_ADDRESSES (TLS only)"
  fi
}

configure_server() {
  psql_in_container <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPLICATION_ROLE') THEN
    CREATE ROLE $REPLICATION_ROLE WITH REPLICATION LOGIN;
  END IF;
END \$\$;
SET password_encryption = 'scram-sha-256';
ALTER ROLE $REPLICATION_ROLE WITH REPLICATION LOGIN NOSUPERUSER PASSWORD '$IN_REPLICATION_PASSWORD';
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$TLS_DIR/server.crt';
ALTER SYSTEM SET ssl_key_file = '$TLS_DIR/server.key';
ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';
ALTER SYSTEM SET max_slot_wal_keep_size = '$IN_WAL_KEEP';
SELECT pg_reload_conf();
SELECT pg_create_physical_replication_slot('$SLOT') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$SLOT');
SQL
}

ssl_on() {
  [[ "$(psql_in_container -c "SHOW ssl" </dev/null)" == on ]]
}

# A reload that failed to apply (a bad key) leaves the old settings: say so instead of reporting success.
check_server() {
  retry 10 1 ssl_on || die "PostgreSQL did not turn TLS on after the reload: see the server log (docker logs scalelite-postgres)"
}

main() {
  IN_WAL_KEEP="${IN_WAL_KEEP:-8GB}"
  check_inputs
  check_role
  wait_for_postgres
  install_tls
  install_hba
  configure_server
  check_server
  log "the database streams to the standby front over TLS (role $REPLICATION_ROLE, slot $SLOT)"
}

run_step "$@"
