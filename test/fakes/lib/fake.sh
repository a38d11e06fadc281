#!/usr/bin/env bash
# Shared by the fakes in ../bin, which stand in for outside software on the test hosts. Sourced.
#
# A fake records each call (its argv, one line) in $BBB_OVH_ROOT/fake-calls.log, keeps its state under
# $BBB_OVH_ROOT/fake-state/, and reads its knobs from the environment (set per test host) or, when a
# test wants to change one between runs, from $BBB_OVH_ROOT/fake-state/knobs/<NAME>.

FAKE_ROOT="${BBB_OVH_ROOT:?fakes only run on test hosts (BBB_OVH_ROOT is unset)}"
FAKE_STATE="$FAKE_ROOT/fake-state"
# Parameter expansions and printf -v rather than basename and $(...): every fake call of a suite run
# pays for each process it starts, and they add up to a large share of the suite's CPU time.
FAKE_NAME="${0##*/}"

# fake_record ARG...: appends "<name> <argv, shell-quoted>" to fake-calls.log.
fake_record() {
  local line="$FAKE_NAME" arg quoted
  for arg in "$@"; do
    printf -v quoted '%q' "$arg"
    line+=" $quoted"
  done
  printf '%s\n' "$line" >>"$FAKE_ROOT/fake-calls.log"
}

# fake_knob_into VAR NAME DEFAULT: sets VAR to the knob's value from the environment, else from
# fake-state/knobs (without its trailing newlines), else DEFAULT. No subshell: for the knobs every call reads.
fake_knob_into() {
  local -n into="$1"
  local name="$2"
  if [[ -n "${!name:-}" ]]; then
    into="${!name}"
  elif [[ -f "$FAKE_STATE/knobs/$name" ]]; then
    IFS= read -r -d '' into <"$FAKE_STATE/knobs/$name" || true
    while [[ "$into" == *$'\n' ]]; do into="${into%$'\n'}"; done
  else
    into="$3"
  fi
}

# fake_read VAR FILE: sets VAR to FILE's first line, or to nothing when there is no FILE (no cat, no subshell).
fake_read() {
  local -n into="$1"
  into=""
  [[ -f "$2" ]] || return 0
  IFS= read -r into <"$2" || true
}

# fake_knob NAME DEFAULT: prints what fake_knob_into gives.
fake_knob() {
  local value
  fake_knob_into value "$1" "$2"
  printf '%s' "$value"
}

# fake_fact NAME: a machine fact the test harness wrote (fake-state/NAME), without its newline.
fake_fact() {
  local file="$FAKE_STATE/$1"
  [[ -f "$file" ]] || { printf '%s: fact %s was not set up by the test harness\n' "$FAKE_NAME" "$1" >&2; exit 97; }
  cat "$file"
}
