#!/usr/bin/env bash
# Shared helpers for the bbb-ovh host steps. Sourced, never run.
#
# Inputs arrive on stdin as KEY=VALUE lines (see components/remote/catalogue.ts), so that no value,
# secret or not, is ever on a command line or in a process listing.
# BBB_OVH_ROOT prefixes every path the steps write; it is empty on real hosts and points at a
# per-host directory in the tests, which run these scripts over SSH on loopback.

ROOT="${BBB_OVH_ROOT:-}"
# shellcheck disable=SC2034 # used by the scripts that source this file
STATE_DIR="$ROOT/var/lib/bbb-ovh"
# shellcheck disable=SC2034
LOG_DIR="$ROOT/var/log/bbb-ovh"
STEP_NAME="$(basename "${0%.sh}")"

log() {
  printf '%s: %s\n' "$STEP_NAME" "$*"
}

warn() {
  printf '%s: warning: %s\n' "$STEP_NAME" "$*" >&2
}

die() {
  printf '%s: error: %s\n' "$STEP_NAME" "$*" >&2
  exit 1
}

# read_inputs: reads KEY=VALUE lines from stdin into variables named IN_<KEY>.
# Keys ending in _B64 are decoded into IN_<KEY without _B64>.
read_inputs() {
  local line key value
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "$line" ]] && continue
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || die "malformed input line (expected KEY=VALUE)"
    if [[ "$key" == *_B64 ]]; then
      value="$(printf '%s' "$value" | base64 -d)" || die "input $key is not valid base64"
      key="${key%_B64}"
    fi
    printf -v "IN_$key" '%s' "$value"
  done
}

# require_inputs KEY...: stops with one message naming every missing input.
require_inputs() {
  local key var missing=()
  for key in "$@"; do
    var="IN_$key"
    [[ -n "${!var+set}" ]] || missing+=("$key")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "missing input(s): ${missing[*]}"
}

# install_content PATH MODE [OWNER]: writes stdin to PATH only when it differs, atomically.
# Returns 0 when the file changed, 1 when it was already up to date.
install_content() {
  local path="$1" mode="$2" owner="${3:-}" tmp
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$path.XXXXXX")"
  chmod "$mode" "$tmp"
  cat >"$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    return 1
  fi
  if [[ -n "$owner" ]]; then
    chown "$owner" "$tmp"
  fi
  mv -f "$tmp" "$path"
  return 0
}

# sha256_of STRING: prints the hex SHA-256 of its argument's bytes.
sha256_of() {
  printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

# retry ATTEMPTS DELAY CMD...: runs CMD until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts="$1" delay="$2" n=1
  shift 2
  until "$@"; do
    ((n >= attempts)) && return 1
    n=$((n + 1))
    sleep "$delay"
  done
}
