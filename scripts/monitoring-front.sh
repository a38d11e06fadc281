#!/usr/bin/env bash
# A front (and the standby front): Prometheus with the rules pack, Alertmanager mailing the admin,
# blackbox_exporter for the HTTPS probes, from Debian/Ubuntu's packages (docs/monitoring.md). Runs after
# monitoring-node.sh on the same host, whose CA, certificate and web-config it reuses.
#
# Host step (inputs on stdin, KEY=VALUE): PROMETHEUS_YML_B64, ALERTMANAGER_YML_B64, BLACKBOX_YML_B64
# (rendered by components/monitoring/), RETENTION_DAYS and DISK_BUDGET_GB (Prometheus keeps samples
# that long and within that size, the oldest dropped first), SCRAPE_PASSWORD (secret: the exporters'
# basic-auth password, written to a file Prometheus reads); optional SMTP_PASSWORD (secret, written to
# the file alertmanager.yml names) and PEER=true when the other front scrapes this Prometheus (it then
# listens on every address behind TLS and basic auth; otherwise on loopback only).
# Each file is checked by promtool / amtool before it replaces the running one; a unit restarts only
# when its files or arguments changed. Alertmanager and blackbox_exporter listen on loopback only, and
# Alertmanager's clustering is off: each front sends its own mail.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/apt.sh"
REQUIRED_INPUTS=(PROMETHEUS_YML_B64 ALERTMANAGER_YML_B64 BLACKBOX_YML_B64 RETENTION_DAYS DISK_BUDGET_GB SCRAPE_PASSWORD)
OPTIONAL_INPUTS=(SMTP_PASSWORD PEER)
STEP_NAME=monitoring-front
RULES_SOURCE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/monitoring/rules.yml"

# Paths as the services see them (components/monitoring/monitoringLayout.ts); written under $ROOT.
EXPORTER_DIR=/etc/bbb-ovh/monitoring
PROMETHEUS_YML=/etc/prometheus/prometheus.yml
RULES=/etc/prometheus/bbb-ovh-rules.yml
SCRAPE_PASSWORD_FILE=/etc/prometheus/bbb-ovh-scrape-password
ALERTMANAGER_YML=/etc/prometheus/alertmanager.yml
SMTP_PASSWORD_FILE=/etc/prometheus/bbb-ovh-smtp-password
BLACKBOX_YML=/etc/prometheus/blackbox.yml
PROMETHEUS_DATA=/var/lib/prometheus/metrics2

# staged_check PATH MODE OWNER CONTENT CHECK...: writes CONTENT (and a final newline) to PATH, as
# install_text does, only once CHECK, run on the candidate file, accepts it; returns 0 when PATH
# changed, 1 when it was up to date; stops the step when CHECK refuses it (the running file stays).
staged_check() {
  local path="$ROOT$1" mode="$2" owner="$3" text="$4"$'\n' candidate output
  shift 4
  # Checked beside PATH (0600), not in /tmp: Alertmanager's candidate can hold the SMTP password.
  new_file_beside "$path" candidate
  printf '%s' "$text" >"$candidate"
  if ! output="$("$@" "$candidate" 2>&1)"; then
    rm -f "$candidate"
    die "$(basename "$path") was refused by $1: $(tail -n 3 <<<"$output" | tr '\n' ' ')"
  fi
  rm -f "$candidate"
  install_text "$path" "$mode" "$text" "$owner"
}

# alertmanager_reads_password_files: smtp_auth_password_file came with Alertmanager 0.25 (its CHANGELOG,
# "reading global and local SMTP passwords from files", #3038); Ubuntu 22.04 ships 0.23.
alertmanager_reads_password_files() {
  local version major minor
  version="$(prometheus-alertmanager --version 2>&1 || true)"
  version="$(sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p;T;q' <<<"$version")"
  [[ -n "$version" ]] || return 0
  read -r major minor <<<"$version"
  ((major > 0 || minor >= 25))
}

# alertmanager_config: the rendered file, or for an Alertmanager without password files the same with the
# password inline (single-quoted YAML: a quote is doubled), the file then as private as the password's.
alertmanager_config() {
  if [[ -n "${IN_SMTP_PASSWORD:-}" ]] && ! alertmanager_reads_password_files; then
    local line quoted="${IN_SMTP_PASSWORD//\'/\'\'}"
    while IFS= read -r line; do
      if [[ "$line" =~ ^([[:space:]]*)smtp_auth_password_file: ]]; then
        printf "%ssmtp_auth_password: '%s'\n" "${BASH_REMATCH[1]}" "$quoted"
      else
        printf '%s\n' "$line"
      fi
    done <<<"$IN_ALERTMANAGER_YML"
  else
    printf '%s\n' "$IN_ALERTMANAGER_YML"
  fi
}

