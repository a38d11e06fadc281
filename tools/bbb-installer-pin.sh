#!/usr/bin/env bash
# Prints the campus.bbb.installer pin (line, commit, sha256, date) of bbb-install.sh at a ref of a
# bigbluebutton/bbb-install checkout or bare git directory, as YAML to paste under bbb-ovh:campus.
#
#   tools/bbb-installer-pin.sh <checkout-or-git-dir> <branch|tag|commit> [line]
#
#   git clone https://github.com/bigbluebutton/bbb-install.git /tmp/bbb-install
#   tools/bbb-installer-pin.sh /tmp/bbb-install origin/v3.0.x-release
#
# The hash is that of the file as git stores it at the commit, which is what
# raw.githubusercontent.com/bigbluebutton/bbb-install/<commit>/bbb-install.sh serves and what the node
# checks before running it. The line is read from the branch name (v3.0.x-release -> jammy-300); for a
# tag or a commit, name it as the third argument. The date is the committer date. Read what changed in
# bbb-install.sh before taking a new pin (docs/nodes.md, "The installer").
set -euo pipefail

usage() {
  echo "usage: tools/bbb-installer-pin.sh <bbb-install checkout or git dir> <branch|tag|commit> [jammy-300|focal-270|noble-400]" >&2
}

die() {
  echo "bbb-installer-pin: $*" >&2
  exit 1
}

# line_of_ref REF: the BigBlueButton line of a release branch (the -v value its installer takes).
line_of_ref() {
  case "${1##*/}" in
    v3.0.x-release) echo jammy-300 ;;
    v2.7.x-release) echo focal-270 ;;
    v4.0.x-release) echo noble-400 ;;
    *) return 1 ;;
  esac
}

# resolve_commit GIT_DIR REF: the commit REF names; a bare branch name also matches origin/<branch>.
resolve_commit() {
  local git_dir="$1" ref="$2"
  git --git-dir="$git_dir" rev-parse -q --verify "$ref^{commit}" 2>/dev/null ||
    git --git-dir="$git_dir" rev-parse -q --verify "refs/remotes/origin/$ref^{commit}" 2>/dev/null
}

main() {
  if [[ $# -lt 2 || $# -gt 3 ]]; then
    usage
    exit 2
  fi
  local repo="$1" ref="$2" line="${3:-}" git_dir commit script sha256 date node mongo
  [[ -d "$repo" ]] || die "'$repo' is not a directory"
  git_dir="$(git -C "$repo" rev-parse --absolute-git-dir 2>/dev/null)" || die "'$repo' is neither a git checkout nor a git directory"
  commit="$(resolve_commit "$git_dir" "$ref")" || die "no commit '$ref' in $git_dir (nor origin/$ref): fetch it first"
  if [[ -z "$line" ]]; then
    line="$(line_of_ref "$ref")" || die "cannot tell the line of '$ref': give it as the third argument (jammy-300, focal-270 or noble-400)"
  fi
  [[ "$line" =~ ^(jammy-300|focal-270|noble-400)$ ]] || die "unknown line '$line'; expected jammy-300, focal-270 or noble-400"
  git --git-dir="$git_dir" cat-file -e "$commit:bbb-install.sh" 2>/dev/null || die "$commit has no bbb-install.sh: not a bbb-install commit"
  sha256="$(git --git-dir="$git_dir" cat-file blob "$commit:bbb-install.sh" | sha256sum | cut -d' ' -f1)"
  date="$(git --git-dir="$git_dir" show -s --date=short --format=%cd "$commit")"
  # What a reviewer checks first: bbb-install PR #752 dropped MongoDB and moved 3.0 to Node.js 22.
  # (Read into a variable: `grep -q` on a pipe would end it early, and pipefail would call that a miss.)
  script="$(git --git-dir="$git_dir" cat-file blob "$commit:bbb-install.sh")"
  node="not pinned in the script"
  [[ "$script" =~ NODE_MAJOR=([0-9]+) ]] && node="${BASH_REMATCH[1]}"
  if [[ "$script" == *mongodb-org* ]]; then mongo="installs MongoDB"; else mongo="no MongoDB"; fi
  printf '# bbb-install %s at %s (%s): Node.js %s, %s; from tools/bbb-installer-pin.sh\n' "$ref" "${commit:0:8}" "$date" "$node" "$mongo"
  printf '    bbbVersion: %s\n' "$line"
  printf '    bbb:\n'
  printf '      installer:\n'
  printf '        line: %s\n' "$line"
  printf '        commit: %s\n' "$commit"
  printf '        sha256: %s\n' "$sha256"
  printf '        date: "%s"\n' "$date"
}

main "$@"
