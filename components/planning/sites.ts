/**
 * Where a host physically is. A node's `datacenter` is an OVH dedicated datacenter (`gra`), a Public
 * Cloud region (`GRA11`) or a school's own label; failover reasons about physical sites, and `gra` and
 * `GRA11` are the same buildings in Gravelines. Sources, read 2026-11-25:
 * - dedicated datacenters: the `dedicated_datacenter` order configuration values of the OVH provider
 *   docs (node_modules/@ovhcloud/pulumi-ovh/dedicated/server.d.ts) and OVHcloud's datacenter map
 *   (https://www.ovhcloud.com/en/about-us/global-infrastructure/regions/);
 * - Public Cloud regions: the OVH API's region enum (cloud kube regions BHS5, DE1, GRA5, GRA7, GRA9,
 *   SBG5, SGP1, SYD1, UK1, US-EAST-VA-1, US-WEST-OR-1, WAW1), GRA11 (REFERENCE of the case study),
 *   EU-WEST-PAR (ovh.getLocation docs, the Paris 3-AZ region), same map for the cities.
 * OVHcloud US (Vint Hill, Hillsboro) is a separate company with its own API endpoint (ovh-us); the
 * other datacenters are sold through ovh-eu and ovh-ca.
 */

export type OvhEndpoint = "ovh-eu" | "ovh-ca" | "ovh-us";

interface SiteInfo {
  /** The physical place, lowercase: what failover counts. */
  site: string;
  /** Endpoints whose subsidiaries sell dedicated servers there. */
  endpoints: readonly OvhEndpoint[];
}

const EU_CA: readonly OvhEndpoint[] = ["ovh-eu", "ovh-ca"];
const US: readonly OvhEndpoint[] = ["ovh-us"];

export const DEDICATED_SITES: Readonly<Record<string, SiteInfo>> = {
  gra: { site: "gravelines", endpoints: EU_CA },
  rbx: { site: "roubaix", endpoints: EU_CA },
  sbg: { site: "strasbourg", endpoints: EU_CA },
  bhs: { site: "beauharnois", endpoints: EU_CA },
  waw: { site: "warsaw", endpoints: EU_CA },
  lim: { site: "limburg", endpoints: EU_CA },
  eri: { site: "london", endpoints: EU_CA },
  fra: { site: "frankfurt", endpoints: EU_CA },
  sgp: { site: "singapore", endpoints: EU_CA },
  syd: { site: "sydney", endpoints: EU_CA },
  ynm: { site: "mumbai", endpoints: EU_CA },
  vin: { site: "vint-hill", endpoints: US },
  hil: { site: "hillsboro", endpoints: US },
};

/** Public Cloud regions by name pattern: the digits number rooms or generations of one site. */
const CLOUD_REGIONS: ReadonlyArray<[RegExp, string]> = [
  [/^GRA\d+$/, "gravelines"],
  [/^SBG\d+$/, "strasbourg"],
  [/^BHS\d+$/, "beauharnois"],
  [/^WAW\d+$/, "warsaw"],
  [/^DE\d+$/, "frankfurt"],
  [/^UK\d+$/, "london"],
  [/^SGP\d+$/, "singapore"],
  [/^SYD\d+$/, "sydney"],
  [/^US-EAST-VA-\d+$/, "vint-hill"],
  [/^US-WEST-OR-\d+$/, "hillsboro"],
  [/^EU-WEST-PAR(-[A-C])?$/, "paris"],
];

/** Subsidiary -> the API endpoint it is served by (OVH provider docs, `endpoint` configuration). */
export function endpointOfSubsidiary(subsidiary: string): OvhEndpoint {
  if (subsidiary === "US") return "ovh-us";
  if (["CA", "QC", "WS", "WE", "ASIA", "AU", "SG", "IN"].includes(subsidiary)) return "ovh-ca";
  return "ovh-eu";
}

export type Placement = { kind: "dedicated"; datacenter: string } | { kind: "publicCloud"; region: string } | { kind: "existing"; location: string };

/** Where a host config says it is. */
export function placementOf(host: { kind: string; datacenter?: string; region?: string; location?: string }): Placement {
  if (host.kind === "dedicated") return { kind: "dedicated", datacenter: host.datacenter ?? "" };
  if (host.kind === "publicCloud") return { kind: "publicCloud", region: host.region ?? "" };
  return { kind: "existing", location: host.location ?? "onsite" };
}

/** The physical site of a host, or undefined for a Public Cloud region we do not know. */
export function siteOf(where: Placement): string | undefined {
  switch (where.kind) {
    case "dedicated":
      return DEDICATED_SITES[where.datacenter]?.site;
    case "publicCloud":
      return CLOUD_REGIONS.find(([pattern]) => pattern.test(where.region))?.[1];
    case "existing":
      return `onsite:${where.location}`;
  }
}

/** Known regions at a site, for "did you mean" hints. */
function regionHint(region: string): string {
  const letters = region.replace(/[^A-Z]/g, "").slice(0, 3);
  const samples = ["GRA11", "SBG5", "BHS5", "WAW1", "DE1", "UK1", "SGP1", "SYD1", "US-EAST-VA-1", "US-WEST-OR-1", "EU-WEST-PAR"];
  const close = samples.filter((s) => s.includes(letters) && letters.length > 0);
  return close.length > 0 ? ` (did you mean ${close.join(" or ")}?)` : ` (known: ${samples.join(", ")})`;
}

/** Placement problems that stop a stack: a datacenter its subsidiary's endpoint cannot order. */
export function placementProblems(path: string, where: Placement, subsidiary?: string): Array<{ path: string; message: string }> {
  if (where.kind !== "dedicated" || subsidiary === undefined) return [];
  const info = DEDICATED_SITES[where.datacenter];
  const endpoint = endpointOfSubsidiary(subsidiary);
  if (!info || info.endpoints.includes(endpoint)) return [];
  return [
    {
      path: `${path}.datacenter`,
      message: `'${where.datacenter}' (${info.site}) is sold through the ${info.endpoints.join("/")} API endpoint, but subsidiary ${subsidiary} orders through ${endpoint}; choose a datacenter of ${endpoint} or the matching subsidiary`,
    },
  ];
}

/** Placement warnings: a Public Cloud region we cannot place (it may be new, or mistyped). */
export function placementWarnings(name: string, where: Placement): string[] {
  if (where.kind !== "publicCloud" || siteOf(where) !== undefined) return [];
  return [
    `${name}: Public Cloud region '${where.region}' is not one we know${regionHint(where.region)}; failover cannot tell which site it is in, so it counts as a site of its own; to do: correct the region if it is mistyped, or keep it knowing failover counts it alone (docs/capacity.md)`,
  ];
}
