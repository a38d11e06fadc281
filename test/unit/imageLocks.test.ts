import { describe, expect, it } from "vitest";
import { lockDifferences } from "../../cli/ops/imageLocks";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

describe("the two fronts' image locks", () => {
  it("names each image both lock to different builds, with each front's digest and what to do", () => {
    const front = { name: "lb", lines: [`postgres:16@${A}`, `blindsidenetwks/scalelite:v1.8.5-api@${A}`, `redis:7@${A}`] };
    const standby = { name: "lb-standby", lines: [`postgres:16@${A}`, `blindsidenetwks/scalelite:v1.8.5-api@${B}`] };
    expect(lockDifferences(front, standby)).toEqual([
      `the fronts lock different builds of blindsidenetwks/scalelite:v1.8.5-api: ${A} on lb, ${B} on lb-standby; a failover would change the build the campus runs: pin one in IMAGE_DIGESTS, or delete the line on one front so that its next run takes the tag again (docs/front.md, "Moving to a newer image")`,
    ]);
  });

  it("says nothing when they agree, or of an image only one of them has locked yet", () => {
    expect(lockDifferences({ name: "lb", lines: [`postgres:16@${A}`, `redis:7@${A}`] }, { name: "lb-standby", lines: [`postgres:16@${A}`] })).toEqual([]);
    expect(lockDifferences({ name: "lb", lines: [] }, { name: "lb-standby", lines: [`postgres:16@${A}`] })).toEqual([]);
  });
});
