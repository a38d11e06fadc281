/**
 * Random damage to real campus objects (the `bbb-ovh:campus` value of the stack files), for the
 * config fuzz tests: missing keys, wrong types, bad CIDRs, duplicate names, names outside the zone,
 * unknown presets, empty lists, huge values and unicode. Each mutation is a plain description that
 * fast-check can shrink and print, applied to a copy.
 */
import fc from "fast-check";
import { readStackFile, secretPresence, type StackFile } from "../../components/config/stackFile";
import type { SecretPresence } from "../../components/config/campus";

export const STACKS = ["brest", "nantes", "rennes", "training", "lab"] as const;
export type StackName = (typeof STACKS)[number];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

const files = new Map<StackName, StackFile>();
const fileOf = (stack: StackName): StackFile => files.get(stack) ?? files.set(stack, readStackFile(stack)).get(stack)!;

/** A fresh copy of the stack's campus object. */
export function campusOf(stack: StackName): Record<string, Json> {
  return structuredClone(fileOf(stack).config["bbb-ovh:campus"].value) as Record<string, Json>;
}

export function secretsOf(stack: StackName): SecretPresence {
  return secretPresence(fileOf(stack));
}

/** Every path to a value inside `value` (objects' keys and arrays' indexes), parents before children. */
export function pathsOf(value: Json, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...pathsOf(v, [...prefix, i])]);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])]);
  return [];
}

function getAt(root: Json, path: Path): Json | undefined {
  let cur: Json | undefined = root;
  for (const part of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, Json>)[part];
  }
  return cur;
}

function setAt(root: Json, path: Path, value: Json | undefined): void {
  const parent = getAt(root, path.slice(0, -1));
  if (parent === null || typeof parent !== "object" || parent === undefined) return;
  const key = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
    else delete (parent as Record<string, Json>)[key as string];
  } else {
    (parent as Record<string | number, Json>)[key] = value;
  }
}

/** Values of every JSON type, including the awkward ones: huge, empty, unicode, nested. */
export const strangeValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER,
    0.5,
    "",
    " ",
    "latest",
    "0.0.0.0/0",
    "::",
    "../../etc/passwd",
    "$(reboot)",
    "a\nb",
  ),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.integer().map((n) => n as Json),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n as Json),
  fc.nat({ max: 20_000 }).map((n) => "x".repeat(n)),
  fc.array(fc.constantFrom<Json>("a", 1, null), { maxLength: 3 }),
  fc.constant<Json>({}),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.constantFrom<Json>("x", 1, false), { maxKeys: 3 }),
);

const badCidr = fc.constantFrom(
  "10.0.0.0/33",
  "300.1.1.1/24",
  "::/129",
  "10.0.0.0",
  "10.0.0.0/-1",
  "10.0.0.0/ 8",
  "10.0.0.0/8/8",
  "2001:db8::g/32",
  "１０.0.0.0/8",
  "",
  "0x0a.0.0.0/8",
);

/**
 * One mutation, as data. `pick` chooses among the candidates the mutation applies to (modulo their
 * count), so any campus shape gets a meaningful change.
 */
export type Mutation =
  | { kind: "delete"; pick: number }
  | { kind: "replace"; pick: number; value: Json }
  | { kind: "addKey"; pick: number; key: string; value: Json }
  | { kind: "badCidr"; pick: number; cidr: string }
  | { kind: "duplicateName"; pick: number; field: "name" | "fqdn" }
  | { kind: "outsideZone"; pick: number; domain: string }
  | { kind: "unknownPreset"; pick: number; preset: string }
  | { kind: "emptyList"; pick: number }
  | { kind: "hugeList"; pick: number; copies: number }
  | { kind: "unicode"; pick: number; text: string }
  | { kind: "relabel"; text: string };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("replace" as const), pick: fc.nat(), value: strangeValue }),
  fc.record({
    kind: fc.constant("addKey" as const),
    pick: fc.nat(),
    key: fc.oneof(fc.constantFrom("datacentre", "secret", "__proto__", "constructor", "kind"), fc.string({ maxLength: 10 })),
    value: strangeValue,
  }),
  fc.record({ kind: fc.constant("badCidr" as const), pick: fc.nat(), cidr: badCidr }),
  fc.record({ kind: fc.constant("duplicateName" as const), pick: fc.nat(), field: fc.constantFrom("name" as const, "fqdn" as const) }),
  fc.record({
    kind: fc.constant("outsideZone" as const),
    pick: fc.nat(),
    domain: fc.constantFrom("example.com", "isen-ouest.fr.evil.org", "fr", "isen-ouest.f", "xn--isen-ouest.fr"),
  }),
  fc.record({
    kind: fc.constant("unknownPreset" as const),
    pick: fc.nat(),
    preset: fc.oneof(fc.constantFrom("rise-99", "c2-600", "RISE-1", "infra-1 ", ""), fc.string({ maxLength: 12 })),
  }),
  fc.record({ kind: fc.constant("emptyList" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("hugeList" as const), pick: fc.nat(), copies: fc.integer({ min: 2, max: 400 }) }),
  fc.record({ kind: fc.constant("unicode" as const), pick: fc.nat(), text: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }) }),
);

