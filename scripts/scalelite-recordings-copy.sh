#!/usr/bin/env bash
# Standby front (campus.standbyFront): keeps a copy of the primary front's recordings, so that `ops
# failover` serves them too. Installs the copy's key, the primary's pinned host key and the ssh_config its
# rsync uses, the pull command (scalelite-recordings-pull.sh as /usr/local/sbin/bbb-ovh-recordings-pull),
# and bbb-ovh-recordings-pull.timer, which runs it every 5 minutes (the standby's recordings are at most
# that much, plus one copy's duration, behind the primary's; `ops status` shows by how much).
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR, SSH_CONFIG_B64 (rendered by the Pulumi program: the primary's
# address and SSH port, this key, the pinned host key), KNOWN_HOSTS_B64, COPY_KEY_B64 (secret: the
# standby's key, which the primary accepts read-only, from the standby's address only).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"

COPY_DIR=/etc/bbb-ovh/recordings-copy
PULL=/usr/local/sbin/bbb-ovh-recordings-pull
PULL_UNIT=bbb-ovh-recordings-pull

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: see components/remote/catalogue.ts, scaleliteRecordingsCopy)"
}

install_copy_files() {
  mkdir -p "$ROOT$COPY_DIR"
  chmod 700 "$ROOT$COPY_DIR"
  printf '%s\n' "$IN_COPY_KEY" | install_watched "$ROOT$COPY_DIR/id_ed25519" 0600 "$PULL_UNIT.timer"
  printf '%s\n' "$IN_KNOWN_HOSTS" | install_watched "$ROOT$COPY_DIR/known_hosts" 0644 "$PULL_UNIT.timer"
  printf '%s\n' "$IN_SSH_CONFIG" | install_watched "$ROOT$COPY_DIR/ssh_config" 0644 "$PULL_UNIT.timer"
  install_watched "$ROOT$PULL" 0755 "$PULL_UNIT.timer" <"$SCRIPT_DIR/scalelite-recordings-pull.sh"
}

install_pull_units() {
  install_unit "$PULL_UNIT.service" <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh: copy the primary front's recordings to this standby front
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=$PULL $IN_RECORDING_DIR $COPY_DIR/ssh_config
Nice=10
IOSchedulingClass=idle
EOF
  install_interval_timer "$PULL_UNIT" "bbb-ovh: copy the primary front's recordings every 5 minutes" 3min 5min
  apply_pending_units
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs RECORDING_DIR SSH_CONFIG KNOWN_HOSTS COPY_KEY
  [[ "$IN_RECORDING_DIR" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "RECORDING_DIR must be an absolute path of plain characters"
  [[ -d "$ROOT$IN_RECORDING_DIR/published" ]] || die "$IN_RECORDING_DIR/published is missing (the scaleliteSpool step makes it)"
  grep -q '^-----BEGIN OPENSSH PRIVATE KEY-----' <<<"$IN_COPY_KEY" || die "COPY_KEY_B64 is not an OpenSSH private key"
  apt_install rsync
  install_copy_files
  install_pull_units
  log "the recordings are copied from the primary front every 5 minutes (${PULL_UNIT}.timer)"
}

main "$@"
