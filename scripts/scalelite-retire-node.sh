#!/usr/bin/env bash
# Scalelite front: retire one node before Pulumi deletes (and, for a server we ordered, terminates) it.
# It is the delete command of the node's retirement guard (components/scalelite/NodeRetirement.ts), which
# Pulumi deletes before the node's own resources, so a refusal here keeps the host, running, in the stack.
#
# Inputs (stdin, KEY=VALUE): SERVER_ID (the node's Scalelite id, its FQDN), API_URL (its
# https://FQDN/bigbluebutton/api), SHARED_SECRET (secret), CHECKSUM_ALGORITHM, INCOMING_DIR (the node's
# transfer target on this front), SLEEPING_LIST (the nodes `ops schedule` / `ops scale` shelved),
# RESOURCE_NAME (the guard's Pulumi name, for the way out when the node is lost).
#
# In order: cordon it in Scalelite (no new meeting lands there); then refuse while the node hosts a
# meeting, holds a recording (getRecordings state=any: what is processing or not yet sent to the front)
# or has archives in its transfer target that the mover has not handed to the importer; then remove it
# from Scalelite. A node asleep (listed without wake=) was emptied before it was shelved and cannot
# answer, so its own API is not asked. Every step is safe to repeat: Pulumi runs it again on the next
# `pulumi up` or `pulumi destroy` until it succeeds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/bbb_api.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bbb_api.sh"
# shellcheck source-path=SCRIPTDIR source=lib/scalelite.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/scalelite.sh"
REQUIRED_INPUTS=(SERVER_ID API_URL SHARED_SECRET CHECKSUM_ALGORITHM INCOMING_DIR SLEEPING_LIST RESOURCE_NAME)

# What keeps the node: one line each, said all at once.
HOLDS=()

# scalelite_state: the node's state in Scalelite (enabled, cordoned, disabled), empty when not registered.
scalelite_state() {
  server_states | awk -v id="$IN_SERVER_ID" '$1 == id { print $2 }'
}

cordon() {
  local state
  state="$(scalelite_state)"
  case "$state" in
    "") log "$IN_SERVER_ID is not registered in Scalelite" ;;
    enabled)
      rake "servers:cordon[$IN_SERVER_ID]" >/dev/null || die "servers:cordon[$IN_SERVER_ID] failed; the node is kept"
      log "$IN_SERVER_ID cordoned in Scalelite: it takes no new meeting"
      ;;
    *) log "$IN_SERVER_ID is $state in Scalelite: it takes no new meeting" ;;
  esac
}

# asleep: the node is on the front's sleeping list without a pending wake.
asleep() {
  [[ -f "$ROOT$IN_SLEEPING_LIST" ]] && grep -qxF "$IN_SERVER_ID" "$ROOT$IN_SLEEPING_LIST"
}

# ask_node CALL QUERY TAG: how many TAG elements the node's signed CALL lists; dies, keeping the node, when it
# cannot be read (nothing is deleted on a guess).
ask_node() {
  if ! bbb_api_get "$IN_API_URL" "$1" "$2" || ! bbb_api_succeeded; then
    die "cannot read $1 on $IN_SERVER_ID (${BBB_API_ERROR:-it did not answer SUCCESS}), so the node is kept: it may still hold a lesson or a recording. Start it again (\`ops scale\` or the OVH control panel) and re-run; if the node is lost for good, what it held is gone too: drop this guard with \`pulumi state delete\` on the URN of $IN_RESOURCE_NAME (\`pulumi stack --show-urns\`), then re-run"
  fi
  bbb_api_count "$3"
}

check_node() {
  local meetings recordings archives
  if asleep; then
    log "$IN_SERVER_ID is asleep (shelved by ops once it held no meeting and no recording)"
  else
    meetings="$(ask_node getMeetings "" meeting)"
    recordings="$(ask_node getRecordings "state=any" recording)"
    ((meetings == 0)) || HOLDS+=("$meetings meeting(s) running")
    ((recordings == 0)) || HOLDS+=("$recordings recording(s) processing or not yet sent to the front")
  fi
  if [[ -d "$ROOT$IN_INCOMING_DIR" ]]; then
    archives="$(find "$ROOT$IN_INCOMING_DIR" -mindepth 1 | wc -l)"
    ((archives == 0)) || HOLDS+=("$archives file(s) it sent still in $IN_INCOMING_DIR, not yet handed to Scalelite's importer")
  fi
}

main() {
  [[ "$IN_SERVER_ID" =~ ^[a-zA-Z0-9_.-]+$ ]] || die "SERVER_ID '$IN_SERVER_ID' is not a Scalelite server id"
  bbb_api_use "$IN_SHARED_SECRET" "$IN_CHECKSUM_ALGORITHM"

  cordon
  check_node
  if ((${#HOLDS[@]} > 0)); then
    die "$IN_SERVER_ID is kept, running and cordoned, because it still has: $(printf '%s; ' "${HOLDS[@]}" | sed 's/; $//'). Run \`pulumi up\` (or \`pulumi destroy\`) again once they are over (\`ops status\` shows them); nothing was deleted"
  fi
  if [[ -n "$(scalelite_state)" ]]; then
    rake "servers:remove[$IN_SERVER_ID]" >/dev/null || die "servers:remove[$IN_SERVER_ID] failed; the node is kept"
    log "$IN_SERVER_ID removed from Scalelite"
  fi
  log "$IN_SERVER_ID holds no meeting and no recording: it can be deleted"
}

run_step "$@"
