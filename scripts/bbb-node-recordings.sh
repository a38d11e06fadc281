#!/usr/bin/env bash
# Prepares a BigBlueButton node to hand its recordings to Scalelite (Scalelite's recording docs): group
# scalelite-spool (gid 2000) with bigbluebutton in it, the front's recording share mounted over NFS
# (one /etc/fstab line, so it comes back after a reboot), Scalelite's post_publish script and its
# scalelite.yml.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SPOOL_GROUP=scalelite-spool
SPOOL_GID=2000
BBB_USER=bigbluebutton
CORE_SCRIPTS="$ROOT/usr/local/bigbluebutton/core/scripts"
FSTAB="$ROOT/etc/fstab"
NFS_OPTIONS="_netdev,nofail,hard,noatime"

usage() {
  echo "usage: bbb-node-recordings.sh < inputs   (NFS_SERVER NFS_EXPORT MOUNT_POINT SCALELITE_YML_B64 POST_PUBLISH_URL as KEY=VALUE lines)"
}

ensure_spool_group() {
  local entry gid members
  if ! entry="$(getent group "$SPOOL_GROUP")"; then
    groupadd -g "$SPOOL_GID" "$SPOOL_GROUP"
    log "created group $SPOOL_GROUP ($SPOOL_GID)"
    entry="$(getent group "$SPOOL_GROUP")"
  fi
  gid="$(cut -d: -f3 <<<"$entry")"
  [[ "$gid" == "$SPOOL_GID" ]] || die "group $SPOOL_GROUP has gid $gid; Scalelite's shared files need gid $SPOOL_GID"
  members="$(cut -d: -f4 <<<"$entry")"
  if [[ ",$members," != *",$BBB_USER,"* ]]; then
    usermod -a -G "$SPOOL_GROUP" "$BBB_USER"
    log "added $BBB_USER to $SPOOL_GROUP"
  fi
}

ensure_nfs_client() {
  [[ -x "$ROOT/sbin/mount.nfs" ]] && return 0
  log "installing nfs-common"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nfs-common >/dev/null
}

# fstab_with_mount: /etc/fstab with exactly one line for MOUNT_POINT, ours.
fstab_with_mount() {
  if [[ -f "$FSTAB" ]]; then
    awk -v mp="$IN_MOUNT_POINT" '$1 ~ /^#/ || $2 != mp' "$FSTAB"
  fi
  printf '%s:%s %s nfs %s 0 0\n' "$IN_NFS_SERVER" "$IN_NFS_EXPORT" "$IN_MOUNT_POINT" "$NFS_OPTIONS"
}

ensure_mount() {
  local dir="$ROOT$IN_MOUNT_POINT" changed=0
  # shellcheck disable=SC2094 # install_content writes a temporary file and renames it over the fstab
  if fstab_with_mount | install_content "$FSTAB" 0644; then
    changed=1
    log "/etc/fstab: $IN_NFS_SERVER:$IN_NFS_EXPORT on $IN_MOUNT_POINT"
  fi
  mkdir -p "$dir"
  if mountpoint -q "$dir"; then
    if ((changed)); then
      warn "$IN_MOUNT_POINT is mounted from an earlier fstab line; remount it (umount, mount) to use $IN_NFS_SERVER:$IN_NFS_EXPORT"
    fi
    return 0
  fi
  mount "$dir" || die "could not mount $IN_NFS_SERVER:$IN_NFS_EXPORT on $IN_MOUNT_POINT (is the front's NFS export open to this node?)"
  log "mounted $IN_NFS_SERVER:$IN_NFS_EXPORT on $IN_MOUNT_POINT"
}

install_post_publish() {
  local tmp target="$CORE_SCRIPTS/post_publish/scalelite_post_publish.rb"
  mkdir -p "$STATE_DIR"
  tmp="$(mktemp "$STATE_DIR/post_publish.download.XXXXXX")"
  if ! curl -fsSL --retry 3 -o "$tmp" "$IN_POST_PUBLISH_URL"; then
    rm -f "$tmp"
    die "could not download the post_publish script from $IN_POST_PUBLISH_URL"
  fi
  if install_content "$target" 0644 <"$tmp"; then
    log "installed ${target#"$ROOT"}"
  fi
  rm -f "$tmp"
  if printf '%s\n' "$IN_SCALELITE_YML" | install_content "$CORE_SCRIPTS/scalelite.yml" 0644; then
    log "installed ${CORE_SCRIPTS#"$ROOT"}/scalelite.yml"
  fi
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    return 0
  fi
  read_inputs
  require_inputs NFS_SERVER NFS_EXPORT MOUNT_POINT SCALELITE_YML POST_PUBLISH_URL
  [[ "$IN_MOUNT_POINT" == /* && "$IN_NFS_EXPORT" == /* ]] || die "MOUNT_POINT and NFS_EXPORT must be absolute paths"
  [[ -d "$CORE_SCRIPTS" ]] || die "${CORE_SCRIPTS#"$ROOT"} is missing: BigBlueButton is not installed (run bbb-node-install first)"

  ensure_spool_group
  ensure_nfs_client
  ensure_mount
  install_post_publish
  log "recordings of this node go to $IN_NFS_SERVER:$IN_NFS_EXPORT"
}

main "$@"
