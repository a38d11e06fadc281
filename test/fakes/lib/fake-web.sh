#!/usr/bin/env bash
# The outside web as the fake curl and wget see it. Sourced after fake.sh.
#
# raw.githubusercontent.com serves the fake bbb-install.sh and scalelite_post_publish.rb;
# https://<name>/bigbluebutton/api answers like BigBlueButton when <name> is in the test's DNS table and
# the fake installer has installed BBB there; https://<name>/health_check answers like Scalelite while
# the scalelite-nginx unit is active (body from FAKE_SCALELITE_HEALTH_BODY, default `success`);
# everything else fails like curl does without internet.
# fake_web_get URL prints the body, or prints curl's error message and returns curl's exit code.

FAKE_DOWNLOADS="${BASH_SOURCE[0]%/*}/../downloads"
BBB_PROPERTIES_DEFAULT="$FAKE_ROOT/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties"
BBB_PROPERTIES_ETC="$FAKE_ROOT/etc/bigbluebutton/bbb-web.properties"

# bbb_property KEY: the value bbb-web uses (the /etc override wins over the packaged default).
bbb_property() {
  local key="$1" file value
  for file in "$BBB_PROPERTIES_ETC" "$BBB_PROPERTIES_DEFAULT"; do
    [[ -f "$file" ]] || continue
    value="$(sed -n "s/^${key}=//p" "$file" | tail -n 1)"
    if [[ -n "$value" ]]; then
      printf '%s' "$value"
      return 0
    fi
  done
  return 1
}

bbb_response() {
  printf '<response><returncode>%s</returncode>%s</response>\n' "$1" "$2"
}

# checksum_ok CALL QUERY CHECKSUM: BBB's check, the algorithm inferred from the checksum's length.
checksum_ok() {
  local call="$1" query="$2" checksum="$3" tool expected
  case "${#checksum}" in
    40) tool=sha1sum ;;
    64) tool=sha256sum ;;
    96) tool=sha384sum ;;
    128) tool=sha512sum ;;
    *) return 1 ;;
  esac
  expected="$(printf '%s%s%s' "$call" "$query" "$(bbb_property securitySalt)" | "$tool" | cut -d' ' -f1)"
  [[ "$expected" == "$checksum" ]]
}

bbb_api() {
  local call="$1" query="$2" checksum="" rest=() param
  if [[ -z "$call" ]]; then
    local version=""
    if [[ "$(bbb_property allowRevealOfBBBVersion || true)" == "true" ]]; then
      version="<bbbVersion>3.0.4</bbbVersion>"
    fi
    bbb_response SUCCESS "<version>2.0</version><apiVersion>2.0</apiVersion>$version"
    return 0
  fi
  IFS='&' read -r -a params <<<"$query"
  for param in "${params[@]}"; do
    case "$param" in
      checksum=*) checksum="${param#checksum=}" ;;
      *) rest+=("$param") ;;
    esac
  done
  query="$(IFS='&'; printf '%s' "${rest[*]}")"
  if ! checksum_ok "$call" "$query" "$checksum"; then
    bbb_response FAILED "<messageKey>checksumError</messageKey><message>You did not pass the checksum security check</message>"
    return 0
  fi
  case "$call" in
    getMeetings) bbb_response SUCCESS "<meetings/><messageKey>noMeetings</messageKey><message>no meetings were found on this server</message>" ;;
    *) bbb_response FAILED "<messageKey>unsupportedRequest</messageKey><message>This request is not supported by the test double</message>" ;;
  esac
}

# bbb_reachable NAME: the node answers when BBB is installed and bigbluebutton.target is not stopped;
# FAKE_BBB_API_DOWN_TIMES makes the first N requests fail as if nginx were still starting.
bbb_reachable() {
  local down counter="$FAKE_STATE/bbb-api-requests" seen target
  [[ -f "$BBB_PROPERTIES_DEFAULT" ]] || return 1
  fake_read target "$FAKE_STATE/systemd/bigbluebutton.target.active"
  [[ "$target" != "inactive" ]] || return 1
  fake_knob_into down FAKE_BBB_API_DOWN_TIMES 0
  fake_read seen "$counter"
  printf '%s\n' "$((${seen:-0} + 1))" >"$counter"
  ((${seen:-0} >= down))
}

# fake_web_file URL: the path of a binary download the test placed for URL, or fails. GitHub's codeload
# serves a commit's source tarball at https://codeload.github.com/<owner>/<repo>/tar.gz/<commit>; the test
# puts what it wants served at fake-state/downloads/codeload/<owner>/<repo>/<commit>.tar.gz.
fake_web_file() {
  [[ "$1" =~ ^https://codeload\.github\.com/([^/]+)/([^/]+)/tar\.gz/([0-9a-f]{40})$ ]] || return 1
  local file="$FAKE_STATE/downloads/codeload/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}/${BASH_REMATCH[3]}.tar.gz"
  [[ -f "$file" ]] && printf '%s' "$file"
}

# fake_resolves HOST: HOST is a name of the test's DNS table (fake-state/dns: "name address" lines).
fake_resolves() {
  local name _
  [[ -f "$FAKE_STATE/dns" ]] || return 1
  while read -r name _ || [[ -n "$name" ]]; do
    [[ "$name" == "$1" ]] && return 0
  done <"$FAKE_STATE/dns"
  return 1
}

fake_web_get() {
  local url="$1" host path
  [[ "$url" =~ ^https?://([^/:?]+)(/[^?]*)?(\?(.*))?$ ]] || { echo "curl: (3) URL using bad/illegal format or missing URL"; return 3; }
  host="${BASH_REMATCH[1]}"
  path="${BASH_REMATCH[2]}"
  local query="${BASH_REMATCH[4]}"
  case "$host$path" in
    raw.githubusercontent.com/bigbluebutton/bbb-install/*/bbb-install.sh)
      cat "$FAKE_DOWNLOADS/bbb-install.sh"
      return 0
      ;;
    raw.githubusercontent.com/blindsidenetworks/scalelite/*/scalelite_post_publish.rb)
      cat "$FAKE_DOWNLOADS/scalelite_post_publish.rb"
      return 0
      ;;
  esac
  if ! fake_resolves "$host"; then
    echo "curl: (6) Could not resolve host: $host"
    return 6
  fi
  if [[ "$path" =~ ^/bigbluebutton/api/?([A-Za-z]*)$ ]] && bbb_reachable; then
    bbb_api "${BASH_REMATCH[1]}" "$query"
    return 0
  fi
  local nginx body
  fake_read nginx "$FAKE_STATE/systemd/scalelite-nginx.service.active"
  if [[ "$path" == "/health_check" && "$nginx" == "active" ]]; then
    fake_knob_into body FAKE_SCALELITE_HEALTH_BODY success
    printf '%s' "$body"
    return 0
  fi
  echo "curl: (7) Failed to connect to $host port 443 after 3 ms: Couldn't connect to server"
  return 7
}
