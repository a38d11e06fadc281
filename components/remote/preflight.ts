import type { Campus } from "../config/campus";
import type { HostHandle } from "../hosts/HostHandle";
import type { StepInputValues } from "./HostStep";

/**
 * What the preflight step enforces per role. Hard minimums stop the deployment; recommendations only
 * warn. Figures in MB of MemTotal, which excludes kernel-reserved memory: a 16 GB server reports about
 * 15.5-15.9 GB, so recommendations sit a little below the nominal size.
 */
export const PREFLIGHT = {
  // bbb-install.sh refuses fewer than 4 cores and MemTotal < 3940000 kB (= 3847 MB); BBB docs
  // recommend 8 cores and 16 GB for production; BBB needs IPv6 (bbb-install checks it too).
  node: { minCores: 4, minRamMb: 3847, recommendedCores: 8, recommendedRamMb: 15360, requireIpv6: true },
  // Scalelite README: the balancer itself 4 CPU / 8 GB. Below 2 cores / 2 GB the four Rails
  // containers, PostgreSQL and Redis do not fit.
  front: { minCores: 2, minRamMb: 1900, recommendedCores: 4, recommendedRamMb: 7680, requireIpv6: false },
} as const;

/** Inputs of the hostPreflight step for a host in its role. */
export function preflightInputs(campus: Campus, handle: HostHandle): StepInputValues {
  const role = handle.host.role;
  const limits = PREFLIGHT[role];
  return {
    ROLE: role,
    FQDN: handle.host.fqdn,
    PUBLIC_IPV4: handle.ipv4,
    UBUNTU_RELEASE: campus.ubuntuRelease,
    MIN_CORES: String(limits.minCores),
    MIN_RAM_MB: String(limits.minRamMb),
    RECOMMENDED_CORES: String(limits.recommendedCores),
    RECOMMENDED_RAM_MB: String(limits.recommendedRamMb),
    REQUIRE_IPV6: limits.requireIpv6 ? "1" : "0",
  };
}
