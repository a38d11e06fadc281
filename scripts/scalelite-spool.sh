#!/usr/bin/env bash
# Scalelite front, step 3: the recording directories, and the spool the BigBlueButton nodes send their
# recordings to by rsync over SSH (Scalelite's bigbluebutton/README.md, "Transfer using rsync over SSH").
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR (e.g. /mnt/scalelite-recordings/var/bigbluebutton),
# AUTHORIZED_KEYS_B64 (rendered by the Pulumi program: one line per node, usable only from that node's
# addresses and only through the spool receiver into that node's own incoming/<node>), SENDERS (the node
# names, space-separated), RESERVE_BYTES (free space the mover keeps on the recording filesystem).
# Each node writes into its own incoming/<node> (owned by the transfer user, 0700, inside incoming/,
# root:scalelite-spool 0750); the mover (scalelite-recording-mover.sh, root, a path unit and a timer)
# checks what arrives and hands it to the spool, or moves it to refused/<node>/ (root, 0700) with its reason.
# Layout and ownership follow Scalelite's shared-volume docs: spool, recording/scalelite, published and
# unpublished, owned 1000:2000 (the containers' user; gid 2000 is the scalelite-spool group), 0775.
# The transfer user scalelite-spool has gid 2000 as its group, so it can write into the spool and
# nowhere else that matters; its home and authorized_keys belong to root, so it cannot change its keys.
# A front that exported the recordings over NFS (our former scalelite-nfs step) stops exporting them:
# our exports file goes, the recordings stay where they are.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(RECORDING_DIR AUTHORIZED_KEYS_B64 SENDERS RESERVE_BYTES)
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"

RECORDING_SUBDIRS=(spool recording recording/scalelite published unpublished)
OWNER=1000:2000
MODE=775
SPOOL_GROUP=scalelite-spool
SPOOL_GID=2000
TRANSFER_USER=scalelite-spool
TRANSFER_HOME=/var/lib/scalelite-spool
# Debian and Ubuntu's rsync package installs rrsync here (Debian since 3.1.3-8; jammy ships 3.2.x).
RRSYNC=/usr/bin/rrsync
LEGACY_EXPORTS=/etc/exports.d/scalelite.exports
LIB_DIR=/usr/local/lib/bbb-ovh
RECEIVER=$LIB_DIR/spool-receive
MOVER=/usr/local/sbin/bbb-ovh-recording-mover
MOVER_UNIT=bbb-ovh-recording-mover
NODE_NAME='^[a-z0-9][a-z0-9.-]*$'

ensure_rrsync() {
  apt_install rsync
  [[ -x "$ROOT$RRSYNC" ]] || die "$RRSYNC is missing although rsync is installed; the spool needs rrsync (rsync's restricted mode)"
}

ensure_spool_group() {
  local entry gid
  if ! entry="$(getent group "$SPOOL_GROUP")"; then
    groupadd -g "$SPOOL_GID" "$SPOOL_GROUP"
    log "created group $SPOOL_GROUP ($SPOOL_GID)"
    entry="$(getent group "$SPOOL_GROUP")"
  fi
  gid="$(cut -d: -f3 <<<"$entry")"
  [[ "$gid" == "$SPOOL_GID" ]] || die "group $SPOOL_GROUP has gid $gid; Scalelite's recording directories need gid $SPOOL_GID"
}

# The transfer user: a system account with a shell (sshd runs the forced command through it) and the
# password field '*' (no password, but not "locked", which sshd refuses without PAM).
ensure_transfer_user() {
  local entry home
  if ! entry="$(getent passwd "$TRANSFER_USER")"; then
    useradd --system --gid "$SPOOL_GROUP" --home-dir "$TRANSFER_HOME" --no-create-home --shell /bin/sh --password '*' "$TRANSFER_USER"
    log "created user $TRANSFER_USER"
    entry="$(getent passwd "$TRANSFER_USER")"
  fi
  home="$(cut -d: -f6 <<<"$entry")"
  [[ "$home" == "$TRANSFER_HOME" ]] || die "a user $TRANSFER_USER already exists with home $home; it is not ours (expected $TRANSFER_HOME)"
}

ensure_recording_dirs() {
  local sub
  ensure_dir "$ROOT$IN_RECORDING_DIR" "$OWNER" "$MODE"
  for sub in "${RECORDING_SUBDIRS[@]}"; do
    ensure_dir "$ROOT$IN_RECORDING_DIR/$sub" "$OWNER" "$MODE"
  done
}

