import type { Campus } from "../../components/config/campus";
import { BBB_LINES } from "../../components/config/presets";
import { renderInstallerFlags } from "../../components/bbb/installerFlags";
import { installerUrl } from "../../components/bbb/installerPin";
import type { StepName } from "../../components/remote/catalogue";
import type { StepInputs } from "../../components/remote/invocation";
import { PREFLIGHT } from "../../components/remote/preflight";

/**
 * The decisions of `ops image build`, without any connection: which regions get an image, the names of
 * the builder and of the image, and which steps are left to run given what a cut run left behind.
 * cli/ops/imageBuild.ts carries them out through the OVH API and over SSH (docs/nodes.md, "A node image").
 */

export type ImageStepId =
  | "create-builder"
  | "wait-active"
  | "dns-record"
  | "wait-ssh"
  | "upload-scripts"
  | "preflight"
  | "install"
  | "configure"
  | "clean"
  | "stop-builder"
  | "snapshot"
  | "wait-image"
  | "delete-builder"
  | "delete-dns-record";

/** The steps that run on the builder over SSH, in order; the cleaner is last, the rest are idempotent. */
export const HOST_STEPS = ["preflight", "install", "configure", "clean"] as const;

export interface PlannedImageStep {
  id: ImageStepId;
  /** The builder, the image, or the DNS zone. */
  on: string;
  what: string;
}

/** One region's build: where, from what, under which names. */
export interface RegionBuild {
  region: string;
  /** The flavor of the campus's first node in that region (the builder must carry bbb-install). */
  flavor: string;
  /** The line's Ubuntu image name, as the project lists it (GET /cloud/project/{serviceName}/image). */
  ubuntuImage: string;
  /** The instance name: `bbb-ovh-builder-` marks it as ours, and a re-run finds it by that name. */
  builder: string;
  /** A throwaway name in the campus zone: bbb-install asks Let's Encrypt for it. */
  builderFqdn: string;
  image: string;
}

export interface ImageBuildInput {
  serviceName: string;
  zone: string;
  line: string;
  commit: string;
  builds: RegionBuild[];
}

/** The image's name: what `campus.nodeImage.nameRegex` (e.g. ^bbb-ovh-jammy-300-) finds, one per pinned commit. */
export const imageNameOf = (line: string, commit: string) => `bbb-ovh-${line}-${commit}`;

/** Instances named so are builders this command made; it deletes no other instance. */
export const BUILDER_PREFIX = "bbb-ovh-builder-";

/** The builder's name for a campus, a pin and a region: stable, so a re-run after a cut finds it. */
export const builderNameOf = (campusId: string, line: string, commit: string, region: string) =>
  `${BUILDER_PREFIX}${campusId}-${line}-${commit.slice(0, 8)}-${region.toLowerCase()}`;

/**
 * The regions to build in (the campus's Public Cloud node regions, first region first; `only` narrows
 * them) with every problem at once: no Public Cloud node, a region the campus does not use.
 */
export function imageBuildInput(campus: Campus, only: string[]): ImageBuildInput {
  const problems: string[] = [];
  const cloudNodes = campus.nodes.filter((n) => n.config.kind === "publicCloud");
  const serviceName = campus.config.publicCloud?.projectId;
  if (!serviceName) problems.push("campus.publicCloud.projectId: the Public Cloud project the builder runs in is required");
  if (cloudNodes.length === 0) problems.push("campus.nodes: no Public Cloud node, so no region to build a node image in (the image is for Public Cloud nodes)");
  const regions = new Map<string, string>();
  for (const n of cloudNodes) if (n.config.kind === "publicCloud" && !regions.has(n.config.region)) regions.set(n.config.region, n.config.flavor);
  for (const r of only)
    if (!regions.has(r))
      problems.push(`--region ${r}: not a region of the campus's Public Cloud nodes; expected one of ${[...regions.keys()].join(", ") || "(none)"}`);
  const { line, commit } = campus.installer;
  // The builder's name is also its DNS label (at most 63 characters, RFC 1035).
  const longest = Math.max(0, ...[...regions.keys()].map((r) => builderNameOf(campus.config.id, line, commit, r).length));
  if (longest > 63) problems.push(`campus.id: '${campus.config.id}' makes builder names of ${longest} characters; a DNS label holds 63: use a shorter id`);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const zone = campus.config.dns.zone;
  const builds = [...regions]
    .filter(([region]) => only.length === 0 || only.includes(region))
    .map(([region, flavor]) => {
      const builder = builderNameOf(campus.config.id, line, commit, region);
      return { region, flavor, ubuntuImage: BBB_LINES[line].image, builder, builderFqdn: `${builder}.${zone}`, image: imageNameOf(line, commit) };
    });
  return { serviceName: serviceName!, zone, line, commit, builds };
}

/** What a run finds before it starts in one region, and what earlier runs recorded. */
export interface RegionFound {
  /** An instance with the builder's name (ours, from an earlier run). */
  builder?: { id: string; status: string };
  /** A project image with the image's name in the region. */
  image?: { id: string; status: string };
  /** The builder steps an earlier run finished (its record, kept next to the builder's host key). */
  done: ImageStepId[];
}

