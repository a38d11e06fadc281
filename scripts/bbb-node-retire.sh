#!/usr/bin/env bash
# BigBlueButton node: refuse its deletion while it holds a recording the front does not have yet. It is the
# delete command of the node's own retirement guard (components/scalelite/NodeRetirement.ts), which Pulumi
# deletes before the front's guard and the node's own resources, so a refusal keeps the host, running, in the stack.
#
# Inputs (stdin, KEY=VALUE): FQDN (for the messages).
#
# getRecordings (which the front's guard asks) lists a recording only once its processing has begun; what
# is still on the node from the end of its meeting on is read from BigBlueButton's status files
# (lib/recording_status.sh says which and why).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/recording_status.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/recording_status.sh"
REQUIRED_INPUTS=(FQDN)

STATUS="$ROOT/var/bigbluebutton/recording/status"

main() {
  local waiting failed
  waiting="$(unsent_recordings "$STATUS" | wc -l)"
  failed="$(failed_recordings "$STATUS" | wc -l)"
  if ((waiting > 0)); then
    die "$IN_FQDN is kept, running: $waiting recording(s) are on it and not yet at the front (recorded, being processed, or waiting to be sent; of them, $failed failed processing: rebuild each with bbb-record --rebuild <id>, see /var/log/bigbluebutton). Once they are sent (\`ops status\` shows each node's backlog), or deliberately deleted (bbb-record --delete), run \`pulumi up\` (or \`pulumi destroy\`) again; nothing was deleted"
  fi
  log "$IN_FQDN holds no recording the front does not have"
}

run_step "$@"
