#!/usr/bin/env bash
# Systemd units and the files they read, for the steps that install units. Sourced after common.sh.
#
# A changed file queues its units in $STATE_DIR/<step>.pending-units *before* it is replaced, and the
# queue is emptied only after systemd has reloaded and restarted them: a step killed in between
# restarts them on its next run instead of leaving the old version running. Unchanged files queue
# nothing, so a second run restarts nothing.

UNIT_DIR="$ROOT/etc/systemd/system"
PENDING_UNITS="$STATE_DIR/$STEP_NAME.pending-units"

# queue_restart UNIT...: remembers that UNIT... must be (re)started.
queue_restart() {
  [[ -d "$STATE_DIR" ]] || mkdir -p "$STATE_DIR"
  printf '%s\n' "$@" >>"$PENDING_UNITS"
}

# install_watched PATH MODE UNIT...: writes stdin (text) to PATH (mode MODE) when it differs, queuing UNIT...
# Compared in the shell: a run that changes nothing starts one process here (chmod), not five.
install_watched() {
  local path="$1" mode="$2" content
  shift 2
  read_text content "${path#"$ROOT"}"
  if has_content "$path" "$content"; then
    chmod "$mode" "$path"
    return 0
  fi
  queue_restart "$@"
  install_text "$path" "$mode" "$content" || true
}

# install_unit NAME: writes the unit NAME (stdin) and queues it when it changed.
install_unit() {
  install_watched "$UNIT_DIR/$1" 0644 "$1"
}

# install_boot_unit NAME: writes the unit NAME (stdin); when it changed, systemd reloads it and enables
# it, never starting it: for a unit whose work the step itself has just done (the firewall's load).
install_boot_unit() {
  install_watched "$UNIT_DIR/$1" 0644 "enable-only:$1"
}

# install_interval_timer NAME DESCRIPTION BOOT_DELAY INTERVAL: the timer NAME.timer that starts
# NAME.service BOOT_DELAY after boot and then INTERVAL after each run (systemd.timer(5)), queued when changed.
install_interval_timer() {
  install_unit "$1.timer" <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=$2

[Timer]
OnBootSec=$3
OnUnitActiveSec=$4
Unit=$1.service

[Install]
WantedBy=timers.target
EOF
}

# apply_pending_units: daemon-reload, then enable and (re)start each queued unit once, in queue order
# (enable only, for those queued by install_boot_unit).
apply_pending_units() {
  [[ -s "$PENDING_UNITS" ]] || return 0
  local unit
  systemctl daemon-reload
  while read -r unit; do
    if [[ "$unit" == enable-only:* ]]; then
      systemctl enable "${unit#enable-only:}"
      continue
    fi
    systemctl enable "$unit"
    if [[ "$unit" == *.service ]]; then
      log "restarting $unit"
      systemctl restart "$unit"
    else
      systemctl start "$unit"
    fi
  done < <(awk '!seen[$0]++' "$PENDING_UNITS")
  rm -f "$PENDING_UNITS"
}

