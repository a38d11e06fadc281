#!/usr/bin/env bash
# Standby front: checks that what the stack says of it (campus.servingFront) is what `ops failover` and
# `ops failback` made of it, before `pulumi up` moves the front's DNS records. SERVES=true: this front serves
# (/var/lib/bbb-ovh/front-role says primary), so the front's name may point here. SERVES=false: it does not
# (standby, fenced, or no role file: a standby that never switched), so the name may go back to the front.
# Either way it changes nothing: a stack edited ahead of the failover, or back before the failback, stops
# here instead of pointing Moodle at a front whose Scalelite is stopped.
#
# Inputs (stdin, KEY=VALUE): SERVES (true or false).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(SERVES)
OPTIONAL_INPUTS=()

ROLE_FILE="$STATE_DIR/front-role"

main() {
  local role
  [[ "$IN_SERVES" == true || "$IN_SERVES" == false ]] || die "SERVES must be true or false, got '$IN_SERVES'"
  role="$(head -n 1 "$ROLE_FILE" 2>/dev/null || true)"
  if [[ "$IN_SERVES" == true && "$role" != primary ]]; then
    die "the stack says this standby front serves (campus.servingFront: standbyFront), but it does not ($ROLE_FILE: ${role:-none}): run \`ops failover\` first, or set campus.servingFront back to front; nothing was changed"
  fi
  if [[ "$IN_SERVES" == false && "$role" == primary ]]; then
    die "this standby front still serves ($ROLE_FILE: primary), but the stack says the front does (campus.servingFront: front): run \`ops failback\` first, or set campus.servingFront: standbyFront again; nothing was changed"
  fi
  log "front-role ${role:-none}: the stack's campus.servingFront agrees"
}

run_step "$@"
