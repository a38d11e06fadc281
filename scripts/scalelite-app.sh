#!/usr/bin/env bash
# Scalelite front, step 4: an env file and a systemd unit per Scalelite container (api, nginx, poller,
# and the recording-importer when recordings are on) grouped by scalelite.target, as Scalelite's own
# systemd/ units do; then waits for the api, which loads the database schema itself on first start.
#
# Inputs (stdin, KEY=VALUE): SCALELITE_TAG (pinned, e.g. v1.8.5), RECORDING_DIR, and each container's env
# file: ENV_FILE_B64 (secret: the api's /etc/default/scalelite), ENV_NGINX_B64, ENV_POLLER_B64 (secret),
# ENV_RECORDING_IMPORTER_B64 (secret, recordings only). Optional RECORDINGS (true | false, default true), START
# (true | false, default true),
# IMAGE_PINS (digests of the Scalelite images, see lib/units.sh). Each image runs by digest: the pinned one,
# or the one recorded in /var/lib/bbb-ovh/image-lock on first use (lib/units.sh, lock_image).
# The env files are 0600 and only docker (--env-file) reads them; nginx's holds no secret.
# With START=false (a standby front, campus.standbyFront) the env files and units are installed but
# Scalelite is not started, and stopped and disabled if it runs: two fronts must never both accept
# meetings; `ops failover` starts it on the standby once the database there is promoted.
# What `ops failover` and `ops failback` decided outlasts START: a front whose /var/lib/bbb-ovh/front-role
# says primary keeps Scalelite running, one that says fenced or standby keeps it stopped, so that a
# `pulumi up` between a failover and its failback never stops the front that serves nor starts the fenced one.
# With RECORDINGS=false nothing is mounted from RECORDING_DIR (docker refuses a missing bind source) and
# an importer left by an earlier run with recordings on is stopped and disabled; recordings stay on disk.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(SCALELITE_TAG ENV_FILE_B64 ENV_NGINX_B64 ENV_POLLER_B64 RECORDING_DIR)
OPTIONAL_INPUTS=(RECORDINGS START ENV_RECORDING_IMPORTER_B64 IMAGE_PINS)

ENV_FILE=/etc/default/scalelite
IMPORTER=scalelite-recording-importer
REQUIRED_ENV=(URL_HOST SECRET_KEY_BASE LOADBALANCER_SECRET DATABASE_URL REDIS_URL)
# The step that creates RECORDING_DIR (1000:2000, 0775) on the front.
RECORDING_DIR_STEP=scalelite-spool.sh
# HSTS for the HTTPS server of Scalelite's nginx image: its scalelite-ssl template includes
# /etc/bigbluebutton/nginx/*.nginx inside the `listen 443` server block, and no location there sets its
# own add_header, so this one applies to every answer. Two years, as Mozilla's guideline that template
# follows; no includeSubDomains (other hosts of the campus domain may still serve plain HTTP).
HSTS_SNIPPET=/etc/bbb-ovh/scalelite-nginx/hsts.nginx
HSTS_TARGET=/etc/bigbluebutton/nginx/bbb-ovh-hsts.nginx
# The api image's start (bin/start: db:create, db:migrate or db:schema:load, then puma) takes a while.
API_START_ATTEMPTS="${API_START_ATTEMPTS:-90}"
API_START_DELAY="${API_START_DELAY:-2}"
API_HEALTH=""

# env_value FILE_CONTENT KEY: KEY's value in an env file input (only used for values that are not secret).
env_value() {
  local line value=""
  while IFS= read -r line; do
    [[ "$line" == "$2="* ]] && value="${line#*=}"
  done <<<"$1"
  printf '%s\n' "$value"
}