# set_args UNIT ARGS: the unit's /etc/default file (the Debian packages' units run the daemon with $ARGS).
set_args() {
  printf '# Written by bbb-ovh (monitoring-front.sh); changes here are overwritten on the next deployment.\nARGS="%s"\n' "$2" |
    install_content "$ROOT/etc/default/$1" 0644
}

# converge UNIT CHANGED: enabled, and restarted when CHANGED is true or it is not running.
converge() {
  local unit="$1" changed="$2"
  systemctl is-enabled --quiet "$unit" || systemctl enable "$unit"
  if [[ "$changed" == true ]] || ! systemctl is-active --quiet "$unit"; then
    systemctl restart "$unit"
    log "$unit (re)started"
  fi
}

prometheus_args() {
  local listen="127.0.0.1:9090" web=""
  if [[ "${IN_PEER:-}" == true ]]; then
    listen="0.0.0.0:9090"
    web=" --web.config.file=$EXPORTER_DIR/web-config.yml"
  fi
  printf '%s' "--config.file=$PROMETHEUS_YML --storage.tsdb.path=$PROMETHEUS_DATA --storage.tsdb.retention.time=${IN_RETENTION_DAYS}d --storage.tsdb.retention.size=${IN_DISK_BUDGET_GB}GB --web.listen-address=$listen$web"
}

main() {
  local problems=()
  [[ "$IN_RETENTION_DAYS" =~ ^[1-9][0-9]{0,3}$ ]] || problems+=("RETENTION_DAYS must be a number of days")
  [[ "$IN_DISK_BUDGET_GB" =~ ^[1-9][0-9]{0,4}$ ]] || problems+=("DISK_BUDGET_GB must be a number of GB")
  [[ -f "$ROOT$EXPORTER_DIR/ca.pem" ]] || problems+=("$EXPORTER_DIR/ca.pem is missing: monitoring-node.sh has not run on this host")
  [[ -f "$RULES_SOURCE" ]] || problems+=("the rules pack is missing beside this script ($RULES_SOURCE)")
  ((${#problems[@]} == 0)) || die "${problems[*]}"

  apt_install prometheus prometheus-alertmanager prometheus-blackbox-exporter

  local prometheus=false alertmanager=false blackbox=false
  printf '%s' "$IN_SCRAPE_PASSWORD" | install_content "$ROOT$SCRAPE_PASSWORD_FILE" 0640 root:prometheus && prometheus=true
  staged_check "$RULES" 0644 "" "$(cat "$RULES_SOURCE")" promtool check rules && prometheus=true
  # --syntax-only: the files it names are checked by the restarted Prometheus itself.
  staged_check "$PROMETHEUS_YML" 0644 "" "$IN_PROMETHEUS_YML" promtool check config --syntax-only && prometheus=true
  set_args prometheus "$(prometheus_args)" && prometheus=true

  if [[ -n "${IN_SMTP_PASSWORD:-}" ]]; then
    printf '%s' "$IN_SMTP_PASSWORD" | install_content "$ROOT$SMTP_PASSWORD_FILE" 0640 root:prometheus && alertmanager=true
  else
    rm -f "$ROOT$SMTP_PASSWORD_FILE"
  fi
  staged_check "$ALERTMANAGER_YML" 0640 root:prometheus "$(alertmanager_config)" amtool check-config && alertmanager=true
  # An empty cluster address turns Alertmanager's gossip clustering off (its README, "High Availability").
  set_args prometheus-alertmanager "--config.file=$ALERTMANAGER_YML --web.listen-address=127.0.0.1:9093 --cluster.listen-address=" && alertmanager=true

  printf '%s\n' "$IN_BLACKBOX_YML" | install_content "$ROOT$BLACKBOX_YML" 0644 && blackbox=true
  set_args prometheus-blackbox-exporter "--config.file=$BLACKBOX_YML --web.listen-address=127.0.0.1:9115" && blackbox=true

  converge prometheus-blackbox-exporter.service "$blackbox"
  converge prometheus-alertmanager.service "$alertmanager"
  converge prometheus.service "$prometheus"
  log "Prometheus keeps ${IN_RETENTION_DAYS} days within ${IN_DISK_BUDGET_GB} GB; alerts go through the local Alertmanager"
}

run_step "$@"
