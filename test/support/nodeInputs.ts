import type { StepInputs } from "../../components/remote/invocation";
import type { TestHost } from "./sshd";

/** hostPreflight inputs for a BBB node on a test host (limits above the harness's defaults' minimum). */
export const nodePreflightInputs = (h: TestHost): StepInputs => ({
  ROLE: "bbb",
  FQDN: h.fqdn,
  PUBLIC_IPV4: h.publicIpv4,
  UBUNTU_RELEASE: "22.04",
  MIN_CORES: "4",
  MIN_RAM_MB: "8192",
  RECOMMENDED_CORES: "8",
  RECOMMENDED_RAM_MB: "16384",
  REQUIRE_IPV6: "1",
});
