#!/usr/bin/env bash
# Scalelite front, step 6: register the BigBlueButton nodes declaratively and check they take meetings.
#
# Inputs (stdin, KEY=VALUE): SERVERS_YAML_B64 (secret: servers.yaml for `servers:sync`, node secrets
# inside), SYNC_MODE (keep | cordon | force: what happens to registered servers missing from the file),
# EXPECTED_IDS (node ids separated by spaces or commas that must end up registered); optional KEEP_STATE_IDS
# (nodes whose state the operator owns: kept cordoned or disabled when Scalelite holds them so),
# CORDONED_IDS (nodes the stack declares cordoned: `enabled: false` in the file), ATTEMPTS (default 6)
# and DELAY_SECONDS (default 10) for the poll-and-check loop. Every other expected node must end up
# enabled and online.
#
# servers:sync treats `enabled` as the desired state (lib/server_sync.rb: true enables a cordoned or
# disabled server), so a node an operator drained (`ops drain` = servers:cordon) would be put back in
# rotation by any re-run. Before syncing, the state Scalelite holds is read, and each KEEP_STATE_IDS node
# it holds cordoned or disabled gets `enabled: false` (which sync leaves as it is) in the file.
#
# `servers:sync` is idempotent, unlike `servers:add`, and reads the YAML on stdin, so the node secrets
# never reach a command line. With mode cordon a node dropped from the file is removed when it hosts no
# meeting and cordoned when it does: its lessons go on, it takes no new one. (Mode force, in Scalelite
# v1.8.5, forgets such a node's meetings without ending them on the node: see docs/scalelite.md.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/scalelite.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/scalelite.sh"
REQUIRED_INPUTS=(SERVERS_YAML_B64 SYNC_MODE EXPECTED_IDS)
OPTIONAL_INPUTS=(KEEP_STATE_IDS CORDONED_IDS ATTEMPTS DELAY_SECONDS)

PROBLEMS=()
# Nodes that must end cordoned or disabled: "id" -> why ("as an operator set it", "as the stack declares").
declare -A DRAINED=()

sync_servers() {
  log "syncing servers (mode $IN_SYNC_MODE)"
  printf '%s\n' "$IN_SERVERS_YAML" | docker exec -i scalelite-api bin/rake "servers:sync[-,$IN_SYNC_MODE]" ||
    die "servers:sync refused the server list (see the error above)"
}

