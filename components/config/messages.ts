import { closest, distance } from "fastest-levenshtein";
import { YAMLParseError } from "yaml";
import type { z } from "zod";

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

/** The known key a mistyped one most likely meant: close in edit distance (a third of its length, at least 1). */
export function closestKey(typed: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const lower = typed.toLowerCase();
  const best = closest(lower, known.map((k) => k.toLowerCase()));
  const match = known.find((k) => k.toLowerCase() === best);
  return match !== undefined && distance(lower, best) <= Math.max(1, Math.floor(typed.length / 3)) ? match : undefined;
}

/** "unknown key 'x' (did you mean 'y'?)" for each unknown key, with a suggestion where one is close. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const described = keys.map((k) => {
    const guess = closestKey(k, known);
    return guess ? `'${k}' (did you mean '${guess}'?)` : `'${k}'`;
  });
  return `unknown key${keys.length > 1 ? "s" : ""} ${described.join(", ")}`;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; valueType?: z.ZodType; values?: unknown[] };
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
