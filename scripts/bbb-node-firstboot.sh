#!/usr/bin/env bash
# First boot of a node made from the node image (docs/nodes.md, "A node image"): makes it this node's own
# without bbb-install.sh, in the install step's place (bbbConfigure then sets the shared secret,
# bbbRecordings the recordings key). The image holds what bbb-install.sh wrote for the builder, and
# /etc/bbb-ovh/node-image, where bbb-node-image-clean.sh recorded the builder's name and address:
#  - address: the builder's IPv4 becomes this node's in the files bbb-install.sh writes it into (at the
#    pinned commits: check_nat's FreeSWITCH vars.xml, install_ssl's external.xml and sip.nginx,
#    bbb-webrtc-sfu's production.yml, install_coturn's turnserver.conf, install_haproxy's haproxy.cfg;
#    2.7's Kurento WebRtcEndpoint.conf.ini);
#  - name: the builder's FQDN becomes this node's in nginx's site, coturn's realm and haproxy's certificate
#    hook (what bbb-install.sh writes with its -s host), then `bbb-conf --setip FQDN` for what bbb-conf
#    owns (bbb-web's serverURL, akka's bbbWebAPI, the playback host, webhooks, the HTML5 client);
#  - certificate: Let's Encrypt by certbot --webroot, as install_ssl gets it, and haproxy's bundle of it
#    (/etc/haproxy/certbundle.pem, as bbb-install.sh's deploy hook writes it; haproxy serves port 443);
#  - TURN: coturn gets a secret of its own (the cleaner blanked the builder's) and bbb-web's TURN servers
#    are this node's coturn, or the external server when TURN_HOST is given;
#  - FreeSWITCH's event-socket password: a new one (the cleaner blanked the builder's) in every file that
#    must carry it (lib/esl.sh), so that `bbb-conf --setip`, which keeps a password other than ClueCon,
#    copies this node's; its restart of bigbluebutton.target restarts FreeSWITCH and its clients.
# SSH host keys, authorized keys, hostname and machine id are set at boot by cloud-init and systemd.
# It refuses a host without /etc/bbb-ovh/node-image (not made from our image) before changing anything,
# except a node our install step installed (its stamp): a campus that gains a node image keeps its running
# nodes, which are replaced from the image one at a time by `ops upgrade`; until then nothing is done here.
# Converges after a cut: files are replaced atomically, and a marker put down before the first change
# is removed only after the services were restarted, so an interrupted run restarts them next time.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/turn.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/turn.sh"
# shellcheck source-path=SCRIPTDIR source=lib/esl.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/esl.sh"
REQUIRED_INPUTS=(FQDN PUBLIC_IPV4 EMAIL)
OPTIONAL_INPUTS=(TURN_HOST TURN_SECRET)

IMAGE_STAMP="$ROOT/etc/bbb-ovh/node-image"
PENDING="$STATE_DIR/bbb-node-firstboot.restart-pending"
FIRSTBOOT_LOG="$LOG_DIR/bbb-node-firstboot.log"
WEB_PROPERTIES="$ROOT/etc/bigbluebutton/bbb-web.properties"
TURNSERVER_CONF="$ROOT/etc/turnserver.conf"
HAPROXY_BUNDLE="$ROOT/etc/haproxy/certbundle.pem"
LE_DIR=/etc/letsencrypt
# install_ssl's webroot (bbb-install.sh: certbot -w /var/www/bigbluebutton-default/assets/ --webroot).
WEBROOT=/var/www/bigbluebutton-default/assets/
ADDRESS_FILES=(
  opt/freeswitch/conf/vars.xml
  opt/freeswitch/conf/sip_profiles/external.xml
  usr/share/bigbluebutton/nginx/sip.nginx
  etc/bigbluebutton/bbb-webrtc-sfu/production.yml
  etc/turnserver.conf
  etc/haproxy/haproxy.cfg
  etc/kurento/modules/kurento/WebRtcEndpoint.conf.ini
)
NAME_FILES=(
  etc/nginx/sites-available/bigbluebutton
  etc/turnserver.conf
  etc/letsencrypt/renewal-hooks/deploy/haproxy
)

# mark_pending: from here on, the services must restart before this step is done.
mark_pending() {
  [[ -f "$PENDING" ]] || touch "$PENDING"
}

