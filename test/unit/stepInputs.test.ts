/**
 * The step catalogue (components/remote/catalogue.ts) is the list of each step's inputs: every script
 * under scripts/ that a step runs must require exactly the catalogue's required inputs (`require_inputs`,
 * lib/common.sh) and read no input the catalogue does not name, and every optional input must be read.
 * Keys ending in _B64 arrive decoded under the name without it (read_inputs).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { STEPS, type StepSpec } from "../../components/remote/catalogue";

const SCRIPTS = path.join(__dirname, "../../scripts");
const decoded = (key: string) => key.replace(/_B64$/, "");

/** What a script asks for: the keys of its `require_inputs` (continuation lines joined) and every IN_<KEY> it reads. */
function scriptInputs(text: string): { required: string[]; read: string[] } {
  const joined = text.replace(/\\\n\s*/g, " ");
  const required = [...joined.matchAll(/^\s*require_inputs\s+([A-Z0-9_ ]+)$/gm)].flatMap((m) => m[1].trim().split(/\s+/));
  const read = [...new Set([...text.matchAll(/\bIN_([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]))];
  return { required, read };
}

/** IN_<KEY> read by the lib/ files a script sources (e.g. IMAGE_PINS in lib/units.sh). */
function libraryReads(text: string): string[] {
  const libs = [...text.matchAll(/^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/(lib\/[a-z_]+\.sh)"$/gm)].map((m) => m[1]);
  return libs.flatMap((lib) => scriptInputs(readFileSync(path.join(SCRIPTS, lib), "utf8")).read);
}

describe("every step's script reads exactly the inputs the catalogue lists", () => {
  it.each(Object.entries(STEPS) as Array<[string, StepSpec]>)("%s", (_name, spec) => {
    const text = readFileSync(path.join(SCRIPTS, spec.script), "utf8");
    const { required, read: own } = scriptInputs(text);
    const read = [...own, ...libraryReads(text)];
    const catalogueRequired = spec.required.map(decoded);
    const catalogueOptional = spec.optional.map(decoded);
    expect([...required].sort(), `${spec.script}: require_inputs`).toEqual([...catalogueRequired].sort());
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

  it("finds what a script asks for, across continuation lines", () => {
    const script = 'main() {\n  read_inputs\n  require_inputs A B \\\n    C_D\n  echo "$IN_A $IN_OPT"\n}\n';
    expect(scriptInputs(script)).toEqual({ required: ["A", "B", "C_D"], read: ["A", "OPT"] });
  });
});
