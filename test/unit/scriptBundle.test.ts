import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { remoteScriptDir, sleepingListPath } from "../../components/remote/HostStep";
import { STEPS } from "../../components/remote/catalogue";
import { readScriptBundle, scriptBundle } from "../../components/remote/scriptBundle";

const dirs: string[] = [];
function scripts(files: Record<string, string>): string {
  mkdirSync(join(__dirname, "../../.tmp"), { recursive: true });
  const root = mkdtempSync(join(__dirname, "../../.tmp/bundle-"));
  dirs.push(root);
  const dir = join(root, "scripts");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const COMMON = 'source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"\n';
const base = { "lib/common.sh": "common v1\n", "host-preflight.sh": `${COMMON}preflight v1\n`, "bbb-node-install.sh": `${COMMON}install v1\n` };

describe("readScriptBundle", () => {
  it("hashes contents, not the directory or the order files were written in", () => {
    const a = readScriptBundle(scripts(base));
    const b = readScriptBundle(scripts(Object.fromEntries(Object.entries(base).reverse())));
    expect(b.hash).toBe(a.hash);
    expect(b.stepHash("hostPreflight")).toBe(a.stepHash("hostPreflight"));
  });

  it("changes a step's trigger only when its script or a lib/ file it sources changes", () => {
    const a = readScriptBundle(scripts(base));
    const install = readScriptBundle(scripts({ ...base, "bbb-node-install.sh": "install v2\n" }));
    expect(install.stepHash("bbbInstall")).not.toBe(a.stepHash("bbbInstall"));
    expect(install.stepHash("hostPreflight")).toBe(a.stepHash("hostPreflight"));
    expect(install.hash).not.toBe(a.hash);
    const common = readScriptBundle(scripts({ ...base, "lib/common.sh": "common v2\n" }));
    expect(common.stepHash("hostPreflight")).not.toBe(a.stepHash("hostPreflight"));
    expect(common.stepHash("bbbInstall")).not.toBe(a.stepHash("bbbInstall"));
  });

  it("changes a step's trigger when a lib/ file it sources changes, directly or through another, and only then", () => {
    const withUnits = {
      ...base,
      "lib/units.sh": "units v1\n",
      "lib/turn.sh": "turn v1\n",
      "bbb-node-install.sh": `${COMMON}source "$(dirname "\${BASH_SOURCE[0]}")/lib/units.sh"\ninstall v1\n`,
    };
    const a = readScriptBundle(scripts(withUnits));
    const units = readScriptBundle(scripts({ ...withUnits, "lib/units.sh": "units v2\n" }));
    expect(units.stepHash("bbbInstall")).not.toBe(a.stepHash("bbbInstall"));
    expect(units.stepHash("hostPreflight")).toBe(a.stepHash("hostPreflight"));
    // A library no step sources changes no trigger.
    const turn = readScriptBundle(scripts({ ...withUnits, "lib/turn.sh": "turn v2\n" }));
    expect([turn.stepHash("bbbInstall"), turn.stepHash("hostPreflight")]).toEqual([a.stepHash("bbbInstall"), a.stepHash("hostPreflight")]);
    // A library that sources another one carries it in.
    const chained = { ...withUnits, "lib/units.sh": 'source "$(dirname "${BASH_SOURCE[0]}")/turn.sh"\nunits v1\n' };
    const b = readScriptBundle(scripts(chained));
    const c = readScriptBundle(scripts({ ...chained, "lib/turn.sh": "turn v2\n" }));
    expect(c.stepHash("bbbInstall")).not.toBe(b.stepHash("bbbInstall"));
    expect(c.stepHash("hostPreflight")).toBe(b.stepHash("hostPreflight"));
  });

  it("changes a step's trigger when a script it installs on the host changes (the recording mover of the spool step)", () => {
    const spool = { ...base, "scalelite-spool.sh": "spool v1\n", "scalelite-spool-receive.sh": "receive v1\n", "scalelite-recording-mover.sh": "mover v1\n" };
    const a = readScriptBundle(scripts(spool));
    const b = readScriptBundle(scripts({ ...spool, "scalelite-recording-mover.sh": "mover v2\n" }));
    expect(b.stepHash("scaleliteSpool")).not.toBe(a.stepHash("scaleliteSpool"));
    expect(b.stepHash("hostPreflight")).toBe(a.stepHash("hostPreflight"));
  });

  it("names a missing script", () => {
    expect(() => readScriptBundle(scripts(base)).stepHash("scaleliteApp")).toThrow(/scalelite-app\.sh is missing/);
  });

  it("finds every catalogue script in this checkout", () => {
    for (const step of Object.keys(STEPS) as Array<keyof typeof STEPS>) expect(scriptBundle().stepHash(step)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("remoteScriptDir", () => {
  it("lives in the SSH user's home and refuses names that are not Unix users", () => {
    expect(remoteScriptDir("root")).toBe("/root/.bbb-ovh/scripts");
    expect(remoteScriptDir("ubuntu")).toBe("/home/ubuntu/.bbb-ovh/scripts");
    expect(() => remoteScriptDir("../etc")).toThrow(/Unix user/);
  });

  it("has the list ops keeps of the nodes it put to sleep beside it (cli/ops/nodePower.ts ~/.bbb-ovh/schedule-sleeping)", () => {
    expect(sleepingListPath("ubuntu")).toBe("/home/ubuntu/.bbb-ovh/schedule-sleeping");
    expect(sleepingListPath("root")).toBe("/root/.bbb-ovh/schedule-sleeping");
    expect(() => sleepingListPath("a b")).toThrow(/Unix user/);
  });
});
