#!/usr/bin/env bash
# Runs once on a freshly installed OVH dedicated server (customizations.postInstallationScript, sent
# base64-encoded as OVH recommends). Installs the host key generated in Pulumi, so that every SSH
# connection is pinned from the first one, and the admins' public keys. The inputs block right after
# `set -euo pipefail` is added by renderPostInstallScript (components/hosts/postInstall.ts); values are
# base64.
#
# Why the pinned key survives cloud-init (docs/hosts.md, "Host key pinning"): OVH hands the installation
# properties to cloud-init's config-drive datasource, and cloud-init's ssh module (cc_ssh) deletes every
# /etc/ssh/ssh_host_*key* at an instance's first boot (ssh_deletekeys defaults to true) and generates new
# keys of every type. OVH does not document whether this script runs before that first boot or after it,
# so it covers both: it writes the key, and a cloud.cfg.d drop-in that makes cc_ssh keep existing keys
# and generate ed25519 only (which then exists, so nothing). Then it restarts sshd if it runs.
set -euo pipefail

# Empty on servers; the tests point it at a per-host directory (as scripts/lib/common.sh does).
ROOT="${BBB_OVH_ROOT:-}"
CLOUD_CFG="$ROOT/etc/cloud/cloud.cfg.d/99-bbb-ovh-host-key.cfg"
SSHD_DROPIN="$ROOT/etc/ssh/sshd_config.d/60-bbb-ovh-admin-keys.conf"
ADMIN_KEYS_DIR="$ROOT/etc/ssh/bbb-ovh-authorized-keys"
CHANGED=0

usage() {
  echo "usage: dedicated-post-install.sh   (run by the OVH installer with HOST_KEY_B64, HOST_PUB_B64, ADMIN_KEYS_B64 set)"
}

log() {
  printf 'dedicated-post-install: %s\n' "$*"
}

# put_file PATH MODE: writes stdin to PATH when it differs (atomically), and notes the change.
put_file() {
  local path="$1" mode="$2" tmp
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$path.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path" && [[ "$(stat -c %a "$path")" == "${mode#0}" ]]; then
    rm -f "$tmp"
    return 0
  fi
  mv -f "$tmp" "$path"
  CHANGED=1
}

install_host_key() {
  printf '%s' "$HOST_KEY_B64" | base64 -d | put_file "$ROOT/etc/ssh/ssh_host_ed25519_key" 0600
  printf '%s' "$HOST_PUB_B64" | base64 -d | put_file "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" 0644
  # Only the pinned key is offered, so a client never sees an unpinned RSA/ECDSA key.
  local other
  for other in "$ROOT"/etc/ssh/ssh_host_rsa_key* "$ROOT"/etc/ssh/ssh_host_ecdsa_key* "$ROOT"/etc/ssh/ssh_host_dsa_key*; do
    [[ -e "$other" ]] || continue
    rm -f "$other"
    CHANGED=1
  done
}

# cloud-init reads /etc/cloud/cloud.cfg.d/*.cfg at every boot; at the first one cc_ssh then keeps our key.
keep_key_through_cloud_init() {
  put_file "$CLOUD_CFG" 0644 <<'EOF'
#cloud-config
# bbb-ovh: keep the pinned SSH host key written by the post-installation script (see its header).
ssh_deletekeys: false
ssh_genkeytypes: [ed25519]
EOF
}

# The admins' keys in a root-owned file that sshd reads besides ~/.ssh/authorized_keys: it works whether
# or not cloud-init has created the default user yet when this script runs.
install_admin_keys() {
  local user="$1"
  printf '%s' "$ADMIN_KEYS_B64" | base64 -d | awk 'NF && !seen[$0]++' | put_file "$ADMIN_KEYS_DIR/$user" 0644
  put_file "$SSHD_DROPIN" 0644 <<EOF
# bbb-ovh: the campus admins' keys (campus.sshPublicKeys), installed by the post-installation script.
AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /etc/ssh/bbb-ovh-authorized-keys/%u
EOF
}

restart_sshd() {
  ((CHANGED)) || return 0
  # try-restart: only if it runs (in the installer's chroot there is no sshd to restart).
  systemctl try-restart ssh.service || log "sshd not restarted; it reads the new key at its next start"
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    return 0
  fi
  : "${HOST_KEY_B64:?} ${HOST_PUB_B64:?} ${ADMIN_KEYS_B64:?}"
  umask 022
  install_host_key
  keep_key_through_cloud_init
  install_admin_keys ubuntu
  restart_sshd
  log "host key and admin keys in place (changed: $CHANGED)"
}

main "$@"
