import { existsSync } from "node:fs";
import * as path from "node:path";

/**
 * The checkout's root (where Pulumi.yaml is), whether this module runs from its TypeScript source
 * (tsx, ts-node, vitest) or from the compiled copy in dist/ that the npm scripts run.
 */
function findProjectDir(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${from}: bbb-ovh runs from its checkout`);
  }
}

export const PROJECT_DIR = findProjectDir(__dirname);
