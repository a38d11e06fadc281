#!/usr/bin/env bash
# Lists the campus stacks, one per stacks/Pulumi.<stack>.yaml, for the CI workflows: adding a campus is
# adding its stack file. Prints one name a line, or with --json a JSON array (a GitHub Actions matrix).
# Usage: tools/ci/stacks.sh [--json] [STACKS_DIR]
set -euo pipefail

list_stacks() {
  local dir="$1" file name
  for file in "$dir"/Pulumi.*.yaml; do
    [[ -e "$file" ]] || continue
    name="${file##*/Pulumi.}"
    name="${name%.yaml}"
    # Pulumi's stack names: letters, digits, '-', '_' and '.' (nothing to escape in JSON or a shell word).
    if [[ ! "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
      echo "stacks.sh: $file: '$name' is not a Pulumi stack name (letters, digits, '-', '_', '.')" >&2
      return 1
    fi
    printf '%s\n' "$name"
  done
}

as_json() {
  local first=1 name
  printf '['
  while IFS= read -r name; do
    ((first)) || printf ','
    first=0
    printf '"%s"' "$name"
  done
  printf ']\n'
}

main() {
  local json=0
  if [[ "${1:-}" == --json ]]; then
    json=1
    shift
  fi
  local dir="${1:-$(dirname "$0")/../../stacks}" stacks
  stacks="$(list_stacks "$dir")"
  if [[ -z "$stacks" ]]; then
    echo "stacks.sh: no Pulumi.<stack>.yaml in $dir" >&2
    return 1
  fi
  if ((json)); then as_json <<<"$stacks"; else printf '%s\n' "$stacks"; fi
}

main "$@"
