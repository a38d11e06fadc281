import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PROJECT_DIR } from "../projectDir";
import { STEPS, type StepName } from "./catalogue";

/** The scripts/ directory of this checkout, whatever the working directory. */
export const SCRIPTS_DIR = join(PROJECT_DIR, "scripts");

export interface ScriptBundle {
  dir: string;
  /** Relative paths of the files copied to every host, sorted. */
  files: string[];
  /** Content hash of every file under the directory (sorted relative paths and bytes). */
  hash: string;
  /** Content hash of one step's script, the scripts it installs, and the lib/ files they source (common.sh, units.sh...). */
  stepHash(name: StepName): string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/**
 * Reads a scripts directory once and hashes it. Hashes depend only on paths and bytes (no mtimes,
 * no directory order), so evaluating the same checkout twice gives the same triggers.
 */
export function readScriptBundle(dir: string): ScriptBundle {
  const contents = new Map(listFiles(dir).map((file) => [file, readFileSync(join(dir, file))]));
  const digest = (files: string[]) => {
    const hash = createHash("sha256");
    for (const file of files) {
      const bytes = contents.get(file);
      if (!bytes) throw new Error(`${join(dir, file)} is missing: the host step cannot run without it`);
      hash.update(`${file}\0${bytes.length}\0`).update(bytes);
    }
    return hash.digest("hex");
  };
  const all = digest([...contents.keys()]);
  const steps = new Map<StepName, string>();
  return {
    dir,
    files: [...contents.keys()],
    hash: all,
    stepHash(name) {
      let hash = steps.get(name);
      if (hash === undefined) {
        const own = [STEPS[name].script, ...STEPS[name].installs];
        hash = digest([...own, ...sourcedLibraries(own, contents)]);
        steps.set(name, hash);
      }
      return hash;
    },
  };
}

/** `source ".../lib/NAME.sh"` in a script, `source ".../NAME.sh"` in a lib/ file (comments aside). */
const SOURCE_LINE = /^\s*(?:source|\.)\s.*\/([A-Za-z0-9_-]+\.sh)"?\s*$/gm;

/**
 * The lib/ files the given scripts source, and those these source in turn, sorted: a step re-runs when
 * one of them changes, not when a library it never reads does. A missing one is reported by digest.
 */
function sourcedLibraries(files: readonly string[], contents: ReadonlyMap<string, Buffer>): string[] {
  const found = new Set<string>();
  const queue = [...files];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const text = contents.get(file)?.toString("utf8") ?? "";
    for (const match of text.matchAll(SOURCE_LINE)) {
      const library = `lib/${match[1]}`;
      if (!found.has(library)) {
        found.add(library);
        queue.push(library);
      }
    }
  }
  return [...found].sort();
}

let cached: ScriptBundle | undefined;

/** The bundle of this checkout's scripts/, read once per process. */
export function scriptBundle(): ScriptBundle {
  cached ??= readScriptBundle(SCRIPTS_DIR);
  return cached;
}