# The node targets: incoming/ entered by the transfer user's group only, one directory per node that only
# the transfer user (and root) can enter. A removed node's directory stays until the mover emptied it.
ensure_sender_dirs() {
  local ids node
  ids="$(getent passwd "$TRANSFER_USER" | cut -d: -f3,4)"
  ensure_dir "$ROOT$IN_RECORDING_DIR/incoming" "0:$SPOOL_GID" 750
  ensure_dir "$ROOT$IN_RECORDING_DIR/refused" 0:0 700
  for node in $IN_SENDERS; do
    ensure_dir "$ROOT$IN_RECORDING_DIR/incoming/$node" "$ids" 700
  done
}

# The receiver (every key's forced command), the archive check and the mover: root's, writable by no one else.
install_programs() {
  install_content "$ROOT$RECEIVER" 0755 0:0 <"$SCRIPT_DIR/scalelite-spool-receive.sh" || true
  install_content "$ROOT$LIB_DIR/recording_archive_check.py" 0644 0:0 <"$SCRIPT_DIR/lib/recording_archive_check.py" || true
  install_watched "$ROOT$MOVER" 0755 "$MOVER_UNIT.path" "$MOVER_UNIT.timer" <"$SCRIPT_DIR/scalelite-recording-mover.sh"
}

# The mover runs when a node directory changes (PathChanged: a file closed after writing, or renamed into
# it, systemd.path(5)) and every 5 minutes anyway (an archive held for lack of space, a missed event).
install_mover_units() {
  local node paths=""
  for node in $IN_SENDERS; do
    paths+="PathChanged=$IN_RECORDING_DIR/incoming/$node"$'\n'
  done
  install_watched "$UNIT_DIR/$MOVER_UNIT.service" 0644 "$MOVER_UNIT.path" "$MOVER_UNIT.timer" <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh: check the recordings the nodes sent and hand them to Scalelite's importer

[Service]
Type=oneshot
ExecStart=$MOVER $IN_RECORDING_DIR $IN_RESERVE_BYTES
Nice=10
EOF
  install_unit "$MOVER_UNIT.path" <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh: run the recording mover when a node sent something

[Path]
${paths}Unit=$MOVER_UNIT.service

[Install]
WantedBy=paths.target
EOF
  install_interval_timer "$MOVER_UNIT" "bbb-ovh: run the recording mover every 5 minutes" 2min 5min
  apply_pending_units
}

install_authorized_keys() {
  grep -q '^from="[^"]*",restrict,command="' <<<"$IN_AUTHORIZED_KEYS" || die "AUTHORIZED_KEYS_B64 holds no restricted key line"
  ensure_dir "$ROOT$TRANSFER_HOME" 0:0 755
  ensure_dir "$ROOT$TRANSFER_HOME/.ssh" 0:0 755
  if install_text "$ROOT$TRANSFER_HOME/.ssh/authorized_keys" 0644 "$IN_AUTHORIZED_KEYS"$'\n' 0:0; then
    log "the spool accepts $(grep -c . <<<"$IN_AUTHORIZED_KEYS") node key(s)"
  fi
}

# A run killed between removing the file and exportfs re-exports on its next run (the pending marker).
stop_legacy_nfs_export() {
  local pending="$STATE_DIR/scalelite-spool.unexport-pending"
  if [[ -f "$ROOT$LEGACY_EXPORTS" ]]; then
    mkdir -p "$STATE_DIR"
    touch "$pending"
    rm -f "$ROOT$LEGACY_EXPORTS"
    log "removed our NFS export ${LEGACY_EXPORTS}; the recordings stay in $IN_RECORDING_DIR"
  fi
  if [[ -f "$pending" ]]; then
    if command -v exportfs >/dev/null; then
      exportfs -ra
      log "the recordings are no longer exported over NFS"
    fi
    rm -f "$pending"
  fi
}

main() {
  [[ "$IN_RECORDING_DIR" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "RECORDING_DIR must be an absolute path of plain characters"
  [[ "$IN_RESERVE_BYTES" =~ ^[0-9]+$ ]] || die "RESERVE_BYTES must be a number of bytes"
  local node
  for node in $IN_SENDERS; do
    [[ "$node" =~ $NODE_NAME ]] || die "SENDERS: '$node' is not a node name (lowercase letters, digits, '.' or '-')"
  done
  ensure_rrsync
  ensure_spool_group
  ensure_transfer_user
  ensure_recording_dirs
  ensure_sender_dirs
  install_programs
  install_mover_units
  install_authorized_keys
  stop_legacy_nfs_export
  log "recording directories and the spool for the nodes are up to date"
}

run_step "$@"