check_inputs() {
  local key missing=()
  [[ "$IN_SCALELITE_TAG" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "SCALELITE_TAG must be a pinned release such as v1.8.5, not '$IN_SCALELITE_TAG'"
  [[ "$IN_RECORDING_DIR" =~ ^/[A-Za-z0-9._/-]*$ ]] || die "RECORDING_DIR must be an absolute path of plain characters"
  [[ "$RECORDINGS" == true || "$RECORDINGS" == false ]] || die "RECORDINGS must be true or false, not '$RECORDINGS'"
  [[ "$START" == true || "$START" == false ]] || die "START must be true or false, not '$START'"
  for key in "${REQUIRED_ENV[@]}"; do
    grep -q "^$key=." <<<"$IN_ENV_FILE" || missing+=("$key")
  done
  ((${#missing[@]} == 0)) || die "ENV_FILE lacks ${missing[*]}"
  if [[ "$RECORDINGS" == true ]]; then
    [[ -n "${IN_ENV_RECORDING_IMPORTER:-}" ]] || die "RECORDINGS=true needs ENV_RECORDING_IMPORTER_B64"
    [[ "$(env_value "$IN_ENV_FILE" RECORDING_DISABLED)" != true ]] || die "ENV_FILE sets RECORDING_DISABLED=true but RECORDINGS=true"
  else
    [[ "$(env_value "$IN_ENV_FILE" RECORDING_DISABLED)" == true ]] || die "RECORDINGS=false needs RECORDING_DISABLED=true in ENV_FILE"
  fi
}

# nginx crash-loops without its certificate, and docker refuses a missing bind source: say which step
# is missing instead.
check_sources() {
  local host dir
  # A standby with HTTP-01 gets its certificate only once DNS points at it (`ops failover`).
  if [[ "$START" == true && "$(env_value "$IN_ENV_NGINX" NGINX_SSL)" == true ]]; then
    host="$(env_value "$IN_ENV_NGINX" URL_HOST)"
    [[ -f "$ROOT/etc/letsencrypt/live/$host/fullchain.pem" ]] ||
      die "no certificate at /etc/letsencrypt/live/$host/: run scalelite-certificate.sh first"
  fi
  [[ "$RECORDINGS" == true ]] || return 0
  for dir in "$IN_RECORDING_DIR" "$IN_RECORDING_DIR/published"; do
    [[ -d "$ROOT$dir" ]] || die "the recording directory $dir does not exist: run $RECORDING_DIR_STEP first (it creates it)"
  done
}

install_env_files() {
  printf '%s\n' "$IN_ENV_FILE" | install_watched "$ROOT$ENV_FILE" 0600 scalelite-api.service
  printf '%s\n' "$IN_ENV_NGINX" | install_watched "$ROOT$ENV_FILE-nginx" 0600 scalelite-nginx.service
  printf '%s\n' "$IN_ENV_POLLER" | install_watched "$ROOT$ENV_FILE-poller" 0600 scalelite-poller.service
  if [[ "$RECORDINGS" == true ]]; then
    printf '%s\n' "$IN_ENV_RECORDING_IMPORTER" | install_watched "$ROOT$ENV_FILE-recording-importer" 0600 "$IMPORTER.service"
  fi
  printf '%s\n' "# Written by bbb-ovh ($STEP_NAME): HSTS on Scalelite's HTTPS server." \
    'add_header Strict-Transport-Security "max-age=63072000" always;' |
    install_watched "$ROOT$HSTS_SNIPPET" 0644 scalelite-nginx.service
}

install_units() {
  local image="blindsidenetwks/scalelite:$IN_SCALELITE_TAG" data="scalelite-postgres.service scalelite-redis.service"
  # The poller and the importer start after the api, which loads the schema (as Scalelite's units order them).
  local after_api="$data after:scalelite-api.service"
  local containers=(scalelite-api scalelite-nginx scalelite-poller) recordings="" published=""
  if [[ "$RECORDINGS" == true ]]; then
    containers+=("$IMPORTER")
    recordings="--mount type=bind,source=$IN_RECORDING_DIR,target=/var/bigbluebutton"
    published=" --mount type=bind,source=$IN_RECORDING_DIR/published,target=/var/bigbluebutton/published,readonly"
  fi
  install_unit scalelite.target <<EOF
# Written by bbb-ovh ($STEP_NAME): starts and stops all Scalelite containers together.
[Unit]
Description=Scalelite
Wants=${containers[*]/%/.service}

[Install]
WantedBy=multi-user.target
EOF
  lock_image "$image-api"
  render_container_unit scalelite-api "Scalelite API" "$LOCKED_IMAGE" scalelite.target "$data" \
    "--env-file $ENV_FILE${recordings:+ $recordings}" | install_unit scalelite-api.service
  # The certificates where Scalelite's nginx looks for them (/etc/nginx/ssl/live/$URL_HOST/). Scalelite's
  # docs mount all of /etc/letsencrypt there; only live/ and the archive/ its links point into are
  # mounted here, so the ACME account keys and renewal settings stay out of the internet-facing container.
  local certificates="--mount type=bind,source=/etc/letsencrypt/live,target=/etc/nginx/ssl/live,readonly --mount type=bind,source=/etc/letsencrypt/archive,target=/etc/nginx/ssl/archive,readonly"
  lock_image "$image-nginx"
  render_container_unit scalelite-nginx "Scalelite nginx" "$LOCKED_IMAGE" scalelite.target scalelite-api.service \
    "--env-file $ENV_FILE-nginx --publish 80:80 --publish 443:443$published $certificates --mount type=bind,source=$HSTS_SNIPPET,target=$HSTS_TARGET,readonly" |
    install_unit scalelite-nginx.service
  lock_image "$image-poller"
  render_container_unit scalelite-poller "Scalelite meeting status poller" "$LOCKED_IMAGE" scalelite.target "$after_api" \
    "--env-file $ENV_FILE-poller" | install_unit scalelite-poller.service
  if [[ "$RECORDINGS" == true ]]; then
    # The importer finishes the recording it is importing: 120 s for docker, 140 s for systemd, as in
    # Scalelite's systemd/scalelite-recording-importer.service.
    lock_image "$image-recording-importer"
    render_container_unit "$IMPORTER" "Scalelite recording importer" "$LOCKED_IMAGE" scalelite.target "$after_api" \
      "--env-file $ENV_FILE-recording-importer $recordings" "" 120 | install_unit "$IMPORTER.service"
  fi
}

# An importer installed by an earlier run with recordings on: stopped, disabled, its unit and env file
# (secrets) removed. The recordings it imported stay where they are.
remove_importer() {
  [[ "$RECORDINGS" == false && -f "$UNIT_DIR/$IMPORTER.service" ]] || return 0
  log "recordings are off: stopping and disabling $IMPORTER (recordings on disk are kept)"
  systemctl disable --now "$IMPORTER.service"
  rm -f "$UNIT_DIR/$IMPORTER.service" "$ROOT$ENV_FILE-recording-importer"
  # A run killed earlier may have queued it for a restart.
  [[ -f "$PENDING_UNITS" ]] && sed -i "/^$IMPORTER\.service\$/d" "$PENDING_UNITS"
  systemctl daemon-reload
}

# wait_for_api: until puma answers /health_check inside the api container (the image has curl; Scalelite
# excludes that path from its host check, and answers HTTP 200 with `success` or the failure's text).
wait_for_api() {
  local n
  for ((n = 1; n <= API_START_ATTEMPTS; n++)); do
    if API_HEALTH="$(docker exec scalelite-api curl -sS --max-time 5 http://127.0.0.1:3000/health_check 2>/dev/null)"; then
      return 0
    fi
    sleep "$API_START_DELAY"
  done
  die "scalelite-api does not answer on port 3000 after $((API_START_ATTEMPTS * API_START_DELAY)) s: see journalctl -u scalelite-api"
}

# The api image loads the schema itself when it starts (bin/start); only once it answers do we know
# whether that worked. db:prepare is the idempotent fallback for a start that left no schema (it never
# drops anything).
ensure_database() {
  local version
  wait_for_api
  [[ "$API_HEALTH" == success ]] && return 0
  version="$(docker exec scalelite-api bin/rake db:version 2>/dev/null | sed -n 's/^Current version: //p')" || true
  if [[ -n "$version" && "$version" != 0 ]]; then
    return 0
  fi
  log "the api started without a database schema ($API_HEALTH): loading it"
  docker exec scalelite-api bin/rake db:prepare >/dev/null
  systemctl restart scalelite.target
}

# follow_front_role: START as ops failover / failback left this front, when they did.
follow_front_role() {
  local role
  role="$(front_role)"
  if [[ "$role" == primary && "$START" == false ]]; then
    warn "this front serves since \`ops failover\` (${FRONT_ROLE_FILE#"$ROOT"}: primary): Scalelite keeps running although the stack has it as the standby; run \`ops failback\`, or, for a failover that lasts, set campus.servingFront: standbyFront in the stack"
    START=true
  elif [[ ("$role" == fenced || "$role" == standby) && "$START" == true ]]; then
    warn "\`ops failover\` left this front $role (${FRONT_ROLE_FILE#"$ROOT"}): Scalelite stays stopped, or two fronts would accept meetings; \`ops failback\` makes it serve again"
    START=false
  fi
}

# A standby keeps Scalelite installed and stopped: units written, nothing queued, the target disabled.
keep_stopped() {
  systemctl daemon-reload
  if systemctl is-active --quiet scalelite.target || systemctl is-enabled --quiet scalelite.target 2>/dev/null; then
    log "standby front: stopping and disabling scalelite.target (only the front accepts meetings)"
    systemctl disable --now scalelite.target
  fi
  rm -f "$PENDING_UNITS"
}

main() {
  RECORDINGS="${IN_RECORDINGS:-true}"
  START="${IN_START:-true}"
  follow_front_role
  check_pins
  check_inputs
  check_sources
  remove_importer
  install_env_files
  install_units
  if [[ "$START" == false ]]; then
    keep_stopped
    log "Scalelite $IN_SCALELITE_TAG is installed and stopped (standby front)"
    return 0
  fi
  apply_pending_units
  ensure_database
  log "Scalelite $IN_SCALELITE_TAG is up to date"
}

run_step "$@"
