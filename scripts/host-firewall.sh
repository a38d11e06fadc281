#!/usr/bin/env bash
# The host firewall of every campus host (front and nodes, any host kind): one nftables table of ours,
# `inet bbb_ovh` (IPv4 and IPv6), rendered by components/security/firewallPolicy.ts.
#
# Inputs (stdin, KEY=VALUE): RULESET_B64 (the whole nftables file: it replaces our table atomically
# in one `nft -f` transaction), SSH_SOURCES (the CIDRs the ruleset lets reach SSH, space-separated),
# SSH_PORT (the one port the ruleset admits them on: this host's sshd port, components/hosts/sshPort.ts).
#
# - Refuses to apply a ruleset that would cut off the SSH client running it: the client's address must
#   be among SSH_SOURCES AND the port it is connected to must be SSH_PORT (an sshd on 2222 behind a
#   ruleset that opens 22 would lock everyone out, whatever the addresses).
# - Persistent: the file is /etc/bbb-ovh/firewall.nft and our unit bbb-ovh-firewall.service loads it
#   at boot, before the network comes up. We do not use nftables.service: its /etc/nftables.conf
#   starts with `flush ruleset`, which would also wipe UFW's and Docker's tables.
# - Beside UFW (bbb-install -w) and Docker: they keep their own tables. At the input hook a packet
#   goes through every base chain; an accept ends only that chain, a drop is final. So a packet must
#   pass both UFW's chains and ours: UFW opening SSH to everyone cannot reopen what we drop.
# - Idempotent and convergent: applied only when the file changed, a previous apply did not finish,
#   or the live table differs from what was last applied (e.g. someone flushed the ruleset).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(RULESET_B64 SSH_SOURCES SSH_PORT)

FAMILY=inet
TABLE=bbb_ovh
RULESET_FILE=/etc/bbb-ovh/firewall.nft
UNIT=bbb-ovh-firewall.service
PENDING="$STATE_DIR/host-firewall.pending"
APPLIED="$STATE_DIR/host-firewall.applied"

# ancestors: our parent, its parent, ... up to (not including) init.
ancestors() {
  local pid=$$
  while true; do
    pid="$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || return 0
    [[ -n "$pid" && "$pid" -gt 1 ]] || return 0
    printf '%s\n' "$pid"
  done
}

# unbracket ADDRESS: an ss(8) address without IPv6 brackets.
unbracket() {
  local address="${1#[}"
  printf '%s' "${address%]}"
}

# ssh_session: "CLIENT_ADDRESS SERVER_PORT" of the SSH session that runs this step, empty when there is
# none. SSH_CONNECTION is "client-address client-port server-address server-port" (ssh(1), ENVIRONMENT).
# `sudo -n` (how steps run as a non-root user) resets the environment, so it is looked for in the
# environment our ancestors started with (sudo keeps the caller's), and failing that, in the TCP
# connection held by our sshd ancestor (its local port is the one sshd accepted the client on).
ssh_session() {
  local pid connection="${SSH_CONNECTION:-}" local_end peer
  if [[ -z "$connection" ]]; then
    for pid in $(ancestors); do
      connection="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')" || true
      [[ -n "$connection" ]] && break
    done
  fi
  if [[ -n "$connection" ]]; then
    read -r peer _ _ local_end <<<"$connection"
    printf '%s %s' "$peer" "$local_end"
    return 0
  fi
  for pid in $(ancestors); do
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == sshd ]] || continue
    # Columns without a header and a state filter: Recv-Q Send-Q Local Peer Process.
    read -r local_end peer < <(ss -Htnp state established 2>/dev/null | awk -v owner="pid=$pid," 'index($0, owner) {print $3, $4; exit}') || true
    if [[ -n "${peer:-}" ]]; then
      printf '%s %s' "$(unbracket "${peer%:*}")" "${local_end##*:}"
      return 0
    fi
  done
}

