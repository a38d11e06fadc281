import { describe, expect, it } from "vitest";
import { ACCEPTED_INSTALLER_FLAGS, renderInstallerFlags } from "../../components/bbb/installerFlags";
import { INSTALLER_PINS, installerUrl } from "../../components/bbb/installerPin";
import { BBB_LINES } from "../../components/config/presets";
import { upstreamPins } from "../support/upstream";
import { parseCampus } from "../../components/config/campus";
import type { CampusInput } from "../../components/config/schema";
import { smallCampusInput } from "../support/campusInput";

function campus(extra: Partial<CampusInput> = {}) {
  return parseCampus(smallCampusInput(extra), { sshPrivateKey: false, turnSecret: true, dnsCredentials: false });
}

const flagsFor = (c: ReturnType<typeof campus>) => renderInstallerFlags({ bbbVersion: c.config.bbbVersion, fqdn: c.nodes[0].fqdn, email: c.config.adminEmail });

/** The options of an argv list, i.e. the words getopts reads as flags. */
const options = (argv: string[]) => argv.filter((word) => word.startsWith("-"));

describe("renderInstallerFlags", () => {
  it("installs BBB 3.0 with UFW and Let's Encrypt for the node's name", () => {
    const c = campus();
    expect(flagsFor(c)).toEqual(["-w", "-v", "jammy-300", "-s", "bbb1.example.org", "-e", "ops@example.org"]);
    expect(installerUrl(c.installer)).toBe(
      "https://raw.githubusercontent.com/bigbluebutton/bbb-install/26ce2d16c2a82ef962d685525b0c20bb89d4d151/bbb-install.sh",
    );
    expect(c.installer.sha256).toBe("9654ba2c4470b7e4a986c1bbf98544c7b3bf509314f1e8b217c7ef8e029186c2");
  });

  it("follows the focal-270 line to its own branch", () => {
    const c = campus({ bbbVersion: "focal-270" });
    expect(flagsFor(c)[flagsFor(c).indexOf("-v") + 1]).toBe("focal-270");
    expect(installerUrl(c.installer)).toContain("/4f8ad4c4263a4393de5a542eb7a2633cea4c38bb/");
  });

  it("never passes the TURN secret, -c or -g, even with an external TURN server", () => {
    const c = campus({ turn: { mode: "external", host: "turn.example.org" } });
    const argv = flagsFor(c);
    expect(options(argv)).not.toContain("-c");
    expect(options(argv)).not.toContain("-g");
    expect(argv.join(" ")).not.toContain("turn.example.org");
  });

  it("uses only options bbb-install's getopts accepts", () => {
    for (const version of ["jammy-300", "focal-270"] as const) {
      for (const flag of options(flagsFor(campus({ bbbVersion: version })))) expect(ACCEPTED_INSTALLER_FLAGS.has(flag), flag).toBe(true);
    }
    expect(ACCEPTED_INSTALLER_FLAGS.has("-l")).toBe(false);
  });

  it("rejects values getopts would misread, naming every problem", () => {
    expect(() => renderInstallerFlags({ bbbVersion: "jammy-300", fqdn: "BBB 1", email: "-x@example.org" })).toThrow(/'BBB 1'.*'-x@example.org'/);
    expect(() => renderInstallerFlags({ bbbVersion: "xenial-220" as never, fqdn: "bbb1.example.org", email: "a@example.org" })).toThrow(
      /unknown BigBlueButton line 'xenial-220'/,
    );
  });

  it("pins every released line's installer by commit (the commit of tools/upstream/pins.tsv) and sha256, never a branch", () => {
    for (const line of Object.values(BBB_LINES).filter((l) => !l.optIn)) {
      const pin = INSTALLER_PINS[line.installerBranch];
      expect(pin, line.installerBranch).toBeDefined();
      expect(upstreamPins().find((p) => p.url.endsWith("/bbb-install.git") && p.ref === line.installerBranch)?.commit).toBe(pin.commit);
      expect(installerUrl(pin)).not.toContain(line.installerBranch);
      expect(pin.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(pin.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});
