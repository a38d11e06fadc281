#!/usr/bin/env bash
# Both fronts of a campus with a standby front (campus.standbyFront): whichever is the standby keeps a copy
# of the serving front's recordings, so that `ops failover` serves them too and `ops failback` loses none
# published meanwhile. Installs this front's copy key, the other front's pinned host key and the ssh_config
# its rsync uses, the pull command (scalelite-recordings-pull.sh as /usr/local/sbin/bbb-ovh-recordings-pull,
# which copies only while this front is the standby), and bbb-ovh-recordings-pull.timer, which runs it
# every 5 minutes (the standby's recordings are at most that much, plus one copy's duration, behind the
# serving front's; `ops status` shows by how much).
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR, SSH_CONFIG_B64 (rendered by the Pulumi program: the other
# front's address and SSH port, this key, the pinned host key), KNOWN_HOSTS_B64, COPY_KEY_B64 (secret: this
# front's key, which the other front accepts read-only, from this front's address only).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(RECORDING_DIR SSH_CONFIG_B64 KNOWN_HOSTS_B64 COPY_KEY_B64)
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"

COPY_DIR=/etc/bbb-ovh/recordings-copy
PULL=/usr/local/sbin/bbb-ovh-recordings-pull
PULL_UNIT=bbb-ovh-recordings-pull

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
Description=bbb-ovh: copy the serving front's recordings while this front is the standby
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=$PULL $IN_RECORDING_DIR $COPY_DIR/ssh_config
Nice=10
IOSchedulingClass=idle
EOF
  install_interval_timer "$PULL_UNIT" "bbb-ovh: copy the serving front's recordings every 5 minutes" 3min 5min
  apply_pending_units
}

main() {
  [[ "$IN_RECORDING_DIR" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "RECORDING_DIR must be an absolute path of plain characters"
  [[ -d "$ROOT$IN_RECORDING_DIR/published" ]] || die "$IN_RECORDING_DIR/published is missing (the scaleliteSpool step makes it)"
  grep -q '^-----BEGIN OPENSSH PRIVATE KEY-----' <<<"$IN_COPY_KEY" || die "COPY_KEY_B64 is not an OpenSSH private key"
  apt_install rsync
  install_copy_files
  install_pull_units
  log "while this front is the standby, the serving front's recordings are copied every 5 minutes (${PULL_UNIT}.timer)"
}

run_step "$@"
