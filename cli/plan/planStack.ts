import { CONFIG_KEYS, type Campus } from "../../components/config/campus";
import { campusOfStackFile, readStackFile, type StackFile } from "../../components/config/stackFile";
import { capacityWarnings } from "../../components/planning/sizing";
import { backupWarnings } from "../../components/backup/backupConfig";
import { evaluateProgram, type RecordedResource } from "./recorder";
import { plannedCloud } from "./mockCloud";

export interface Plan {
  stack: string;
  stackFile: string;
  campus: Campus;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  warnings: string[];
  notes: string[];
}

const ENCRYPTED_PLACEHOLDER = "(encrypted in the stack file: not readable offline)";

/**
 * Pulumi config as the engine would hand it to the program: `project:key` -> string (objects as JSON).
 * Encrypted values cannot be read without the stack's secrets provider; a placeholder stands in.
 */
export function configOfStackFile(file: StackFile): { config: Record<string, string>; secretKeys: string[]; notes: string[] } {
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const notes: string[] = [];
  for (const [key, { value, encrypted }] of Object.entries(file.config)) {
    if (encrypted) {
      secretKeys.push(key);
      config[key] = key === CONFIG_KEYS.dnsCredentials ? JSON.stringify({ placeholder: ENCRYPTED_PLACEHOLDER }) : ENCRYPTED_PLACEHOLDER;
      notes.push(`${key} is encrypted in the stack file; the offline plan uses a placeholder for it`);
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { config, secretKeys, notes };
}

/**
 * Evaluates the real program for a stack file under the mock runtime. Validation runs first, so an
 * invalid stack throws CampusConfigError before any resource is registered.
 */
export async function planStack(stackOrPath: string, program: () => unknown): Promise<Plan> {
  const file = readStackFile(stackOrPath);
  const campus = campusOfStackFile(file);
  const { config, secretKeys, notes } = configOfStackFile(file);
  const evaluation = await evaluateProgram({ project: "bbb-ovh", stack: file.stack, config, secretKeys, mocks: plannedCloud }, program);
  return {
    stack: file.stack,
    stackFile: file.path,
    campus,
    resources: evaluation.resources,
    outputs: evaluation.outputs as Record<string, unknown>,
    warnings: [...capacityWarnings(campus), ...backupWarnings(campus)],
    notes,
  };
}
