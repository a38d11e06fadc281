#!/usr/bin/env bash
# Scalelite front, step 6: register the BigBlueButton nodes declaratively and check they take meetings.
#
# Inputs (stdin, KEY=VALUE): SERVERS_YAML_B64 (secret: servers.yaml for `servers:sync`, node secrets
# inside), SYNC_MODE (keep | cordon | force: what happens to registered servers missing from the file),
# EXPECTED_IDS (node ids separated by spaces or commas that must end up enabled and online); optional ATTEMPTS
# (default 6) and DELAY_SECONDS (default 10) for the poll-and-check loop.
#
# `servers:sync` is idempotent, unlike `servers:add`, and reads the YAML on stdin, so the node secrets
# never reach a command line. With mode cordon a node dropped from the file is removed when it hosts no
# meeting and cordoned when it does: its lessons go on, it takes no new one. (Mode force, in Scalelite
# v1.8.5, forgets such a node's meetings without ending them on the node: see docs/scalelite.md.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PROBLEMS=()

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: SERVERS_YAML_B64 SYNC_MODE EXPECTED_IDS [ATTEMPTS] [DELAY_SECONDS])"
}

rake() {
  docker exec scalelite-api bin/rake "$@"
}

sync_servers() {
  log "syncing servers (mode $IN_SYNC_MODE)"
  printf '%s\n' "$IN_SERVERS_YAML" | docker exec -i scalelite-api bin/rake "servers:sync[-,$IN_SYNC_MODE]" ||
    die "servers:sync refused the server list (see the error above)"
}

# server_states: "id state online|offline" per registered server, from `rake servers`, whose output also
# holds the secrets: it is parsed here and never printed.
server_states() {
  local listing
  listing="$(rake servers 2>/dev/null)" || die "bin/rake servers failed in the scalelite-api container"
  awk '
    function flush() { if (id != "") print id, state, online }
    /^id: / { flush(); id = substr($0, 5); state = "disabled"; online = "offline"; next }
    /^\t(enabled|disabled|cordoned)$/ { state = substr($0, 2) }
    /^\t(online|offline)$/ { online = substr($0, 2) }
    END { flush() }
  ' <<<"$listing"
}

# nodes_ready: polls now, then records in PROBLEMS every expected node that is not enabled and online.
nodes_ready() {
  local states id state online
  rake poll:all >/dev/null 2>&1 || warn "poll:all failed; checking the last known state"
  states="$(server_states)"
  PROBLEMS=()
  for id in $IN_EXPECTED_IDS; do
    read -r state online < <(awk -v id="$id" '$1 == id { print $2, $3 }' <<<"$states") || true
    if [[ -z "${state:-}" ]]; then
      PROBLEMS+=("$id: missing (not registered)")
    elif [[ "$state" != enabled ]]; then
      PROBLEMS+=("$id: $state")
    elif [[ "$online" != online ]]; then
      PROBLEMS+=("$id: offline (its getMeetings fails: check that BigBlueButton runs there and its secret and URL)")
    fi
    state=""
  done
  ((${#PROBLEMS[@]} == 0))
}

# report_others: servers still registered but not expected (cordoned with meetings, or kept).
report_others() {
  local id state online
  while read -r id state online; do
    [[ " $IN_EXPECTED_IDS " == *" $id "* ]] || log "also registered, not in the plan: $id ($state, $online)"
  done < <(server_states)
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs SERVERS_YAML SYNC_MODE EXPECTED_IDS
  IN_EXPECTED_IDS="${IN_EXPECTED_IDS//,/ }"
  [[ "$IN_SYNC_MODE" =~ ^(keep|cordon|force)$ ]] || die "SYNC_MODE must be keep, cordon or force, not '$IN_SYNC_MODE'"
  local id attempts="${IN_ATTEMPTS:-6}" delay="${IN_DELAY_SECONDS:-10}"
  [[ "$attempts" =~ ^[1-9][0-9]*$ && "$delay" =~ ^[0-9]+$ ]] || die "ATTEMPTS must be a positive integer and DELAY_SECONDS an integer"
  [[ -n "${IN_EXPECTED_IDS// /}" ]] || die "EXPECTED_IDS is empty"
  for id in $IN_EXPECTED_IDS; do
    [[ "$id" =~ ^[a-zA-Z0-9_.-]+$ ]] || die "EXPECTED_IDS: '$id' is not a Scalelite server id"
  done
  sync_servers
  if ! retry "$attempts" "$delay" nodes_ready; then
    die "node(s) not ready after $attempts poll(s): $(printf '%s; ' "${PROBLEMS[@]}" | sed 's/; $//')"
  fi
  report_others
  log "all nodes enabled and online: $IN_EXPECTED_IDS"
}

main "$@"