# check_no_lockout: dies when the SSH client's address is not among SSH_SOURCES, or when the port it is
# connected to is not SSH_PORT, the one port the ruleset admits SSH on.
check_no_lockout() {
  local client port
  read -r client port < <(ssh_session) || true
  if [[ -z "${client:-}" ]]; then
    local pid
    for pid in $(ancestors); do
      [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != sshd ]] ||
        die "refusing to apply the firewall: this runs over SSH but the client's address cannot be found, so it cannot check that the session stays reachable"
    done
    log "not run over SSH: no client address to keep reachable"
    return 0
  fi
  if [[ "$port" != "$IN_SSH_PORT" ]]; then
    die "refusing to apply the firewall: this SSH session is connected to port ${port:-unknown}, but the ruleset admits SSH on port $IN_SSH_PORT only, so it would lock everyone out. Set the host's sshPort in the stack to the port its sshd listens on."
  fi
  command -v python3 >/dev/null || apt_install python3-minimal
  # shellcheck disable=SC2086 # SSH_SOURCES is a space-separated list on purpose
  if ! python3 - "$client" $IN_SSH_SOURCES <<'EOF'; then
import ipaddress, sys
client = ipaddress.ip_address(sys.argv[1].split("%")[0])
if getattr(client, "ipv4_mapped", None):
    client = client.ipv4_mapped
sys.exit(0 if any(client in ipaddress.ip_network(c, strict=False) for c in sys.argv[2:]) else 1)
EOF
    die "refusing to apply the firewall: this SSH session comes from $client, which it would not let reach SSH (allowed: ${IN_SSH_SOURCES:-none}). Add that address's network to campus.adminCidrs, or deploy from an address inside them."
  fi
}

ensure_nft() {
  command -v nft >/dev/null || apt_install nftables
}

install_ruleset() {
  local checked
  mkdir -p "$STATE_DIR"
  checked="$(mktemp "$STATE_DIR/firewall-check.XXXXXX")"
  printf '%s' "$IN_RULESET" >"$checked"
  # --check parses and validates against the kernel without changing anything.
  nft --check --file "$checked" || { rm -f "$checked"; die "the firewall ruleset does not load (nft --check failed); nothing was changed"; }
  rm -f "$checked"
  if ! has_content "$ROOT$RULESET_FILE" "$IN_RULESET"; then
    touch "$PENDING"
    install_text "$ROOT$RULESET_FILE" 0600 "$IN_RULESET" || true
  fi
}

apply_ruleset() {
  local live
  live="$(nft list table "$FAMILY" "$TABLE" 2>/dev/null || true)"
  if [[ ! -f "$PENDING" && -f "$APPLIED" && -n "$live" ]] && cmp -s "$APPLIED" <(printf '%s\n' "$live"); then
    return 0
  fi
  log "loading the firewall table $FAMILY $TABLE"
  nft --file "$ROOT$RULESET_FILE"
  nft list table "$FAMILY" "$TABLE" >"$APPLIED.tmp"
  mv -f "$APPLIED.tmp" "$APPLIED"
  rm -f "$PENDING"
}

render_unit() {
  printf '%s\n' \
    "# Written by bbb-ovh (host-firewall.sh); changes here are overwritten on the next deployment." \
    "[Unit]" \
    "Description=bbb-ovh host firewall (nftables table $FAMILY $TABLE)" \
    "DefaultDependencies=no" \
    "Before=network-pre.target shutdown.target" \
    "Wants=network-pre.target" \
    "Conflicts=shutdown.target" \
    "" \
    "[Service]" \
    "Type=oneshot" \
    "RemainAfterExit=yes" \
    "ExecStart=/usr/sbin/nft --file $RULESET_FILE" \
    "" \
    "[Install]" \
    "WantedBy=sysinit.target"
}

# ensure_unit: the unit written, reloaded and enabled through lib/units.sh's queue (so a run cut in between
# finishes the job on the next), never started: apply_ruleset has loaded the table already. Enabled again
# if someone disabled it.
ensure_unit() {
  render_unit | install_boot_unit "$UNIT"
  apply_pending_units
  systemctl is-enabled --quiet "$UNIT" || systemctl enable "$UNIT"
}

main() {
  [[ "$IN_SSH_PORT" =~ ^[0-9]+$ ]] || die "SSH_PORT must be a TCP port number, got '$IN_SSH_PORT'"
  grep -q "^table $FAMILY $TABLE {" <<<"$IN_RULESET" || die "RULESET_B64 does not define table $FAMILY $TABLE"
  check_no_lockout
  ensure_nft
  install_ruleset
  apply_ruleset
  ensure_unit
  log "firewall table $FAMILY $TABLE is up to date"
}

run_step "$@"
