#!/usr/bin/env bash
# Prepares the pinned upstream trees (tools/upstream/pins.tsv) that the conformance tests run against,
# in a cache outside the repository: upstream code is read by the tests, never copied into this repo.
#
#   tools/upstream/prepare.sh                      # every pin, from $BBB_OVH_UPSTREAM_GIT/<owner>+<repo>/repo when
#                                                  # that local git directory exists, else from the pin's URL
#   tools/upstream/prepare.sh --from scalelite=/path/to/scalelite.git   # one pin from a given git dir or URL
#
# Cache: ${BBB_OVH_UPSTREAM_CACHE:-~/.cache/bbb-ovh/upstream}/<name>-<commit>/ with a .bbb-ovh-pin marker.
# A pin whose ref does not reach its commit (moved tag, rewritten branch) is refused. Exit 0 when every
# pin is ready; 1 when any could not be prepared (the tests then say which ones they skipped).
set -euo pipefail

PINS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pins.tsv"
CACHE="${BBB_OVH_UPSTREAM_CACHE:-$HOME/.cache/bbb-ovh/upstream}"
declare -A FROM=()

log() { printf 'upstream: %s\n' "$*" >&2; }

# local_mirror URL: the local git directory holding URL's repository, if there is one.
local_mirror() {
  local url="$1" owner_repo dir
  [[ -n "${BBB_OVH_UPSTREAM_GIT:-}" ]] || return 1
  owner_repo="${url#https://github.com/}"
  owner_repo="${owner_repo%.git}"
  dir="$BBB_OVH_UPSTREAM_GIT/${owner_repo/\//+}/repo"
  [[ -d "$dir" ]] && printf '%s\n' "$dir"
}

# ref_reaches GITDIR REF COMMIT: the tag points at COMMIT, or the branch contains it.
ref_reaches() {
  local git_dir="$1" ref="$2" commit="$3" resolved
  git --git-dir="$git_dir" cat-file -e "$commit^{commit}" 2>/dev/null || return 1
  if resolved="$(git --git-dir="$git_dir" rev-parse -q --verify "refs/tags/$ref^{commit}" 2>/dev/null)"; then
    [[ "$resolved" == "$commit" ]]
    return
  fi
  resolved="$(git --git-dir="$git_dir" rev-parse -q --verify "refs/heads/$ref" 2>/dev/null ||
    git --git-dir="$git_dir" rev-parse -q --verify "refs/remotes/origin/$ref")" || return 1
  git --git-dir="$git_dir" merge-base --is-ancestor "$commit" "$resolved"
}

# export_tree GITDIR COMMIT DEST: the commit's files into DEST, atomically.
export_tree() {
  local git_dir="$1" commit="$2" dest="$3" tmp
  tmp="$(mktemp -d "$dest.XXXXXX")"
  git --git-dir="$git_dir" archive "$commit" | tar -x -C "$tmp"
  printf '%s\n' "$commit" >"$tmp/.bbb-ovh-pin"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

prepare_one() {
  local name="$1" url="$2" ref="$3" commit="$4" source dest git_dir scratch=""
  dest="$CACHE/$name-$commit"
  if [[ -f "$dest/.bbb-ovh-pin" && "$(cat "$dest/.bbb-ovh-pin")" == "$commit" ]]; then
    log "$name $ref ($commit) ready in $dest"
    return 0
  fi
  source="${FROM[$name]:-$(local_mirror "$url" || printf '%s' "$url")}"
  if [[ -d "$source" ]]; then
    git_dir="$(git -C "$source" rev-parse --absolute-git-dir 2>/dev/null || printf '%s' "$source")"
  else
    scratch="$(mktemp -d)"
    git_dir="$scratch/repo.git"
    git init -q --bare "$git_dir"
    if ! git --git-dir="$git_dir" fetch -q --depth 50 "$source" "+refs/tags/$ref:refs/tags/$ref" 2>/dev/null &&
      ! git --git-dir="$git_dir" fetch -q --depth 200 "$source" "+refs/heads/$ref:refs/heads/$ref" 2>/dev/null; then
      rm -rf "$scratch"
      log "$name: cannot fetch $ref from $source"
      return 1
    fi
  fi
  if ! ref_reaches "$git_dir" "$ref" "$commit"; then
    [[ -n "$scratch" ]] && rm -rf "$scratch"
    log "$name: $ref in $source does not reach the pinned commit $commit; refusing it"
    return 1
  fi
  mkdir -p "$CACHE"
  export_tree "$git_dir" "$commit" "$dest"
  [[ -n "$scratch" ]] && rm -rf "$scratch"
  log "$name $ref ($commit) prepared in $dest from $source"
}

main() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --from)
        [[ "${2:-}" == *=* ]] || { log "usage: --from NAME=GITDIR_OR_URL"; exit 2; }
        FROM["${2%%=*}"]="${2#*=}"
        shift 2
        ;;
      -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
      *) log "unknown argument '$1' (see --help)"; exit 2 ;;
    esac
  done
  local name url ref commit _ failed=0
  while IFS=$'\t' read -r name url ref commit _; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    prepare_one "$name" "$url" "$ref" "$commit" || failed=1
  done <"$PINS"
  return "$failed"
}

main "$@"
