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
  /** Content hash of one step's script, the scripts it installs, and the shared lib/ it may source (common.sh, units.sh). */
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
  const libraries = [...contents.keys()].filter((file) => file.startsWith("lib/"));
  const steps = new Map<StepName, string>();
  return {
    dir,
    files: [...contents.keys()],
    hash: all,
    stepHash(name) {
      let hash = steps.get(name);
      if (hash === undefined) {
        hash = digest([STEPS[name].script, ...STEPS[name].installs, ...libraries]);
        steps.set(name, hash);
      }
      return hash;
    },
  };
}

let cached: ScriptBundle | undefined;

/** The bundle of this checkout's scripts/, read once per process. */
export function scriptBundle(): ScriptBundle {
  cached ??= readScriptBundle(SCRIPTS_DIR);
  return cached;
}
