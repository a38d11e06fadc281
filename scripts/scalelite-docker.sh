#!/usr/bin/env bash
# Scalelite front, step 1: the Docker engine from Ubuntu's packages, the `scalelite` network, and
# PostgreSQL and Redis as containers on it, each under its own systemd unit, with data under DATA_DIR.
#
# Inputs (stdin, KEY=VALUE): POSTGRES_IMAGE, REDIS_IMAGE (name:tag, or name:tag@sha256:...), POSTGRES_PASSWORD
# (secret), DATA_DIR; optional IMAGE_PINS (see lib/units.sh), POSTGRES_PUBLISH (a port: publish the
# database on the host for the standby front's stream; the host firewall admits only the other front). Both images run by digest: the pinned one, or
# the one recorded in /var/lib/bbb-ovh/image-lock on first use (lib/units.sh, lock_image).
# The password only ever sits in a 0600 env file that docker reads (--env-file), never on a command line.
# Redis runs with appendonly: Scalelite keeps its servers and meetings there, so it must survive restarts.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
REQUIRED_INPUTS=(POSTGRES_IMAGE REDIS_IMAGE POSTGRES_PASSWORD DATA_DIR)
OPTIONAL_INPUTS=(IMAGE_PINS POSTGRES_PUBLISH)

POSTGRES_ENV=/etc/default/scalelite-postgres

ensure_network() {
  if ! docker network inspect scalelite >/dev/null 2>&1; then
    log "creating docker network scalelite"
    docker network create scalelite >/dev/null
  fi
}

ensure_data_dirs() {
  # The images chown their own data directories on first start.
  mkdir -p "$ROOT$IN_DATA_DIR/postgres" "$ROOT$IN_DATA_DIR/redis"
  chmod 0700 "$ROOT$IN_DATA_DIR/postgres"
}

install_postgres() {
  [[ "$IN_POSTGRES_PASSWORD" =~ ^[^[:space:]]+$ ]] || die "POSTGRES_PASSWORD must be one word without spaces"
  if [[ -f "$ROOT$IN_DATA_DIR/postgres/PG_VERSION" && -f "$ROOT$POSTGRES_ENV" ]] &&
    ! cmp -s "$ROOT$POSTGRES_ENV" <(printf 'POSTGRES_PASSWORD=%s\n' "$IN_POSTGRES_PASSWORD"); then
    # The image reads POSTGRES_PASSWORD only when it initialises an empty data directory: the database
    # keeps its old one, and Scalelite restarted with the new one could not connect. Stop here, before the
    # app step, so the front keeps serving with the password that works.
    die "POSTGRES_PASSWORD changed but the database in $IN_DATA_DIR/postgres already exists and keeps its old one: Scalelite would lose its database. Nothing was changed. To rotate it, first set it in the database (docs/scalelite.md, \"Rotating the database password\"), then run pulumi up again; or put the old value back"
  fi
  printf 'POSTGRES_PASSWORD=%s\n' "$IN_POSTGRES_PASSWORD" | install_watched "$ROOT$POSTGRES_ENV" 0600 scalelite-postgres.service
  lock_image "$IN_POSTGRES_IMAGE"
  local publish=""
  if [[ -n "${IN_POSTGRES_PUBLISH:-}" ]]; then
    [[ "$IN_POSTGRES_PUBLISH" =~ ^[0-9]{1,5}$ ]] || die "POSTGRES_PUBLISH must be a port number"
    publish="--publish $IN_POSTGRES_PUBLISH:5432 "
  fi
  render_container_unit scalelite-postgres "PostgreSQL for Scalelite (container scalelite-postgres)" \
    "$LOCKED_IMAGE" multi-user.target "" \
    "${publish}--env-file $POSTGRES_ENV --mount type=bind,source=$IN_DATA_DIR/postgres,target=/var/lib/postgresql/data" |
    install_unit scalelite-postgres.service
}

install_redis() {
  lock_image "$IN_REDIS_IMAGE"
  render_container_unit scalelite-redis "Redis for Scalelite, persistent (container scalelite-redis)" \
    "$LOCKED_IMAGE" multi-user.target "" \
    "--mount type=bind,source=$IN_DATA_DIR/redis,target=/data" "redis-server --appendonly yes" |
    install_unit scalelite-redis.service
}

main() {
  [[ "$IN_DATA_DIR" == /* ]] || die "DATA_DIR must be an absolute path"
  check_pins
  check_image "$IN_POSTGRES_IMAGE"
  check_image "$IN_REDIS_IMAGE"
  ensure_docker
  ensure_network
  ensure_data_dirs
  install_postgres
  install_redis
  apply_pending_units
  log "PostgreSQL and Redis are up to date"
}

run_step "$@"
