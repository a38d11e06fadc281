#!/usr/bin/env bash
# Checks that a host can take its role before anything is installed on it: Ubuntu release, x86_64,
# CPU cores, RAM, a global IPv6 address and that DNS resolves its FQDN to its public IPv4 (bbb-install no
# longer checks that, and a wrong record only fails late, at Let's Encrypt), waiting a bounded time for a
# new record. Reports every failed check at once and changes nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
REQUIRED_INPUTS=(ROLE FQDN PUBLIC_IPV4 UBUNTU_RELEASE MIN_CORES MIN_RAM_MB RECOMMENDED_CORES RECOMMENDED_RAM_MB REQUIRE_IPV6)
OPTIONAL_INPUTS=(DNS_WAIT_SECONDS DNS_RETRY_SECONDS DNS_SERVED_BY)

FAILURES=()

fail() {
  FAILURES+=("$*")
}

# os_release_field KEY: the value of KEY in os-release, without quotes.
os_release_field() {
  local key="$1" file="$ROOT/etc/os-release" value
  value="$(sed -n "s/^${key}=//p" "$file" 2>/dev/null | head -n 1)"
  value="${value#\"}"
  printf '%s' "${value%\"}"
}

check_os() {
  local id version
  id="$(os_release_field ID)"
  version="$(os_release_field VERSION_ID)"
  if [[ "$id" != "ubuntu" || "$version" != "$IN_UBUNTU_RELEASE" ]]; then
    fail "OS is ${id:-unknown} ${version:-unknown}; the $IN_ROLE role needs Ubuntu $IN_UBUNTU_RELEASE"
  else
    log "OS: Ubuntu $version"
  fi
}

check_arch() {
  local arch
  arch="$(uname -m)"
  if [[ "$arch" != "x86_64" ]]; then
    fail "architecture is $arch; BigBlueButton and Scalelite packages are built for x86_64 only"
  fi
}

check_cores() {
  local cores
  cores="$(nproc)"
  if ((cores < IN_MIN_CORES)); then
    fail "$cores CPU cores; the $IN_ROLE role needs at least $IN_MIN_CORES"
  elif ((cores < IN_RECOMMENDED_CORES)); then
    warn "$cores CPU cores; $IN_RECOMMENDED_CORES are recommended for the $IN_ROLE role in production"
  else
    log "CPU: $cores cores"
  fi
}

check_ram() {
  local kb mb
  kb="$(awk '$1 == "MemTotal:" { print $2 }' "$ROOT/proc/meminfo")"
  mb=$((kb / 1024))
  if ((mb < IN_MIN_RAM_MB)); then
    fail "$mb MB of RAM; the $IN_ROLE role needs at least $IN_MIN_RAM_MB MB"
  elif ((mb < IN_RECOMMENDED_RAM_MB)); then
    warn "$mb MB of RAM; $IN_RECOMMENDED_RAM_MB MB are recommended for the $IN_ROLE role in production"
  else
    log "RAM: $mb MB"
  fi
}

check_ipv6() {
  [[ "$IN_REQUIRE_IPV6" == "1" ]] || return 0
  # Read all of ip's output first: `ip | grep -q` fails under pipefail when grep exits early (SIGPIPE).
  local addresses
  addresses="$(ip -6 addr show scope global || true)"
  if [[ "$addresses" == *"inet6 "* ]]; then
    log "IPv6: global address present"
  else
    fail "no global IPv6 address; the $IN_ROLE role needs IPv6 (configure it on the host, then retry)"
  fi
}

