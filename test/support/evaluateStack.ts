import { readStackFile } from "../../components/config/stackFile";
import { campusProgram } from "../../components/program";
import { plannedCloud } from "../../cli/plan/mockCloud";
import { configOfStackFile } from "../../cli/plan/planStack";
import { evaluateProgram, isSecretValue, type Evaluation, type RecordedResource } from "../../cli/plan/recorder";

/**
 * Evaluates the real program for a stack file under mocks, with chosen values for the stack's secret
 * keys (the stack files keep them encrypted), so tests can look for those values where they must not be.
 */
export async function evaluateStack(
  stack: string,
  secrets: Record<string, string> = {},
  mutate?: (campus: Record<string, any>) => void,
): Promise<Evaluation<Record<string, unknown>>> {
  const { stack: name, config, secretKeys } = stackConfig(stack, secrets, mutate);
  return evaluateProgram({ project: "bbb-ovh", stack: name, config, secretKeys, mocks: plannedCloud }, campusProgram) as Promise<
    Evaluation<Record<string, unknown>>
  >;
}

/** The Pulumi config a stack file (its campus mutated, its secret keys set to the given values) hands the program. */
export function stackConfig(stack: string, secrets: Record<string, string> = {}, mutate?: (campus: Record<string, any>) => void) {
  const file = readStackFile(stack);
  if (mutate) {
    const campus = structuredClone(file.config["bbb-ovh:campus"].value) as Record<string, any>;
    mutate(campus);
    file.config["bbb-ovh:campus"] = { value: campus, encrypted: false };
  }
  const { config, secretKeys } = configOfStackFile(file);
  for (const [key, value] of Object.entries(secrets)) {
    config[key] = value;
    if (!secretKeys.includes(key)) secretKeys.push(key);
  }
  return { stack: file.stack, config, secretKeys };
}

/** Every string reachable in a value, skipping what is wrapped as a Pulumi secret. */
export function plainStrings(value: unknown): string[] {
  if (isSecretValue(value)) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(plainStrings);
  if (value && typeof value === "object") return Object.values(value).flatMap(plainStrings);
  return [];
}

export const byType = (resources: RecordedResource[], type: string) => resources.filter((r) => r.type === type);
export const parentOf = (resources: RecordedResource[], r: RecordedResource) => resources.find((p) => p.urn === r.parent);

/** A value with its secret wrappers taken off. */
export const unwrapSecret = (v: unknown): any => (isSecretValue(v) ? unwrapSecret(v.value) : v);

/** A step's inputs as its stdin carries them (KEY=VALUE lines, components/remote/invocation.ts). */
export const stepInputsOf = (r: RecordedResource): Record<string, string> =>
  Object.fromEntries(
    String(unwrapSecret(r.inputs.stdin))
      .trimEnd()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
