#!/usr/bin/env bash
# Scalelite front, step 2: a Let's Encrypt certificate for FQDN by certbot on the host, where the
# scalelite-nginx container finds it (/etc/letsencrypt is mounted at /etc/nginx/ssl).
#
# Inputs (stdin, KEY=VALUE): FQDN, EMAIL, CHALLENGE (http-01 | dns-01), DNS_CREDENTIALS_B64 (secret,
# dns-01 only: the certbot-dns-ovh credentials file, written 0600, never passed on a command line; left
# out, the file an earlier run wrote is used).
# That file is kept outside /etc/letsencrypt, which the internet-facing nginx container mounts.
# A certificate on disk that ends within 30 days, is unreadable or does not name FQDN is replaced.
# http-01 uses certbot's own web server on port 80: its pre/post hooks stop and restart scalelite-nginx
# when it runs, so renewals work. A deploy hook reloads nginx inside its container after each renewal.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
REQUIRED_INPUTS=(FQDN EMAIL CHALLENGE)
OPTIONAL_INPUTS=(DNS_CREDENTIALS_B64)

LE_DIR=/etc/letsencrypt
OVH_CREDENTIALS=/etc/bbb-ovh/certbot-dns-ovh.ini
# Where versions before 2026-11 kept it (inside the mount of the nginx container).
OLD_OVH_CREDENTIALS="$LE_DIR/ovh.ini"
CERTBOT_LOG=/var/log/letsencrypt/letsencrypt.log
HOOK_DIR="$LE_DIR/bbb-ovh"
NGINX_PAUSED=/run/bbb-ovh-scalelite-nginx-paused
# certbot's own renewal threshold (renew_before_expiry, 30 days by default: certbot's "Renewing
# certificates" docs); a certificate closer to its end than this is replaced now. openssl comes with
# certbot (its dependency ca-certificates depends on openssl).
RENEW_BEFORE_SECONDS=$((30 * 86400))

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
  if [[ -z "${IN_DNS_CREDENTIALS:-}" ]]; then
    # ops failover runs this step without the secret, which it does not hold: the file pulumi up left serves.
    [[ -f "$ROOT$OVH_CREDENTIALS" ]] ||
      die "CHALLENGE=dns-01 needs DNS_CREDENTIALS_B64 (the certbot-dns-ovh credentials): there are none at $OVH_CREDENTIALS yet"
    return 0
  fi
  mkdir -p "$ROOT$(dirname "$OVH_CREDENTIALS")"
  chmod 0700 "$ROOT$(dirname "$OVH_CREDENTIALS")"
  install_text "$ROOT$OVH_CREDENTIALS" 0600 "$IN_DNS_CREDENTIALS"$'\n' || true
}

# move_old_credentials: a renewal configuration still naming the old credentials file is pointed at the
# new one (certbot reads dns_ovh_credentials from renewal/NAME.conf on each renewal), then the old file,
# which the nginx container could read, goes.
move_old_credentials() {
  local conf
  [[ -e "$ROOT$OLD_OVH_CREDENTIALS" ]] || return 0
  for conf in "$ROOT$LE_DIR"/renewal/*.conf; do
    grep -qs "^dns_ovh_credentials = $OLD_OVH_CREDENTIALS\$" "$conf" || continue
    if [[ ! -f "$ROOT$OVH_CREDENTIALS" ]]; then
      # Renewals still need the credentials, even when this run no longer uses dns-01.
      mkdir -p "$ROOT$(dirname "$OVH_CREDENTIALS")"
      install -m 0600 "$ROOT$OLD_OVH_CREDENTIALS" "$ROOT$OVH_CREDENTIALS"
    fi
    sed -i "s|^dns_ovh_credentials = $OLD_OVH_CREDENTIALS\$|dns_ovh_credentials = $OVH_CREDENTIALS|" "$conf"
  done
  log "moved the OVH DNS credentials out of $LE_DIR to $OVH_CREDENTIALS"
  rm -f "$ROOT$OLD_OVH_CREDENTIALS"
}

# current_authenticator: the authenticator the existing certificate renews with, if any.
current_authenticator() {
  local conf="$ROOT$LE_DIR/renewal/$IN_FQDN.conf"
  [[ -f "$conf" ]] && sed -n 's/^authenticator *= *//p' "$conf"
  return 0
}

