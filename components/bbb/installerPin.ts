import { BBB_LINES, type BbbLine } from "../config/presets";

/** bbb-install.sh at one commit: what the node downloads and the hash it must have before it runs. */
export interface InstallerPin {
  commit: string;
  sha256: string;
  /** The commit's date (YYYY-MM-DD, committer date), when known: the plan warns when it is old. */
  date?: string;
}

/**
 * The default pin of each release branch: a commit we could verify (the branch contains it, the hash is
 * that of its bbb-install.sh, the conformance tests run it) in the stored snapshot of bbb-install, whose
 * newest v3.0.x-release commit is still 26ce2d16 (2024-02-23, Node.js 18 and MongoDB 6.0, before PR #752).
 * A stack moves its own pin with campus.bbb.installer (tools/bbb-installer-pin.sh computes it; docs/nodes.md).
 * noble-400's branch is not in the snapshot: a stack on that line must give its pin.
 */
export const INSTALLER_PINS: Readonly<Record<string, Required<InstallerPin>>> = {
  "v3.0.x-release": {
    commit: "26ce2d16c2a82ef962d685525b0c20bb89d4d151",
    sha256: "9654ba2c4470b7e4a986c1bbf98544c7b3bf509314f1e8b217c7ef8e029186c2",
    date: "2024-02-23",
  },
  "v2.7.x-release": {
    commit: "4f8ad4c4263a4393de5a542eb7a2633cea4c38bb",
    sha256: "ac9916138162814956016a9c152da0baf008a72cf00e1a7940a9e4aa70cd008f",
    date: "2024-02-24",
  },
};

/** The pin a stack's nodes install with, and where it came from. */
export interface ResolvedInstallerPin extends InstallerPin {
  line: BbbLine;
  branch: string;
  source: "default" | "stack";
}

/** What a stack may say about the pin (campus.bbb.installer). */
export interface GivenInstallerPin extends InstallerPin {
  line: BbbLine;
}

/** The stack's own pin when it gives one for its line, else the line's default; undefined when the line has none. */
export function resolveInstallerPin(line: BbbLine, given?: GivenInstallerPin): ResolvedInstallerPin | undefined {
  const branch = BBB_LINES[line].installerBranch;
  if (given && given.line === line) return { line, branch, commit: given.commit, sha256: given.sha256, date: given.date, source: "stack" };
  const fallback = INSTALLER_PINS[branch];
  return fallback && { line, branch, ...fallback, source: "default" };
}

const TOOL = "tools/bbb-installer-pin.sh <bbb-install checkout or git dir> <branch>";

/**
 * Problems with the installer pin of a raw stack, for campus validation: a pin made for another line than
 * bbbVersion, a line with no default and no pin given. Shapes are the schema's business.
 */
export function installerPinProblems(line: BbbLine, given: { line?: unknown } | undefined): Array<{ path: string; message: string }> {
  const branch = BBB_LINES[line].installerBranch;
  if (given !== undefined) {
    if (typeof given.line === "string" && given.line !== line)
      return [
        {
          path: "campus.bbb.installer.line",
          message: `the pin is for line '${given.line}' but campus.bbbVersion is '${line}'; a pin belongs to one line: compute one on ${branch} with ${TOOL}`,
        },
      ];
    return [];
  }
  if (INSTALLER_PINS[branch]) return [];
  return [
    {
      path: "campus.bbb.installer",
      message: `line '${line}' has no verified bbb-install pin (branch ${branch}); give campus.bbb.installer with line: ${line}, commit and sha256 (print them with ${TOOL})`,
    },
  ];
}

/** Raw URL of bbb-install.sh at the pinned commit: never a branch, which moves under us. */
export function installerUrl(pin: InstallerPin): string {
  return `https://raw.githubusercontent.com/bigbluebutton/bbb-install/${pin.commit}/bbb-install.sh`;
}

/**
 * The install step's triggers besides its script: a changed pin replaces the step, so `pulumi up` (or a
 * targeted one, ops upgrade) runs the new installer on the node. The step's own stamp then differs too.
 */
export function installStepTriggers(pin: InstallerPin): string[] {
  return [`bbb-install.sh ${pin.commit} sha256 ${pin.sha256}`];
}

/** Months a pin may age before the plan warns: 3.0 has had security releases within a term. */
export const PIN_MAX_AGE_MONTHS = 6;

/** `date` plus `months` calendar months (UTC); the end of a shorter month clamps to its last day. */
function addMonths(date: Date, months: number): Date {
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return target;
}

