#!/usr/bin/env bash
# Installs BigBlueButton with the official bbb-install.sh and the flags the Pulumi program renders
# (renderInstallerFlags: -w -v LINE -s FQDN -e EMAIL), so one place decides them. The installer is fetched
# at a pinned commit (INSTALLER_URL) and runs only if its sha256 is INSTALLER_SHA256 (the stack's
# campus.bbb.installer or the line's default, components/bbb/installerPin.ts; docs/nodes.md says how to
# move a pin).
# It runs as `bash FILE` does, WITHOUT -e, like upstream's documented `wget -qO- URL | bash -s -- ...`
# (its `#!/bin/bash -ex` shebang only applies when the file is executed directly). With -e it would stop
# on commands whose failure it relies on being harmless: at the pinned commit, get_IP's unguarded
# `kill $nc_PID` (line 535) of an nc listener that has already exited after its probe. Without -e a
# failed step does not stop it either (need_pkg ignores apt-get's status), so the outcome is checked
# here instead: the installer's exit status, then BigBlueButton's release file.
# The installer's own output goes to a 0600 log; only progress is printed. A stamp (hash of URL, sha256
# and flags but the email) lets later runs skip the ~15-minute installer; a run killed midway leaves no
# stamp, so the next run installs again (the installer converges on re-runs). The email (-e) only names
# the Let's Encrypt account: a new one is set on that account (certbot update_account), never by
# re-running the installer, which would restart BigBlueButton on every node at once in the middle of
# lessons. The external TURN server is NOT passed with `-c host:secret`: the installer echoes its argv in its log and shows it in ps, so the secret would
# leak. The TURN settings file that -c would write is written here instead, from stdin.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/turn.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/turn.sh"
REQUIRED_INPUTS=(FQDN INSTALLER_FLAGS INSTALLER_URL INSTALLER_SHA256)
OPTIONAL_INPUTS=(TURN_HOST TURN_SECRET)

INSTALLER="$STATE_DIR/bbb-install.sh"
STAMP="$STATE_DIR/bbb-install.stamp"
ACCOUNT_EMAIL="$STATE_DIR/bbb-install.email"
INSTALL_LOG="$LOG_DIR/bbb-install.log"

# Downloads the installer and keeps it only when its sha256 is the pinned one.
download_installer() {
  local tmp actual
  tmp="$(mktemp "$STATE_DIR/bbb-install.download.XXXXXX")"
  if ! curl -fsSL --retry 3 -o "$tmp" "$IN_INSTALLER_URL"; then
    rm -f "$tmp"
    die "could not download the installer from $IN_INSTALLER_URL"
  fi
  actual="$(sha256sum "$tmp" | cut -d' ' -f1)"
  if [[ "$actual" != "$IN_INSTALLER_SHA256" ]]; then
    rm -f "$tmp" "$INSTALLER"
    die "bbb-install.sh from $IN_INSTALLER_URL has sha256 $actual, not the pinned $IN_INSTALLER_SHA256; not running it (see docs/nodes.md, 'Moving the installer pin')"
  fi
  install_content "$INSTALLER" 0700 <"$tmp" || true
  rm -f "$tmp"
}

run_installer() {
  local flags=("$@") started status=0
  started="$(date +%s)"
  (umask 077 && touch "$INSTALL_LOG")
  chmod 0600 "$INSTALL_LOG"
  printf '\n=== %s bbb-install.sh %s\n' "$(date -u +%FT%TZ)" "${flags[*]}" >>"$INSTALL_LOG"
  log "running bbb-install.sh ${flags[*]} (about 15 minutes; output in ${INSTALL_LOG#"$ROOT"})"
  # stdin is closed: nothing the installer starts may read what is left of our inputs.
  bash "$INSTALLER" "${flags[@]}" >>"$INSTALL_LOG" 2>&1 </dev/null || status=$?
  if ((status != 0)); then
    warn "bbb-install.sh failed (exit $status); last lines of ${INSTALL_LOG#"$ROOT"}:"
    tail -n 30 "$INSTALL_LOG" >&2
    die "BigBlueButton installation on $IN_FQDN failed"
  fi
  if [[ ! -f "$ROOT/etc/bigbluebutton/bigbluebutton-release" ]]; then
    warn "last lines of ${INSTALL_LOG#"$ROOT"}:"
    tail -n 30 "$INSTALL_LOG" >&2
    die "bbb-install.sh exited 0 but BigBlueButton is not installed (no /etc/bigbluebutton/bigbluebutton-release): a step failed and the installer went on"
  fi
  log "bbb-install.sh finished in $(($(date +%s) - started)) s"
}

