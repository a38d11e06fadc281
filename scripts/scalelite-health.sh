#!/usr/bin/env bash
# Scalelite front, step 5: GET https://FQDN/health_check until it answers exactly `success`.
# Scalelite answers HTTP 200 even when it is broken, so the status alone proves nothing: the body must be
# the single word `success`.
#
# Inputs (stdin, KEY=VALUE): FQDN; optional ATTEMPTS (default 30), DELAY_SECONDS (default 10).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(FQDN)
OPTIONAL_INPUTS=(ATTEMPTS DELAY_SECONDS)

LAST_ANSWER=""

# health_check_ok: one request; remembers what came back for the final error.
health_check_ok() {
  local body
  if ! body="$(curl -fsS --max-time 10 "https://$IN_FQDN/health_check" 2>&1)"; then
    LAST_ANSWER="request failed: ${body:0:200}"
    return 1
  fi
  [[ "$body" == success ]] && return 0
  LAST_ANSWER="HTTP 200 with body '${body:0:200}' instead of 'success'"
  return 1
}

main() {
  local attempts="${IN_ATTEMPTS:-30}" delay="${IN_DELAY_SECONDS:-10}"
  [[ "$attempts" =~ ^[1-9][0-9]*$ && "$delay" =~ ^[0-9]+$ ]] || die "ATTEMPTS must be a positive integer and DELAY_SECONDS an integer"
  if ! retry "$attempts" "$delay" health_check_ok; then
    die "https://$IN_FQDN/health_check is not healthy after $attempts attempt(s): $LAST_ANSWER"
  fi
  log "https://$IN_FQDN/health_check answers success"
}

run_step "$@"
