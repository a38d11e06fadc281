#!/usr/bin/env bash
# Scalelite front, step 4: /etc/default/scalelite and one systemd unit per Scalelite container (api,
# nginx, poller, recording-importer) grouped by scalelite.target, as in Scalelite's Docker deployment
# docs; then the database schema, once.
#
# Inputs (stdin, KEY=VALUE): SCALELITE_TAG (pinned, e.g. v1.8.5), ENV_FILE_B64 (secret: the whole
# /etc/default/scalelite, with SECRET_KEY_BASE, LOADBALANCER_SECRET and DATABASE_URL), RECORDING_DIR.
# The env file is 0600 and only docker (--env-file) and systemd (EnvironmentFile) read it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"

ENV_FILE=/etc/default/scalelite
REQUIRED_ENV=(URL_HOST SECRET_KEY_BASE LOADBALANCER_SECRET DATABASE_URL REDIS_URL)
CONTAINERS=(scalelite-api scalelite-nginx scalelite-poller scalelite-recording-importer)
API_START_ATTEMPTS="${API_START_ATTEMPTS:-30}"

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: SCALELITE_TAG ENV_FILE_B64 RECORDING_DIR)"
}

# env_value KEY: KEY's value in the env file input (only used for values that are not secret).
env_value() {
  sed -n "s/^$1=//p" <<<"$IN_ENV_FILE" | tail -n 1
}

check_env_file() {
  local key missing=()
  for key in "${REQUIRED_ENV[@]}"; do
    grep -q "^$key=." <<<"$IN_ENV_FILE" || missing+=("$key")
  done
  ((${#missing[@]} == 0)) || die "ENV_FILE lacks ${missing[*]}"
  [[ "$(env_value SCALELITE_TAG)" == "$IN_SCALELITE_TAG" ]] ||
    die "ENV_FILE sets SCALELITE_TAG=$(env_value SCALELITE_TAG), the step was given $IN_SCALELITE_TAG"
}

# nginx crash-loops without its certificate; say which step is missing instead.
check_certificate() {
  local host
  [[ "$(env_value NGINX_SSL)" == true ]] || return 0
  host="$(env_value URL_HOST)"
  [[ -f "$ROOT/etc/letsencrypt/live/$host/fullchain.pem" ]] ||
    die "no certificate at /etc/letsencrypt/live/$host/: run scalelite-certificate.sh first"
}

install_env_file() {
  printf '%s\n' "$IN_ENV_FILE" | install_watched "$ROOT$ENV_FILE" 0600 "${CONTAINERS[@]/%/.service}"
}

install_units() {
  local image="blindsidenetwks/scalelite:$IN_SCALELITE_TAG" data="scalelite-postgres.service scalelite-redis.service"
  local recordings="--mount type=bind,source=$IN_RECORDING_DIR,target=/var/bigbluebutton"
  local env="--env-file $ENV_FILE"
  install_unit scalelite.target <<EOF
# Written by bbb-ovh ($STEP_NAME): starts and stops all Scalelite containers together.
[Unit]
Description=Scalelite
Wants=${CONTAINERS[*]/%/.service}

[Install]
WantedBy=multi-user.target
EOF
  render_container_unit scalelite-api "Scalelite API" "$image-api" scalelite.target "$data" "$ENV_FILE" \
    "$env $recordings" | install_unit scalelite-api.service
  # SCALELITE_NGINX_EXTRA_OPTS comes from the env file, split into words by systemd: the /etc/letsencrypt
  # mount when Scalelite serves HTTPS itself.
  render_container_unit scalelite-nginx "Scalelite nginx" "$image-nginx" scalelite.target scalelite-api.service "$ENV_FILE" \
    "$env --publish 80:80 --publish 443:443 --mount type=bind,source=$IN_RECORDING_DIR/published,target=/var/bigbluebutton/published,readonly \$SCALELITE_NGINX_EXTRA_OPTS" |
    install_unit scalelite-nginx.service
  render_container_unit scalelite-poller "Scalelite meeting status poller" "$image-poller" scalelite.target "$data" "$ENV_FILE" \
    "$env" | install_unit scalelite-poller.service
  render_container_unit scalelite-recording-importer "Scalelite recording importer" "$image-recording-importer" \
    scalelite.target "$data" "$ENV_FILE" "$env $recordings" | install_unit scalelite-recording-importer.service
}

wait_for_api() {
  local n
  for ((n = 1; n <= API_START_ATTEMPTS; n++)); do
    [[ "$(docker inspect -f '{{.State.Running}}' scalelite-api 2>/dev/null)" == true ]] && return 0
    sleep 2
  done
  die "the scalelite-api container is not running after $((API_START_ATTEMPTS * 2)) s: see journalctl -u scalelite-api"
}

# The api image loads the schema itself on a fresh database; db:prepare is the idempotent fallback the
# docs' one-off db:setup becomes when that did not happen (it never drops anything).
ensure_database() {
  local version
  wait_for_api
  version="$(docker exec scalelite-api bin/rake db:version 2>/dev/null | sed -n 's/^Current version: //p')" || true
  if [[ -n "$version" && "$version" != 0 ]]; then
    return 0
  fi
  log "loading the Scalelite database schema"
  docker exec scalelite-api bin/rake db:prepare >/dev/null
  systemctl restart scalelite.target
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs SCALELITE_TAG ENV_FILE RECORDING_DIR
  [[ "$IN_SCALELITE_TAG" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "SCALELITE_TAG must be a pinned release such as v1.8.5, not '$IN_SCALELITE_TAG'"
  [[ "$IN_RECORDING_DIR" == /* ]] || die "RECORDING_DIR must be an absolute path"
  check_env_file
  check_certificate
  install_env_file
  install_units
  apply_pending_units
  ensure_database
  log "Scalelite $IN_SCALELITE_TAG is up to date"
}

main "$@"
