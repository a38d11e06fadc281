#!/usr/bin/env bash
# apt-get for the host steps. Sourced, never run; needs lib/common.sh.
#
# apt-get does not wait for the dpkg/apt locks (DPkg::Lock::Timeout defaults to 0): two of our steps
# installing at once, or a fresh Ubuntu's apt-daily / unattended-upgrades, make it fail with
# "Could not get lock" (exit 100). bbb-install's need_pkg waits for the lock the same way.
# Our own steps queue on one flock; a lock held by anything else is waited for, up to APT_LOCK_TIMEOUT.

APT_LOCK_TIMEOUT="${APT_LOCK_TIMEOUT:-900}"
APT_RETRY_DELAY="${APT_RETRY_DELAY:-5}"
APT_SOURCES_FETCHED=false

# apt_get ARGS...: apt-get ARGS, non-interactive, waiting for the locks instead of failing on them.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_TIMEOUT)) status errors
  mkdir -p "$STATE_DIR"
  errors="$(mktemp "$STATE_DIR/apt-errors.XXXXXX")"
  while true; do
    status=0
    flock -E 75 -w "$APT_LOCK_TIMEOUT" "$STATE_DIR/apt.lock" \
      env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" 2>"$errors" || status=$?
    if ((status == 75)); then
      rm -f "$errors"
      die "another bbb-ovh step kept apt busy for more than $APT_LOCK_TIMEOUT s (${STATE_DIR#"$ROOT"}/apt.lock)"
    fi
    if ((status == 100)) && grep -qE 'Could not get lock|Unable to acquire|is another process using it' "$errors" &&
      ((SECONDS < deadline)); then
      log "apt is busy (another apt or unattended-upgrades holds its lock); waiting"
      sleep "$APT_RETRY_DELAY"
      continue
    fi
    cat "$errors" >&2
    rm -f "$errors"
    return "$status"
  done
}

# package_installed PACKAGE: dpkg knows it as installed.
package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# apt_install PACKAGE...: installs the packages not installed yet (one `apt-get update` per run).
apt_install() {
  local package missing=()
  for package in "$@"; do
    package_installed "$package" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]} from the distribution's packages"
  if [[ "$APT_SOURCES_FETCHED" != true ]]; then
    apt_get update -q >/dev/null
    APT_SOURCES_FETCHED=true
  fi
  apt_get install -y -q "${missing[@]}" >/dev/null
}

# ensure_docker: the Docker engine from the distribution's packages (docker.io), unless one is installed
# otherwise (docker-ce), which docker.io would conflict with.
ensure_docker() {
  [[ -x "$ROOT/usr/bin/docker" ]] || apt_install docker.io
}