/**
 * The steps left in one region. An active image: nothing to build, only our builder (if any) to
 * delete. A builder already cleaned: straight to its stop and snapshot (it cannot be logged into any more).
 * A builder that exists: no new one; the host steps run again (idempotent, the cleaner last).
 */
export function planRegion(b: RegionBuild, found: RegionFound, zone: string): PlannedImageStep[] {
  const steps: PlannedImageStep[] = [];
  const add = (id: ImageStepId, on: string, what: string) => steps.push({ id, on, what });
  const cleanup = () => {
    add("delete-builder", b.builder, `DELETE the builder instance (named ${BUILDER_PREFIX}..., made by this command; no other instance is ever deleted)`);
    add("delete-dns-record", zone, `delete the A record ${b.builderFqdn} and refresh the zone`);
  };
  if (found.image?.status === "active") {
    if (found.builder || found.done.length > 0) cleanup();
    return steps;
  }
  const snapshotTaken = Boolean(found.image) || found.done.includes("snapshot");
  if (!snapshotTaken) {
    const cleaned = found.done.includes("clean");
    if (!found.builder)
      add("create-builder", b.region, `create ${b.builder} (${b.flavor}, ${b.ubuntuImage}) with our host key and admin keys in its user data`);
    if (!cleaned) {
      add("wait-active", b.builder, "wait until the instance is ACTIVE with its public IPv4");
      add("dns-record", zone, `A record ${b.builderFqdn} -> the builder's IPv4, zone refreshed (Let's Encrypt must reach it)`);
      add("wait-ssh", b.builder, "wait until SSH answers with the host key we gave it");
      add("upload-scripts", b.builder, "copy scripts/ to ~/.bbb-ovh/scripts of the login user, as the Pulumi program does");
      add("preflight", b.builder, "hostPreflight step, as on a node");
      add("install", b.builder, "bbbInstall step: the pinned bbb-install.sh (sha256 checked)");
      add("configure", b.builder, "bbbConfigure step with a throwaway secret");
      add("clean", b.builder, "bbbImageClean step: machine id, keys, secrets, certificates, logs, cloud-init state; then sync");
    }
    add("stop-builder", b.builder, "POST .../stop (a clean shutdown), then wait until it is SHUTOFF: the disk is saved at rest");
    add("snapshot", b.builder, `snapshot the builder as ${b.image}`);
  }
  add("wait-image", b.image, `wait until ${b.image} is active in ${b.region}`);
  cleanup();
  return steps;
}

/**
 * The builder's steps and their inputs, as a node's (components/bbb/BbbNode.ts) but for the builder's
 * throwaway name: no TURN (the first-boot step sets the node's), a throwaway shared secret (the cleaner
 * removes it; each node's configure step sets its own).
 */
export function builderStepInputs(
  campus: Campus,
  b: RegionBuild,
  ipv4: string,
  sharedSecret: string,
): Record<(typeof HOST_STEPS)[number], { step: StepName; inputs: StepInputs; timeout: "install" | "command" }> {
  const node = PREFLIGHT.node;
  const flags = renderInstallerFlags({ bbbVersion: campus.config.bbbVersion, fqdn: b.builderFqdn, email: campus.config.adminEmail });
  return {
    preflight: {
      step: "hostPreflight",
      timeout: "command",
      inputs: {
        ROLE: "node",
        FQDN: b.builderFqdn,
        PUBLIC_IPV4: ipv4,
        UBUNTU_RELEASE: campus.ubuntuRelease,
        MIN_CORES: String(node.minCores),
        MIN_RAM_MB: String(node.minRamMb),
        RECOMMENDED_CORES: String(node.recommendedCores),
        RECOMMENDED_RAM_MB: String(node.recommendedRamMb),
        REQUIRE_IPV6: node.requireIpv6 ? "1" : "0",
      },
    },
    install: {
      step: "bbbInstall",
      timeout: "install",
      inputs: {
        FQDN: b.builderFqdn,
        INSTALLER_FLAGS: flags.join(" "),
        INSTALLER_URL: installerUrl(campus.installer),
        INSTALLER_SHA256: campus.installer.sha256,
      },
    },
    configure: { step: "bbbConfigure", timeout: "command", inputs: { FQDN: b.builderFqdn, SHARED_SECRET: sharedSecret } },
    clean: { step: "bbbImageClean", timeout: "command", inputs: { FQDN: b.builderFqdn } },
  };
}

export function renderImagePlan(input: ImageBuildInput, plans: Array<{ region: string; steps: PlannedImageStep[] }>): string {
  const lines = [`node image ${imageNameOf(input.line, input.commit)} (project ${input.serviceName}):`];
  for (const p of plans) {
    lines.push(`  ${p.region}:${p.steps.length === 0 ? " the image is there and no builder is left: nothing to do" : ""}`);
    for (const s of p.steps) lines.push(`    ${s.id} (${s.on}): ${s.what}`);
  }
  return `${lines.join("\n")}\n`;
}
