import { closestKey } from "./closestKey";
import { YAMLParseError } from "yaml";
import type { z } from "zod";

export { closestKey };

/**
 * How configuration mistakes read to the person fixing a stack file: where the YAML broke, which key
 * was probably meant, and what to run instead of pasting a private key.
 */

/** A stack file that cannot be used as it is: its message names the file and says what to do. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/** `file:line:col: not valid YAML: reason`, then yaml's own snippet of the line with a caret under the column. */
export function yamlSyntaxMessage(file: string, error: unknown): string {
  if (!(error instanceof YAMLParseError) || !error.linePos) return `${file}: not valid YAML: ${(error as Error).message.split("\n")[0]}`;
  const { line, col } = error.linePos[0];
  // yaml's message is "<reason> at line L, column C:\n\n<snippet>\n"; the location moves to the front.
  const [reason, snippet = ""] = error.message.split(/ at line \d+, column \d+:\n/);
  return `${file}:${line}:${col}: not valid YAML: ${reason}${snippet ? `\n${snippet.replace(/\n+$/, "")}` : ""}`;
}

/** "unknown key 'x' (did you mean 'y'?)" for each unknown key, with a suggestion where one is close. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const described = keys.map((k) => {
    const guess = closestKey(k, known);
    return guess ? `'${k}' (did you mean '${guess}'?)` : `'${k}'`;
  });
  return `unknown key${keys.length > 1 ? "s" : ""} ${described.join(", ")}`;
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  valueType?: z.ZodType;
  values?: unknown[];
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

/** The schema under optional/default/... wrappers and pipes (transforms check their input's shape). */
function unwrap(schema: z.ZodType): Def {
  let def = defOf(schema);
  for (;;) {
    if (WRAPPERS.has(def.type) && def.innerType) def = defOf(def.innerType);
    else if (def.type === "pipe" && def.in) def = defOf(def.in);
    else return def;
  }
}

/** The object schemas a value is checked against; in a union, the options whose literal fields (kind: ...) it agrees with. */
function objectsFor(schema: z.ZodType, value: unknown): Def[] {
  const def = unwrap(schema);
  if (def.type === "object") return [def];
  if (def.type !== "union") return [];
  const all = (def.options ?? []).flatMap((o) => objectsFor(o, value));
  const agreeing = all.filter((o) =>
    Object.entries(o.shape ?? {}).every(([key, field]) => {
      const f = unwrap(field);
      return f.type !== "literal" || !isRecord(value) || value[key] === undefined || (f.values ?? []).includes(value[key]);
    }),
  );
  return agreeing.length > 0 ? agreeing : all;
}

/** The keys a schema accepts for the object found at `path` in `input` (array indexes and record keys step in). */
export function knownKeysAt(schema: z.ZodType, input: unknown, path: ReadonlyArray<PropertyKey>): string[] {
  let schemas: z.ZodType[] = [schema];
  let value = input;
  for (const step of path) {
    schemas = schemas.flatMap((s) => {
      const def = unwrap(s);
      if (def.type === "array" && def.element) return [def.element];
      if (def.type === "record" && def.valueType) return [def.valueType];
      return objectsFor(s, value).flatMap((o) => o.shape?.[String(step)] ?? []);
    });
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[step as string] : undefined;
  }
  return [...new Set(schemas.flatMap((s) => objectsFor(s, value)).flatMap((o) => Object.keys(o.shape ?? {})))];
}

/** The value at `path` in `input`, or `{ present: false }` when a key or index on the way is missing. */
export function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): { present: boolean; value?: unknown } {
  let value = input;
  for (const step of path) {
    if ((!isRecord(value) && !Array.isArray(value)) || !Object.hasOwn(value, step)) return { present: false };
    value = (value as Record<PropertyKey, unknown>)[step as string];
  }
  return { present: value !== undefined, value };
}

/** zod's type names as a person reads them. */
const EXPECTED: Record<string, string> = {
  object: "a mapping (key: value lines)",
  array: "a list",
  string: "a text value",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

/** What a value is, for "found ...": its kind, and numbers and booleans as they are (never text, which may be private). */
export function describeFound(value: unknown): string {
  if (value === null) return "an empty value (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return Number.isInteger(value) ? `the number ${value}` : `the decimal number ${value}`;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") return "a text value";
  if (isRecord(value)) return "a mapping";
  return typeof value;
}

