import { describe, expect, it } from "vitest";
import { MOODLE_SECRET_SETTING, renderMoodleSettings } from "../../components/moodle/renderMoodleSettings";

describe("renderMoodleSettings", () => {
  it("points mod_bigbluebuttonbn at Scalelite on the front and never carries the secret", () => {
    const settings = renderMoodleSettings({ frontFqdn: "visio.example.org", checksumAlgorithm: "SHA256", acceptDpa: false });
    expect(settings).toEqual({ bigbluebuttonbn_server_url: "https://visio.example.org/bigbluebutton/", bigbluebuttonbn_checksum_algorithm: "SHA256" });
    expect(Object.keys(settings)).not.toContain(MOODLE_SECRET_SETTING);
  });

  it("accepts the data processing agreement only when the school did", () => {
    const settings = renderMoodleSettings({ frontFqdn: "visio.example.org", checksumAlgorithm: "SHA512", acceptDpa: true });
    expect(settings.bigbluebuttonbn_default_dpa_accepted).toBe("1");
    expect(settings.bigbluebuttonbn_checksum_algorithm).toBe("SHA512");
  });

  it("refuses an algorithm Scalelite cannot check and a malformed host", () => {
    expect(() => renderMoodleSettings({ frontFqdn: "visio.example.org", checksumAlgorithm: "SHA384" as never, acceptDpa: false })).toThrow(/SHA384/);
    expect(() => renderMoodleSettings({ frontFqdn: "https://visio.example.org", checksumAlgorithm: "SHA1", acceptDpa: false })).toThrow(/not a host name/);
  });
});
