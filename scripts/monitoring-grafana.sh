#!/usr/bin/env bash
# A front (and the standby front) with campus.monitoring.grafana: Grafana with our four dashboards and its
# own Prometheus as datasource, through Grafana's file provisioning (docs/monitoring.md, "Grafana").
# Runs after monitoring-node.sh (whose certificate it serves) and monitoring-front.sh (the Prometheus it reads).
#
# Grafana is not packaged by Debian or Ubuntu: it runs as a container of Grafana's own image, pinned the way
# the Scalelite images are (IMAGE_PINS, else the digest locked on first use: lib/units.sh, lock_image), on
# the host's network so that it reaches Prometheus on 127.0.0.1. It serves HTTPS itself on 3000, with this
# host's monitoring certificate (the campus CA's, for the host's own name), which the firewall admits from
# campus.adminCidrs only; anonymous access and sign-up are off, and it reports nothing to grafana.com.
#
# Host step (inputs on stdin, KEY=VALUE): FQDN (this front), GRAFANA_IMAGE (name:tag[@sha256:...]),
# DATASOURCES_YML_B64 and DASHBOARDS_YML_B64 (components/monitoring/renderGrafanaProvisioning.ts),
# ADMIN_PASSWORD (secret: the `admin` login's); optional SCRAPE_PASSWORD (secret: with a standby front, the
# login of the TLS Prometheus the datasource reads), IMAGE_PINS. The secrets only go into a 0600 env file
# that docker reads (--env-file) and, for the admin password, on the stdin of Grafana's own CLI: Grafana
# takes GF_SECURITY_ADMIN_PASSWORD only when it creates its database, so a changed password is set with
# `grafana cli admin reset-admin-password --password-from-stdin` (Grafana's CLI docs), queued before the env
# file changes and retried until it succeeds: a cut step sets it on its next run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
STEP_NAME=monitoring-grafana
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
REQUIRED_INPUTS=(FQDN GRAFANA_IMAGE DATASOURCES_YML_B64 DASHBOARDS_YML_B64 ADMIN_PASSWORD)
OPTIONAL_INPUTS=(SCRAPE_PASSWORD IMAGE_PINS)
DASHBOARDS_SOURCE="$(dirname "${BASH_SOURCE[0]}")/monitoring/dashboards"

# Paths as the services see them (components/monitoring/monitoringLayout.ts, GRAFANA_FILES), written under
# $ROOT; CT_*: where the container sees them.
EXPORTER_DIR=/etc/bbb-ovh/monitoring
PROVISIONING=/etc/bbb-ovh/grafana/provisioning
DASHBOARDS=/etc/bbb-ovh/grafana/dashboards
TLS=/etc/bbb-ovh/grafana/tls
ENV_FILE=/etc/default/bbb-ovh-grafana
DATA=/var/lib/grafana
CT_PROVISIONING=/etc/grafana/provisioning
CT_DASHBOARDS=/etc/grafana/bbb-ovh-dashboards
CT_TLS=/etc/grafana/bbb-ovh-tls
PORT=3000
# The user and group Grafana's image runs as (its Dockerfile: GF_UID 472, GF_GID 0).
GRAFANA_UID=472
UNIT=bbb-ovh-grafana.service
CONTAINER=bbb-ovh-grafana
PASSWORD_PENDING="$STATE_DIR/$STEP_NAME.admin-password-pending"
# Grafana creates or migrates its database at start; its CLI fails until then.
RESET_ATTEMPTS="${RESET_ATTEMPTS:-60}"
RESET_DELAY="${RESET_DELAY:-2}"