configure_turn() {
  if turn_servers_xml "$IN_TURN_HOST" "$IN_TURN_SECRET" "the external TURN server" | install_content "$TURN_XML" 0640 root:bigbluebutton; then
    log "TURN server set to $IN_TURN_HOST; restarting bbb-web"
    systemctl restart bbb-web
  else
    log "TURN server $IN_TURN_HOST already configured"
  fi
}

# email_of FLAG...: the value of -e.
email_of() {
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == "-e" ]]; then
      printf '%s' "${2:-}"
      return 0
    fi
    shift
  done
}

# install_stamp FLAG...: what the stamp holds: the installer and its flags, the email left out.
install_stamp() {
  local kept=()
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == "-e" ]]; then
      shift 2
      continue
    fi
    kept+=("$1")
    shift
  done
  sha256_of "$IN_INSTALLER_URL $IN_INSTALLER_SHA256 ${kept[*]}"
}

# update_account_email EMAIL INSTALLED_NOW: a changed campus.adminEmail goes to certbot's account
# (certbot's "update_account" subcommand); after a fresh install the account already has EMAIL. A
# failure is said and retried on the next run; it does not stop the node's other steps.
update_account_email() {
  local email="$1" installed_now="$2"
  [[ -n "$email" ]] || return 0
  [[ -f "$ACCOUNT_EMAIL" && "$(cat "$ACCOUNT_EMAIL")" == "$email" ]] && return 0
  if [[ "$installed_now" != 1 ]]; then
    if ! certbot update_account --non-interactive --no-eff-email --email "$email" >>"$INSTALL_LOG" 2>&1; then
      warn "the Let's Encrypt account still has its old email: certbot update_account failed (log: $INSTALL_LOG); the next run tries again"
      return 0
    fi
    log "Let's Encrypt account email set to $email (certbot update_account)"
  fi
  printf '%s\n' "$email" >"$ACCOUNT_EMAIL"
}

main() {
  [[ "$IN_INSTALLER_SHA256" =~ ^[0-9a-f]{64}$ ]] || die "INSTALLER_SHA256 must be a sha256 in hex (64 characters)"
  check_turn_inputs
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  chmod 0700 "$STATE_DIR" "$LOG_DIR"

  local flags=() flag stamp
  read -r -a flags <<<"$IN_INSTALLER_FLAGS"
  for flag in "${flags[@]}"; do
    # A secret must never reach the installer's argv (it logs it): no -c, no stray characters.
    [[ "$flag" =~ ^[A-Za-z0-9@._:/+-]+$ && "$flag" != "-c" ]] || die "refusing installer flag '$flag'"
  done
  stamp="$(install_stamp "${flags[@]}")"
  local installed_now=0 current=""
  [[ ! -f "$STAMP" ]] || current="$(cat "$STAMP")"
  # A stamp of an earlier version of this step hashed every flag, the email too: it still counts.
  if [[ "$current" == "$stamp" || "$current" == "$(sha256_of "$IN_INSTALLER_URL $IN_INSTALLER_SHA256 ${flags[*]}")" ]]; then
    log "BigBlueButton already installed with bbb-install.sh ${flags[*]}; skipping the installer"
    [[ "$current" == "$stamp" ]] || printf '%s\n' "$stamp" >"$STAMP"
  else
    rm -f "$STAMP"
    download_installer
    run_installer "${flags[@]}"
    printf '%s\n' "$stamp" >"$STAMP"
    installed_now=1
  fi
  update_account_email "$(email_of "${flags[@]}")" "$installed_now"

  if [[ -n "${IN_TURN_HOST:-}" ]]; then
    configure_turn
  fi
  log "BigBlueButton is installed on $IN_FQDN"
}

run_step "$@"
