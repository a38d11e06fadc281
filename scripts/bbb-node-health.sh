#!/usr/bin/env bash
# Checks a BigBlueButton node from the node itself, through its public name: GET /bigbluebutton/api
# answers SUCCESS (the web tier is up), then a signed getMeetings succeeds (the shared secret is the one
# we set). Retries a bounded number of times while BigBlueButton starts. The secret is never on a
# command line (lib/bbb_api.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/bbb_api.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bbb_api.sh"
REQUIRED_INPUTS=(FQDN SHARED_SECRET CHECKSUM_ALGORITHM)
OPTIONAL_INPUTS=(ATTEMPTS DELAY_SECONDS)

check_once() {
  local api="https://$IN_FQDN/bigbluebutton/api"
  bbb_api_get "$api" "" || return 1
  if ! bbb_api_succeeded; then
    BBB_API_ERROR="GET /bigbluebutton/api did not answer SUCCESS"
    return 1
  fi
  bbb_api_get "$api" getMeetings || return 1
  if [[ "$BBB_API_BODY" == *"<messageKey>checksumError</messageKey>"* ]]; then
    # Not something waiting fixes: the node has another secret than the one Scalelite will use.
    die "$IN_FQDN rejects our shared secret (checksumError on a signed getMeetings, $IN_CHECKSUM_ALGORITHM)"
  fi
  if ! bbb_api_succeeded; then
    BBB_API_ERROR="signed getMeetings did not answer SUCCESS"
    return 1
  fi
}

main() {
  local attempts="${IN_ATTEMPTS:-10}" delay="${IN_DELAY_SECONDS:-6}"
  [[ "$attempts" =~ ^[1-9][0-9]*$ && "$delay" =~ ^[0-9]+$ ]] || die "ATTEMPTS and DELAY_SECONDS must be whole numbers (ATTEMPTS >= 1)"
  bbb_api_use "$IN_SHARED_SECRET" "$IN_CHECKSUM_ALGORITHM"

  if ! retry "$attempts" "$delay" check_once; then
    die "BigBlueButton on $IN_FQDN is not healthy after $attempts attempt(s): $BBB_API_ERROR"
  fi
  log "https://$IN_FQDN/bigbluebutton/api answers, and accepts our shared secret ($IN_CHECKSUM_ALGORITHM)"
}

run_step "$@"
