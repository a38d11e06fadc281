#!/usr/bin/env bash
# Scalelite front: our Scalelite exporter (scalelite-metrics.sh, installed as
# /usr/local/sbin/bbb-ovh-scalelite-metrics) and the timer that runs it every minute, writing
# node_exporter's textfile directory (docs/monitoring.md). Scalelite itself exposes no metrics.
#
# Inputs (stdin, KEY=VALUE): RECORDING_DIR (the recordings tree the spool step lays out), SLEEPING_LIST
# (the SSH user's ~/.bbb-ovh/schedule-sleeping, where `ops schedule apply` / `ops scale` list the nodes
# they put to sleep: the exporter turns it into bbb_ovh_node_expected_awake).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
SCRIPT_DIR="$(dirname "${BASH_SOURCE[0]}")"

usage() {
  echo "usage: $0 < inputs   (KEY=VALUE lines: RECORDING_DIR SLEEPING_LIST)"
}

install_exporter() {
  install_metrics_program bbb-ovh-scalelite-metrics "write Scalelite's servers, spool and backup metrics for node_exporter" \
    "$IN_RECORDING_DIR" "$IN_SLEEPING_LIST" <"$SCRIPT_DIR/scalelite-metrics.sh"
  apply_pending_units
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  read_inputs
  require_inputs RECORDING_DIR SLEEPING_LIST
  [[ "$IN_RECORDING_DIR" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "RECORDING_DIR must be an absolute path of plain characters"
  # Both land unquoted in the unit's ExecStart=.
  [[ "$IN_SLEEPING_LIST" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "SLEEPING_LIST must be an absolute path of plain characters"
  install_exporter
  log "the Scalelite metrics timer is up to date"
}

main "$@"
