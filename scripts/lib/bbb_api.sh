#!/usr/bin/env bash
# Signed calls to a BigBlueButton API, for the steps that ask a node something. Sourced after common.sh.
#
# BBB's checksum is SHA(call + query + secret) in hex (BBB API docs, "API Security Model"); it is
# computed by feeding the three to shaNsum on stdin, so the secret is never on a command line. Scalelite
# infers the algorithm from the checksum's length, so it is one of sha1, sha256 and sha512 (no sha384).

BBB_API_BODY=""
# shellcheck disable=SC2034 # read by the scripts that source this file
BBB_API_ERROR=""

# bbb_api_use SECRET ALGORITHM: the secret and algorithm of the next calls; dies on an algorithm Scalelite refuses.
bbb_api_use() {
  BBB_API_SECRET="$1"
  case "${2,,}" in
    sha1 | sha256 | sha512) BBB_API_SHA="${2,,}sum" ;;
    *) die "CHECKSUM_ALGORITHM must be sha1, sha256 or sha512 (Scalelite infers it from the length; no sha384)" ;;
  esac
}

# bbb_api_checksum CALL QUERY: the checksum of CALL with QUERY.
bbb_api_checksum() {
  printf '%s%s%s' "$1" "$2" "$BBB_API_SECRET" | "$BBB_API_SHA" | cut -d' ' -f1
}

# bbb_api_get BASE CALL [QUERY]: sets BBB_API_BODY to the body of BASE/CALL?QUERY&checksum=... (signed;
# unsigned when CALL is empty), or fails with BBB_API_ERROR set. BASE ends in /bigbluebutton/api.
bbb_api_get() {
  local url="$1"
  if [[ -n "$2" ]]; then
    url+="/$2?${3:+$3&}checksum=$(bbb_api_checksum "$2" "${3:-}")"
  fi
  if ! BBB_API_BODY="$(curl -sS --max-time 10 "$url" 2>&1)"; then
    # shellcheck disable=SC2034
    BBB_API_ERROR="${BBB_API_BODY:-curl failed}"
    return 1
  fi
}

# bbb_api_succeeded: the last body answered SUCCESS.
bbb_api_succeeded() {
  [[ "$BBB_API_BODY" == *"<returncode>SUCCESS</returncode>"* ]]
}

# bbb_api_count TAG: how many <TAG> elements the last body holds (a meeting, a recording).
bbb_api_count() {
  { grep -o "<$1>" <<<"$BBB_API_BODY" || true; } | wc -l
}
