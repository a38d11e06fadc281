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
# What a front is in a pair (campus.standbyFront), as `ops failover` / `ops failback` and the standby steps
# write it: one word on one line, primary (it serves), standby or fenced; absent on a front that never switched.
# The programs installed alone, without this file (scalelite-metrics, scalelite-recordings-pull,
# scalelite-spool-receive, standby-replication-metrics), and ops (cli/ops/frontRole.ts roleOf) read it as
# front_role does: what precedes the first white space.
FRONT_ROLE_FILE="$STATE_DIR/front-role"
STEP_NAME="${0##*/}"
STEP_NAME="${STEP_NAME%.sh}"

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

# front_role: prints the front's role (what precedes FRONT_ROLE_FILE's first white space), nothing when there is none.
front_role() {
  local role=""
  [[ -f "$FRONT_ROLE_FILE" ]] && { IFS= read -r role <"$FRONT_ROLE_FILE" || true; }
  printf '%s' "${role%%[[:space:]]*}"
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
      # A here-string, not printf | base64: one process, not three (bash passes it through a pipe).
      value="$(base64 -d <<<"$value")" || die "input $key is not valid base64"
      key="${key%_B64}"
    fi
    printf -v "IN_$key" '%s' "$value"
  done
}

# run_step ARGS...: the entry every host step shares, the last line of its script (`run_step "$@"`). The
# script names its inputs, as the Pulumi program sends them, in REQUIRED_INPUTS and OPTIONAL_INPUTS (the
# latter may be left unset): components/remote/catalogue.ts is their list, and test/unit/stepInputs.test.ts
# holds every script to it. With -h or --help it says how to call the step. Any other argument is refused:
# a step takes its values on stdin only, so that none is ever on a command line. Otherwise it reads the
# inputs, stops naming every missing required one at once, and runs the script's main.
run_step() {
  local optional="${OPTIONAL_INPUTS[*]-}" key var missing=()
  if (($# > 0)); then
    [[ "$*" == -h || "$*" == --help ]] || die "takes no arguments: its inputs are KEY=VALUE lines on stdin (see $STEP_NAME.sh --help)"
    printf 'usage: %s.sh < inputs   (KEY=VALUE lines: %s%s)\n' "$STEP_NAME" "${REQUIRED_INPUTS[*]}" "${optional:+ [$optional]}"
    return 0
  fi
  read_inputs
  for key in "${REQUIRED_INPUTS[@]}"; do
    var="IN_${key%_B64}"
    [[ -n "${!var+set}" ]] || missing+=("$key")
  done
  ((${#missing[@]} == 0)) || die "missing input(s): ${missing[*]}"
  main
}

# install_content PATH MODE [OWNER]: writes stdin to PATH only when it differs, atomically.
# Returns 0 when the file changed, 1 when it was already up to date. Any bytes; PATH is absolute.
# Parameter expansions instead of dirname, and mkdir only when needed: every step writes many files
# (measured: a process costs 2-6 ms on our test machines, and this function ran 2 000 times a suite).
install_content() {
  local path="$1" mode="$2" owner="${3:-}" tmp
  new_file_beside "$path" tmp
  cat >"$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    return 1
  fi
  put_in_place "$tmp" "$path" "$mode" "$owner"
}

# install_text PATH MODE TEXT [OWNER]: install_content for a text the step holds in a variable (no NUL byte),
# compared in the shell: an unchanged file costs one process (chmod) and a changed one three (mktemp, chmod,
# mv), where `printf ... | install_content` starts seven (a subshell, mktemp, cat, cmp, chmod, mv, rm or chmod).
install_text() {
  local path="$1" mode="$2" text="$3" owner="${4:-}" tmp
  if has_content "$path" "$text"; then
    chmod "$mode" "$path"
    return 1
  fi
  new_file_beside "$path" tmp
  printf '%s' "$text" >"$tmp"
  put_in_place "$tmp" "$path" "$mode" "$owner"
}

# new_file_beside PATH VAR: sets VAR to a new, empty file beside PATH (its directory made when missing),
# created 0600 by mktemp, so that a secret is never readable by others while it is written.
new_file_beside() {
  local made
  [[ "$1" == /* ]] || die "${FUNCNAME[1]}: '$1' is not an absolute path"
  [[ -d "${1%/*}/" ]] || mkdir -p "${1%/*}/"
  made="$(mktemp "$1.XXXXXX")" || die "cannot create a file beside $1"
  printf -v "$2" '%s' "$made"
}

# put_in_place TMP PATH MODE [OWNER]: gives TMP its mode (and owner), then renames it over PATH.
put_in_place() {
  chmod "$3" "$1"
  [[ -z "${4:-}" ]] || chown "$4" "$1"
  mv -f "$1" "$2"
}

# read_text VAR: all of stdin into VAR, trailing newlines included, without a process (cat in $(...) is
# two). Text only: read stops at a NUL byte, and then this stops the step.
read_text() {
  ! IFS= read -r -d '' "$1" || die "the content for ${2:-a file} has a NUL byte; only text is installed there"
}

# has_content PATH TEXT: PATH is a regular file that holds exactly TEXT (a NUL byte in it: it does not).
has_content() {
  local current
  [[ -f "$1" ]] && ! IFS= read -r -d '' current <"$1" && [[ "$current" == "$2" ]]
}

# ensure_dir PATH OWNER MODE: the directory exists with that owner (numeric uid:gid) and mode (octal, as
# stat prints it: 750, not 0750). One stat when nothing is to change.
ensure_dir() {
  local dir="$1" owner="$2" mode="$3" now
  [[ -d "$dir" ]] || mkdir -p "$dir"
  now="$(stat -c '%u:%g %a' "$dir")"
  [[ "${now% *}" == "$owner" ]] || chown "$owner" "$dir"
  [[ "${now#* }" == "$mode" ]] || chmod "$mode" "$dir"
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
