import { readFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS, parseCampus, type Campus, type SecretPresence } from "./campus";

/** A config value in a stack file: plain, or `secure:` (encrypted by the Pulumi CLI). */
export interface StackFileValue {
  value: unknown;
  /** True for `secure:` values: they cannot be read without the stack's secrets provider. */
  encrypted: boolean;
}

export interface StackFile {
  path: string;
  stack: string;
  /** Keys as Pulumi writes them (`bbb-ovh:campus`, `ovh:endpoint`, ...). */
  config: Record<string, StackFileValue>;
}

export const STACK_DIR = path.resolve(__dirname, "../../stacks");

/** `brest` -> stacks/Pulumi.brest.yaml; a path is taken as it is. */
export function stackFilePath(stackOrPath: string): string {
  if (stackOrPath.includes("/") || stackOrPath.endsWith(".yaml")) return path.resolve(stackOrPath);
  return path.join(STACK_DIR, `Pulumi.${stackOrPath}.yaml`);
}

function isSecure(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.keys(v).length === 1 && "secure" in v;
}

/** Reads a Pulumi stack file. Throws an Error whose message names the file and what is wrong. */
export function readStackFile(stackOrPath: string): StackFile {
  const file = stackFilePath(stackOrPath);
  if (!existsSync(file)) throw new Error(`${file}: no such stack file`);
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || !("config" in doc) || typeof doc.config !== "object" || doc.config === null) {
    throw new Error(`${file}: expected a top-level 'config:' mapping`);
  }
  const config: Record<string, StackFileValue> = {};
  for (const [key, value] of Object.entries(doc.config as Record<string, unknown>)) {
    config[key] = { value, encrypted: isSecure(value) };
  }
  const stack = path.basename(file).replace(/^Pulumi\./, "").replace(/\.ya?ml$/, "");
  return { path: file, stack, config };
}

export function secretPresence(file: StackFile): SecretPresence {
  return {
    sshPrivateKey: CONFIG_KEYS.sshPrivateKey in file.config,
    turnSecret: CONFIG_KEYS.turnSecret in file.config,
    dnsCredentials: CONFIG_KEYS.dnsCredentials in file.config,
    backupS3Credentials: CONFIG_KEYS.backupS3Credentials in file.config,
  };
}

/** Validates the campus of a stack file (no Pulumi involved); throws CampusConfigError. */
export function campusOfStackFile(file: StackFile): Campus {
  return parseCampus(file.config[CONFIG_KEYS.campus]?.value, secretPresence(file));
}
