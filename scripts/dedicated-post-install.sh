#!/usr/bin/env bash
# Runs once on a freshly installed OVH dedicated server (customizations.postInstallationScript).
# Installs the host key generated in Pulumi, so that every SSH connection is pinned from the first
# one, and the admins' public keys for the default user. The inputs block above `main` is added by
# renderPostInstallScript (components/hosts/postInstall.ts); values are base64.
set -euo pipefail

usage() {
  echo "usage: dedicated-post-install.sh   (run by the OVH installer with HOST_KEY_B64, HOST_PUB_B64, ADMIN_KEYS_B64 set)"
}

install_host_key() {
  umask 077
  printf '%s' "$HOST_KEY_B64" | base64 -d >/etc/ssh/ssh_host_ed25519_key
  printf '%s' "$HOST_PUB_B64" | base64 -d >/etc/ssh/ssh_host_ed25519_key.pub
  chmod 0600 /etc/ssh/ssh_host_ed25519_key
  chmod 0644 /etc/ssh/ssh_host_ed25519_key.pub
  # Only the pinned key is offered, so a client never sees an unpinned RSA/ECDSA key.
  rm -f /etc/ssh/ssh_host_rsa_key* /etc/ssh/ssh_host_ecdsa_key*
}

install_admin_keys() {
  local user="$1" home
  home="$(getent passwd "$user" | cut -d: -f6)"
  [[ -n "$home" ]] || return 0
  install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
  touch "$home/.ssh/authorized_keys"
  local key
  while IFS= read -r key; do
    [[ -z "$key" ]] && continue
    grep -qxF "$key" "$home/.ssh/authorized_keys" || printf '%s\n' "$key" >>"$home/.ssh/authorized_keys"
  done < <(printf '%s' "$ADMIN_KEYS_B64" | base64 -d)
  chown "$user:$user" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    return 0
  fi
  : "${HOST_KEY_B64:?} ${HOST_PUB_B64:?} ${ADMIN_KEYS_B64:?}"
  install_host_key
  install_admin_keys ubuntu
  systemctl restart ssh || systemctl restart sshd || true
}

main "$@"
