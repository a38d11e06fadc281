#!/usr/bin/env bash
# Runs the REAL bbb-install.sh of a pinned tree up to the point where it would start installing, so a
# conformance test can see whether it accepts our flags: its own getopts loop, check_host and
# check_version (with its own check_root and need_pkg), nothing stubbed in the script itself.
#
#   bbb-install-harness.sh INSTALLER STUB_DIR FLAG...
#
# How it is kept from changing this machine: the caller runs it as `nobody` inside new user, mount and
# network namespaces (unshare --user --map-root-user --mount --net), where it is root only for files it
# owns; /etc/apt and /tmp are fresh tmpfs mounts (check_version writes
# /etc/apt/sources.list.d/bigbluebutton.list, main makes a temp file), there is no network, and the
# programs the checks call (wget --spider, apt-key, apt-get, dpkg, fuser, lsof) are stubs in STUB_DIR,
# first on PATH. The script is sourced without its last line (`main "$@" || exit 1`), and `env`, the
# first command main runs once the option and version checks pass ("# We're installing BigBlueButton"),
# is replaced by a function that reports what the script parsed and stops.
# No set -e/-u/pipefail: the script runs as `bash FILE` runs it (bbb-node-install.sh), with none of them.
installer="$1" stubs="$2"
shift 2
# The installer and the stubs are staged on a tmpfs at /mnt first: they may live under /tmp, which is
# then covered by an empty tmpfs.
mount -t tmpfs harness-stage /mnt && cp "$installer" /mnt/bbb-install.sh && cp -r "$stubs" /mnt/stubs || exit 90
mount -t tmpfs harness-apt /etc/apt && mkdir -p /etc/apt/sources.list.d /etc/apt/apt.conf.d || exit 90
mount -t tmpfs harness-tmp /tmp || exit 90
export PATH="/mnt/stubs:$PATH"

# shellcheck disable=SC2317 # called by the sourced main
env() {
  printf 'HARNESS-REACHED-INSTALL VERSION=%s HOST=%s EMAIL=%s UFW=%s DISTRO=%s\n' "${VERSION:-}" "${HOST:-}" "${EMAIL:-}" "${UFW:-}" "${DISTRO:-}"
  printf 'HARNESS-APT-SOURCE %s\n' "$(cat /etc/apt/sources.list.d/bigbluebutton.list 2>/dev/null)"
  exit 0
}

# shellcheck disable=SC1090
source <(sed '$d' /mnt/bbb-install.sh)
main "$@"
echo "HARNESS-MAIN-RETURNED without reaching the installation"
exit 91
