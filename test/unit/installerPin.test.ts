import { describe, expect, it } from "vitest";
import {
  describeInstallerPin,
  INSTALLER_PINS,
  installerWarnings,
  installStepTriggers,
  resolveInstallerPin,
  type ResolvedInstallerPin,
} from "../../components/bbb/installerPin";
import { CampusConfigError, parseCampus } from "../../components/config/campus";
import type { CampusInput } from "../../components/config/schema";
import { smallCampusInput } from "../support/campusInput";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const SHA = "ab".repeat(32);

const raw = smallCampusInput;
const parse = (extra: Partial<CampusInput> | Record<string, unknown> = {}) =>
  parseCampus(raw(extra as Partial<CampusInput>), { sshPrivateKey: false, turnSecret: true, dnsCredentials: false });
function problems(extra: Record<string, unknown>): string[] {
  try {
    parse(extra);
  } catch (e) {
    if (e instanceof CampusConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("the installer pin a campus gets", () => {
  it("is the line's default, with its commit date, when the stack gives none", () => {
    const c = parse();
    expect(c.installer).toEqual({ line: "jammy-300", branch: "v3.0.x-release", ...INSTALLER_PINS["v3.0.x-release"], source: "default" });
    expect(c.installer.date).toBe("2024-02-23");
  });

  it("is the stack's own pin when campus.bbb.installer is set, date or not", () => {
    const c = parse({ bbb: { installer: { line: "jammy-300", commit: COMMIT, sha256: SHA } } });
    expect(c.installer).toEqual({ line: "jammy-300", branch: "v3.0.x-release", commit: COMMIT, sha256: SHA, date: undefined, source: "stack" });
    expect(describeInstallerPin(c.installer)).toMatch(/commit date unknown \(campus\.bbb\.installer\.date not given\).*the stack's pin/);
  });

  it("noble-400 takes the stack's pin and Ubuntu 24.04", () => {
    const c = parse({ bbbVersion: "noble-400", bbb: { installer: { line: "noble-400", commit: COMMIT, sha256: SHA, date: "2026-09-30" } } });
    expect(c.installer).toMatchObject({ branch: "v4.0.x-release", commit: COMMIT, source: "stack" });
    expect(c.ubuntuRelease).toBe("24.04");
    expect(resolveInstallerPin("noble-400")).toBeUndefined();
  });
});

describe("validation of campus.bbb.installer and the line", () => {
  it("refuses noble-400 without a pin, naming the field and the tool", () => {
    expect(problems({ bbbVersion: "noble-400" })).toEqual([
      expect.stringMatching(
        /^campus\.bbb\.installer: line 'noble-400' has no verified bbb-install pin \(branch v4\.0\.x-release\); give .*tools\/bbb-installer-pin\.sh/,
      ),
    ]);
  });

  it("names every bad field at once: short commit, bad hash, impossible date", () => {
    const found = problems({ bbb: { installer: { line: "jammy-300", commit: "26ce2d16", sha256: "XYZ", date: "2024-02-30" } } });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^campus\.bbb\.installer\.commit: .*40-character commit/),
        expect.stringMatching(/^campus\.bbb\.installer\.sha256: .*64 hex/),
        expect.stringMatching(/^campus\.bbb\.installer\.date: .*real date/),
      ]),
    );
    expect(problems({ bbb: { installer: { line: "jammy-300", commit: COMMIT } } })).toEqual([expect.stringMatching(/^campus\.bbb\.installer\.sha256: /)]);
  });

  it("refuses a pin made for another line than bbbVersion", () => {
    expect(problems({ bbbVersion: "noble-400", bbb: { installer: { line: "jammy-300", commit: COMMIT, sha256: SHA } } })).toEqual([
      expect.stringMatching(/^campus\.bbb\.installer\.line: the pin is for line 'jammy-300' but campus\.bbbVersion is 'noble-400'/),
    ]);
  });

  it("refuses a Public Cloud image or node image pattern of another Ubuntu or line", () => {
    const cloud = { kind: "publicCloud", region: "GRA11", flavor: "c2-60" };
    const found = problems({
      bbbVersion: "noble-400",
      bbb: { installer: { line: "noble-400", commit: COMMIT, sha256: SHA } },
      publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
      nodes: [
        { name: "bbb1", fqdn: "bbb1.example.org", ...cloud, image: "Ubuntu 22.04" },
        { name: "bbb2", fqdn: "bbb2.example.org", ...cloud, image: "Ubuntu 24.04" },
      ],
      nodeImage: { nameRegex: "^bbb-ovh-jammy-300-" },
    });
    expect(found).toEqual([
      expect.stringMatching(/^campus\.nodes\[0\]\.image: 'Ubuntu 22\.04' is Ubuntu 22\.04, but line noble-400 runs only on Ubuntu 24\.04/),
      expect.stringMatching(/^campus\.nodeImage\.nameRegex: .*names images of line jammy-300, but campus\.bbbVersion is noble-400/),
    ]);
  });
});

