#!/usr/bin/env bash
# Scalelite's rake tasks on the front, for the steps that read or change its servers. Sourced after common.sh.

# rake TASK...: Scalelite's bin/rake in its API container.
rake() {
  docker exec scalelite-api bin/rake "$@"
}

# server_states: "id state online|offline" per registered server, from `rake servers`, whose output also
# holds the secrets: it is parsed here and never printed.
server_states() {
  local listing
  listing="$(rake servers 2>/dev/null)" || die "bin/rake servers failed in the scalelite-api container"
  awk '
    function flush() { if (id != "") print id, state, online }
    /^id: / { flush(); id = substr($0, 5); state = "disabled"; online = "offline"; next }
    /^\t(enabled|disabled|cordoned)$/ { state = substr($0, 2) }
    /^\t(online|offline)$/ { online = substr($0, 2) }
    END { flush() }
  ' <<<"$listing"
}
