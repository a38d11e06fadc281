#!/usr/bin/env bash
# Checks a BigBlueButton node from the node itself, through its public name: GET /bigbluebutton/api
# answers SUCCESS (the web tier is up), then a signed getMeetings succeeds (the shared secret is the one
# we set). Retries a bounded number of times while BigBlueButton starts. The checksum is computed by
# feeding callName+query+secret to shaNsum on stdin: the secret is never on a command line.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

LAST_ERROR=""
BODY=""

usage() {
  echo "usage: bbb-node-health.sh < inputs   (FQDN SHARED_SECRET CHECKSUM_ALGORITHM [ATTEMPTS DELAY_SECONDS] as KEY=VALUE lines)"
}

# checksum CALL QUERY: BBB's API checksum, SHA(call + query + secret) in hex.
checksum() {
  printf '%s%s%s' "$1" "$2" "$IN_SHARED_SECRET" | "$SHA_TOOL" | cut -d' ' -f1
}

# api_get PATH: sets BODY to the body of https://FQDN/bigbluebutton/api/PATH, or fails with LAST_ERROR set.
api_get() {
  if ! BODY="$(curl -sS --max-time 10 "https://$IN_FQDN/bigbluebutton/api$1" 2>&1)"; then
    LAST_ERROR="${BODY:-curl failed}"
    return 1
  fi
}

check_once() {
  api_get "" || return 1
  if [[ "$BODY" != *"<returncode>SUCCESS</returncode>"* ]]; then
    LAST_ERROR="GET /bigbluebutton/api did not answer SUCCESS"
    return 1
  fi
  api_get "/getMeetings?checksum=$(checksum getMeetings "")" || return 1
  if [[ "$BODY" == *"<messageKey>checksumError</messageKey>"* ]]; then
    # Not something waiting fixes: the node has another secret than the one Scalelite will use.
    die "$IN_FQDN rejects our shared secret (checksumError on a signed getMeetings, $IN_CHECKSUM_ALGORITHM)"
  fi
  if [[ "$BODY" != *"<returncode>SUCCESS</returncode>"* ]]; then
    LAST_ERROR="signed getMeetings did not answer SUCCESS"
    return 1
  fi
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    return 0
  fi
  read_inputs
  require_inputs FQDN SHARED_SECRET CHECKSUM_ALGORITHM
  local attempts="${IN_ATTEMPTS:-10}" delay="${IN_DELAY_SECONDS:-6}"
  [[ "$attempts" =~ ^[1-9][0-9]*$ && "$delay" =~ ^[0-9]+$ ]] || die "ATTEMPTS and DELAY_SECONDS must be whole numbers (ATTEMPTS >= 1)"
  case "${IN_CHECKSUM_ALGORITHM,,}" in
    sha1 | sha256 | sha512) SHA_TOOL="${IN_CHECKSUM_ALGORITHM,,}sum" ;;
    *) die "CHECKSUM_ALGORITHM must be sha1, sha256 or sha512 (Scalelite infers it from the length; no sha384)" ;;
  esac

  if ! retry "$attempts" "$delay" check_once; then
    die "BigBlueButton on $IN_FQDN is not healthy after $attempts attempt(s): $LAST_ERROR"
  fi
  log "https://$IN_FQDN/bigbluebutton/api answers, and accepts our shared secret ($IN_CHECKSUM_ALGORITHM)"
}

main "$@"
