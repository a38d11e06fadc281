#!/usr/bin/env bash
# The forced command of a BigBlueButton node's recording key on the Scalelite front (authorized_keys
# `command=`, rendered by renderSpoolAuthorizedKeys; installed as /usr/local/lib/bbb-ovh/spool-receive by
# scalelite-spool.sh). sshd runs it for every connection of that key, with what the node asked for in
# SSH_ORIGINAL_COMMAND (sshd(8), "AUTHORIZED_KEYS FILE FORMAT").
#
#   spool-receive TARGET MAX_ARCHIVE_BYTES SENDER_LIMIT_BYTES RESERVE_BYTES [RRSYNC]
#
# TARGET is the node's own directory (<recordings>/incoming/<node>): rrsync -wo confines the node to it,
# so a node can neither read nor write what another node sent. Before rrsync runs, this script:
# - refuses while this front does not serve (fenced by ops failover, or the standby: check_role);
# - refuses a full spool: the node's target already holds SENDER_LIMIT_BYTES, or the filesystem has less
#   than RESERVE_BYTES + MAX_ARCHIVE_BYTES free (so PostgreSQL and Redis keep their reserve);
# - refuses what a recording archive never needs, whatever the rrsync version: reading (--sender),
#   deleting (--delete*, --remove-sent-files), links (-l, --links), devices and specials (-D, --devices,
#   --specials), directory trees (-r, -d, --recursive, --dirs, --mkpath), and writing anywhere but a
#   hidden temporary file renamed when complete (--inplace, --append, --partial*, --temp-dir, --backup*,
#   --*-dest), so the mover never sees half an archive under its final name;
# - appends --ignore-existing at the end of the options (the node cannot undo it): nothing already
#   there is overwritten;
# - caps the size of any file written at MAX_ARCHIVE_BYTES (RLIMIT_FSIZE, `ulimit -f`: the kernel
#   refuses the write past it, the transfer fails and the node keeps its recording). Not rsync's
#   --max-size: it skips a larger file and still exits 0, and the node would then delete the recording;
# - passes rrsync each of -no-lock, -munge, -no-overwrite that it knows (Python rrsync: 3.2.4+, the last
#   one 3.4.1+; Ubuntu 22.04's release rsync 3.2.3 ships the Perl rrsync, which knows none of them and
#   takes no lock). Not -no-del: it also refuses --remove-source-files, which Scalelite's post_publish
#   script sends (the receiver only reports success for it; the sender removes its own file).
set -euo pipefail

STEP_NAME=spool-receive
# What ops failover and the standby step say this front is (primary, standby, fenced; none: primary).
ROLE_FILE="${BBB_OVH_ROOT:-}/var/lib/bbb-ovh/front-role"

refuse() {
  printf 'bbb-ovh %s: %s\n' "$STEP_NAME" "$*" >&2
  exit 1
}

# check_role: a front that does not serve takes no recording. `ops failover` fences the old front
# (front-role `fenced`) and the standby's role is `standby`: what either received would sit in a spool no
# importer reads, while the node, told it was delivered, deletes its copy. Refused, the node keeps the
# recording, and its retry timer sends it once `ops failover` points the node at the serving front (or
# reports it overdue).
check_role() {
  local role=""
  [[ -f "$ROLE_FILE" ]] && { IFS= read -r role <"$ROLE_FILE" || true; }
  role="${role%%[[:space:]]*}"
  [[ "$role" != fenced && "$role" != standby ]] || refuse "this front is the $role one: it takes no recording (point the node at the serving front: ops failover does)"
}

# rrsync_options RRSYNC: the protective options that this rrsync lists in its help (the Perl one has no help).
rrsync_options() {
  local help option
  help="$("$1" -help 2>&1 || true)"
  for option in -no-lock -munge -no-overwrite; do
    [[ "$help" == *"[$option]"* ]] && printf '%s\n' "$option"
  done
  return 0
}

