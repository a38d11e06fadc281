/**
 * cli/ops/status.ts renderStatus, the text `ops status` prints: the pair's line (which front was read as the front, and why) comes
 * right after the front's, and a stack without a standby front has none.
 */
import { describe, expect, it } from "vitest";
import { renderStatus, type StatusReport } from "../../cli/ops/status";

const report = (pair?: string): StatusReport => ({
  target: "campus",
  checkedAt: "2026-12-05T06:00:00Z",
  front: { host: "lb.campus.example", healthCheck: { ok: true, ms: 12 }, scalelite: { ok: true } },
  nodes: [],
  problems: [],
  healthy: true,
  ...(pair ? { pair } : {}),
});

describe("renderStatus", () => {
  it("says which front of the pair was read, right after the front's line", () => {
    const lines = renderStatus(report("lb-training is read as the front: the standby front lb-standby is its standby (front-role standby)")).split("\n");
    expect(lines[0]).toMatch(/^front lb\.campus\.example: \/health_check success \(12 ms\); scalelite ok$/);
    expect(lines[1]).toBe("pair: lb-training is read as the front: the standby front lb-standby is its standby (front-role standby)");
  });

  it("prints no pair line without a standby front", () => {
    expect(renderStatus(report())).not.toMatch(/^pair:/m);
  });
});
