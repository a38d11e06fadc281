#!/usr/bin/env bash
# Cleans a BigBlueButton image builder before its disk is saved as the node image (docs/nodes.md, "A node
# image"): everything that belongs to the builder and must be each node's own goes, so that a node booted
# from the image gets its own at first boot (cloud-init: machine id, host keys, authorized keys; the
# first-boot step: bbb-conf --setip, shared secret, TURN, certificate, recordings key).
#  - machine id: emptied (machine-id(5): an empty /etc/machine-id is filled at the next boot);
#  - SSH host keys and every authorized_keys file (cloud-init installs the node's);
#  - secrets: BBB's shared secret (bbb-web.properties securitySalt, akka, webhooks and their post_catcher.js), the TURN settings
#    (bbb-web's TURN servers, coturn's static-auth-secret), the recording-transfer key, FreeSWITCH's
#    event-socket password in every file that carries it (lib/esl.sh);
#  - the builder's certificates (/etc/letsencrypt live, archive, renewal) and haproxy's copy of it with its
#    key (/etc/haproxy/certbundle.pem, which bbb-install.sh's deploy hook writes);
#  - logs, shell histories, cloud-init's per-instance state (what `cloud-init clean --logs` removes);
#  - bbb-ovh's step stamps (they name the builder).
# It refuses to run on a host holding a recording (a real node, by mistake): a recording is never lost.
# Last, it leaves the image's stamp, /etc/bbb-ovh/node-image: the builder's name and the address bbb-install.sh
# wrote into BigBlueButton's files (FreeSWITCH's external_rtp_ip), which bbb-node-firstboot.sh replaces by the
# node's own, and which it requires (a host without it was not made from our image). A run cut midway leaves
# no stamp. Idempotent: a second run finds nothing to remove.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/esl.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/esl.sh"
REQUIRED_INPUTS=(FQDN)

BBB_ETC="$ROOT/etc/bigbluebutton"
IMAGE_STAMP="$ROOT/etc/bbb-ovh/node-image"
# bbb-install.sh's check_nat sets external_rtp_ip=<its IP> here (at the pinned commits).
FREESWITCH_VARS="$ROOT/opt/freeswitch/conf/vars.xml"
# Where recordings are, and at which depth a recording's own directory is (FORMAT/RECORD_ID or RECORD_ID).
RECORDING_DIRS=(published:2 unpublished:2 deleted:2 recording/raw:1)

# refuse_with_recordings: stops when any recording is on this host.
refuse_with_recordings() {
  local entry dir depth found
  for entry in "${RECORDING_DIRS[@]}"; do
    dir="${entry%:*}" depth="${entry##*:}"
    [[ -d "$ROOT/var/bigbluebutton/$dir" ]] || continue
    found="$(find "$ROOT/var/bigbluebutton/$dir" -mindepth "$depth" -maxdepth "$depth" -print -quit)"
    [[ -z "$found" ]] || die "${found#"$ROOT"} is a recording: this is not an image builder; nothing was removed"
  done
}

# remove PATH...: removes what exists, saying so.
remove() {
  local path
  for path in "$@"; do
    [[ -e "$path" || -L "$path" ]] || continue
    rm -rf -- "$path"
    log "removed ${path#"$ROOT"}"
  done
}

empty_machine_id() {
  local id="$ROOT/etc/machine-id"
  if [[ -s "$id" ]]; then
    : >"$id"
    log "emptied /etc/machine-id"
  fi
  # On Ubuntu a symlink to /etc/machine-id; a copy would keep the builder's id.
  [[ -L "$ROOT/var/lib/dbus/machine-id" ]] || remove "$ROOT/var/lib/dbus/machine-id"
}

