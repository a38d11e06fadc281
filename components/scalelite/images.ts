/**
 * The front's container images and the one table of their digests. Docker Hub tags move (`postgres:16`
 * follows each 16.x release, a Scalelite tag can be re-pushed); a digest never does, so an image given as
 * `name:tag@sha256:...` runs the same bytes on every front and every re-run.
 *
 * No digest is recorded yet: they could not be obtained where this table was written (no registry
 * access, and no published digest of these tags was found). Meanwhile each front locks the digest it
 * pulled first in /var/lib/bbb-ovh/image-lock (scripts/lib/units.sh, lock_image) and keeps running it.
 * Record one as `"name:tag": "sha256:<64 hex>"` from `docker buildx imagetools inspect name:tag` (the
 * index digest, valid for every architecture): it then wins over every front's lock, and the scripts
 * refuse that image without its digest. docs/front.md, "Images by digest".
 */
export const IMAGE_DIGESTS: Readonly<Record<string, string>> = {};

/** Pinned major lines of the database containers; Scalelite's docs use PostgreSQL and a persistent Redis. */
export const POSTGRES_IMAGE = "postgres:16";
export const REDIS_IMAGE = "redis:7";

/** Grafana for the fronts' dashboards (campus.monitoring.grafana; not packaged by Debian or Ubuntu): Grafana's own OSS image. */
export const GRAFANA_IMAGE = "grafana/grafana:11.6.0";

/** Scalelite's four images of a release, as its systemd units name them. */
export const scaleliteImages = (tag: string): string[] =>
  ["api", "nginx", "poller", "recording-importer"].map((part) => `blindsidenetwks/scalelite:${tag}-${part}`);

/** `name:tag@sha256:...` when the table has the image's digest, else `name:tag`. */
export function imageRef(image: string, digests: Readonly<Record<string, string>> = IMAGE_DIGESTS): string {
  const digest = digests[image];
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`IMAGE_DIGESTS: '${image}' has '${digest}', expected sha256: and 64 lowercase hex digits`);
  return digest ? `${image}@${digest}` : image;
}

/** The IMAGE_PINS step input: the table's entries for these images, `name:tag@sha256:...` space-separated. */
export function imagePins(images: string[], digests: Readonly<Record<string, string>> = IMAGE_DIGESTS): string {
  return images
    .filter((image) => digests[image] !== undefined)
    .map((image) => imageRef(image, digests))
    .join(" ");
}
