/**
 * Every dependency's install script is reviewed in package.json's `allowScripts` (README, "Install scripts"):
 * npm 12 skips the scripts nobody reviewed, and npm 11.16+ warns of them on every `npm ci`. `npm install-scripts
 * ls` lists what the field does not cover; on an npm without the command the test skips and says so.
 */
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

const REPO = path.resolve(__dirname, "../..");
const [major, minor] = execFileSync("npm", ["--version"], { encoding: "utf8" }).trim().split(".").map(Number);
const hasCommand = major > 11 || (major === 11 && minor >= 16);
if (!hasCommand) process.stderr.write(`installScripts: SKIPPED, npm ${major}.${minor} has no \`npm install-scripts\` (11.16+)\n`);

it.skipIf(!hasCommand)("every installed package with an install script has a decision in allowScripts", () => {
  const r = spawnSync("npm", ["install-scripts", "ls"], { cwd: REPO, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe("No packages with unreviewed install scripts.");
});