# blank_secret FILE PATTERN: the value after PATTERN (up to the end of line) becomes empty, quotes kept.
blank_secret() {
  local file="$1" pattern="$2"
  [[ -f "$file" ]] || return 0
  if grep -Eq "^(\s*$pattern\s*[=:]\s*\"?)[^\"[:space:]]+" "$file"; then
    sed -E -i "s/^(\s*$pattern\s*[=:]\s*\"?)[^\"[:space:]]+/\1/" "$file"
    log "blanked $pattern in ${file#"$ROOT"}"
  fi
}

# blank_esl_password: FreeSWITCH's event-socket password emptied wherever it is (lib/esl.sh), each file
# replaced atomically with its mode and owner; the first-boot step gives each node its own.
blank_esl_password() {
  local rel file value mode owner
  for rel in "${ESL_FILES[@]}"; do
    file="$ROOT/$rel"
    value="$(esl_value "$file")" || continue
    [[ -n "$value" ]] || continue
    mode="$(stat -c %a "$file")" owner="$(stat -c %u:%g "$file")"
    # shellcheck disable=SC2094 # install_content writes a temporary file and renames it over FILE
    ESL_PASSWORD="" esl_filter "$file" <"$file" | install_content "$file" "$mode" "$owner"
    log "blanked the event-socket password in /$rel"
  done
}

clean_secrets() {
  blank_secret "$BBB_ETC/bbb-web.properties" securitySalt
  blank_secret "$BBB_ETC/bbb-apps-akka.conf" sharedSecret
  blank_secret "$ROOT/usr/local/bigbluebutton/bbb-webhooks/config/default.yml" sharedSecret
  blank_secret "$ROOT/usr/local/bigbluebutton/bbb-webhooks/extra/post_catcher.js" "var shared_secret"
  blank_secret "$ROOT/etc/turnserver.conf" static-auth-secret
  blank_esl_password
  remove "$BBB_ETC/turn-stun-servers.xml" "$ROOT/etc/bbb-ovh/recording-transfer" "$ROOT/etc/haproxy/certbundle.pem"
}

clean_identity() {
  local home
  remove "$ROOT"/etc/ssh/ssh_host_*
  for home in "$ROOT/root" "$ROOT"/home/*; do
    [[ -d "$home" ]] || continue
    remove "$home/.ssh/authorized_keys" "$home/.bash_history" "$home/.lesshst" "$home/.viminfo"
  done
  remove "$ROOT"/etc/letsencrypt/live/* "$ROOT"/etc/letsencrypt/archive/* "$ROOT"/etc/letsencrypt/renewal/*
}

# builder_address: the IPv4 bbb-install.sh configured BigBlueButton with on the builder.
builder_address() {
  local address
  address="$(sed -n 's/.*"external_rtp_ip=\([0-9.]*\)".*/\1/p' "$FREESWITCH_VARS" 2>/dev/null | head -n 1)"
  [[ "$address" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "no external_rtp_ip address in ${FREESWITCH_VARS#"$ROOT"}: BigBlueButton is not installed by bbb-install.sh here; nothing was removed"
  printf '%s' "$address"
}

write_image_stamp() {
  if printf 'BUILDER_FQDN=%s\nBUILDER_IPV4=%s\n' "$IN_FQDN" "$1" | install_content "$IMAGE_STAMP" 0644; then
    log "wrote ${IMAGE_STAMP#"$ROOT"} (builder $IN_FQDN, $1)"
  fi
}

clean_state() {
  remove "$ROOT"/var/lib/cloud/* "$STATE_DIR"/*.stamp
  if [[ -d "$ROOT/var/log" ]]; then
    # Files only: the directories (and their owners) are what packages expect at the next boot.
    find "$ROOT/var/log" -type f -print -delete | sed "s|^$ROOT|removed |"
  fi
}

main() {
  refuse_with_recordings
  local address
  address="$(builder_address)"
  log "cleaning the image builder $IN_FQDN"
  empty_machine_id
  clean_secrets
  clean_identity
  clean_state
  write_image_stamp "$address"
  log "clean: power the builder off and save its disk as the node image"
}

run_step "$@"
