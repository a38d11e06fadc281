/**
 * Generates docs/config.md, the reference of every `bbb-ovh:campus` setting, from the zod schema that
 * validates it (components/config/schema.ts, through zod 4's toJSONSchema): a setting added to the
 * schema appears here, and test/unit/configReference.test.ts fails while the file is stale.
 * `npm run docs:config` rewrites it.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { CONFIG_KEYS } from "../components/config/campus";
import { campusSchema } from "../components/config/schema";

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  description?: string;
};

interface Row {
  path: string;
  type: string;
  presence: string;
  rule: string;
  description: string;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (value: unknown) => `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;

function typeOf(s: JsonSchema): string {
  const variants = s.oneOf ?? s.anyOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(" or ");
  if (s.const !== undefined) return code(s.const);
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "values"}`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties)
    return `map of ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(" or ") : (s.type ?? "any");
}

function ruleOf(s: JsonSchema): string {
  const rules: string[] = [];
  if (s.enum) rules.push(`one of ${s.enum.map(code).join(", ")}`);
  if (s.pattern) rules.push(`matches ${code(s.pattern)}`);
  if (s.format) rules.push(`format ${s.format}`);
  if (s.minimum !== undefined) rules.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) rules.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) rules.push(`<= ${s.maximum}`);
  if (s.minLength !== undefined && s.minLength > 0) rules.push(`at least ${s.minLength} character(s)`);
  if (s.maxLength !== undefined) rules.push(`at most ${s.maxLength} characters`);
  if (s.minItems !== undefined && s.minItems > 0) rules.push(`at least ${s.minItems} item(s)`);
  if (s.maxItems !== undefined) rules.push(`at most ${s.maxItems} items`);
  return rules.join("; ");
}

function walk(s: JsonSchema, at: string, required: boolean, rows: Row[]): void {
  const variants = s.oneOf ?? s.anyOf;
  if (variants) {
    // A host is one of several kinds, told apart by `kind`: each kind's settings get their own rows.
    const kinds = variants.filter((v) => v.properties?.kind?.const !== undefined);
    if (kinds.length === variants.length) {
      rows.push({
        path: at,
        type: "object",
        presence: required ? "required" : "optional",
        rule: `by \`kind\`: ${kinds.map((v) => code(v.properties!.kind!.const)).join(", ")}`,
        description: s.description ?? "",
      });
      for (const v of kinds) walkProperties(v, `${at} (kind ${v.properties!.kind!.const})`, rows);
      return;
    }
  }
  const presence = s.default !== undefined ? `default ${code(s.default)}` : required ? "required" : "optional";
  rows.push({ path: at, type: typeOf(s), presence, rule: ruleOf(s), description: s.description ?? "" });
  if (s.type === "object") walkProperties(s, at, rows);
  if (s.type === "array" && s.items && (s.items.type === "object" || s.items.oneOf || s.items.anyOf)) walkChildren(s.items, `${at}[]`, rows);
}

function walkChildren(s: JsonSchema, at: string, rows: Row[]): void {
  const variants = s.oneOf ?? s.anyOf;
  if (variants?.every((v) => v.properties?.kind?.const !== undefined)) {
    for (const v of variants) walkProperties(v, `${at} (kind ${v.properties!.kind!.const})`, rows);
  } else walkProperties(s, at, rows);
}

function walkProperties(s: JsonSchema, at: string, rows: Row[]): void {
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    if (at.includes("(kind ") && key === "kind") continue;
    walk(child, `${at}.${key}`, s.required?.includes(key) ?? false, rows);
  }
  if (s.additionalProperties && typeof s.additionalProperties === "object" && s.additionalProperties.type === "object")
    walkProperties(s.additionalProperties, `${at}.<name>`, rows);
}

export function renderConfigReference(): string {
  const schema = z.toJSONSchema(campusSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const rows: Row[] = [];
  walkProperties(schema, "campus", rows);
  // Descriptions come from the schema's `.describe()`; the column appears once one field has one.
  const described = rows.some((r) => r.description !== "");
  const table = [
    `| setting | type | required or default | rule |${described ? " description |" : ""}`,
    `|---|---|---|---|${described ? "---|" : ""}`,
    ...rows.map((r) => `| \`${r.path}\` | ${cell(r.type)} | ${cell(r.presence)} | ${cell(r.rule)} |${described ? ` ${cell(r.description)} |` : ""}`),
  ];
  return [
    "# Stack settings reference",
    "",
    `<!-- Generated by tools/configReference.ts from components/config/schema.ts (npm run docs:config); do not edit by hand. -->`,
    "",
    `Every field of \`${CONFIG_KEYS.campus}\`, the one object a stack file sets (see \`stacks/\` for examples).`,
    "The rules here are the schema's; checks that span several fields (a host's FQDN inside the DNS zone,",
    "a model's mandatory options, the backup target's needs) are made after it and named in the error",
    "messages. `campus.nodes[] (kind publicCloud).region` reads: the `region` of a node whose `kind` is",
    '`publicCloud`. The secret keys beside the campus are in the README ("Secrets without the Pulumi CLI").',
    "",
    ...table,
    "",
  ].join("\n");
}

if (require.main === module) {
  const file = path.resolve(__dirname, "../docs/config.md");
  writeFileSync(file, renderConfigReference());
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