# certificate_problem: why the certificate on disk cannot stay as it is (printed), or nothing. A standby
# front's certificate may have missed its renewals (HTTP-01 fails while the name points at the other
# front), and nginx would serve it expired after a failover.
certificate_problem() {
  local cert="$ROOT$LE_DIR/live/$IN_FQDN/cert.pem"
  if ! openssl x509 -noout -in "$cert" >/dev/null 2>&1; then
    echo "is unreadable"
  elif ! openssl x509 -noout -checkend "$RENEW_BEFORE_SECONDS" -in "$cert" >/dev/null; then
    echo "ends on $(openssl x509 -noout -enddate -in "$cert" | sed 's/^notAfter=//'), within $((RENEW_BEFORE_SECONDS / 86400)) days"
  elif ! openssl x509 -noout -checkhost "$IN_FQDN" -in "$cert" | grep -q ' does match '; then
    echo "does not name $IN_FQDN"
  fi
}

# request_certificate: sets REQUESTED=true when certbot was asked for a certificate, SKIPPED=true when it
# cannot be (HTTP-01 while the name points at the other front); dies when certbot fails.
request_certificate() {
  local wanted="standalone" args=() problem="" role
  [[ "$IN_CHALLENGE" == dns-01 ]] && wanted="dns-ovh"
  if [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" ]]; then
    problem="$(certificate_problem)"
    if [[ -z "$problem" && "$(current_authenticator)" == "$wanted" ]]; then
      log "certificate for $IN_FQDN exists and renews by $IN_CHALLENGE: nothing to do"
      return 0
    fi
  fi
  # fenced by ops failover, or made the standby by ops failback: the name points at the other front.
  role="$(front_role)"
  if [[ "$wanted" == standalone && ("$role" == fenced || "$role" == standby) ]]; then
    warn "the front's name points at the other front since \`ops failover\` (${FRONT_ROLE_FILE#"$ROOT"}: $role): HTTP-01 cannot succeed here, so no certificate is requested${problem:+ (the one on disk $problem)}; \`ops failback\` requests it once the name is back"
    SKIPPED=true
    return 0
  fi
  args=(certonly --non-interactive --agree-tos --email "$IN_EMAIL" --cert-name "$IN_FQDN" -d "$IN_FQDN" --keep-until-expiring)
  if [[ "$wanted" == standalone ]]; then
    args+=(--standalone --pre-hook "$HOOK_DIR/stop-scalelite-nginx.sh" --post-hook "$HOOK_DIR/start-scalelite-nginx.sh")
  else
    args+=(--dns-ovh --dns-ovh-credentials "$OVH_CREDENTIALS")
  fi
  if [[ -n "$problem" ]]; then
    log "the certificate for $IN_FQDN $problem: replacing it"
    args+=(--force-renewal)
  elif [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" ]]; then
    # certbot keeps a valid certificate's renewal settings; a new challenge needs a new certificate.
    log "switching $IN_FQDN to $IN_CHALLENGE"
    args+=(--force-renewal)
  fi
  log "requesting a certificate for $IN_FQDN ($IN_CHALLENGE)"
  if ! certbot "${args[@]}"; then
    # An existing certificate (the old challenge's) must not hide the failure.
    tail -n 20 "$ROOT$CERTBOT_LOG" >&2 2>/dev/null || true
    die "certbot could not get a certificate for $IN_FQDN by $IN_CHALLENGE (the end of $CERTBOT_LOG is above)"
  fi
  REQUESTED=true
}

main() {
  [[ "$IN_CHALLENGE" == http-01 || "$IN_CHALLENGE" == dns-01 ]] || die "CHALLENGE must be http-01 or dns-01, not '$IN_CHALLENGE'"
  ensure_certbot
  install_hooks
  [[ "$IN_CHALLENGE" == dns-01 ]] && install_dns_credentials
  move_old_credentials
  REQUESTED=false
  SKIPPED=false
  request_certificate
  [[ "$SKIPPED" == true ]] && return 0
  if [[ "$REQUESTED" == true ]]; then
    # Directory deploy hooks run on renewals only; a new certificate must reach a running nginx too.
    "$ROOT$LE_DIR/renewal-hooks/deploy/reload-scalelite-nginx.sh"
  fi
  [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" && -f "$ROOT$LE_DIR/live/$IN_FQDN/privkey.pem" ]] ||
    die "certbot left no certificate at $LE_DIR/live/$IN_FQDN/"
  log "certificate for $IN_FQDN is in place"
}

run_step "$@"
