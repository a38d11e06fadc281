/**
 * Server models the stacks can name, in one table, because OVH renames and retires its ranges.
 * Every figure says where it comes from and when it was read; a stack can override or add entries
 * (`campus.presets`) without a code change. `ovh.order.getCartProduct` lists the plan codes on sale today
 * and `ovh.order.getCartProductOptions` the options of a plan, with the families the catalogue marks
 * mandatory (docs/hosts.md shows both calls).
 *
 * Cores: `cores` is PHYSICAL cores and `threads` hardware threads, for every entry. OVH's Public Cloud
 * "vCores" are hyperthreads of the host (a C2-60's 16 vCores are 8 physical cores), so a flavor's
 * `threads` is its vCore count and `cores` half of it.
 */

/**
 * The option families OVH's order catalogue marks mandatory for dedicated servers: every order in the
 * provider's docs example and acceptance tests (terraform-provider-ovh v2.19.0, docs/resources/
 * dedicated_server.md and ovh/resource_dedicated_server_test.go, read 2026-11-25) carries one memory,
 * one storage, one public bandwidth and one vRack bandwidth option; an order without them is refused.
 */
export const OPTION_FAMILIES = ["memory", "storage", "bandwidth", "vrack"] as const;
export type OptionFamily = (typeof OPTION_FAMILIES)[number];

/**
 * The family of an option plan code, from OVH's naming (ram-32g-rise13, softraid-2x512nvme-rise,
 * bandwidth-500-included-rise, vrack-bandwidth-100-rise-included in the provider docs; hybridsoftraid-
 * and hardraid- are storage layouts of the same catalogue). Undefined for codes of no known family.
 */
export function optionFamily(planCode: string): OptionFamily | undefined {
  if (/^vrack-bandwidth-/.test(planCode)) return "vrack";
  if (/^bandwidth-/.test(planCode)) return "bandwidth";
  if (/^ram-/.test(planCode)) return "memory";
  if (/^(soft|hybridsoft|hard|no)raid-/.test(planCode)) return "storage";
  return undefined;
}

/** The mandatory families a list of option codes does not cover. */
export function missingFamilies(planOptions: readonly string[], mandatory: readonly OptionFamily[]): OptionFamily[] {
  const covered = new Set(planOptions.map(optionFamily));
  return mandatory.filter((family) => !covered.has(family));
}

export interface DedicatedPreset {
  kind: "dedicated";
  /** OVH catalogue plan code ordered through ovh.dedicated.Server. */
  planCode: string;
  /** The order cart the plan is sold through: `standard` (/order/cart/{id}/baremetalServers) or `eco` (/eco). */
  range: "standard" | "eco";
  /** Physical cores. */
  cores: number;
  threads: number;
  ramGb: number;
  bandwidthMbps: number;
  /** The add-ons ordered with the plan (memory, storage, bandwidth, vRack bandwidth). */
  planOptions: string[];
  /** The option families the catalogue marks mandatory for this plan: planOptions must cover each. */
  mandatoryFamilies: OptionFamily[];
  source: string;
  checked: string;
}

export interface CloudFlavorPreset {
  kind: "publicCloud";
  /** OpenStack flavor name. */
  flavor: string;
  /** Physical cores: half the flavor's vCores (OVH vCores are hyperthreads). */
  cores: number;
  /** The flavor's vCores. */
  threads: number;
  ramGb: number;
  diskGb: number;
  bandwidthMbps: number;
  source: string;
  checked: string;
}

export type HostPreset = DedicatedPreset | CloudFlavorPreset;

const PROVIDER_DOCS =
  "terraform-provider-ovh v2.19.0 docs/resources/dedicated_server.md example and ovh/resource_dedicated_server_test.go (the upstream of @ovhcloud/pulumi-ovh)";

