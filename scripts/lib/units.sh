#!/usr/bin/env bash
# Systemd units and the files they read, for the Scalelite front steps. Sourced after common.sh.
#
# A changed file queues its units in $STATE_DIR/<step>.pending-units *before* it is replaced, and the
# queue is emptied only after systemd has reloaded and restarted them: a step killed in between
# restarts them on its next run instead of leaving the old version running. Unchanged files queue
# nothing, so a second run restarts nothing.

UNIT_DIR="$ROOT/etc/systemd/system"
PENDING_UNITS="$STATE_DIR/$STEP_NAME.pending-units"

# queue_restart UNIT...: remembers that UNIT... must be (re)started.
queue_restart() {
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$@" >>"$PENDING_UNITS"
}

# install_watched PATH MODE UNIT...: writes stdin to PATH (mode MODE) when it differs, queuing UNIT...
install_watched() {
  local path="$1" mode="$2" content
  shift 2
  # Read all of stdin, trailing newlines included.
  content="$(cat && printf x)"
  content="${content%x}"
  if [[ -f "$path" ]] && cmp -s "$path" <(printf '%s' "$content"); then
    chmod "$mode" "$path"
    return 0
  fi
  queue_restart "$@"
  printf '%s' "$content" | install_content "$path" "$mode" || true
}

# install_unit NAME: writes the unit NAME (stdin) and queues it when it changed.
install_unit() {
  install_watched "$UNIT_DIR/$1" 0644 "$1"
}

# apply_pending_units: daemon-reload, then enable and (re)start each queued unit once, in queue order.
apply_pending_units() {
  [[ -s "$PENDING_UNITS" ]] || return 0
  local unit
  systemctl daemon-reload
  while read -r unit; do
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
# prints a unit that runs IMAGE as container NAME on the scalelite network. REQUIRES lists the units it
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
  printf '%s\n' \
    "# The image is pinned, so a restart pulls nothing when the image is already here." \
    "ExecStartPre=/bin/sh -c 'docker image inspect $image >/dev/null 2>&1 || docker pull $image'" \
    "ExecStartPre=-/usr/bin/docker rm -f $name" \
    "ExecStart=/usr/bin/docker run --rm --name $name --network scalelite --log-opt max-size=10m --log-opt max-file=5 $options $image${command:+ $command}" \
    "ExecStop=/usr/bin/docker stop $name" \
    "Restart=always" \
    "RestartSec=5" \
    "" \
    "[Install]" \
    "WantedBy=$wanted_by"
}

# Images by digest. IMAGE_PINS (optional input) lists `name:tag@sha256:<hex>` for the images whose digest
# the deployment knows (components/scalelite/images.ts); such an image runs by digest, never by tag alone.

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
