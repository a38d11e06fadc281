/**
 * The step catalogue (components/remote/catalogue.ts) is the list of each step's inputs: every script
 * under scripts/ that a step runs must name exactly the catalogue's required and optional inputs in its
 * REQUIRED_INPUTS and OPTIONAL_INPUTS (which the shared entry, lib/common.sh run_step, checks and prints),
 * enter through run_step, and read no input the catalogue does not name; every optional input must be read.
 * Keys ending in _B64 arrive decoded under the name without it (read_inputs).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { STEPS, type StepSpec } from "../../components/remote/catalogue";

const SCRIPTS = path.join(__dirname, "../../scripts");
const decoded = (key: string) => key.replace(/_B64$/, "");

/** A top-level array of input keys, `NAME=(A B_B64 ...)`; undefined when the script does not set it. */
function keyArray(text: string, name: string): string[] | undefined {
  const found = [...text.matchAll(new RegExp(`^${name}=\\(([A-Z0-9_ ]*)\\)$`, "gm"))];
  if (found.length > 1) throw new Error(`${name} is set ${found.length} times`);
  return found[0]?.[1].split(" ").filter(Boolean);
}

/** What a script asks for: its REQUIRED_INPUTS and OPTIONAL_INPUTS, and every IN_<KEY> it reads. */
function scriptInputs(text: string): { required?: string[]; optional?: string[]; read: string[] } {
  const read = [...new Set([...text.matchAll(/\bIN_([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]))];
  return { required: keyArray(text, "REQUIRED_INPUTS"), optional: keyArray(text, "OPTIONAL_INPUTS"), read };
}

/** IN_<KEY> read by the lib/ files a script sources (e.g. IMAGE_PINS in lib/units.sh). */
function libraryReads(text: string): string[] {
  const libs = [...text.matchAll(/^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/(lib\/[a-z_]+\.sh)"$/gm)].map((m) => m[1]);
  return libs.flatMap((lib) => scriptInputs(readFileSync(path.join(SCRIPTS, lib), "utf8")).read);
}

describe("every step's script reads exactly the inputs the catalogue lists", () => {
  it.each(Object.entries(STEPS) as Array<[string, StepSpec]>)("%s", (_name, spec) => {
    const text = readFileSync(path.join(SCRIPTS, spec.script), "utf8");
    const { required, optional, read: own } = scriptInputs(text);
    const read = [...own, ...libraryReads(text)];
    const catalogueRequired = spec.required.map(decoded);
    const catalogueOptional = spec.optional.map(decoded);
    expect(required, `${spec.script}: REQUIRED_INPUTS`).toEqual(spec.required);
    expect(optional ?? [], `${spec.script}: OPTIONAL_INPUTS`).toEqual(spec.optional);
    expect(text.trimEnd().endsWith('\nrun_step "$@"'), `${spec.script}: ends with the shared entry, run_step "$@"`).toBe(true);
    expect(
      own.filter((k) => !catalogueRequired.includes(k) && !catalogueOptional.includes(k)),
      `${spec.script}: inputs read but not in the catalogue`,
    ).toEqual([]);
    expect(
      catalogueOptional.filter((k) => !read.includes(k)),
      `${spec.script}: optional inputs the script never reads`,
    ).toEqual([]);
    expect(
      spec.secret.filter((k) => !spec.required.includes(k) && !spec.optional.includes(k)),
      "secret inputs not in the lists",
    ).toEqual([]);
  });

  it.each(Object.entries(STEPS) as Array<[string, StepSpec]>)("%s: every other script it copies onto the host is in its trigger (installs)", (_name, spec) => {
    const text = readFileSync(path.join(SCRIPTS, spec.script), "utf8");
    // `< "$SCRIPT_DIR/x.sh"` or `< "$(dirname "${BASH_SOURCE[0]}")/x.sh"`: a script of scripts/ read as a file to install.
    const copied = [...text.matchAll(/<\s*"\$(?:SCRIPT_DIR|\(dirname "\$\{BASH_SOURCE\[0\]\}"\))\/([a-z0-9-]+\.sh)"/g)].map((m) => m[1]);
    expect([...new Set(copied)].sort()).toEqual([...spec.installs].sort());
  });

  it("finds what a script asks for", () => {
    const script = 'REQUIRED_INPUTS=(A B_B64 C_D)\nOPTIONAL_INPUTS=()\nmain() {\n  echo "$IN_A $IN_OPT"\n}\nrun_step "$@"\n';
    expect(scriptInputs(script)).toEqual({ required: ["A", "B_B64", "C_D"], optional: [], read: ["A", "OPT"] });
    expect(scriptInputs("main() { :; }\n")).toEqual({ required: undefined, optional: undefined, read: [] });
    expect(() => scriptInputs("REQUIRED_INPUTS=(A)\nREQUIRED_INPUTS=(B)\n")).toThrow(/set 2 times/);
  });
});