# render_container_unit NAME DESCRIPTION IMAGE WANTED_BY REQUIRES RUN_OPTIONS [COMMAND [STOP_TIMEOUT]]:
# prints a unit that runs IMAGE as container NAME on the scalelite network (on CONTAINER_NETWORK when set:
# `host` for a container that reaches the host's loopback services). REQUIRES lists the units it
# needs besides docker (after:UNIT: only starts after UNIT); a unit wanted by scalelite.target is also
# part of it, so that the target starts and stops it. STOP_TIMEOUT (seconds) is how long `docker stop` waits before killing the container;
# systemd then waits 20 s more before killing docker stop.
render_container_unit() {
  local name="$1" description="$2" image="$3" wanted_by="$4" requires="$5" options="$6" command="${7:-}" stop_timeout="${8:-}"
  local needs="docker.service" after="" unit
  for unit in $requires; do
    if [[ "$unit" == after:* ]]; then after+=" ${unit#after:}"; else needs+=" $unit"; fi
  done
  printf '%s\n' \
    "# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment." \
    "[Unit]" \
    "Description=$description" \
    "Requires=$needs" \
    "After=$needs$after network-online.target" \
    "Wants=network-online.target"
  [[ "$wanted_by" == "scalelite.target" ]] && printf '%s\n' "Before=scalelite.target" "PartOf=scalelite.target"
  printf '\n[Service]\n'
  if [[ -n "$stop_timeout" ]]; then
    echo "TimeoutStopSec=$((stop_timeout + 20))"
    options="--stop-timeout=$stop_timeout $options"
  fi
  # A restart pulls nothing when the image is here. It is pulled by digest alone (name@sha256:...), the
  # form `docker pull NAME[:TAG|@DIGEST]` documents; `docker run` takes name:tag@sha256:... and resolves
  # the digest only (moby v20.10.20 release notes), which keeps the tag readable in the unit.
  local pull="$image"
  [[ "$image" == *@sha256:* ]] && pull="${image%%:*}@${image#*@}"
  printf '%s\n' \
    "ExecStartPre=/bin/sh -c 'docker image inspect $pull >/dev/null 2>&1 || docker pull $pull'" \
    "ExecStartPre=-/usr/bin/docker rm -f $name" \
    "ExecStart=/usr/bin/docker run --rm --name $name --network ${CONTAINER_NETWORK:-scalelite} --log-opt max-size=10m --log-opt max-file=5 $options $image${command:+ $command}" \
    "ExecStop=/usr/bin/docker stop $name" \
    "Restart=always" \
    "RestartSec=5" \
    "" \
    "[Install]" \
    "WantedBy=$wanted_by"
}

# Images by digest. IMAGE_PINS (optional input) lists `name:tag@sha256:<hex>` for the images whose digest
# the deployment knows (components/scalelite/images.ts); such an image runs by digest, never by tag alone.
# Every other image is locked on first use, as an SSH client records a host key: its digest (the one the
# registry gave when it was pulled) goes into IMAGE_LOCK, and from then on the units run it by that digest
# and no step resolves its tag again, so a tag re-pushed upstream (or postgres:16 moving to 16.x+1) never
# changes a running front. Taking a newer image is deliberate: delete its line, or pin it (docs/front.md).

IMAGE_LOCK="$STATE_DIR/image-lock"
IMAGE_LOCK_LINE='^[a-z0-9][a-z0-9./_-]*:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$'
IMAGE_LOCK_TIMEOUT="${IMAGE_LOCK_TIMEOUT:-300}"
LOCKED_IMAGE=""

# check_pins: every IMAGE_PINS entry is name:tag@sha256:<64 hex>.
check_pins() {
  local pin
  for pin in ${IN_IMAGE_PINS:-}; do
    [[ "$pin" == *@sha256:* ]] || die "IMAGE_PINS entry '$pin' has no @sha256: digest"
    check_image "$pin"
  done
}

# pinned_image NAME:TAG: NAME:TAG@sha256:... when IMAGE_PINS has it, else NAME:TAG.
pinned_image() {
  local pin
  for pin in ${IN_IMAGE_PINS:-}; do
    [[ "${pin%@*}" == "$1" ]] && { printf '%s' "$pin"; return 0; }
  done
  printf '%s' "$1"
}

# check_image REF: REF is name:tag[@sha256:<64 hex>], with the digest IMAGE_PINS gives its name:tag.
check_image() {
  local ref="$1" pinned
  [[ "$ref" =~ ^[a-z0-9][a-z0-9./_-]*:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?$ ]] ||
    die "image '$ref' is not name:tag or name:tag@sha256:<64 hex digits>"
  pinned="$(pinned_image "${ref%@*}")"
  [[ "$pinned" == "${ref%@*}" || "$pinned" == "$ref" ]] ||
    die "image '$ref' must be ${pinned} (its digest is pinned)"
}