check_inputs() {
  local problems=()
  [[ "$IN_FQDN" =~ ^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$ ]] || problems+=("FQDN '$IN_FQDN' is not a host name")
  [[ "$IN_ADMIN_PASSWORD" =~ ^[^[:space:]]{12,}$ ]] || problems+=("ADMIN_PASSWORD must be one word of at least 12 characters")
  # Grafana expands $ in provisioning values, the datasource's password included.
  [[ -z "${IN_SCRAPE_PASSWORD:-}" || "$IN_SCRAPE_PASSWORD" =~ ^[^[:space:]\$]+$ ]] || problems+=("SCRAPE_PASSWORD must be one word without \$")
  [[ "$IN_DATASOURCES_YML" == *"apiVersion: 1"* ]] || problems+=("DATASOURCES_YML is not a Grafana provisioning file")
  [[ "$IN_DASHBOARDS_YML" == *"apiVersion: 1"* ]] || problems+=("DASHBOARDS_YML is not a Grafana provisioning file")
  [[ -f "$ROOT$EXPORTER_DIR/exporter.pem" && -f "$ROOT$EXPORTER_DIR/exporter.key" ]] ||
    problems+=("$EXPORTER_DIR/exporter.{pem,key} are missing: monitoring-node.sh has not run on this host")
  compgen -G "$DASHBOARDS_SOURCE/*.json" >/dev/null || problems+=("no dashboards beside this script ($DASHBOARDS_SOURCE)")
  ((${#problems[@]} == 0)) || die "${problems[*]}"
}

# render_env: Grafana's settings as GF_<SECTION>_<KEY> variables (Grafana's docs, "Override configuration
# with environment variables"), and the scrape password the datasource file names.
render_env() {
  printf '%s\n' \
    "GF_SERVER_PROTOCOL=https" \
    "GF_SERVER_HTTP_PORT=$PORT" \
    "GF_SERVER_DOMAIN=$IN_FQDN" \
    "GF_SERVER_ROOT_URL=https://$IN_FQDN:$PORT/" \
    "GF_SERVER_CERT_FILE=$CT_TLS/cert.pem" \
    "GF_SERVER_CERT_KEY=$CT_TLS/key.pem" \
    "GF_SECURITY_ADMIN_USER=admin" \
    "GF_SECURITY_ADMIN_PASSWORD=$IN_ADMIN_PASSWORD" \
    "GF_SECURITY_COOKIE_SECURE=true" \
    "GF_SECURITY_DISABLE_GRAVATAR=true" \
    "GF_AUTH_ANONYMOUS_ENABLED=false" \
    "GF_USERS_ALLOW_SIGN_UP=false" \
    "GF_ANALYTICS_REPORTING_ENABLED=false" \
    "GF_ANALYTICS_CHECK_FOR_UPDATES=false" \
    "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES=false" \
    "GF_NEWS_NEWS_FEED_ENABLED=false"
  [[ -z "${IN_SCRAPE_PASSWORD:-}" ]] || printf 'BBB_OVH_SCRAPE_PASSWORD=%s\n' "$IN_SCRAPE_PASSWORD"
}

# install_files: everything the container reads; a change queues its restart (lib/units.sh).
install_files() {
  mkdir -p "$ROOT$DATA"
  chown "$GRAFANA_UID:0" "$ROOT$DATA"
  install_watched "$ROOT$TLS/cert.pem" 0644 "$UNIT" <"$ROOT$EXPORTER_DIR/exporter.pem"
  install_watched "$ROOT$TLS/key.pem" 0600 "$UNIT" <"$ROOT$EXPORTER_DIR/exporter.key"
  chown "$GRAFANA_UID:0" "$ROOT$TLS/key.pem"
  printf '%s\n' "$IN_DATASOURCES_YML" | install_watched "$ROOT$PROVISIONING/datasources/bbb-ovh.yaml" 0644 "$UNIT"
  printf '%s\n' "$IN_DASHBOARDS_YML" | install_watched "$ROOT$PROVISIONING/dashboards/bbb-ovh.yaml" 0644 "$UNIT"
  if ! cmp -s "$ROOT$ENV_FILE" <(render_env); then
    mkdir -p "$STATE_DIR"
    touch "$PASSWORD_PENDING"
  fi
  render_env | install_watched "$ROOT$ENV_FILE" 0600 "$UNIT"
}

# install_dashboards: the shipped dashboards JSON; Grafana's provider reads the directory again every
# updateIntervalSeconds, so dashboards need no restart.
install_dashboards() {
  local source name
  mkdir -p "$ROOT$DASHBOARDS"
  for source in "$DASHBOARDS_SOURCE"/*.json; do
    name="$(basename "$source")"
    install_content "$ROOT$DASHBOARDS/$name" 0644 <"$source" || true
  done
  # A dashboard no longer shipped goes, and Grafana then drops it (the provider's disableDeletion is false).
  for name in "$ROOT$DASHBOARDS"/*.json; do
    [[ -f "$name" && ! -f "$DASHBOARDS_SOURCE/$(basename "$name")" ]] && rm -f "$name"
  done
  return 0
}

install_container() {
  check_pins
  lock_image "$IN_GRAFANA_IMAGE"
  local mounts=(
    "type=bind,source=$DATA,target=/var/lib/grafana"
    "type=bind,source=$PROVISIONING,target=$CT_PROVISIONING,readonly"
    "type=bind,source=$DASHBOARDS,target=$CT_DASHBOARDS,readonly"
    "type=bind,source=$TLS,target=$CT_TLS,readonly"
  )
  local options="--env-file $ENV_FILE --user $GRAFANA_UID:0" mount
  for mount in "${mounts[@]}"; do options+=" --mount $mount"; done
  CONTAINER_NETWORK=host render_container_unit "$CONTAINER" "Grafana with the bbb-ovh dashboards (container $CONTAINER)" \
    "$LOCKED_IMAGE" multi-user.target "" "$options" | install_unit "$UNIT"
  systemctl is-active --quiet "$UNIT" || queue_restart "$UNIT"
}

reset_admin_password() {
  docker exec -i "$CONTAINER" grafana cli admin reset-admin-password --password-from-stdin <<<"$IN_ADMIN_PASSWORD" >/dev/null 2>&1
}

main() {
  check_inputs
  check_image "$IN_GRAFANA_IMAGE"
  ensure_docker
  install_files
  install_dashboards
  install_container
  apply_pending_units
  if [[ -f "$PASSWORD_PENDING" ]]; then
    retry "$RESET_ATTEMPTS" "$RESET_DELAY" reset_admin_password ||
      die "Grafana's CLI did not set the admin password after $RESET_ATTEMPTS attempts: see journalctl -u $UNIT"
    rm -f "$PASSWORD_PENDING"
    log "admin password set"
  fi
  log "Grafana serves https://$IN_FQDN:$PORT/ (admins' addresses only)"
}

run_step "$@"