# put FILE MODE [OWNER]: stdin becomes FILE when it differs, the restart marker put down first.
# Returns 0 when FILE changed.
put() {
  local file="$1" mode="$2" owner="${3:-}" tmp
  tmp="$(mktemp "$STATE_DIR/put.XXXXXX")"
  cat >"$tmp"
  if [[ -f "$file" ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mark_pending
  install_content "$file" "$mode" "$owner" <"$tmp" || true
  rm -f "$tmp"
}

# rewrite FILE COMMAND...: FILE through COMMAND, put back with its own mode and owner; 0 when it changed.
rewrite() {
  local file="$1" mode owner
  shift
  mode="$(stat -c %a "$file")"
  owner="$(stat -c %u:%g "$file")"
  # shellcheck disable=SC2094 # put writes a temporary file and renames it over FILE
  "$@" <"$file" | put "$file" "$mode" "$owner"
}

# replace_literal FILE OLD NEW: OLD where it stands alone (not inside a longer name or address) becomes
# NEW; the file keeps its mode and owner.
replace_literal() {
  local file="$1" old="$2" new="$3"
  [[ -f "$file" ]] && grep -qF -- "$old" "$file" || return 0
  # shellcheck disable=SC2016 # perl expands $ENV{...} itself
  if rewrite "$file" env OLD="$old" NEW="$new" perl -pe 's/(?<![0-9A-Za-z.-])\Q$ENV{OLD}\E(?![0-9A-Za-z-]|\.[0-9A-Za-z])/$ENV{NEW}/g'; then
    log "${file#"$ROOT"}: $old -> $new"
  fi
}

read_image_stamp() {
  [[ -f "$IMAGE_STAMP" ]] ||
    die "${IMAGE_STAMP#"$ROOT"} is missing: $IN_FQDN was not made from a bbb-ovh node image (bbb-node-image-clean.sh leaves that file); nothing was changed. A node on a plain Ubuntu image takes the install step (docs/nodes.md, \"A node image\")"
  BUILDER_FQDN="$(sed -n 's/^BUILDER_FQDN=//p' "$IMAGE_STAMP")"
  BUILDER_IPV4="$(sed -n 's/^BUILDER_IPV4=//p' "$IMAGE_STAMP")"
  [[ -n "$BUILDER_FQDN" && -n "$BUILDER_IPV4" ]] || die "${IMAGE_STAMP#"$ROOT"} does not name the builder (BUILDER_FQDN, BUILDER_IPV4); nothing was changed"
  [[ -f "$ROOT/etc/bigbluebutton/bigbluebutton-release" ]] || die "the image has no /etc/bigbluebutton/bigbluebutton-release: BigBlueButton is not installed; nothing was changed"
  esl_value "$ROOT/${ESL_FILES[0]}" >/dev/null ||
    die "the image's /${ESL_FILES[0]} has no event-socket password line: bbb-conf --setip would give FreeSWITCH an empty one; nothing was changed"
}

make_own_address_and_name() {
  local rel
  if [[ "$BUILDER_IPV4" != "$IN_PUBLIC_IPV4" ]]; then
    for rel in "${ADDRESS_FILES[@]}"; do replace_literal "$ROOT/$rel" "$BUILDER_IPV4" "$IN_PUBLIC_IPV4"; done
  fi
  if [[ "$BUILDER_FQDN" != "$IN_FQDN" ]]; then
    for rel in "${NAME_FILES[@]}"; do replace_literal "$ROOT/$rel" "$BUILDER_FQDN" "$IN_FQDN"; done
  fi
}

# obtain_certificate: the node's Let's Encrypt certificate, as bbb-install.sh's install_ssl gets it.
obtain_certificate() {
  if [[ -f "$ROOT$LE_DIR/live/$IN_FQDN/fullchain.pem" && -f "$ROOT$LE_DIR/renewal/$IN_FQDN.conf" ]]; then
    log "certificate for $IN_FQDN exists"
    return 0
  fi
  # nginx answers the HTTP-01 challenge from the webroot for the name in its site (set just above);
  # restarted here, not only when its site changed, so a run cut after that change still serves it.
  systemctl restart nginx
  log "requesting a certificate for $IN_FQDN (certbot --webroot)"
  if ! certbot certonly --non-interactive --agree-tos --email "$IN_EMAIL" --rsa-key-size 4096 --webroot -w "$WEBROOT" \
    -d "$IN_FQDN" --deploy-hook "systemctl reload nginx"; then
    die "certbot could not get a certificate for $IN_FQDN (HTTP-01 on port 80: does $IN_FQDN resolve to $IN_PUBLIC_IPV4 and is port 80 open?)"
  fi
}

# install_certificate_bundle: what bbb-install.sh's deploy hook /etc/letsencrypt/renewal-hooks/deploy/haproxy
# writes (fullchain, an empty line, the key); that hook keeps it current at each renewal.
install_certificate_bundle() {
  local live="$ROOT$LE_DIR/live/$IN_FQDN"
  if { cat "$live/fullchain.pem" && echo && cat "$live/privkey.pem"; } | put "$HAPROXY_BUNDLE" 0640 root:haproxy; then
    log "haproxy serves the certificate of $IN_FQDN"
  fi
}

# coturn_secret_filter: turnserver.conf with static-auth-secret set to $COTURN_SECRET (in bash: no
# process sees it on its command line).
coturn_secret_filter() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" == static-auth-secret=* ]] && line="static-auth-secret=$COTURN_SECRET"
    printf '%s\n' "$line"
  done
}

# turn_settings: coturn's own secret (a new one when the image's is blank) and bbb-web's TURN servers.
turn_settings() {
  local secret="" host label
  if [[ -f "$TURNSERVER_CONF" ]]; then
    secret="$(sed -n 's/^static-auth-secret=//p' "$TURNSERVER_CONF" | head -n 1)"
    if [[ -z "$secret" ]]; then
      # Generated here, never on a command line; the same kind bbb-install.sh's install_coturn makes.
      secret="$(openssl rand -base64 32)"
      COTURN_SECRET="$secret" rewrite "$TURNSERVER_CONF" coturn_secret_filter || true
      log "coturn has a secret of its own"
    fi
  fi
  if [[ -n "${IN_TURN_HOST:-}" ]]; then
    host="$IN_TURN_HOST" secret="$IN_TURN_SECRET" label="the external TURN server"
  else
    [[ -n "$secret" ]] || die "no TURN server: no /etc/turnserver.conf with a static-auth-secret in the image and no TURN_HOST"
    host="$IN_FQDN" label="this node's coturn,"
  fi
  if turn_servers_xml "$host" "$secret" "$label" | put "$TURN_XML" 0640 root:bigbluebutton; then
    log "bbb-web's TURN server is $host"
  fi
}

# own_esl_password: the node's event-socket password in every file that carries it, bbb-fsesl-akka.conf
# first: a run cut midway finds it there and carries it into the others. A new one when the image's is
# blank (the cleaner's) or upstream's default, ClueCon; generated here, never on a command line.
own_esl_password() {
  local password rel file value
  password="$(esl_value "$ROOT/${ESL_FILES[0]}")"
  if [[ -z "$password" || "$password" == ClueCon ]]; then
    password="$(openssl rand -hex 16)"
  fi
  for rel in "${ESL_FILES[@]}"; do
    file="$ROOT/$rel"
    value="$(esl_value "$file")" || continue
    [[ "$value" != "$password" ]] || continue
    ESL_PASSWORD="$password" rewrite "$file" esl_filter "$file" || true
    log "/$rel: the event-socket password is this node's own"
  done
}

web_url() {
  sed -n 's/^bigbluebutton\.web\.serverURL=//p' "$WEB_PROPERTIES" 2>/dev/null | tail -n 1
}

# restart_services: haproxy and coturn with their new settings, then `bbb-conf --setip`, which writes
# the name into BigBlueButton's own settings and restarts it. Skipped when the name is set and no
# earlier run left the marker.
restart_services() {
  if [[ ! -f "$PENDING" && "$(web_url)" == "https://$IN_FQDN" ]]; then
    log "$IN_FQDN is already this node's own; nothing to do"
    return 0
  fi
  mark_pending
  (umask 077 && touch "$FIRSTBOOT_LOG")
  chmod 0600 "$FIRSTBOOT_LOG"
  systemctl restart haproxy coturn
  log "bbb-conf --setip $IN_FQDN (restarts BigBlueButton; output in ${FIRSTBOOT_LOG#"$ROOT"})"
  if ! bbb-conf --setip "$IN_FQDN" >>"$FIRSTBOOT_LOG" 2>&1 </dev/null; then
    die "bbb-conf --setip $IN_FQDN failed; see ${FIRSTBOOT_LOG#"$ROOT"}"
  fi
  [[ "$(web_url)" == "https://$IN_FQDN" ]] || die "after bbb-conf --setip, bbb-web's serverURL is '$(web_url)', not https://$IN_FQDN"
  rm -f "$PENDING"
  log "$IN_FQDN is this node's own"
}

main() {
  [[ "$IN_FQDN" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || die "FQDN '$IN_FQDN' is not a lowercase host name"
  [[ "$IN_PUBLIC_IPV4" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "PUBLIC_IPV4 '$IN_PUBLIC_IPV4' is not an IPv4 address"
  check_turn_inputs
  if [[ ! -f "$IMAGE_STAMP" && -f "$STATE_DIR/bbb-install.stamp" ]]; then
    log "$IN_FQDN was installed by bbb-install.sh (the install step), not made from the node image: nothing to do until \`ops upgrade\` replaces it from the image"
    return 0
  fi
  read_image_stamp
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  chmod 0700 "$STATE_DIR" "$LOG_DIR"

  make_own_address_and_name
  obtain_certificate
  install_certificate_bundle
  turn_settings
  own_esl_password
  restart_services
}

run_step "$@"
