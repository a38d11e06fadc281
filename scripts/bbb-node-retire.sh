#!/usr/bin/env bash
# BigBlueButton node: refuse its deletion while it holds a recording the front does not have yet. It is the
# delete command of the node's own retirement guard (components/scalelite/NodeRetirement.ts), which Pulumi
# deletes before the front's guard and the node's own resources, so a refusal keeps the host, running, in the stack.
#
# Inputs (stdin, KEY=VALUE): FQDN (for the messages).
#
# getRecordings (which the front's guard asks) lists a recording only once its processing has begun: from
# the end of the meeting until then it exists only on disk. BigBlueButton's recording pipeline leaves a
# status file at each stage under /var/bigbluebutton/recording/status (record-and-playback's rap-starter
# and workers: recorded/<id>.done until the archive job is queued, then archived/<id>.done, or
# archived/<id>.norecord when nothing was recorded, then sanity, processed/<id>-<format>.done,
# published/<id>-<format>.done; <stage>/<id>*.fail when a stage failed). Scalelite's post_publish script
# writes published/<id>-sender.done once the front has the archive (scripts/bbb-node-recording-retry.sh).
# So a recording is still here, and only here, from recorded/ until its sender.done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STATUS="$ROOT/var/bigbluebutton/recording/status"

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: FQDN)"
}

# record_ids STAGE SUFFIX: the recording ids with a status file <id><SUFFIX> in STAGE, one a line.
record_ids() {
  local file
  shopt -s nullglob
  for file in "$STATUS/$1"/*"$2"; do
    file="${file##*/}"
    printf '%s\n' "${file%"$2"}"
  done
}

# unsent: the ids recorded, archived or published that have no sender.done, nor an archived .norecord.
unsent() {
  local id
  declare -A sent=()
  while read -r id; do sent[$id]=1; done < <(record_ids published -sender.done; record_ids archived .norecord)
  {
    record_ids recorded .done
    record_ids archived .done
    record_ids published .done | sed 's/-[^-]*$//'
  } | sort -u | while read -r id; do
    [[ -n "$id" && -z "${sent[$id]:-}" ]] && printf '%s\n' "$id"
  done
  return 0
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs FQDN
  local waiting failed
  waiting="$(unsent | wc -l)"
  failed="$({ find "$STATUS" -mindepth 2 -maxdepth 2 -name '*.fail' 2>/dev/null || true; } | wc -l)"
  if ((waiting > 0)); then
    die "$IN_FQDN is kept, running: $waiting recording(s) are on it and not yet at the front (recorded, being processed, or waiting to be sent; $failed status file(s) say a stage failed: see /var/log/bigbluebutton). Once they are sent (\`ops status\` shows each node's backlog), or deliberately deleted (bbb-record --delete), run \`pulumi up\` (or \`pulumi destroy\`) again; nothing was deleted"
  fi
  log "$IN_FQDN holds no recording the front does not have"
}

main "$@"