/** Whole calendar months from `from` to `to` (0 when `to` is earlier). */
function monthsBetween(from: Date, to: Date): number {
  let months = (to.getUTCFullYear() - from.getUTCFullYear()) * 12 + to.getUTCMonth() - from.getUTCMonth();
  if (addMonths(from, months) > to) months -= 1;
  return Math.max(0, months);
}

const short = (commit: string) => commit.slice(0, 8);

/** One line for the plan: which installer the nodes get, its commit date (or that it is unknown) and where the pin comes from. */
export function describeInstallerPin(pin: ResolvedInstallerPin): string {
  const line = BBB_LINES[pin.line];
  const date = pin.date ? `committed ${pin.date}` : "commit date unknown (campus.bbb.installer.date not given)";
  const source = pin.source === "stack" ? "the stack's pin (campus.bbb.installer)" : "the project's default pin";
  return `${pin.line} (BigBlueButton ${line.bbb}, Ubuntu ${line.ubuntu}): bbb-install ${pin.branch} at ${pin.commit}, ${date}, sha256 ${pin.sha256}; ${source}`;
}

/**
 * What the plan warns about the installer, as of `now` (the plan's run date; injected so tests fix it):
 * a pin older than PIN_MAX_AGE_MONTHS, and a line that is opt-in.
 */
export function installerWarnings(pin: ResolvedInstallerPin, now: Date): string[] {
  const warnings: string[] = [];
  const line = BBB_LINES[pin.line];
  if (pin.date) {
    const committed = new Date(`${pin.date}T00:00:00Z`);
    if (now > addMonths(committed, PIN_MAX_AGE_MONTHS))
      warnings.push(
        `the bbb-install pin of ${pin.line} (${pin.branch} at ${short(pin.commit)}, committed ${pin.date}) is ${monthsBetween(committed, now)} months old, ` +
          `more than ${PIN_MAX_AGE_MONTHS}: BigBlueButton ships security releases during the term; to do: take the newest commit of ${pin.branch} ` +
          `with tools/bbb-installer-pin.sh, set campus.bbb.installer and roll it out node by node (docs/nodes.md, "A security release in the middle of a term")`,
      );
  }
  if (line.optIn)
    warnings.push(
      `line ${pin.line} (BigBlueButton ${line.bbb}, Ubuntu ${line.ubuntu}) is opt-in, not confirmed released: to do: check that BigBlueButton ${line.bbb} is released ` +
        `before lessons depend on it. A line change means new servers (bbb-install runs a line only on its own Ubuntu release): every host of this stack ` +
        `is an Ubuntu ${line.ubuntu} server (image '${line.image}', OVH template ${line.ovhOs}), not an upgraded one`,
    );
  return warnings;
}

/**
 * Hosts whose OS cannot be the line's Ubuntu: a Public Cloud `image` naming another Ubuntu release, or a
 * node image pattern naming another line. bbb-install refuses any Ubuntu but the line's (check_ubuntu), and
 * hosts of the kinds bbb-ovh installs get the line's OS anyway (BBB_LINES image and ovhOs); existing hosts
 * are checked on the host by the preflight.
 */
export function lineOsProblems(line: BbbLine, hosts: Array<[string, { image?: unknown }]>, nodeImageRegex?: unknown): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const { ubuntu } = BBB_LINES[line];
  for (const [path, host] of hosts) {
    const named = typeof host.image === "string" ? /ubuntu[\s_-]*(\d{2})\.?(\d{2})/i.exec(host.image) : null;
    if (named && `${named[1]}.${named[2]}` !== ubuntu)
      problems.push({
        path: `${path}.image`,
        message: `'${host.image}' is Ubuntu ${named[1]}.${named[2]}, but line ${line} runs only on Ubuntu ${ubuntu}; leave image out (the line's '${BBB_LINES[line].image}') or name an Ubuntu ${ubuntu} image`,
      });
  }
  if (typeof nodeImageRegex === "string") {
    const other = (Object.keys(BBB_LINES) as BbbLine[]).find((l) => l !== line && nodeImageRegex.includes(l));
    if (other)
      problems.push({
        path: "campus.nodeImage.nameRegex",
        message: `'${nodeImageRegex}' names images of line ${other}, but campus.bbbVersion is ${line}: an image carries its line's Ubuntu and packages; build images of ${line} (docs/nodes.md, "A node image")`,
      });
  }
  return problems;
}
