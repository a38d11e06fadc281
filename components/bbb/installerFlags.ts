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
