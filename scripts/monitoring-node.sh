#!/usr/bin/env bash
# Every campus host: node_exporter serving its metrics over TLS with one basic-auth login, for the
# fronts' Prometheus in other datacenters (docs/monitoring.md).
#
# Host step (inputs on stdin, KEY=VALUE): CA_CERT_B64 (the campus monitoring CA), TLS_CERT_B64 and
# TLS_KEY_B64 (this host's exporter certificate and key; the key is a secret), WEB_CONFIG_B64 (the
# exporter-toolkit web-config naming them, with the scrape login's bcrypt hash), SCRAPE_PORTS (the ports
# the fronts scrape here, opened in UFW when UFW is active: bbb-install -w enables it on nodes, and a
# packet must pass UFW's chains as well as our nftables table, which admits the fronts' addresses only).
# Installs Debian/Ubuntu's prometheus-node-exporter, writes the files under /etc/bbb-ovh/monitoring
# (key and web-config 0640 root:prometheus, read by the exporter's user), points the exporter at them
# in /etc/default/prometheus-node-exporter (the package's unit runs `prometheus-node-exporter $ARGS`),
# and restarts it only when something changed. On a node, optional EXPORTER_NGINX_B64 and HTPASSWD_B64
# (components/monitoring/renderBbbExporterProxy.ts) put the BigBlueButton exporter, which listens on
# 127.0.0.1:9688 without TLS or login, behind BigBlueButton's own nginx with the same certificate and the
# same scrape login: the server block in /etc/nginx/conf.d, the login beside it (0640 root:www-data, read
# by nginx's workers); `nginx -t` checks it first (a refused block is put back as it was, and the step
# stops), and nginx reloads when it or the certificate changed, also on the run after one cut before that.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/apt.sh"
REQUIRED_INPUTS=(CA_CERT_B64 TLS_CERT_B64 TLS_KEY_B64 WEB_CONFIG_B64 SCRAPE_PORTS)
OPTIONAL_INPUTS=(EXPORTER_NGINX_B64 HTPASSWD_B64)
STEP_NAME=monitoring-node

# Paths as the services see them (components/monitoring/monitoringLayout.ts); written under $ROOT.
EXPORTER_DIR=/etc/bbb-ovh/monitoring
TEXTFILE_DIR=/var/lib/prometheus/node-exporter
DEFAULTS=/etc/default/prometheus-node-exporter
UNIT=prometheus-node-exporter.service
LISTEN=:9100
NGINX_SITE=/etc/nginx/conf.d/bbb-ovh-exporter.conf
# Read by nginx's workers (www-data), which cannot enter $EXPORTER_DIR.
NGINX_HTPASSWD=/etc/nginx/bbb-ovh-exporter.htpasswd
NGINX_RELOAD_PENDING="$STATE_DIR/monitoring-node.nginx-reload-pending"

# web_config_flag: node_exporter 1.5 renamed --web.config to --web.config.file (Ubuntu 22.04 has 1.3).
# (The help is read whole first: grep -q closing the pipe early would fail the exporter with SIGPIPE.)
web_config_flag() {
  local help
  help="$(prometheus-node-exporter --help 2>&1 || true)"
  if [[ "$help" == *--web.config.file* ]]; then
    printf '%s' --web.config.file
  else
    printf '%s' --web.config
  fi
}

# write_files: the CA, certificate, key and web-config; returns 0 when one changed.
write_files() {
  local changed=1
  mkdir -p "$ROOT$EXPORTER_DIR"
  chown root:prometheus "$ROOT$EXPORTER_DIR"
  chmod 0750 "$ROOT$EXPORTER_DIR"
  install_text "$ROOT$EXPORTER_DIR/ca.pem" 0644 "$IN_CA_CERT"$'\n' && changed=0
  install_text "$ROOT$EXPORTER_DIR/exporter.pem" 0644 "$IN_TLS_CERT"$'\n' && changed=0
  install_text "$ROOT$EXPORTER_DIR/exporter.key" 0640 "$IN_TLS_KEY"$'\n' root:prometheus && changed=0
  install_text "$ROOT$EXPORTER_DIR/web-config.yml" 0640 "$IN_WEB_CONFIG"$'\n' root:prometheus && changed=0
  return "$changed"
}

