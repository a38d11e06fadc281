/**
 * cli/plan/planWarnings.ts: every warning the offline plan gives ends with what to do (the README promises it,
 * and the plan prints "Warnings (each says what to do)"). Each shipped stack, and variants that bring out the
 * warnings no shipped stack has; the test also checks that each variant gave the warning it is there for.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseCampus, type Campus } from "../../components/config/campus";
import { planWarnings } from "../../cli/plan/planWarnings";
import { ONSITE_STANDBY, withRiseNodes } from "../support/campusInput";

// The stacks' secrets as their Pulumi config holds them (secure: values): present.
const secrets = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true, backupS3Credentials: true, smtpPassword: true };
const NOW = new Date("2026-12-06T00:00:00Z");

function campusOf(stack: string, change: (c: Record<string, any>) => void = () => undefined): Campus {
  const doc = parse(readFileSync(path.resolve(__dirname, `../../stacks/Pulumi.${stack}.yaml`), "utf8"));
  const campus = doc.config["bbb-ovh:campus"];
  change(campus);
  return parseCampus(campus, secrets);
}
const standby = { name: "lb-standby", fqdn: "visio-standby.isen-ouest.fr", kind: "publicCloud", region: "SBG5", flavor: "c2-30" };

/** Each case: a campus, and a warning it must give (so that the case keeps testing what it is here for). */
const CASES: Array<[string, () => Campus, RegExp]> = [
  ["brest", () => campusOf("brest"), /^below the minimum production node/],
  ["nantes", () => campusOf("nantes"), /^with site .* down/],
  ["rennes", () => campusOf("rennes"), /^recordings are not backed up/],
  ["training", () => campusOf("training"), /^single point of failure/],
  ["lab", () => campusOf("lab"), /^host key not pinned/],
  ["the installer pin", () => campusOf("training"), /^the bbb-install pin of .* months old/],
  ["a standby front on HTTP-01", () => campusOf("training", (c) => (c.standbyFront = standby)), /cannot hold a certificate .* with HTTP-01/],
  ["a long DNS TTL", () => campusOf("training", (c) => ((c.standbyFront = standby), (c.dns.ttl = 3600))), /^campus\.dns\.ttl is 3600 s/],
  [
    "the standby front serving",
    () => campusOf("training", (c) => ((c.standbyFront = standby), (c.servingFront = "standbyFront"))),
    /^the standby front .* serves \(campus\.servingFront\)/,
  ],
  [
    "an existing front outside adminCidrs, nodes behind the edge firewall",
    () => campusOf("brest", (c) => (withRiseNodes(c).standbyFront = ONSITE_STANDBY)),
    /^the front lb-brest-onsite \(existing, 198\.51\.100\.20\) is not in campus\.adminCidrs/,
  ],
  ["SSH open to the world", () => campusOf("training", (c) => (c.adminCidrs = ["0.0.0.0/0"])), /^SSH is open to the world/],
  ["a margin the pool cannot carry", () => campusOf("training", (c) => (c.scaling = { marginUsers: 2000 })), /^campus\.scaling: at the expected peak/],
  ["crowded rooms", () => campusOf("training", (c) => (c.expected = { concurrentUsers: 300, classrooms: 1 })), /^rooms average 300 users/],
  ["an unknown region", () => campusOf("training", (c) => (c.nodes[0].region = "PAR1")), /Public Cloud region 'PAR1' is not one we know/],
  ["an existing host without its size", () => campusOf("lab", (c) => (delete c.nodes[0].cores, delete c.nodes[0].ramGb)), /^cannot size lab-bbb1/],
  ["too many users", () => campusOf("training", (c) => (c.expected = { concurrentUsers: 3000, classrooms: 100 })), /^undersized: /],
];

describe("the plan's warnings", () => {
  it.each(CASES)("%s: each warning says what to do", (_name, campus, expected) => {
    const warnings = planWarnings(campus(), NOW);
    expect(warnings).toContainEqual(expect.stringMatching(expected));
    for (const warning of warnings) expect(warning).toMatch(/to do: \S/);
  });
});
