// Its own module so that a CLI can suggest a name without loading the YAML and schema libraries.
import { closest, distance } from "fastest-levenshtein";

/** The known key a mistyped one most likely meant: close in edit distance (by default a third of its length, at least 1). */
export function closestKey(typed: string, known: readonly string[], maxDistance = Math.max(1, Math.floor(typed.length / 3))): string | undefined {
  if (known.length === 0) return undefined;
  const lower = typed.toLowerCase();
  const best = closest(
    lower,
    known.map((k) => k.toLowerCase()),
  );
  const match = known.find((k) => k.toLowerCase() === best);
  return match !== undefined && distance(lower, best) <= maxDistance ? match : undefined;
}