# write_defaults: the exporter's arguments; returns 0 when they changed.
write_defaults() {
  printf '# Written by bbb-ovh (monitoring-node.sh); changes here are overwritten on the next deployment.\nARGS="%s"\n' \
    "--web.listen-address=$LISTEN $(web_config_flag)=$EXPORTER_DIR/web-config.yml --collector.textfile.directory=$TEXTFILE_DIR" |
    install_content "$ROOT$DEFAULTS" 0644
}

# open_ufw: the scrape ports in UFW when it is active (ufw allow is idempotent: "Skipping adding existing rule").
open_ufw() {
  local port status
  command -v ufw >/dev/null 2>&1 || return 0
  status="$(ufw status 2>/dev/null || true)"
  [[ "$status" == "Status: active"* ]] || return 0
  for port in $IN_SCRAPE_PORTS; do
    ufw allow "$port/tcp" >/dev/null
  done
}

# proxy_bbb_exporter CERTS_CHANGED: the exporter's nginx server block and login, checked, then nginx reloaded.
proxy_bbb_exporter() {
  local previous="" output
  mkdir -p "$STATE_DIR"
  [[ "$1" == true ]] && touch "$NGINX_RELOAD_PENDING"
  if ! has_content "$ROOT$NGINX_HTPASSWD" "$IN_HTPASSWD"$'\n' || ! has_content "$ROOT$NGINX_SITE" "$IN_EXPORTER_NGINX"$'\n'; then
    touch "$NGINX_RELOAD_PENDING"
  fi
  install_text "$ROOT$NGINX_HTPASSWD" 0640 "$IN_HTPASSWD"$'\n' root:www-data || true
  [[ -f "$ROOT$NGINX_SITE" ]] && previous="$(cat "$ROOT$NGINX_SITE" && printf x)"
  install_text "$ROOT$NGINX_SITE" 0644 "$IN_EXPORTER_NGINX"$'\n' || true
  [[ -f "$NGINX_RELOAD_PENDING" ]] || return 0
  if ! output="$(nginx -t 2>&1)"; then
    if [[ -n "$previous" ]]; then install_text "$ROOT$NGINX_SITE" 0644 "${previous%x}" || true; else rm -f "$ROOT$NGINX_SITE"; fi
    rm -f "$NGINX_RELOAD_PENDING"
    die "nginx refused the exporter's server block (put back as it was): $(tail -n 3 <<<"$output" | tr '\n' ' ')"
  fi
  systemctl reload nginx
  rm -f "$NGINX_RELOAD_PENDING"
  log "nginx serves the BigBlueButton exporter with TLS and the scrape login"
}

main() {
  [[ "$IN_SCRAPE_PORTS" =~ ^[0-9]{2,5}( [0-9]{2,5})*$ ]] || die "SCRAPE_PORTS must be port numbers separated by spaces"
  grep -q 'BEGIN CERTIFICATE' <<<"$IN_CA_CERT" || die "CA_CERT_B64 is not a PEM certificate"
  grep -q 'BEGIN CERTIFICATE' <<<"$IN_TLS_CERT" || die "TLS_CERT_B64 is not a PEM certificate"
  grep -q 'PRIVATE KEY' <<<"$IN_TLS_KEY" || die "TLS_KEY_B64 is not a PEM private key"
  if [[ -n "${IN_EXPORTER_NGINX:-}${IN_HTPASSWD:-}" ]]; then
    [[ -n "${IN_EXPORTER_NGINX:-}" && "${IN_HTPASSWD:-}" =~ ^[a-z_]+:\$2[aby]?\$ ]] || die "EXPORTER_NGINX_B64 and HTPASSWD_B64 (user:bcrypt hash) go together"
    [[ -d "$ROOT/etc/nginx/conf.d" ]] || die "/etc/nginx/conf.d is missing: BigBlueButton's nginx is not installed on this node"
  fi
  apt_install prometheus-node-exporter
  # The textfile collector's directory: other steps (the Scalelite exporter, the recordings copy) write here.
  mkdir -p "$ROOT$TEXTFILE_DIR"
  local changed=false
  write_files && changed=true
  [[ -z "${IN_EXPORTER_NGINX:-}" ]] || proxy_bbb_exporter "$changed"
  write_defaults && changed=true
  open_ufw
  systemctl is-enabled --quiet "$UNIT" || systemctl enable "$UNIT"
  if [[ "$changed" == true ]] || ! systemctl is-active --quiet "$UNIT"; then
    systemctl restart "$UNIT"
    log "node_exporter serves TLS with basic auth on $LISTEN"
  else
    log "node_exporter already up to date"
  fi
}

run_step "$@"