# locked_digest NAME:TAG: the lock's NAME:TAG@sha256:... line, or nothing. A line that is not one
# whole entry stops the step rather than being taken for no lock (which would resolve the tag again).
locked_digest() {
  [[ -f "$IMAGE_LOCK" ]] || return 0
  local line n=0
  while IFS= read -r line; do
    n=$((n + 1))
    [[ -z "$line" || "$line" == \#* ]] && continue
    [[ "$line" =~ $IMAGE_LOCK_LINE ]] ||
      die "${IMAGE_LOCK#"$ROOT"} line $n is not name:tag@sha256:<64 hex digits>: correct or delete it"
    [[ "${line%@*}" == "$1" ]] && printf '%s' "$line"
  done <"$IMAGE_LOCK"
  return 0
}

# record_lock NAME:TAG@sha256:...: replaces NAME:TAG's line of the lock, atomically (a whole new file
# renamed over the old one) and under a flock, since both front steps record into it.
record_lock() {
  local ref="$1"
  mkdir -p "$STATE_DIR"
  (
    flock -w "$IMAGE_LOCK_TIMEOUT" 9 || die "another step held ${IMAGE_LOCK#"$ROOT"}.flock for more than $IMAGE_LOCK_TIMEOUT s"
    {
      printf '%s\n' "# Images of this front by digest, written by bbb-ovh. Delete a line to take its tag's current image" \
        "# on the next deployment (docs/front.md, Images by digest)."
      { [[ -f "$IMAGE_LOCK" ]] && grep -v '^#' "$IMAGE_LOCK" | awk -v key="${ref%@*}@" 'NF && index($0, key) != 1'; printf '%s\n' "$ref"; } |
        LC_ALL=C sort
    } | install_content "$IMAGE_LOCK" 0644 || true
  ) 9>>"$IMAGE_LOCK.flock"
}

# repo_digest NAME:TAG: the digest docker recorded for the local NAME:TAG when it was pulled from NAME's
# repository (RepoDigests holds NAME@sha256:..., one per repository the image came from), or nothing.
repo_digest() {
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" 2>/dev/null |
    awk -v repo="${1%:*}@" 'index($0, repo) == 1 && !found { print substr($0, length(repo) + 1); found = 1 }' || true
}

# registry_digest NAME:TAG: pulls NAME:TAG and prints the digest the registry gave for it.
registry_digest() {
  local image="$1" digest
  log "pulling $image to lock its digest" >&2
  docker pull "$image" >/dev/null || die "docker pull $image failed"
  digest="$(repo_digest "$image")"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "docker gives no registry digest for $image (RepoDigests of docker image inspect)"
  printf '%s' "$digest"
}

# lock_image REF: sets LOCKED_IMAGE to the name:tag@sha256:... the units run for REF (checked with
# check_image). An explicit digest (REF's own, or IMAGE_PINS's) wins and replaces a lock line that
# disagrees; otherwise the lock's line; otherwise the registry's digest, recorded in the lock.
lock_image() {
  local ref pinned locked
  ref="$(pinned_image "${1%@*}")"
  [[ "$1" == *@* ]] && ref="$1"
  locked="$(locked_digest "${ref%@*}")"
  if [[ "$ref" == *@* ]]; then
    if [[ -n "$locked" && "$locked" != "$ref" ]]; then
      warn "image ${ref%@*}: the lock had ${locked#*@}, now pinned to ${ref#*@}: recording the pin"
    fi
    [[ "$locked" == "$ref" ]] || record_lock "$ref"
  elif [[ -n "$locked" ]]; then
    ref="$locked"
  else
    pinned="$ref@$(registry_digest "$ref")"
    log "locked $pinned (first use; later runs keep this digest)"
    record_lock "$pinned"
    ref="$pinned"
  fi
  # shellcheck disable=SC2034 # read by the step that called lock_image
  LOCKED_IMAGE="$ref"
}

# install_metrics_program NAME DESCRIPTION [ARG...] < PROGRAM: a textfile-collector writer for node_exporter,
# PROGRAM installed as /usr/local/sbin/NAME, the oneshot NAME.service running it with ARG..., and NAME.timer
# starting it every minute. The timer starts the service anew each run, so a changed program or unit needs no
# restart of its own: queuing the timer is enough.
install_metrics_program() {
  local name="$1" description="$2"
  shift 2
  install_watched "$ROOT/usr/local/sbin/$name" 0755 "$name.timer"
  install_watched "$UNIT_DIR/$name.service" 0644 "$name.timer" <<UNIT
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh: $description

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/$name${*:+ $*}
Nice=10
UNIT
  install_interval_timer "$name" "bbb-ovh: $description, every minute" 1min 1min
}