function hostPaths(c: Json): Path[] {
  const nodes = getAt(c, ["nodes"]);
  return [["front"], ...(Array.isArray(nodes) ? nodes.map((_, i): Path => ["nodes", i]) : [])];
}
const arrayPaths = (c: Json): Path[] => pathsOf(c).filter((p) => Array.isArray(getAt(c, p)));
const stringPaths = (c: Json): Path[] => pathsOf(c).filter((p) => typeof getAt(c, p) === "string");
const choose = <T>(items: T[], pick: number): T | undefined => (items.length === 0 ? undefined : items[pick % items.length]);

/** Applies a mutation to a copy of `campus` and returns the copy. */
export function mutate(campus: Record<string, Json>, m: Mutation): Record<string, Json> {
  const c = structuredClone(campus);
  switch (m.kind) {
    case "delete": {
      const path = choose(pathsOf(c), m.pick);
      if (path) setAt(c, path, undefined);
      break;
    }
    case "replace": {
      const path = choose(pathsOf(c), m.pick);
      if (path) setAt(c, path, m.value);
      break;
    }
    case "addKey": {
      const objects: Path[] = [
        [],
        ...pathsOf(c).filter((p) => {
          const v = getAt(c, p);
          return v !== null && typeof v === "object" && !Array.isArray(v);
        }),
      ];
      const target = getAt(c, choose(objects, m.pick)!) as Record<string, Json>;
      // defineProperty so that "__proto__" becomes an own key, as a YAML parser would make it.
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      break;
    }
    case "badCidr": {
      const cidrs = getAt(c, ["adminCidrs"]);
      if (Array.isArray(cidrs) && cidrs.length > 0) cidrs[m.pick % cidrs.length] = m.cidr;
      else setAt(c, ["adminCidrs"], [m.cidr]);
      break;
    }
    case "duplicateName": {
      const hosts = hostPaths(c);
      if (hosts.length < 2) break;
      const from = hosts[m.pick % hosts.length];
      const to = hosts[(m.pick + 1) % hosts.length];
      setAt(c, [...to, m.field], getAt(c, [...from, m.field]) ?? null);
      break;
    }
    case "outsideZone": {
      const host = choose(hostPaths(c), m.pick);
      if (host) setAt(c, [...host, "fqdn"], `bbb${m.pick % 10}.${m.domain}`);
      break;
    }
    case "unknownPreset": {
      const host = choose(hostPaths(c), m.pick);
      if (!host) break;
      const kind = getAt(c, [...host, "kind"]);
      setAt(c, [...host, kind === "publicCloud" ? "flavor" : "model"], m.preset);
      break;
    }
    case "emptyList": {
      const path = choose(arrayPaths(c), m.pick);
      if (path) setAt(c, path, []);
      break;
    }
    case "hugeList": {
      const path = choose(arrayPaths(c), m.pick);
      const list = path ? getAt(c, path) : undefined;
      if (path && Array.isArray(list) && list.length > 0)
        setAt(
          c,
          path,
          Array.from({ length: m.copies }, (_, i) => structuredClone(list[i % list.length])),
        );
      break;
    }
    case "relabel":
      c.label = m.text;
      break;
    case "unicode": {
      const path = choose(stringPaths(c), m.pick);
      if (path) {
        const s = getAt(c, path) as string;
        const at = m.pick % (s.length + 1);
        setAt(c, path, s.slice(0, at) + m.text + s.slice(at));
      }
      break;
    }
  }
  return c;
}

/** A stack and one to four mutations of its campus. */
export const damagedCampus = fc.record({
  stack: fc.constantFrom(...STACKS),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
});

/**
 * Changes a valid stack should survive (unicode labels, repeated admin keys and CIDRs), so that the
 * program is also exercised on valid campuses that differ from the shipped ones.
 */
export const reshapedCampus = fc.record({
  stack: fc.constantFrom(...STACKS),
  mutations: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("relabel" as const), text: fc.string({ unit: "grapheme", minLength: 1, maxLength: 120 }) }),
      fc.record({ kind: fc.constant("hugeList" as const), pick: fc.constantFrom(0, 1), copies: fc.integer({ min: 2, max: 50 }) }),
    ),
    { minLength: 1, maxLength: 2 },
  ),
});

export function applyAll(stack: StackName, mutations: Mutation[]): Record<string, Json> {
  return mutations.reduce((c, m) => mutate(c, m), campusOf(stack));
}

/**
 * The seed of a fuzz run: FUZZ_SEED from the environment to replay a failure, else a fixed one so
 * the suite is reproducible. fast-check prints seed and path in its failure message too.
 */
export function fuzzSeed(): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv !== undefined && !/^-?\d+$/.test(fromEnv)) throw new Error(`FUZZ_SEED must be an integer, got '${fromEnv}'`);
  return fromEnv !== undefined ? Number(fromEnv) : 20260601;
}
