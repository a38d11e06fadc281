#!/usr/bin/env bash
# FreeSWITCH's event-socket (ESL) password, for the node-image steps. Sourced after common.sh, never run.
# FreeSWITCH accepts ESL connections with it, and its clients on the node must carry the same one.
# `bbb-conf --setip` (bigbluebutton-config/bin/bbb-conf, its "Update ESL passwords" block, in 2.7 and 3.0)
# reads it from bbb-fsesl-akka.conf (the first password line; the package's preinst writes "ClueCon"),
# replaces it by `openssl rand -hex 8` only while it is ClueCon, and copies it into FreeSWITCH's
# event_socket.conf.xml and bbb-webrtc-sfu's settings: 3.0's bbb-conf into /etc/.../production.yml,
# 2.7's into the package's default.yml. An image would therefore give every node the builder's.

# The files that carry it; the first is where bbb-conf --setip reads it from.
# shellcheck disable=SC2034 # used by the scripts that source this file
ESL_FILES=(
  etc/bigbluebutton/bbb-fsesl-akka.conf
  opt/freeswitch/etc/freeswitch/autoload_configs/event_socket.conf.xml
  etc/bigbluebutton/bbb-webrtc-sfu/production.yml
  usr/local/bigbluebutton/bbb-webrtc-sfu/config/default.yml
)

# Per kind of file, the line that holds it: what comes before the password, the password, what follows.
ESL_XML_LINE='^(.*<param[[:space:]]+name="password"[[:space:]]+value=")([^"]*)(".*)$'
ESL_HOCON_LINE='^([[:space:]]*password[[:space:]]*=[[:space:]]*")([^"]*)(".*)$'
ESL_YAML_LINE="^([[:space:]]*esl_password:)[[:space:]]*[\"']?([^\"'[:space:]]*)[\"']?([[:space:]]*)$"

# esl_line_pattern FILE: the pattern of FILE's password line (by its kind: XML, HOCON, YAML).
esl_line_pattern() {
  case "$1" in
    *.xml) printf '%s' "$ESL_XML_LINE" ;;
    *.conf) printf '%s' "$ESL_HOCON_LINE" ;;
    *.yml) printf '%s' "$ESL_YAML_LINE" ;;
  esac
}

# esl_value FILE: prints the password FILE holds (event_socket's password param, akka's first
# password = "...", the sfu's esl_password); fails when FILE is missing or has no such line.
esl_value() {
  local file="$1" pattern line
  [[ -f "$file" ]] || return 1
  pattern="$(esl_line_pattern "$file")"
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ $pattern ]]; then
      printf '%s' "${BASH_REMATCH[2]}"
      return 0
    fi
  done <"$file"
  return 1
}

# esl_filter FILE: stdin (FILE's content) with its first password line set to $ESL_PASSWORD (quoted in
# YAML). In bash, so the password is on no process's command line.
esl_filter() {
  local pattern line seen=""
  pattern="$(esl_line_pattern "$1")"
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ -z "$seen" && "$line" =~ $pattern ]]; then
      seen=1
      case "$1" in
        *.yml) line="${BASH_REMATCH[1]} \"$ESL_PASSWORD\"" ;;
        *) line="${BASH_REMATCH[1]}$ESL_PASSWORD${BASH_REMATCH[3]}" ;;
      esac
    fi
    printf '%s\n' "$line"
  done
}
