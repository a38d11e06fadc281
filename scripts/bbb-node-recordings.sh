#!/usr/bin/env bash
# Prepares a BigBlueButton node to hand its recordings to Scalelite by rsync over SSH (Scalelite's
# bigbluebutton/README.md, "Transfer using rsync over SSH"): the node's transfer key, the front's pinned
# host key and the ssh_config the post_publish script's rsync uses (--rsh=ssh -F, set in scalelite.yml),
# scalelite.yml, and Scalelite's post_publish script from a pinned commit, checked against its sha256.
#
# A node that mounted the front's recordings over NFS (our former setup) unmounts that share and drops
# our /etc/fstab line; nothing under the mount point is deleted (the recordings live on the front).
#
# A recording the post_publish script could not send stays on the node (the script deletes it only after
# rsync succeeded); bbb-ovh-recording-retry.timer runs bbb-node-recording-retry.sh every 10 minutes, which
# runs that script again for each such recording, with a backoff, and reports the backlog to the front.
#
# A delivered recording is deleted by that script (delete_recording), and an archive the serving front had
# not yet imported when its site burned would be lost: post_publish/bbb_ovh_keep.rb, which BigBlueButton
# runs just before Scalelite's script, keeps a copy of each archive for KEEP_HOURS and at most KEEP_BYTES
# (bbb-node-recording-keep.sh, oldest first), which `ops failover` has the node send again to the new front.
# ops failover / failback point the transfer at the front that serves and mark it (front-by-ops): this step
# keeps that front over the stack's until the stack names it too.
#
# bbb-rap-resque-worker runs the post_publish scripts (as the bigbluebutton user). A running process keeps
# the credentials it started with (credentials(7): supplementary groups are inherited at fork/exec and
# not re-read), and a worker started while the NFS share was mounted may hold files there: when this
# step changes what the worker uses, it restarts the worker, and only then.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(SSH_CONFIG_B64 KNOWN_HOSTS_B64 TRANSFER_KEY_B64 SCALELITE_YML_B64 POST_PUBLISH_URL POST_PUBLISH_SHA256 KEEP_BYTES KEEP_HOURS)

BBB_USER=bigbluebutton
CORE_SCRIPTS="$ROOT/usr/local/bigbluebutton/core/scripts"
TRANSFER_DIR="$ROOT/etc/bbb-ovh/recording-transfer"
# Written by `ops failover` / `ops failback` when they point the transfer at the front that serves
# ("ADDRESS PORT", cli/ops/recordingsResend.ts).
OPS_FRONT="$TRANSFER_DIR/front-by-ops"
FSTAB="$ROOT/etc/fstab"
LEGACY_MOUNT=/mnt/scalelite-recordings/var/bigbluebutton
WORKER="bbb-rap-resque-worker.service"
RESTART_PENDING="$STATE_DIR/bbb-node-recordings.restart-worker"
# Seconds to wait for a look at, or an unmount of, the former NFS mount (see remove_legacy_nfs_mount).
MOUNT_TIMEOUT="${MOUNT_TIMEOUT:-20}"

# The worker must be restarted (now or, after a kill, on the next run) because of a change it uses.
worker_needs_restart() {
  mkdir -p "$STATE_DIR"
  touch "$RESTART_PENDING"
}

# ids_of USER: "uid:gid" of USER.
ids_of() {
  local entry uid gid
  entry="$(getent passwd "$1")" || die "user $1 does not exist: BigBlueButton is not installed (run bbb-node-install first)"
  IFS=: read -r _ _ uid gid _ <<<"$entry"
  printf '%s:%s' "$uid" "$gid"
}

