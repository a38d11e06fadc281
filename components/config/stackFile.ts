import { readdirSync, readFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CampusConfigError, CONFIG_KEYS, parseCampus, type Campus, type SecretPresence } from "./campus";
import { PROJECT_DIR } from "../projectDir";
import { clearPrivateKeyMessage, closestKey, privateKeyPaths, StackFileError, yamlSyntaxMessage } from "./messages";

/** A config value in a stack file: plain, or `secure:` (encrypted by the Pulumi CLI). */
export interface StackFileValue {
  value: unknown;
  /**
   * True when the value holds a `secure:` entry, at the top (`pulumi config set --secret KEY '{...}'`) or
   * inside an object (`pulumi config set --secret --path 'KEY.field'`): it cannot be read without the
   * stack's secrets provider, and Pulumi hands the whole key to the program as a secret.
   */
  encrypted: boolean;
}

export interface StackFile {
  path: string;
  stack: string;
  /** Keys as Pulumi writes them (`bbb-ovh:campus`, `ovh:endpoint`, ...). */
  config: Record<string, StackFileValue>;
}

export const STACK_DIR = path.join(PROJECT_DIR, "stacks");

/** `brest` -> stacks/Pulumi.brest.yaml; a path is taken as it is. */
export function stackFilePath(stackOrPath: string): string {
  if (stackOrPath.includes("/") || stackOrPath.endsWith(".yaml")) return path.resolve(stackOrPath);
  return path.join(STACK_DIR, `Pulumi.${stackOrPath}.yaml`);
}

/** The stacks of stacks/ (one per Pulumi.<stack>.yaml). */
export function knownStacks(): string[] {
  return existsSync(STACK_DIR)
    ? readdirSync(STACK_DIR)
        .flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? [])
        .sort()
    : [];
}

/** For a stack name with no file: " (did you mean 'brest'?); the stacks are: ..."; "" for a path. */
export function missingStackHint(stackOrPath: string): string {
  if (stackFilePath(stackOrPath) !== path.join(STACK_DIR, `Pulumi.${stackOrPath}.yaml`)) return "";
  const stacks = knownStacks();
  // Two edits at least: a swapped pair of letters (brset) is the common slip.
  const guess = closestKey(stackOrPath, stacks, Math.max(2, Math.floor(stackOrPath.length / 3)));
  return `${guess ? ` (did you mean '${guess}'?)` : ""}; the stacks are: ${stacks.join(", ") || "none"}`;
}

export function isSecure(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.keys(v).length === 1 && "secure" in v;
}

/** A `secure:` entry at any depth. */
function holdsSecure(v: unknown): boolean {
  return isSecure(v) || (typeof v === "object" && v !== null && Object.values(v).some(holdsSecure));
}

/** Reads a Pulumi stack file. Throws a StackFileError whose message names the file and what is wrong. */
export function readStackFile(stackOrPath: string): StackFile {
  const file = stackFilePath(stackOrPath);
  if (!existsSync(file)) throw new StackFileError(`${file}: no such stack file${missingStackHint(stackOrPath)}`);
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new StackFileError(yamlSyntaxMessage(file, e));
  }
  if (typeof doc !== "object" || doc === null || !("config" in doc) || typeof doc.config !== "object" || doc.config === null) {
    throw new StackFileError(`${file}: expected a top-level 'config:' mapping`);
  }
  const stack = path
    .basename(file)
    .replace(/^Pulumi\./, "")
    .replace(/\.ya?ml$/, "");
  const config: Record<string, StackFileValue> = {};
  const clearKeys: string[] = [];
  for (const [key, value] of Object.entries(doc.config as Record<string, unknown>)) {
    config[key] = { value, encrypted: holdsSecure(value) };
    if (!config[key].encrypted) clearKeys.push(...privateKeyPaths(value).map((at) => clearPrivateKeyMessage(file, stack, key, at)));
  }
  if (clearKeys.length > 0) throw new StackFileError(clearKeys.join("\n"));
  return { path: file, stack, config };
}

export function secretPresence(file: StackFile): SecretPresence {
  return {
    sshPrivateKey: CONFIG_KEYS.sshPrivateKey in file.config,
    turnSecret: CONFIG_KEYS.turnSecret in file.config,
    dnsCredentials: CONFIG_KEYS.dnsCredentials in file.config,
    moodleSshPrivateKey: CONFIG_KEYS.moodleSshPrivateKey in file.config,
    backupS3Credentials: CONFIG_KEYS.backupS3Credentials in file.config,
    smtpPassword: CONFIG_KEYS.smtpPassword in file.config,
  };
}

/** Validates the campus of a stack file (no Pulumi involved); throws CampusConfigError. `now`: see parseCampus. */
export function campusOfStackFile(file: StackFile, now?: Date): Campus {
  if (!(CONFIG_KEYS.campus in file.config)) {
    // Pulumi's config keys carry the project's name: `campus:` alone is another key, not the campus.
    const near = Object.keys(file.config).find((k) => k.split(":").at(-1) === "campus" || closestKey(k, [CONFIG_KEYS.campus]) !== undefined);
    if (near !== undefined) {
      throw new CampusConfigError([
        {
          path: CONFIG_KEYS.campus,
          message: `is required: the file has '${near}' (did you mean '${CONFIG_KEYS.campus}'? Pulumi's config keys start with the project name, bbb-ovh:)`,
        },
      ]);
    }
  }
  return parseCampus(file.config[CONFIG_KEYS.campus]?.value, secretPresence(file), now);
}
