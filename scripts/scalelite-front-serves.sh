#!/usr/bin/env bash
# A front's front-role against what the stack says of it (campus.servingFront), before `pulumi up` moves the
# front's DNS records or installs Scalelite. SERVES=true: this front serves (/var/lib/bbb-ovh/front-role says
# primary), so the front's name may point here. SERVES=false: it does not (standby, fenced, or no role file: a
# standby that never switched), so the name may go to the other front. A stack edited ahead of the failover,
# or back before the failback, stops here instead of pointing Moodle at a front whose Scalelite is stopped.
#
# On the standby front it changes nothing. On a rebuilt front (campus.rebuildFront: a new server under the
# front's name while the standby front serves) RECORD=fenced records that role when none is: Scalelite's
# step then installs Scalelite stopped, its certificate step waits for the name, and its nightly backup
# skips, until `ops failback` makes it the standby (front-role standby), then the front. A role already
# recorded is kept: a rebuilt front that came back with its old disk and still says primary is refused, and
# so is a front with no role that runs Scalelite (the front as built, which serves: the stack is wrong).
#
# Inputs (stdin, KEY=VALUE): SERVES (true or false); optional RECORD (fenced).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(SERVES)
OPTIONAL_INPUTS=(RECORD)

check_inputs() {
  [[ "$IN_SERVES" == true || "$IN_SERVES" == false ]] || die "SERVES must be true or false, got '$IN_SERVES'"
  [[ -z "${IN_RECORD:-}" || ("$IN_RECORD" == fenced && "$IN_SERVES" == false) ]] ||
    die "RECORD must be fenced, on a front the stack says does not serve (SERVES=false), got RECORD='$IN_RECORD' SERVES=$IN_SERVES"
}

# check_role ROLE: dies, changing nothing, when the stack and the role disagree.
check_role() {
  local role="$1"
  if [[ "$IN_SERVES" == true && "$role" != primary ]]; then
    die "the stack says this standby front serves (campus.servingFront: standbyFront), but it does not ($FRONT_ROLE_FILE: ${role:-none}): run \`ops failover\` first, or set campus.servingFront back to front; nothing was changed"
  fi
  if [[ "$IN_SERVES" == false && "$role" == primary && -n "${IN_RECORD:-}" ]]; then
    die "the stack rebuilds this front while the standby front serves (campus.rebuildFront), but this front serves too ($FRONT_ROLE_FILE: primary: it came back with its old disk, never fenced): run \`ops failover <stack> --yes\` again, which fences it, then \`pulumi up\`; nothing was changed"
  fi
  if [[ "$IN_SERVES" == false && "$role" == primary ]]; then
    die "this standby front still serves ($FRONT_ROLE_FILE: primary), but the stack says the front does (campus.servingFront: front): run \`ops failback\` first, or set campus.servingFront: standbyFront again; nothing was changed"
  fi
}

main() {
  local role
  check_inputs
  role="$(front_role)"
  check_role "$role"
  if [[ -n "${IN_RECORD:-}" && -z "$role" ]]; then
    # No role and Scalelite running: the front as `pulumi up` built it, never switched, so it serves.
    ! systemctl is-active --quiet scalelite.target ||
      die "the stack rebuilds this front (campus.rebuildFront), but it runs Scalelite and no front-role says \`ops failover\` fenced it: it is the front that serves, not a new server; remove campus.rebuildFront (and campus.servingFront: standbyFront unless the standby front serves); nothing was changed"
    install_text "$FRONT_ROLE_FILE" 0644 "$IN_RECORD"$'\n' || true
    log "front-role $IN_RECORD recorded ($FRONT_ROLE_FILE): Scalelite stays stopped here until \`ops failback\` makes this front the standby, then the front"
    return 0
  fi
  log "front-role ${role:-none}: the stack's campus.servingFront agrees"
}

run_step "$@"
