/**
 * The pinned upstream trees (tools/upstream/pins.tsv) that conformance tests run against, from the
 * cache tools/upstream/prepare.sh fills outside the repository. A conformance test file asks for its
 * tree with `upstreamTree(name)` and wraps itself in `describe.skipIf(!tree)`; `.ci/run` reports how many
 * conformance tests ran and which trees were missing.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

export interface UpstreamPin {
  name: string;
  url: string;
  ref: string;
  commit: string;
}

const PINS_FILE = path.resolve(__dirname, "../../tools/upstream/pins.tsv");

export function upstreamPins(): UpstreamPin[] {
  return readFileSync(PINS_FILE, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const [name, url, ref, commit] = line.split("\t");
      return { name, url, ref, commit };
    });
}

export const upstreamCache = (): string => process.env.BBB_OVH_UPSTREAM_CACHE ?? path.join(homedir(), ".cache/bbb-ovh/upstream");

/** The prepared tree of pin `name`, or undefined (with a line on stderr) when the cache lacks it. */
export function upstreamTree(name: string): string | undefined {
  const pin = upstreamPins().find((p) => p.name === name);
  if (!pin) throw new Error(`no upstream pin named '${name}' in tools/upstream/pins.tsv`);
  const dir = path.join(upstreamCache(), `${pin.name}-${pin.commit}`);
  const marker = path.join(dir, ".bbb-ovh-pin");
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === pin.commit) return dir;
  process.stderr.write(`conformance: SKIPPED, upstream tree '${name}' (${pin.ref} ${pin.commit}) is not prepared; run tools/upstream/prepare.sh\n`);
  return undefined;
}
