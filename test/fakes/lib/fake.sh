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

# fake_knob NAME DEFAULT: the knob's value from the environment, else from fake-state/knobs, else DEFAULT.
fake_knob() {
  local name="$1" default="$2"
  if [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
  elif [[ -f "$FAKE_STATE/knobs/$name" ]]; then
    printf '%s' "$(<"$FAKE_STATE/knobs/$name")"
  else
    printf '%s' "$default"
  fi
}

# fake_fact NAME: a machine fact the test harness wrote (fake-state/NAME), without its newline.
fake_fact() {
  local file="$FAKE_STATE/$1"
  [[ -f "$file" ]] || { printf '%s: fact %s was not set up by the test harness\n' "$FAKE_NAME" "$1" >&2; exit 97; }
  cat "$file"
}