# ask_dns NAME: sets DNS_ADDRESSES to the IPv4 addresses DNS gives for NAME (sorted, space-separated,
# empty when none) and DNS_ERROR to what went wrong asking; returns 2 when there is no way to ask DNS.
# systemd-resolved is asked with --synthesize=no, so /etc/hosts (where installers write "127.0.1.1 FQDN")
# and the local host name are not answered locally, and with --cache=no, so a record created minutes ago
# is not hidden by a cached "not found" (resolvectl(1), systemd 249 of Ubuntu 22.04, which ships
# resolvectl in its systemd package and runs systemd-resolved by default). getent would read /etc/hosts
# first (nsswitch "hosts: files dns"). Where systemd-resolved is not running (resolvectl cannot reach
# org.freedesktop.resolve1), dig from bind9-dnsutils asks the DNS servers directly when it is installed.
ask_dns() {
  local out
  DNS_ADDRESSES="" DNS_ERROR=""
  if out="$(resolvectl query -4 --legend=no --cache=no --synthesize=no "$1" 2>&1)"; then
    DNS_ADDRESSES="$(ipv4_words "$out")"
    return 0
  fi
  if [[ "$out" != *resolve1* && "$out" != *"command not found"* ]]; then
    DNS_ERROR="resolvectl: ${out//$'\n'/ }"
    return 0
  fi
  if ! command -v dig >/dev/null; then
    DNS_ERROR="resolvectl: ${out//$'\n'/ }; systemd-resolved is not running and dig (bind9-dnsutils) is not installed, so DNS cannot be asked"
    return 2
  fi
  out="$(dig +short +tries=1 +time=5 A "$1" 2>&1)" || DNS_ERROR="dig: ${out//$'\n'/ }"
  DNS_ADDRESSES="$(ipv4_words "$out")"
}

# ipv4_words TEXT: the IPv4 addresses in TEXT, sorted, space-separated.
ipv4_words() {
  grep -oE '\b([0-9]{1,3}\.){3}[0-9]{1,3}\b' <<<"$1" | sort -u | paste -sd ' ' - || true
}

# Asks DNS until it answers exactly this host's address (DNS_SERVED_BY's while another front serves the
# name: a front rebuilt while the standby front serves), for at most DNS_WAIT_SECONDS (a record created by
# this run may take minutes to reach the resolvers).
check_dns() {
  local wait="${IN_DNS_WAIT_SECONDS:-600}" every="${IN_DNS_RETRY_SECONDS:-15}" deadline
  local expected="${IN_DNS_SERVED_BY:-$IN_PUBLIC_IPV4}" whose="this host's public IPv4"
  [[ -z "${IN_DNS_SERVED_BY:-}" ]] || whose="the front that serves the name while this one is rebuilt"
  deadline=$((SECONDS + wait))
  while true; do
    ask_dns "$IN_FQDN" || break
    if [[ "$DNS_ADDRESSES" == "$expected" ]]; then
      log "DNS: $IN_FQDN -> $expected"
      return 0
    fi
    ((SECONDS < deadline)) || break
    log "waiting for DNS: $IN_FQDN answers ${DNS_ADDRESSES:-nothing}, expected $expected (retry in ${every}s, up to ${wait}s)"
    sleep "$every"
  done
  if [[ "$DNS_ERROR" == *"cannot be asked" ]]; then
    fail "$IN_FQDN: $DNS_ERROR; expected an A record for $expected"
  elif [[ -z "$DNS_ADDRESSES" ]]; then
    fail "$IN_FQDN: DNS has no A record after ${wait}s, expected $expected ($whose); create it or check the zone${DNS_ERROR:+ ($DNS_ERROR)}"
  else
    fail "$IN_FQDN: DNS answers $DNS_ADDRESSES, expected $expected ($whose); fix its A record (Let's Encrypt would fail)"
  fi
}

require_integers() {
  local key var
  for key in "$@"; do
    var="IN_$key"
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "input $key must be a whole number"
  done
}

main() {
  require_integers MIN_CORES MIN_RAM_MB RECOMMENDED_CORES RECOMMENDED_RAM_MB
  [[ "${IN_DNS_WAIT_SECONDS:-0}${IN_DNS_RETRY_SECONDS:-1}" =~ ^[0-9]+$ && "${IN_DNS_RETRY_SECONDS:-1}" != 0 ]] ||
    die "inputs DNS_WAIT_SECONDS and DNS_RETRY_SECONDS must be whole numbers (DNS_RETRY_SECONDS at least 1)"

  check_os
  check_arch
  check_cores
  check_ram
  check_ipv6
  check_dns

  if ((${#FAILURES[@]} > 0)); then
    local failure
    for failure in "${FAILURES[@]}"; do
      printf '%s: error: %s\n' "$STEP_NAME" "$failure" >&2
    done
    die "${#FAILURES[@]} check(s) failed for $IN_FQDN ($IN_ROLE); nothing was changed"
  fi
  log "$IN_FQDN is ready for the $IN_ROLE role"
}

run_step "$@"
