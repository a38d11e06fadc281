import { CampusConfigError, CONFIG_KEYS, type Campus } from "../../components/config/campus";
import { campusOfStackFile, isSecure, readStackFile, type StackFile } from "../../components/config/stackFile";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";
import { standbyNotes } from "../../components/planning/frontFailover";
import { planWarnings } from "./planWarnings";
import { rollingNodes, rollingProblems } from "../../components/hosts/rollingNode";
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

/** Stands in for an encrypted value; a plain token, so that checks of a credential's shape pass. */
const ENCRYPTED_PLACEHOLDER = "encrypted-in-the-stack-file";

/** The shape the program expects of a key encrypted as a whole (objects are read with getSecretObject). */
const ENCRYPTED_OBJECT_PLACEHOLDERS: Record<string, Record<string, string>> = {
  [CONFIG_KEYS.dnsCredentials]: Object.fromEntries(["endpoint", "applicationKey", "applicationSecret", "consumerKey"].map((k) => [k, ENCRYPTED_PLACEHOLDER])),
};

/** The value with every `secure:` entry inside it replaced by the placeholder. */
function withPlaceholders(value: unknown): unknown {
  if (isSecure(value)) return ENCRYPTED_PLACEHOLDER;
  if (Array.isArray(value)) return value.map(withPlaceholders);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPlaceholders(v)]));
  return value;
}

/**
 * Pulumi config as the engine would hand it to the program: `project:key` -> string (objects as JSON).
 * Encrypted values, whole or inside an object, cannot be read without the stack's secrets provider:
 * placeholders stand in, and the key is a secret (shown as [secret]) as Pulumi would make it.
 */
export function configOfStackFile(file: StackFile): { config: Record<string, string>; secretKeys: string[]; notes: string[] } {
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const notes: string[] = [];
  for (const [key, { value, encrypted }] of Object.entries(file.config)) {
    const planned = isSecure(value) && key in ENCRYPTED_OBJECT_PLACEHOLDERS ? ENCRYPTED_OBJECT_PLACEHOLDERS[key] : withPlaceholders(value);
    config[key] = typeof planned === "string" ? planned : JSON.stringify(planned);
    // The operator key must parse (its public half is derived): a throwaway key stands in for it.
    if (key === CONFIG_KEYS.sshPrivateKey && isSecure(value)) config[key] = throwawayPrivateKey("bbb-ovh-plan");
    if (encrypted) {
      secretKeys.push(key);
      notes.push(`${key} is encrypted in the stack file; the offline plan uses a placeholder for it`);
    }
  }
  return { config, secretKeys, notes };
}

/**
 * Evaluates the real program for a stack file under the mock runtime. Validation runs first, so an
 * invalid stack throws CampusConfigError before any resource is registered. `now` is the plan's run
 * date, which the installer pin's age is measured against.
 */
export async function planStack(stackOrFile: string | StackFile, program: () => unknown, now: Date = new Date()): Promise<Plan> {
  const file = typeof stackOrFile === "string" ? readStackFile(stackOrFile) : stackOrFile;
  const campus = campusOfStackFile(file, now);
  // The program checks it too, under the mock runtime, where a refusal would surface as a rejection.
  const rolling = rollingProblems(campus, rollingNodes());
  if (rolling.length > 0) throw new CampusConfigError(rolling);
  const { config, secretKeys, notes } = configOfStackFile(file);
  const evaluation = await evaluateProgram({ project: "bbb-ovh", stack: file.stack, config, secretKeys, mocks: plannedCloud }, program);
  return {
    stack: file.stack,
    stackFile: file.path,
    campus,
    resources: evaluation.resources,
    outputs: evaluation.outputs as Record<string, unknown>,
    warnings: planWarnings(campus, now),
    notes: [...notes, ...standbyNotes(campus)],
  };
}