# put PATH MODE OWNER (content on stdin): installs it. A change means the worker must be restarted,
# which is recorded before the change, so that a run killed in between still restarts it next time.
put() {
  local path="$1" mode="$2" owner="$3" content
  read_text content "${path#"$ROOT"}"
  if has_content "$path" "$content" && [[ "$(stat -c %u:%g "$path")" == "$owner" ]]; then
    chmod "$mode" "$path"
    return 0
  fi
  worker_needs_restart
  if install_text "$path" "$mode" "$content" "$owner"; then
    log "installed ${path#"$ROOT"}"
  fi
  [[ "$(stat -c %u:%g "$path")" == "$owner" ]] || chown "$owner" "$path"
}

install_transfer_files() {
  local bbb ops_front address port
  bbb="$(ids_of "$BBB_USER")"
  # root-owned, entered by the bigbluebutton group only; the key itself is the bigbluebutton user's.
  ensure_dir "$TRANSFER_DIR" "0:${bbb#*:}" 750
  printf '%s\n' "$IN_TRANSFER_KEY" | put "$TRANSFER_DIR/id_ed25519" 0600 "$bbb"
  ops_front="$(kept_ops_front)"
  if [[ -n "$ops_front" ]]; then
    read -r address port <<<"$ops_front"
    warn "ops failover pointed the recordings transfer at $address:$port (${OPS_FRONT#"$ROOT"}): kept over the stack's front; \`ops failback\` points it back"
    printf '%s\n' "$IN_SSH_CONFIG" | sed -e "s/^  HostName .*/  HostName $address/" -e "s/^  Port .*/  Port $port/" |
      put "$TRANSFER_DIR/ssh_config" 0644 0:0
    return 0
  fi
  printf '%s\n' "$IN_KNOWN_HOSTS" | put "$TRANSFER_DIR/known_hosts" 0644 0:0
  printf '%s\n' "$IN_SSH_CONFIG" | put "$TRANSFER_DIR/ssh_config" 0644 0:0
}

# kept_ops_front: prints "ADDRESS PORT" when ops pointed the transfer at another front than the stack
# names, which is then kept (its address and port over the stack's, the host key ops pinned): a `pulumi up`
# between a failover and its failback must not send recordings to the fenced or burned front. Once the
# stack names that front (after the failback, or campus.servingFront naming the standby front), the mark goes.
kept_ops_front() {
  local address port
  [[ -f "$OPS_FRONT" ]] || return 0
  read -r address port <"$OPS_FRONT" || true
  [[ "$address" =~ ^[0-9.]+$ && "$port" =~ ^[0-9]+$ ]] || die "$OPS_FRONT should hold 'ADDRESS PORT', not '$(head -c 80 "$OPS_FRONT")'"
  if grep -qx "  HostName $address" <<<"$IN_SSH_CONFIG" && grep -qx "  Port $port" <<<"$IN_SSH_CONFIG"; then
    rm -f "$OPS_FRONT"
  else
    printf '%s %s\n' "$address" "$port"
  fi
}

# install_post_publish: downloads the pinned script only when the installed one is not that file.
install_post_publish() {
  local tmp actual target="$CORE_SCRIPTS/post_publish/scalelite_post_publish.rb"
  if [[ -f "$target" ]] && [[ "$(sha256sum <"$target" | cut -d' ' -f1)" == "$IN_POST_PUBLISH_SHA256" ]]; then
    return 0
  fi
  mkdir -p "$STATE_DIR"
  tmp="$(mktemp "$STATE_DIR/post_publish.download.XXXXXX")"
  if ! curl -fsSL --retry 3 -o "$tmp" "$IN_POST_PUBLISH_URL"; then
    rm -f "$tmp"
    die "could not download the post_publish script from $IN_POST_PUBLISH_URL"
  fi
  actual="$(sha256sum <"$tmp" | cut -d' ' -f1)"
  if [[ "$actual" != "$IN_POST_PUBLISH_SHA256" ]]; then
    rm -f "$tmp"
    die "the post_publish script from $IN_POST_PUBLISH_URL has sha256 $actual, not the pinned $IN_POST_PUBLISH_SHA256; not installed"
  fi
  install_content "$target" 0644 <"$tmp" || true
  rm -f "$tmp"
  log "installed ${target#"$ROOT"} (sha256 $actual)"
}