const UNITS: Record<string, [string, string]> = { string: [" character", " characters"], array: [" entry", " entries"], set: [" entry", " entries"] };
const unit = (origin: string, n: number | bigint) => (UNITS[origin] ? UNITS[origin][Number(n) === 1 ? 0 : 1] : "");

/**
 * One zod issue in the words of the stack file: what was expected and what was found, never zod's own
 * wording ("Invalid input", "Too big: ..."). Messages the schema gives itself are kept.
 */
export function issueMessage(issue: z.core.$ZodIssue, found: { present: boolean; value?: unknown }): string {
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (!found.present) return `is required (${expected})`;
      if (issue.expected === "int" && typeof found.value === "number") return `expected a whole number, found ${describeFound(found.value)}`;
      return `expected ${expected}, found ${describeFound(found.value)}`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map(String).join(", ")}${found.present ? `, found ${choice(found.value)}` : ""}`;
    case "too_big":
    case "too_small": {
      if (!isDefaultMessage(issue.message)) return issue.message;
      const limit = issue.code === "too_big" ? issue.maximum : issue.minimum;
      const bound = issue.code === "too_big" ? (issue.inclusive === false ? "less than" : "at most") : issue.inclusive === false ? "more than" : "at least";
      const size = typeof found.value === "string" || Array.isArray(found.value) ? found.value.length : undefined;
      const got = typeof found.value === "number" ? `, found ${found.value}` : size !== undefined ? `, found ${size}` : "";
      return `expected ${bound} ${limit}${unit(issue.origin, limit)}${got}`;
    }
    case "invalid_union": {
      // A union with its own message (the host kinds): that message, and the choice made.
      if (!isDefaultMessage(issue.message)) return `${issue.message}${found.present ? `, found ${choice(found.value)}` : ""}`;
      // Each alternative's own first complaint: "expected a date YYYY-MM-DD or a mapping (key: value lines)".
      const foundText = found.present ? `, found ${describeFound(found.value)}` : "";
      const alternatives = [
        ...new Set(
          issue.errors
            .map((branch) => (branch[0] ? issueMessage(branch[0], { present: false }).replace(/^is required \((.*)\)$/, "expected $1") : ""))
            .filter(Boolean),
        ),
      ];
      if (alternatives.length === 0) return `does not match any accepted form${foundText}`;
      return `${alternatives.map((m, i) => (i === 0 ? m : m.replace(/^expected /, ""))).join(" or ")}${foundText}`;
    }
    default:
      return isDefaultMessage(issue.message) ? `is not accepted here${found.present ? ` (found ${describeFound(found.value)})` : ""}` : issue.message;
  }
}

/** A value given where one of a few words was expected: a short word is shown as written. */
function choice(value: unknown): string {
  return typeof value === "string" && /^[\w.-]{1,40}$/.test(value) ? `'${value}'` : describeFound(value);
}

/** zod's own English, which says nothing about the stack file ("Invalid input", "Too big: expected ..."). */
function isDefaultMessage(message: string): boolean {
  return /^(Invalid|Too (big|small)|Expected)\b/.test(message);
}

/** PEM ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", ...) and OpenSSH private keys. */
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|-----BEGIN OPENSSH PRIVATE KEY-----/;

/** Where in a value a private key sits in clear text: "" for the value itself, else a dotted path. */
export function privateKeyPaths(value: unknown, at = ""): string[] {
  if (typeof value === "string") return PRIVATE_KEY.test(value) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => privateKeyPaths(v, `${at}[${i}]`));
  if (isRecord(value)) return Object.entries(value).flatMap(([k, v]) => privateKeyPaths(v, at ? `${at}.${k}` : k));
  return [];
}

/**
 * The refusal for a private key written in clear in a stack file: the file is committed and read by
 * anyone with the repository, so the key must go through Pulumi's secret config instead.
 */
export function clearPrivateKeyMessage(file: string, stack: string, configKey: string, at: string): string {
  // A key nested in another value (campus) belongs under its own secret key: the deploy key's.
  const target = at === "" ? configKey : `${configKey.split(":")[0]}:sshPrivateKey`;
  const where = at === "" ? configKey : `${configKey}.${at}`;
  return `${file}: ${where} holds a private key in clear text; remove it from the file and store it encrypted with\n    pulumi config set --secret --stack ${stack} ${target} < FILE_HOLDING_THE_KEY`;
}
