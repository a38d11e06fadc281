#!/usr/bin/env bash
# Scalelite front: our Scalelite exporter (scalelite-metrics.sh, installed as
# /usr/local/sbin/bbb-ovh-scalelite-metrics) and the timer that runs it every minute, writing
# node_exporter's textfile directory (docs/monitoring.md). Scalelite itself exposes no metrics.
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR (the recordings tree the spool step lays out), SLEEPING_LIST
# (the SSH user's ~/.bbb-ovh/schedule-sleeping, where `ops schedule apply` / `ops scale` list the nodes
# they put to sleep: the exporter turns it into bbb_ovh_node_expected_awake), PLAN_B64 (each node's planned
# capacity and the end of term, components/monitoring/renderPlanFile.ts; written to $PLAN_FILE here),
# CREDIT_ESTIMATE (the SSH user's ~/.bbb-ovh/credit-estimate, where `ops voucher status` / `ops schedule
# apply` / `ops scale` write when the OVH credit runs out).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(RECORDING_DIR SLEEPING_LIST PLAN_B64 CREDIT_ESTIMATE)
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"
# Not secret (sizes and a date): readable by all, as the exporter's output is.
PLAN_FILE="$ROOT/etc/bbb-ovh/plan"

install_exporter() {
  # The exporter reads it at each run: a changed plan needs no restart.
  install_text "$PLAN_FILE" 0644 "$IN_PLAN"$'\n' || true
  install_metrics_program bbb-ovh-scalelite-metrics "write Scalelite's servers, spool and backup metrics for node_exporter" \
    "$IN_RECORDING_DIR" "$IN_SLEEPING_LIST" "${PLAN_FILE#"$ROOT"}" "$IN_CREDIT_ESTIMATE" <"$SCRIPT_DIR/scalelite-metrics.sh"
  apply_pending_units
}

main() {
  local problems=() input
  # The paths land unquoted in the unit's ExecStart=.
  for input in RECORDING_DIR SLEEPING_LIST CREDIT_ESTIMATE; do
    local value="IN_$input"
    [[ "${!value}" =~ ^/[A-Za-z0-9._/-]+$ ]] || problems+=("$input must be an absolute path of plain characters")
  done
  grep -Evq '^(#.*|capacity_users [A-Za-z0-9.-]+ [0-9]+|term_end [0-9]+)$' <<<"$IN_PLAN" && problems+=("PLAN_B64 holds a line that is neither capacity_users NODE USERS nor term_end EPOCH")
  ((${#problems[@]} == 0)) || die "$(printf '%s; ' "${problems[@]}")"
  install_exporter
  log "the Scalelite metrics timer is up to date"
}

run_step "$@"