install_scalelite_yml() {
  if install_text "$CORE_SCRIPTS/scalelite.yml" 0644 "$IN_SCALELITE_YML"$'\n'; then
    log "installed ${CORE_SCRIPTS#"$ROOT"}/scalelite.yml"
  fi
}

# Our former NFS client setup: one fstab line for LEGACY_MOUNT, the share mounted there (hard, nfs(5)).
# Unmounting never deletes files. Anything that touches a hard NFS mount whose server no longer answers
# (the front may already stop exporting it, or its firewall close 2049) blocks, so: mountpoint and umount
# run under `timeout -s KILL` (hard NFS waits are killable), umount never canonicalizes the path (-c,
# umount(8)), and a mount that hangs or is busy is detached lazily (umount -l), so the step cannot hang.
# in_mount_table DIR: DIR is a mount point in /proc/self/mountinfo (proc(5): field 5 is the mount point).
in_mount_table() {
  awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' "$ROOT/proc/self/mountinfo" 2>/dev/null
}

remove_legacy_nfs_mount() {
  local dir="$ROOT$LEGACY_MOUNT" status=0
  if [[ -f "$FSTAB" ]] && awk -v mp="$LEGACY_MOUNT" '$1 !~ /^#/ && $2 == mp && $3 ~ /^nfs/ { found = 1 } END { exit !found }' "$FSTAB"; then
    worker_needs_restart
    # shellcheck disable=SC2094 # install_content writes a temporary file and renames it over the fstab
    awk -v mp="$LEGACY_MOUNT" '!($1 !~ /^#/ && $2 == mp && $3 ~ /^nfs/)' "$FSTAB" | install_content "$FSTAB" 0644 || true
    log "/etc/fstab: removed our NFS line for $LEGACY_MOUNT"
  fi
  timeout -s KILL "$MOUNT_TIMEOUT" mountpoint -q "$dir" 2>/dev/null || status=$?
  # mountpoint(1): 32 = not a mount point. 1 = it could not stat the directory, as with an NFS export
  # withdrawn under it (ESTALE): the kernel's mount table, which needs no stat, says whether it is mounted.
  if ((status == 32)) || { ((status == 1)) && ! in_mount_table "$LEGACY_MOUNT"; }; then
    return 0
  fi
  worker_needs_restart
  if ((status != 0)); then
    warn "$LEGACY_MOUNT does not answer (its NFS server is gone); detaching it lazily (umount -l)"
    umount -l -c "$dir"
  elif ! timeout -s KILL "$MOUNT_TIMEOUT" umount -c "$dir"; then
    warn "$LEGACY_MOUNT is busy or does not answer; detaching it lazily (umount -l)"
    umount -l -c "$dir"
  fi
  log "unmounted the front's NFS share from $LEGACY_MOUNT (recordings now go by rsync over SSH)"
}

RETRY=/usr/local/sbin/bbb-ovh-recording-retry
RETRY_LIB=/usr/local/lib/bbb-ovh/recording_status.sh
RETRY_UNIT="bbb-ovh-recording-retry"
KEEP=/usr/local/sbin/bbb-ovh-recording-keep
KEPT_DIR=/var/bigbluebutton/bbb-ovh-kept

# The retry timer: only the timer is started here; its service runs as the bigbluebutton user, which owns
# the transfer key, with a state directory of its own (systemd.exec(5), StateDirectory=).
install_retry_timer() {
  # The library first: a timer run between the two finds the one the script it runs sources.
  install_watched "$ROOT$RETRY_LIB" 0644 "$RETRY_UNIT.timer" <"$(dirname "${BASH_SOURCE[0]}")/lib/recording_status.sh"
  install_watched "$ROOT$RETRY" 0755 "$RETRY_UNIT.timer" <"$(dirname "${BASH_SOURCE[0]}")/bbb-node-recording-retry.sh"
  install_watched "$UNIT_DIR/$RETRY_UNIT.service" 0644 "$RETRY_UNIT.timer" <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh: send again the recordings that have not reached the Scalelite front
After=network-online.target

[Service]
Type=oneshot
User=$BBB_USER
StateDirectory=$RETRY_UNIT
ExecStart=$KEEP prune $IN_KEEP_BYTES $IN_KEEP_HOURS
ExecStart=$RETRY
Nice=10
EOF
  install_interval_timer "$RETRY_UNIT" "bbb-ovh: recordings not yet on the Scalelite front, every 10 minutes" 5min 10min
  apply_pending_units
}

