import { STEPS, type StepName } from "./catalogue";

export type StepInputs = Record<string, string>;

const KEY = /^[A-Z][A-Z0-9_]*$/;

/**
 * Renders a step's inputs as the `KEY=VALUE` lines its script reads on stdin. Keys are sorted so the
 * same stack always gives byte-identical stdin (no spurious updates); every problem is reported.
 */
export function renderStepStdin(name: StepName, inputs: StepInputs): string {
  const spec = STEPS[name];
  const allowed = new Set<string>([...spec.required, ...spec.optional]);
  const problems: string[] = [];
  for (const key of spec.required) if (inputs[key] === undefined) problems.push(`missing input ${key}`);
  for (const [key, value] of Object.entries(inputs)) {
    if (!KEY.test(key)) problems.push(`input key '${key}' is not [A-Z0-9_]`);
    else if (!allowed.has(key)) problems.push(`unknown input ${key}`);
    if (/[\n\r\0]/.test(value)) problems.push(`input ${key} spans several lines; base64 it into ${key.endsWith("_B64") ? key : `${key}_B64`}`);
  }
  if (problems.length > 0) throw new Error(`step ${spec.script}: ${problems.join("; ")}`);
  return Object.keys(inputs)
    .sort()
    .map((key) => `${key}=${inputs[key]}\n`)
    .join("");
}

/** The command line of a step: only the script path, never a value. */
export function renderStepCommand(name: StepName, scriptDir: string, sudo: boolean): string {
  return `${sudo ? "sudo -n " : ""}bash ${scriptDir}/${STEPS[name].script}`;
}

export const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