check_space() {
  local target="$1" max_archive="$2" sender_limit="$3" reserve="$4" used="" free=""
  # read from du and df directly: each pipe through cut, tail and tr would be three more processes a transfer.
  read -r used _ < <(du -sb "$target") || true
  [[ "$used" =~ ^[0-9]+$ ]] || refuse "cannot measure this node's spool (du -sb)"
  ((used < sender_limit)) || refuse "this node's spool holds $used bytes, its limit is $sender_limit: wait until the front has imported them"
  { read -r _ && read -r free; } < <(df -B1 --output=avail "$target") || true
  [[ "$free" =~ ^[0-9]+$ ]] || refuse "cannot measure the free space of the front's recording filesystem (df)"
  ((free >= reserve + max_archive)) || refuse "the front's recording filesystem has $free bytes free, below its reserve ($reserve) plus one archive ($max_archive): try again later"
}

# check_command COMMAND: refuses what no recording archive needs (see the header). A long option is named
# in the refusal before a short one: rsync sends its short options first, and "--delete" says more than "-r".
check_command() {
  local token flags bundle_problem=""
  [[ "$1" == "rsync --server "* ]] || refuse "only rsync can write recordings here"
  read -ra tokens <<<"${1#rsync --server }"
  for token in "${tokens[@]}"; do
    [[ "$token" == "." ]] && break
    case "$token" in
      --sender) refuse "reading is not allowed" ;;
      --del* | --remove-sent-files | --max-delete*) refuse "deleting is not allowed ($token)" ;;
      --links | --devices | --specials | --copy-devices | --write-devices) refuse "only regular files are accepted ($token)" ;;
      --recursive | --dirs | --mkpath | --relative) refuse "only single archives are accepted, no directories ($token)" ;;
      --inplace | --append* | --partial* | --temp-dir* | --backup* | --suffix* | --*-dest*) refuse "archives are written whole or not at all ($token)" ;;
      --*) ;;
      -*)
        # A bundle of short options; what follows 'e' is the protocol's capability string, not options.
        flags="${token#-}"
        flags="${flags%%e*}"
        if [[ "$flags" == *[lD]* ]]; then
          bundle_problem="only regular files are accepted (-$flags)"
        elif [[ "$flags" == *[rdR]* ]]; then
          bundle_problem="only single archives are accepted, no directories (-$flags)"
        fi
        ;;
    esac
  done
  [[ -z "$bundle_problem" ]] || refuse "$bundle_problem"
}

# with_enforced_options COMMAND: COMMAND with our option last before the '.' argument.
with_enforced_options() {
  local token out="rsync --server" inserted=0
  read -ra tokens <<<"${1#rsync --server }"
  for token in "${tokens[@]}"; do
    if [[ "$token" == "." && $inserted == 0 ]]; then
      out+=" --ignore-existing"
      inserted=1
    fi
    out+=" $token"
  done
  ((inserted)) || refuse "invalid rsync command"
  printf '%s' "$out"
}

main() {
  (($# == 4 || $# == 5)) || refuse "usage: spool-receive TARGET MAX_ARCHIVE_BYTES SENDER_LIMIT_BYTES RESERVE_BYTES [RRSYNC]"
  local target="$1" max_archive="$2" sender_limit="$3" reserve="$4" rrsync="${5:-/usr/bin/rrsync}" options
  [[ "$max_archive$sender_limit$reserve" =~ ^[0-9]+$ ]] || refuse "the limits must be numbers of bytes"
  [[ -d "$target" ]] || refuse "this node has no spool on the front yet (run pulumi up)"
  check_role
  local command="${SSH_ORIGINAL_COMMAND:-}"
  check_command "$command"
  check_space "$target" "$max_archive" "$sender_limit" "$reserve"
  SSH_ORIGINAL_COMMAND="$(with_enforced_options "$command")"
  export SSH_ORIGINAL_COMMAND
  mapfile -t options < <(rrsync_options "$rrsync")
  # In 1024-byte blocks (bash's ulimit -f); rounded up so that an archive of exactly the limit fits.
  ulimit -f $(((max_archive + 1023) / 1024))
  exec "$rrsync" -wo "${options[@]}" "$target"
}

main "$@"
