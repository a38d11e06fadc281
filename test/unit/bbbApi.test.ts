import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { algorithmOfChecksum, apiBaseUrl, checksum, encodeQuery, signedUrl } from "../../cli/ops/bbbApi";
import { parseBbbResponse } from "../../cli/ops/bbbXml";

// The worked example of the BBB API docs ("API Security Model" > "Usage").
const DOC_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b";
const DOC_QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444";
const DOC_STRING = `create${DOC_QUERY}${DOC_SECRET}`;

describe("BBB API checksum", () => {
  it("reproduces the SHA-1 sum printed in the BBB API docs", () => {
    expect(checksum("create", DOC_QUERY, DOC_SECRET, "sha1")).toBe("1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17");
  });

  it("reproduces the SHA-256 sum of the same example (as other BBB clients' tests publish it)", () => {
    // OpenOLAT's BigBlueButtonUriBuilderTest signs the docs' example with SHA-256 and expects this value.
    expect(checksum("create", DOC_QUERY, DOC_SECRET, "sha256")).toBe("da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e");
    expect(checksum("create", DOC_QUERY, DOC_SECRET)).toBe(checksum("create", DOC_QUERY, DOC_SECRET, "sha256"));
  });

  it.each(["sha384", "sha512"] as const)("computes %s over callName + query + secret, as the docs define", (algorithm) => {
    const sum = checksum("create", DOC_QUERY, DOC_SECRET, algorithm);
    expect(sum).toBe(createHash(algorithm).update(DOC_STRING).digest("hex"));
    expect(algorithmOfChecksum(sum)).toBe(algorithm);
  });

  it("encodes the docs' parameters to the docs' query string and signs the URL with it", () => {
    const params = { name: "Test Meeting", meetingID: "abc123", attendeePW: "111222", moderatorPW: "333444" };
    expect(encodeQuery(params)).toBe(DOC_QUERY);
    expect(signedUrl("https://bbb.example.org/bigbluebutton/api/", "create", params, DOC_SECRET, "sha1")).toBe(
      `https://bbb.example.org/bigbluebutton/api/create?${DOC_QUERY}&checksum=1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17`,
    );
    expect(signedUrl("https://x/bigbluebutton/api", "getMeetings", {}, DOC_SECRET, "sha1")).toBe(
      `https://x/bigbluebutton/api/getMeetings?checksum=${createHash("sha1").update(`getMeetings${DOC_SECRET}`).digest("hex")}`,
    );
  });

  it("changes completely when one character of the query changes", () => {
    expect(checksum("create", DOC_QUERY.replace("abc123", "abc124"), DOC_SECRET, "sha1")).not.toBe("1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17");
  });

  it("normalises the endpoint forms operators type", () => {
    expect(apiBaseUrl("https://visio.example.org")).toBe("https://visio.example.org/bigbluebutton/api");
    expect(apiBaseUrl("https://visio.example.org/bigbluebutton/")).toBe("https://visio.example.org/bigbluebutton/api");
    expect(apiBaseUrl("https://visio.example.org/bigbluebutton/api/")).toBe("https://visio.example.org/bigbluebutton/api");
  });
});

describe("BBB XML responses", () => {
  it("reads a FAILED answer with its messageKey", () => {
    const r = parseBbbResponse(
      "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey><message>You did not pass the checksum security check</message></response>",
    );
    expect(r).toMatchObject({ returncode: "FAILED", messageKey: "checksumError" });
  });

  it("reads meetings, skipping nested attendees and decoding entities", () => {
    const r = parseBbbResponse(
      `<?xml version="1.0"?><response><returncode>SUCCESS</returncode><meetings><meeting><meetingName>Maths &amp; Physics</meetingName><meetingID>m1</meetingID><participantCount>12</participantCount><attendees><attendee><userID>u1</userID></attendee></attendees></meeting><meeting><meetingID><![CDATA[m<2>]]></meetingID><participantCount>3</participantCount></meeting></meetings></response>`,
    );
    expect(r.meetings).toEqual([
      { meetingName: "Maths & Physics", meetingID: "m1", participantCount: "12" },
      { meetingID: "m<2>", participantCount: "3" },
    ]);
  });

  it("refuses what is not an API response", () => {
    expect(() => parseBbbResponse("<html><body>502 Bad Gateway</body></html>")).toThrow(/not a BigBlueButton API response/);
  });
});