export const SERVER_PRESETS: Readonly<Record<string, HostPreset>> = {
  "rise-1": {
    kind: "dedicated",
    planCode: "24rise01",
    range: "standard",
    // Intel Xeon-E 2386G: 6 cores, 12 threads (Intel ARK).
    cores: 6,
    threads: 12,
    ramGb: 32,
    // bandwidth-500-included-rise: 500 Mbit/s public bandwidth.
    bandwidthMbps: 500,
    planOptions: ["ram-32g-rise13", "softraid-2x512nvme-rise", "bandwidth-500-included-rise", "vrack-bandwidth-100-rise-included"],
    mandatoryFamilies: [...OPTION_FAMILIES],
    source: `plan and options: ${PROVIDER_DOCS} (24rise01 ordered through the standard range, with these four options); CPU: OVH order catalogue 'RISE-1 | Intel Xeon-E 2386G', Intel ARK 6C/12T`,
    checked: "2026-11-25",
  },
  "infra-1": {
    kind: "dedicated",
    // Infra-1 is the 2020 range of the case study and is no longer sold; its successor is Advance-1,
    // sold as 24adv01-v3 through the eco cart (/order/cart/{id}/eco): OVH's own CLI, ovh/ovhcloud-cli
    // internal/cmd/baremetal_order_test.go, records the order API's answers for it (18 Aug 2026).
    planCode: "24adv01-v3",
    range: "eco",
    // ADVANCE-1 | AMD EPYC 4244P (product name in that recording): 6 cores, 12 threads (AMD specifications).
    cores: 6,
    threads: 12,
    // 64 GB as the case study's Infra-1; the base Advance-1 ships less, hence the memory option.
    ramGb: 64,
    bandwidthMbps: 1000,
    // Option codes of Advance-1 carry the plan as suffix (e.g. ram-128g-on-die-ecc-3600-24adv01-v3 and
    // softraid-2x960nvme-pcie-gen4-24adv01-v3 in public catalogue dumps); the provider has no example for
    // this plan. Confirm them with ovh.order.getCartProductOptions before the first order (docs/hosts.md).
    planOptions: [
      "ram-64g-on-die-ecc-3600-24adv01-v3",
      "softraid-2x960nvme-pcie-gen4-24adv01-v3",
      "bandwidth-1000-unguaranteed-24adv01-v3",
      "vrack-bandwidth-25000-included-24adv01-v3",
    ],
    mandatoryFamilies: [...OPTION_FAMILIES],
    source:
      "REFERENCE case study (Infra-1: 64 GB RAM); plan 24adv01-v3, eco range and CPU: ovh/ovhcloud-cli baremetal_order_test.go (order API recording, 2026-08-18); option codes follow the catalogue's naming and are unverified against a live cart",
    checked: "2026-11-25",
  },
  "c2-60": {
    kind: "publicCloud",
    flavor: "c2-60",
    cores: 8,
    threads: 16,
    ramGb: 60,
    diskGb: 400,
    bandwidthMbps: 1000,
    source:
      "OVHcloud case study / Public Cloud price list: C2-60 = 16 vCores, 60 GB RAM, 400 GB SSD, 1 Gbit/s public; vCores are hyperthreads, so 8 physical cores",
    checked: "2026-11-25",
  },
  "c2-30": {
    kind: "publicCloud",
    flavor: "c2-30",
    cores: 4,
    threads: 8,
    ramGb: 30,
    diskGb: 200,
    bandwidthMbps: 1000,
    source: "OVHcloud Public Cloud compute-optimized range: C2-30 = 8 vCores (4 physical cores), 30 GB RAM, 200 GB SSD, half of a C2-60",
    checked: "2026-11-25",
  },
};

/**
 * BBB version lines the installer accepts with `-v`, the Ubuntu release each needs (bbb-install's
 * check_ubuntu refuses any other, so a line change means new servers), the branch, and the OS every host
 * of the campus is given: the Public Cloud image name and the OVH dedicated-server template.
 * `optIn`: a line we have not seen released; the plan warns while it is (docs/nodes.md).
 */
export const BBB_LINES = {
  "jammy-300": { bbb: "3.0", ubuntu: "22.04", installerBranch: "v3.0.x-release", image: "Ubuntu 22.04", ovhOs: "ubuntu2204-server_64", optIn: false },
  "focal-270": { bbb: "2.7", ubuntu: "20.04", installerBranch: "v2.7.x-release", image: "Ubuntu 20.04", ovhOs: "ubuntu2004-server_64", optIn: false },
  // BigBlueButton 4.0 (the former 3.1): rc.3 in September 2026, release not confirmed (REFERENCE.md).
  "noble-400": { bbb: "4.0", ubuntu: "24.04", installerBranch: "v4.0.x-release", image: "Ubuntu 24.04", ovhOs: "ubuntu2404-server_64", optIn: true },
} as const;

export type BbbLine = keyof typeof BBB_LINES;
