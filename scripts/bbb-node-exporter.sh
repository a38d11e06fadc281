#!/usr/bin/env bash
# greenstatic's bigbluebutton-exporter on a BigBlueButton node, as a systemd service on 127.0.0.1:9688 (it
# has neither TLS nor a login): the node's nginx serves it to the fronts' Prometheus with TLS and the scrape
# login (monitoring-node.sh). The source is GitHub's tarball of a pinned commit; every file we install
# is checked against its pinned sha256 first (MANIFEST, `sha256sum -c` format), and nothing is downloaded
# when the installed files already are those. Its Python dependencies come from Ubuntu's packages.
# The settings (API secret included) go to a root-only EnvironmentFile: systemd reads it before dropping
# to the exporter's own user, so the secret is never on a command line.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/units.sh"
REQUIRED_INPUTS=(EXPORTER_URL MANIFEST_B64 SETTINGS_B64)

INSTALL_DIR="$ROOT/opt/bigbluebutton-exporter"
SETTINGS="$ROOT/etc/bigbluebutton-exporter/settings.env"
UNIT="bigbluebutton-exporter.service"
USER_NAME="bbb-exporter"

# installed_matches: the installed files are exactly the pinned ones.
installed_matches() {
  [[ -d "$INSTALL_DIR" ]] && (cd "$INSTALL_DIR" && printf '%s\n' "$IN_MANIFEST" | sha256sum --quiet -c - >/dev/null 2>&1)
}

# install_source: fetches the tarball, checks each pinned file, and installs them (queuing a restart).
install_source() {
  if installed_matches; then
    return 0
  fi
  local work top file
  # Not in /tmp, and in one place emptied first: a refused download stops the step (die, which no RETURN
  # trap sees) and stays there until the next run replaces it.
  work="$STATE_DIR/exporter-download"
  rm -rf "$work"
  mkdir -p "$work/tree"
  # shellcheck disable=SC2064 # expand now: the trap must remove this run's directory
  trap "rm -rf '$work'" RETURN
  curl -fsSL --retry 3 -o "$work/source.tar.gz" "$IN_EXPORTER_URL" || die "cannot download the exporter from $IN_EXPORTER_URL"
  tar -xzf "$work/source.tar.gz" -C "$work/tree" || die "the download from $IN_EXPORTER_URL is not a gzip tarball"
  top="$(find "$work/tree" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  [[ -n "$top" ]] || die "the tarball from $IN_EXPORTER_URL has no top directory"
  if ! (cd "$top" && printf '%s\n' "$IN_MANIFEST" | sha256sum --quiet -c - >&2); then
    die "the exporter from $IN_EXPORTER_URL does not match the pinned sha256 of its files; not installed"
  fi
  while read -r _ file; do
    [[ -n "$file" ]] || continue
    install_watched "$INSTALL_DIR/$file" 0644 "$UNIT" <"$top/$file"
  done <<<"$IN_MANIFEST"
  log "installed the exporter's pinned files in ${INSTALL_DIR#"$ROOT"}"
}

ensure_user() {
  getent group "$USER_NAME" >/dev/null || groupadd --system "$USER_NAME"
  getent passwd "$USER_NAME" >/dev/null || useradd --system --gid "$USER_NAME" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
}

install_service() {
  printf '%s\n' "$IN_SETTINGS" | install_watched "$SETTINGS" 0600 "$UNIT"
  install_unit "$UNIT" <<EOF_UNIT
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=BigBlueButton exporter for Prometheus (greenstatic/bigbluebutton-exporter)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile=/etc/bigbluebutton-exporter/settings.env
ExecStart=/usr/bin/python3 /opt/bigbluebutton-exporter/bbb-exporter/server.py
User=$USER_NAME
Group=$USER_NAME
Restart=always
RestartSec=5s
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
EOF_UNIT
}

main() {
  [[ "$IN_EXPORTER_URL" =~ ^https://[^/]+/.*/[0-9a-f]{40}$ ]] || die "EXPORTER_URL must name a commit (40 hex digits at its end), not a tag or branch"
  grep -qvE '^[0-9a-f]{64}  [A-Za-z0-9_./-]+$' <<<"$IN_MANIFEST" && die "MANIFEST must be '<sha256>  <path>' lines"
  grep -q '^API_SECRET=.' <<<"$IN_SETTINGS" || die "SETTINGS must set API_SECRET"
  # settings.py reads the recordings from /var/bigbluebutton and refuses to start without it.
  [[ -d "$ROOT/var/bigbluebutton" ]] || die "/var/bigbluebutton is missing: BigBlueButton is not installed (run bbb-node-install first)"

  apt_install python3 python3-requests python3-xmltodict python3-prometheus-client
  ensure_user
  install_source
  install_service
  apply_pending_units
  log "bigbluebutton-exporter serves this node's BigBlueButton metrics (port $(sed -n 's/^PORT=//p' <<<"$IN_SETTINGS"))"
}

run_step "$@"
