import { BBB_LINES, type BbbLine } from "../config/presets";

/**
 * Options bbb-install.sh accepts (its getopts string "hs:r:c:v:e:p:m:t:xgadwjik", REFERENCE.md).
 * `-l` is documented but rejected by the script, so it is not here.
 */
export const ACCEPTED_INSTALLER_FLAGS: ReadonlySet<string> = new Set(
  ["h", "s", "r", "c", "v", "e", "p", "m", "t", "x", "g", "a", "d", "w", "j", "i", "k"].map((f) => `-${f}`),
);

/**
 * Flags we never pass: `-c host:secret` would put the TURN secret on a command line that bbb-install
 * echoes under `bash -x` (the step writes the TURN file from stdin instead), and `-g` installs
 * Greenlight, which has no place behind Scalelite.
 */
const FORBIDDEN_FLAGS: ReadonlySet<string> = new Set(["-c", "-g"]);

export interface InstallerTarget {
  bbbVersion: BbbLine;
  fqdn: string;
  email: string;
}

const FQDN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
// No whitespace (the script word-splits nothing, but the installer's own logs do) and no leading '-'
// (getopts would read it as the next option).
const EMAIL = /^[^\s@-][^\s@]*@[^\s@]+\.[^\s@]+$/;

/**
 * The bbb-install.sh arguments for one node: UFW firewall (-w), the release line (-v), the host name
 * for Let's Encrypt (-s, -e). Nothing secret ever appears here.
 */
export function renderInstallerFlags(target: InstallerTarget): string[] {
  const problems: string[] = [];
  if (!(target.bbbVersion in BBB_LINES))
    problems.push(`unknown BigBlueButton line '${target.bbbVersion}'; expected one of ${Object.keys(BBB_LINES).join(", ")}`);
  if (!FQDN.test(target.fqdn)) problems.push(`'${target.fqdn}' is not a lowercase fully-qualified domain name`);
  if (!EMAIL.test(target.email)) problems.push(`'${target.email}' is not a usable Let's Encrypt email`);
  if (problems.length > 0) throw new Error(`bbb-install flags for ${target.fqdn}: ${problems.join("; ")}`);

  const flags = ["-w", "-v", target.bbbVersion, "-s", target.fqdn, "-e", target.email];
  for (const flag of flags.filter((f) => f.startsWith("-"))) {
    if (!ACCEPTED_INSTALLER_FLAGS.has(flag) || FORBIDDEN_FLAGS.has(flag)) throw new Error(`bbb-install flag ${flag} must not be used`);
  }
  return flags;
}

/**
 * bbb-install.sh per release branch, pinned: fetched at a commit (a branch moves under us: the same stack
 * would install different code from one day to the next) and checked against the sha256 of that file on
 * the host before it runs. The commits are those of tools/upstream/pins.tsv, whose trees the conformance
 * tests run the real script from (test/conformance/bbbInstall.test.ts also checks these hashes);
 * docs/nodes.md says how to move to a newer pin.
 */
export const INSTALLER_PINS: Readonly<Record<string, { commit: string; sha256: string }>> = {
  "v3.0.x-release": { commit: "26ce2d16c2a82ef962d685525b0c20bb89d4d151", sha256: "9654ba2c4470b7e4a986c1bbf98544c7b3bf509314f1e8b217c7ef8e029186c2" },
  "v2.7.x-release": { commit: "4f8ad4c4263a4393de5a542eb7a2633cea4c38bb", sha256: "ac9916138162814956016a9c152da0baf008a72cf00e1a7940a9e4aa70cd008f" },
};

function installerPin(installerBranch: string): { commit: string; sha256: string } {
  const pin = INSTALLER_PINS[installerBranch];
  if (!pin) throw new Error(`no pinned bbb-install.sh for branch '${installerBranch}'; pinned: ${Object.keys(INSTALLER_PINS).join(", ")}`);
  return pin;
}

/** Raw URL of bbb-install.sh at the pinned commit of its release branch (e.g. v3.0.x-release); re-running it upgrades within the line. */
export function installerUrl(installerBranch: string): string {
  return `https://raw.githubusercontent.com/bigbluebutton/bbb-install/${installerPin(installerBranch).commit}/bbb-install.sh`;
}

/** The sha256 the downloaded installer must have (checked on the host before it runs). */
export function installerSha256(installerBranch: string): string {
  return installerPin(installerBranch).sha256;
}
