/**
 * The two fronts' image locks side by side (/var/lib/bbb-ovh/image-lock, `name:tag@sha256:...` a line, written by
 * scripts/lib/units.sh lock_image). Each front locks the digest it pulled first, so the same tag can stand for two
 * builds, and a failover would then change the build the campus runs without anyone choosing it.
 */

/** name:tag -> digest, for the lines that have one. */
function digests(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const at = line.lastIndexOf("@");
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/**
 * One message per image both fronts lock to different digests (an image only one of them runs is not compared:
 * the other pulls it on its next step).
 */
export function lockDifferences(a: { name: string; lines: readonly string[] }, b: { name: string; lines: readonly string[] }): string[] {
  const other = digests(b.lines);
  return [...digests(a.lines)]
    .filter(([image, digest]) => other.has(image) && other.get(image) !== digest)
    .map(
      ([image, digest]) =>
        `the fronts lock different builds of ${image}: ${digest} on ${a.name}, ${other.get(image)} on ${b.name}; a failover would change the build the campus runs: pin one in IMAGE_DIGESTS, or delete the line on one front so that its next run takes the tag again (docs/front.md, "Moving to a newer image")`,
    );
}
