#!/usr/bin/env bash
# Scalelite front, step 3: the recording directories and their NFS export to the BigBlueButton nodes.
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR (e.g. /mnt/scalelite-recordings/var/bigbluebutton),
# EXPORTS_B64 (the exports lines, rendered by the Pulumi program: the node addresses only).
# Layout and ownership follow Scalelite's shared-volume docs: spool, recording/scalelite, published and
# unpublished, owned by 1000:2000 (the containers' user, and the scalelite-spool group of the nodes), 0775.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

EXPORTS_FILE=/etc/exports.d/scalelite.exports
RECORDING_SUBDIRS=(spool recording recording/scalelite published unpublished)
OWNER=1000:2000
MODE=775

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: RECORDING_DIR EXPORTS_B64)"
}

ensure_nfs_server() {
  # The nfs-kernel-server package brings exportfs.
  if [[ ! -x "$ROOT/sbin/exportfs" ]]; then
    log "installing nfs-kernel-server"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nfs-kernel-server
  fi
  if ! systemctl is-active --quiet nfs-server.service; then
    systemctl enable --now nfs-server.service
  fi
}

# ensure_dir PATH: the directory exists with the owner and mode the containers and nodes expect.
ensure_dir() {
  local dir="$1"
  mkdir -p "$dir"
  [[ "$(stat -c %u:%g "$dir")" == "$OWNER" ]] || chown "$OWNER" "$dir"
  [[ "$(stat -c %a "$dir")" == "$MODE" ]] || chmod "$MODE" "$dir"
}

ensure_recording_dirs() {
  local sub
  ensure_dir "$ROOT$IN_RECORDING_DIR"
  for sub in "${RECORDING_SUBDIRS[@]}"; do
    ensure_dir "$ROOT$IN_RECORDING_DIR/$sub"
  done
}

# The pending marker makes a run killed between writing the file and exportfs re-export on its next run.
install_exports() {
  local pending="$STATE_DIR/scalelite-nfs.exportfs-pending"
  grep -q '[^[:space:]]' <<<"$IN_EXPORTS" || die "EXPORTS_B64 holds no export line"
  if [[ ! -f "$ROOT$EXPORTS_FILE" ]] || ! cmp -s "$ROOT$EXPORTS_FILE" <(printf '%s\n' "$IN_EXPORTS"); then
    mkdir -p "$STATE_DIR"
    touch "$pending"
    printf '%s\n' "$IN_EXPORTS" | install_content "$ROOT$EXPORTS_FILE" 0644 || true
  fi
  if [[ -f "$pending" ]]; then
    log "re-exporting NFS shares"
    exportfs -ra
    rm -f "$pending"
  fi
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs RECORDING_DIR EXPORTS
  [[ "$IN_RECORDING_DIR" == /* ]] || die "RECORDING_DIR must be an absolute path"
  ensure_nfs_server
  ensure_recording_dirs
  install_exports
  log "recording directories and NFS exports are up to date"
}

main "$@"
