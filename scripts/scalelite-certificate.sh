#!/usr/bin/env bash
# Scalelite front, step 2: a Let's Encrypt certificate for FQDN by certbot on the host, where the
# scalelite-nginx container finds it (/etc/letsencrypt is mounted at /etc/nginx/ssl).
#
# Inputs (stdin, KEY=VALUE): FQDN, EMAIL, CHALLENGE (http-01 | dns-01), DNS_CREDENTIALS_B64 (secret,
# dns-01 only: the certbot-dns-ovh credentials file, written 0600, never passed on a command line).
# http-01 uses certbot's own web server on port 80: its pre/post hooks stop and restart scalelite-nginx
# when it runs, so renewals work. A deploy hook reloads nginx inside its container after each renewal.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

LE_DIR=/etc/letsencrypt
OVH_CREDENTIALS="$LE_DIR/ovh.ini"
HOOK_DIR="$LE_DIR/bbb-ovh"
NGINX_PAUSED=/run/bbb-ovh-scalelite-nginx-paused

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: FQDN EMAIL CHALLENGE [DNS_CREDENTIALS_B64])"
}

ensure_certbot() {
  if [[ "$IN_CHALLENGE" == dns-01 ]]; then
    apt_install certbot python3-certbot-dns-ovh
  else
    apt_install certbot
  fi
}

install_hooks() {
  # Stop nginx only when it runs, and start it again only when we stopped it.
  install_content "$ROOT$HOOK_DIR/stop-scalelite-nginx.sh" 0755 <<EOF || true
#!/bin/sh
# certbot pre-hook (bbb-ovh): frees port 80 for the standalone HTTP-01 challenge.
if systemctl is-active --quiet scalelite-nginx.service; then
  touch $NGINX_PAUSED
  systemctl stop scalelite-nginx.service
fi
EOF
  install_content "$ROOT$HOOK_DIR/start-scalelite-nginx.sh" 0755 <<EOF || true
#!/bin/sh
# certbot post-hook (bbb-ovh): gives port 80 back to scalelite-nginx.
if [ -e $NGINX_PAUSED ]; then
  rm -f $NGINX_PAUSED
  systemctl start scalelite-nginx.service
fi
EOF
  install_content "$ROOT$LE_DIR/renewal-hooks/deploy/reload-scalelite-nginx.sh" 0755 <<'EOF' || true
#!/bin/sh
# certbot deploy hook (bbb-ovh): nginx in the scalelite-nginx container serves the renewed certificate.
if [ "$(docker inspect -f '{{.State.Running}}' scalelite-nginx 2>/dev/null)" = "true" ]; then
  docker exec scalelite-nginx nginx -s reload
fi
EOF
}

install_dns_credentials() {
  [[ -n "${IN_DNS_CREDENTIALS:-}" ]] || die "CHALLENGE=dns-01 needs DNS_CREDENTIALS_B64 (the certbot-dns-ovh credentials)"
  printf '%s\n' "$IN_DNS_CREDENTIALS" | install_content "$ROOT$OVH_CREDENTIALS" 0600 || true
}

# current_authenticator: the authenticator the existing certificate renews with, if any.
current_authenticator() {
  local conf="$ROOT$LE_DIR/renewal/$IN_FQDN.conf"
  [[ -f "$conf" ]] && sed -n 's/^authenticator *= *//p' "$conf"
  return 0
}

request_certificate() {
  local wanted="standalone" args=()
  [[ "$IN_CHALLENGE" == dns-01 ]] && wanted="dns-ovh"
  if [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" && "$(current_authenticator)" == "$wanted" ]]; then
    log "certificate for $IN_FQDN exists and renews by $IN_CHALLENGE: nothing to do"
    return 1
  fi
  args=(certonly --non-interactive --agree-tos --email "$IN_EMAIL" --cert-name "$IN_FQDN" -d "$IN_FQDN" --keep-until-expiring)
  if [[ "$wanted" == standalone ]]; then
    args+=(--standalone --pre-hook "$HOOK_DIR/stop-scalelite-nginx.sh" --post-hook "$HOOK_DIR/start-scalelite-nginx.sh")
  else
    args+=(--dns-ovh --dns-ovh-credentials "$OVH_CREDENTIALS")
  fi
  if [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" ]]; then
    # certbot keeps a valid certificate's renewal settings; a new challenge needs a new certificate.
    log "switching $IN_FQDN to $IN_CHALLENGE"
    args+=(--force-renewal)
  fi
  log "requesting a certificate for $IN_FQDN ($IN_CHALLENGE)"
  certbot "${args[@]}"
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs FQDN EMAIL CHALLENGE
  [[ "$IN_CHALLENGE" == http-01 || "$IN_CHALLENGE" == dns-01 ]] || die "CHALLENGE must be http-01 or dns-01, not '$IN_CHALLENGE'"
  ensure_certbot
  install_hooks
  [[ "$IN_CHALLENGE" == dns-01 ]] && install_dns_credentials
  if request_certificate; then
    # Directory deploy hooks run on renewals only; a new certificate must reach a running nginx too.
    "$ROOT$LE_DIR/renewal-hooks/deploy/reload-scalelite-nginx.sh"
  fi
  [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" && -f "$ROOT$LE_DIR/live/$IN_FQDN/privkey.pem" ]] ||
    die "certbot left no certificate at $LE_DIR/live/$IN_FQDN/"
  log "certificate for $IN_FQDN is in place"
}

main "$@"