describe("installerWarnings (the plan's clock injected)", () => {
  const pin: ResolvedInstallerPin = { line: "jammy-300", branch: "v3.0.x-release", commit: COMMIT, sha256: SHA, date: "2026-02-28", source: "stack" };

  it("warns once the pin is more than 6 months old, not before", () => {
    expect(installerWarnings(pin, new Date("2026-08-27T23:59:59Z"))).toEqual([]);
    // 28 February + 6 months = 28 August.
    expect(installerWarnings(pin, new Date("2026-08-28T00:00:00Z"))).toEqual([]);
    const [late] = installerWarnings(pin, new Date("2026-08-28T00:00:01Z"));
    expect(late).toMatch(/^the bbb-install pin of jammy-300 \(v3\.0\.x-release at 01234567, committed 2026-02-28\) is 6 months old, more than 6/);
    expect(late).toMatch(/to do: take the newest commit of v3\.0\.x-release with tools\/bbb-installer-pin\.sh, set campus\.bbb\.installer/);
  });

  it("counts whole months: the default pin of 2024-02-23 is 33 months old on 2026-12-03", () => {
    const fallback = resolveInstallerPin("jammy-300") as ResolvedInstallerPin;
    expect(installerWarnings(fallback, new Date("2026-12-03T07:00:00Z"))).toEqual([expect.stringContaining("committed 2024-02-23) is 33 months old")]);
  });

  it("says nothing of age for a pin without a date (the plan says the date is unknown)", () => {
    expect(installerWarnings({ ...pin, date: undefined }, new Date("2030-01-01T00:00:00Z"))).toEqual([]);
  });

  it("marks noble-400 as opt-in, not confirmed released, and a line change as new servers", () => {
    const noble: ResolvedInstallerPin = { ...pin, line: "noble-400", branch: "v4.0.x-release", date: "2026-11-30" };
    const warnings = installerWarnings(noble, new Date("2026-12-03T00:00:00Z"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^line noble-400 \(BigBlueButton 4\.0, Ubuntu 24\.04\) is opt-in, not confirmed released/);
    expect(warnings[0]).toMatch(/A line change means new servers.*Ubuntu 24\.04 server \(image 'Ubuntu 24\.04', OVH template ubuntu2404-server_64\)/);
  });
});

describe("installStepTriggers", () => {
  it("changes with the commit or the hash, and only with them", () => {
    const base = { commit: COMMIT, sha256: SHA };
    expect(installStepTriggers({ ...base, date: "2026-01-01" })).toEqual(installStepTriggers(base));
    expect(installStepTriggers({ ...base, commit: "f".repeat(40) })).not.toEqual(installStepTriggers(base));
    expect(installStepTriggers({ ...base, sha256: "cd".repeat(32) })).not.toEqual(installStepTriggers(base));
  });
});