# keep_operator_drains: the nodes of KEEP_STATE_IDS that Scalelite holds cordoned or disabled get
# `enabled: false` in IN_SERVERS_YAML, and the nodes of CORDONED_IDS are recorded, both in DRAINED.
keep_operator_drains() {
  local states id state online kept=()
  for id in $IN_CORDONED_IDS; do DRAINED[$id]="as the stack declares"; done
  [[ -n "${IN_KEEP_STATE_IDS// /}" ]] || return 0
  states="$(server_states)"
  while read -r id state online; do
    [[ " $IN_KEEP_STATE_IDS " == *" $id "* && "$state" =~ ^(cordoned|disabled)$ ]] || continue
    kept+=("$id")
    DRAINED[$id]="as an operator set it"
  done <<<"$states"
  ((${#kept[@]} > 0)) || return 0
  IN_SERVERS_YAML="$(printf '%s\n' "$IN_SERVERS_YAML" | yaml_disable "${kept[@]}")" ||
    die "servers.yaml does not have the layout renderServersYaml writes (server ids at 2 spaces, 'enabled: true' at 4)"
}

# yaml_disable ID...: servers.yaml on stdin with `enabled: false` for each ID; fails unless every ID's
# `enabled: true` line was found. The file is renderServersYaml's (components/scalelite): ids at two
# spaces under `servers:`, their fields at four.
yaml_disable() {
  awk -v ids=" $* " '
    /^  [^ ].*:$/ { id = substr($0, 3, length($0) - 3) }
    /^    enabled: true$/ && index(ids, " " id " ") { sub(/true$/, "false"); done++ }
    { print }
    END { exit done == split(ids, all, " ") ? 0 : 1 }
  '
}

# nodes_ready: polls now, then records in PROBLEMS every expected node that is not enabled and online
# (a DRAINED node: not cordoned or disabled; it may be offline, under maintenance).
nodes_ready() {
  local states id state online
  rake poll:all >/dev/null 2>&1 || warn "poll:all failed; checking the last known state"
  states="$(server_states)"
  PROBLEMS=()
  for id in $IN_EXPECTED_IDS; do
    read -r state online < <(awk -v id="$id" '$1 == id { print $2, $3 }' <<<"$states") || true
    if [[ -z "${state:-}" ]]; then
      PROBLEMS+=("$id: missing (not registered)")
    elif [[ -n "${DRAINED[$id]:-}" ]]; then
      [[ "$state" =~ ^(cordoned|disabled)$ ]] || PROBLEMS+=("$id: $state, expected cordoned ${DRAINED[$id]}")
    elif [[ "$state" != enabled ]]; then
      PROBLEMS+=("$id: $state")
    elif [[ "$online" != online ]]; then
      PROBLEMS+=("$id: offline (its getMeetings fails: check that BigBlueButton runs there and its secret and URL)")
    fi
    state=""
  done
  ((${#PROBLEMS[@]} == 0))
}

# report: the nodes left drained, by why, then the servers still registered but not expected (cordoned
# with meetings, or kept).
report() {
  local id state online why line states
  states="$(server_states | sort)"
  for why in "as an operator set it" "as the stack declares"; do
    line=""
    while read -r id state online; do
      [[ "${DRAINED[$id]:-}" == "$why" ]] && line+="${line:+, }$id ($state)"
    done <<<"$states"
    [[ -z "$line" ]] || log "left drained, $why: $line"
  done
  while read -r id state online; do
    [[ " $IN_EXPECTED_IDS " == *" $id "* ]] || log "also registered, not in the plan: $id ($state, $online)"
  done <<<"$states"
}

main() {
  IN_EXPECTED_IDS="${IN_EXPECTED_IDS//,/ }"
  [[ "$IN_SYNC_MODE" =~ ^(keep|cordon|force)$ ]] || die "SYNC_MODE must be keep, cordon or force, not '$IN_SYNC_MODE'"
  local id attempts="${IN_ATTEMPTS:-6}" delay="${IN_DELAY_SECONDS:-10}"
  [[ "$attempts" =~ ^[1-9][0-9]*$ && "$delay" =~ ^[0-9]+$ ]] || die "ATTEMPTS must be a positive integer and DELAY_SECONDS an integer"
  [[ -n "${IN_EXPECTED_IDS// /}" ]] || die "EXPECTED_IDS is empty"
  IN_KEEP_STATE_IDS="${IN_KEEP_STATE_IDS:-}"
  IN_KEEP_STATE_IDS="${IN_KEEP_STATE_IDS//,/ }"
  IN_CORDONED_IDS="${IN_CORDONED_IDS:-}"
  IN_CORDONED_IDS="${IN_CORDONED_IDS//,/ }"
  for id in $IN_EXPECTED_IDS $IN_KEEP_STATE_IDS $IN_CORDONED_IDS; do
    [[ "$id" =~ ^[a-zA-Z0-9_.-]+$ ]] || die "'$id' (EXPECTED_IDS, KEEP_STATE_IDS or CORDONED_IDS) is not a Scalelite server id"
  done
  keep_operator_drains
  sync_servers
  if ! retry "$attempts" "$delay" nodes_ready; then
    die "node(s) not ready after $attempts poll(s): $(printf '%s; ' "${PROBLEMS[@]}" | sed 's/; $//')"
  fi
  report
  local enabled=""
  for id in $IN_EXPECTED_IDS; do [[ -n "${DRAINED[$id]:-}" ]] || enabled+=" $id"; done
  if ((${#DRAINED[@]} == 0)); then
    log "all nodes enabled and online:$enabled"
  else
    log "all other nodes enabled and online:${enabled:- (none)}"
  fi
}

run_step "$@"
