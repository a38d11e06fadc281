/**
 * Server models the stacks can name, in one table, because OVH renames and retires its ranges.
 * Every figure says where it comes from and when it was read; a stack can override or add entries
 * (`campus.presets`) without a code change. `ovh.order.getCartProduct` lists the plan codes on sale today.
 */

export interface DedicatedPreset {
  kind: "dedicated";
  /** OVH catalogue plan code ordered through ovh.dedicated.Server. */
  planCode: string;
  range: "standard" | "eco";
  /** Physical cores (what capacity counts, planning/sizing.ts). */
  cores: number;
  threads: number;
  ramGb: number;
  bandwidthMbps: number;
  /** Mandatory add-ons (RAM, storage, bandwidth) when the plan needs them. */
  planOptions: string[];
  source: string;
  checked: string;
}

export interface CloudFlavorPreset {
  kind: "publicCloud";
  /** OpenStack flavor name. */
  flavor: string;
  /** Physical cores: OVH vCores are hyperthreads (OVHcloud: "1 vCore = 1 thread"), two a core. */
  cores: number;
  /** vCores as sold. */
  threads: number;
  ramGb: number;
  diskGb: number;
  bandwidthMbps: number;
  source: string;
  checked: string;
}

export type HostPreset = DedicatedPreset | CloudFlavorPreset;

export const SERVER_PRESETS: Readonly<Record<string, HostPreset>> = {
  "rise-1": {
    kind: "dedicated",
    planCode: "24rise01",
    range: "standard",
    cores: 6,
    threads: 12,
    ramGb: 32,
    bandwidthMbps: 1000,
    planOptions: [],
    source: "OVH order catalogue: 24rise01 'RISE-1 | Intel Xeon-E 2386G'; REFERENCE.md (case study front)",
    checked: "2026-11-25",
  },
  "infra-1": {
    kind: "dedicated",
    // Infra-1 is the 2020 range of the case study and is no longer sold; its successor in the
    // catalogue is Advance-1. Override planCode per stack if OVH's catalogue says otherwise.
    planCode: "24adv01",
    range: "standard",
    cores: 8,
    threads: 16,
    ramGb: 64,
    bandwidthMbps: 2000,
    planOptions: [],
    source: "REFERENCE.md case study (Infra-1: 64 GB RAM, 2 Gbps guaranteed); plan code of the Advance-1 successor",
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
    source: "REFERENCE.md (OVHcloud C2-60: 16 vCores, 60 GB RAM, 400 GB SSD, 1 Gbps public)",
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
    source: "OVHcloud Public Cloud compute-optimized range, half of a C2-60",
    checked: "2026-11-25",
  },
};

/** BBB version lines the installer accepts with `-v`, the Ubuntu release each needs, and the branch. */
export const BBB_LINES = {
  "jammy-300": { ubuntu: "22.04", installerBranch: "v3.0.x-release", image: "Ubuntu 22.04", ovhOs: "ubuntu2204-server_64" },
  "focal-270": { ubuntu: "20.04", installerBranch: "v2.7.x-release", image: "Ubuntu 20.04", ovhOs: "ubuntu2004-server_64" },
} as const;

export type BbbLine = keyof typeof BBB_LINES;