# The copies of delivered archives (bbb-node-recording-keep.sh): the script, the directory it keeps them in
# (the bigbluebutton user's, beside BigBlueButton's own recordings), and the post_publish hook that makes
# each copy. BigBlueButton runs post_publish/*.rb in sorted order, so bbb_ovh_keep.rb runs before
# scalelite_post_publish.rb deletes the recording; it never fails the publication (a copy is a spare).
install_keep() {
  local bbb
  bbb="$(ids_of "$BBB_USER")"
  install_watched "$ROOT$KEEP" 0755 "$RETRY_UNIT.timer" <"$(dirname "${BASH_SOURCE[0]}")/bbb-node-recording-keep.sh"
  ensure_dir "$ROOT$KEPT_DIR" "$bbb" 750
  if install_content "$CORE_SCRIPTS/post_publish/bbb_ovh_keep.rb" 0644 <<EOF; then
# Written by bbb-ovh ($STEP_NAME): keeps a copy of this recording's archive before
# scalelite_post_publish.rb sends it and deletes the recording (docs/recordings.md, "Copies kept on the node").
require 'optparse'
meeting_id = nil
OptionParser.new do |opts|
  opts.on('-m', '--meeting-id MEETING_ID') { |v| meeting_id = v }
  opts.on('-f', '--format FORMAT') { |_v| nil }
end.parse!
exit(0) unless meeting_id
system('$ROOT$KEEP', 'keep', meeting_id, '$IN_KEEP_BYTES', '$IN_KEEP_HOURS') || warn("bbb-ovh: no copy kept of #{meeting_id}")
exit(0)
EOF
    log "installed ${CORE_SCRIPTS#"$ROOT"}/post_publish/bbb_ovh_keep.rb"
  fi
}

restart_worker_if_needed() {
  [[ -f "$RESTART_PENDING" ]] || return 0
  if systemctl is-active --quiet "$WORKER"; then
    log "restarting $WORKER so that it runs with the new transfer setup"
    systemctl restart "$WORKER"
  fi
  rm -f "$RESTART_PENDING"
}

main() {
  [[ "$IN_KEEP_BYTES" =~ ^[0-9]+$ && "$IN_KEEP_HOURS" =~ ^[0-9]+$ ]] || die "KEEP_BYTES and KEEP_HOURS must be whole numbers"
  [[ "$IN_POST_PUBLISH_SHA256" =~ ^[0-9a-f]{64}$ ]] || die "POST_PUBLISH_SHA256 must be 64 lowercase hex digits"
  [[ "$IN_POST_PUBLISH_URL" =~ ^https://[^/]+/.*/[0-9a-f]{40}/ ]] || die "POST_PUBLISH_URL must name a commit (40 hex digits), not a tag or branch"
  [[ -d "$CORE_SCRIPTS" ]] || die "${CORE_SCRIPTS#"$ROOT"} is missing: BigBlueButton is not installed (run bbb-node-install first)"

  # Ubuntu server has both; the transfer cannot work without them.
  apt_install rsync openssh-client
  install_transfer_files
  install_post_publish
  install_scalelite_yml
  install_keep
  install_retry_timer
  remove_legacy_nfs_mount
  restart_worker_if_needed
  log "recordings of this node go to the Scalelite front by rsync over SSH"
}

run_step "$@"
