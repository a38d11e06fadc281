import { describe, expect, it } from "vitest";
import { CLOCK_MARGIN_SECONDS, describeBacklog, parseRecordingHealth, recordingProblems, recordingsLeft } from "../../cli/ops/recordingHealth";

const NOW = 1_764_700_000;

describe("recording health of the front (ops status)", () => {
  it("reads refused counts and backlog reports per node, ignoring other lines", () => {
    const health = parseRecordingHealth(
      [
        `refused bbb2 3`,
        `backlog bbb1 waiting=2 oldest=${NOW - 7200} overdue=0 reported=${NOW - 300}`,
        "backlog ../x waiting=1",
        "garbage",
        `backlog bbb2 waiting=0 oldest=0 overdue=0 reported=${NOW}`,
      ].join("\n"),
    );
    expect(health).toEqual([
      { node: "bbb1", refused: 0, waiting: 2, oldestPublished: NOW - 7200, overdue: 0, reportedAt: NOW - 300 },
      { node: "bbb2", refused: 3, waiting: 0, overdue: 0, reportedAt: NOW },
    ]);
    expect(describeBacklog(health[0], NOW)).toBe("2 waiting, oldest 2 h");
    expect(describeBacklog(health[1], NOW)).toBe("none waiting");
    expect(describeBacklog(undefined, NOW)).toBe("-");
  });

  it("makes a problem of refused archives, overdue recordings, and a sender whose reports stopped or never came", () => {
    const health = parseRecordingHealth(
      [
        `refused bbb1 1`,
        `backlog bbb1 waiting=1 oldest=${NOW - 90000} overdue=1 reported=${NOW - 60}`,
        `backlog bbb2 waiting=0 oldest=0 overdue=0 reported=${NOW - 3 * 3600}`,
      ].join("\n"),
    );
    expect(recordingProblems(health, ["bbb1", "bbb2", "bbb3"], NOW).map((p) => `${p.node}: ${p.message}`)).toEqual([
      "bbb1: 1 recording archive(s) refused, kept in /mnt/scalelite-recordings/var/bigbluebutton/refused/bbb1 with a .reason file each",
      "bbb1: 1 recording(s) published more than a day ago have not reached the front",
      "bbb2: last reported its recording backlog 3 h ago: its transfers may not reach the front",
      "bbb3: has never reported its recording backlog to the front: its transfers may not reach it",
    ]);
    // Without senders (recordings off, or no stack file), only what the front itself holds counts.
    expect(recordingProblems(health, [], NOW)).toHaveLength(2);
  });

  it("reads the copies a node keeps of what it delivered (nodes that report them), and makes a problem of a resend that has not arrived", () => {
    const health = parseRecordingHealth(
      [
        `backlog bbb1 waiting=0 oldest=0 overdue=0 kept=12 kept_bytes=${3 * 1024 ** 3} resend=2 reported=${NOW - 60}`,
        `backlog bbb2 waiting=0 oldest=0 overdue=0 reported=${NOW - 60}`,
      ].join("\n"),
    );
    expect(health[0].kept).toEqual({ count: 12, bytes: 3 * 1024 ** 3, resend: 2 });
    expect(health[1].kept).toBeUndefined();
    expect(describeBacklog(health[0], NOW)).toBe("none waiting; 12 kept (3 GiB)");
    expect(recordingProblems(health, ["bbb1", "bbb2"], NOW).map((p) => `${p.node}: ${p.message}`)).toEqual([
      "bbb1: 2 recording(s) to send again after a failover have not reached the front yet (its retry timer keeps trying)",
    ]);
  });

  it("reads how many recordings a node holds that the front lacks, being processed included (nodes that report it)", () => {
    const health = parseRecordingHealth(
      [
        `backlog bbb1 waiting=1 oldest=${NOW - 600} overdue=0 kept=0 kept_bytes=0 resend=0 unsent=3 reported=${NOW - 60}`,
        `backlog bbb2 waiting=0 oldest=0 overdue=0 kept=0 kept_bytes=0 resend=0 reported=${NOW - 60}`,
        `backlog bbb3 waiting=1 oldest=${NOW - 600} overdue=0 kept=0 kept_bytes=0 resend=0 unsent=4 failed=2 reported=${NOW - 60}`,
      ].join("\n"),
    );
    expect(health[0].unsent).toBe(3);
    expect(health[1].unsent).toBeUndefined();
    expect(describeBacklog(health[0], NOW)).toBe("1 waiting, oldest 10 min, 2 being processed; 0 kept (0 GiB)");
    expect(health[2]).toMatchObject({ unsent: 4, failed: 2 });
    expect(describeBacklog(health[2], NOW)).toBe("1 waiting, oldest 10 min, 1 being processed, 2 failed; 0 kept (0 GiB)");
    expect(recordingProblems(health, [], NOW)).toContainEqual({
      node: "bbb3",
      message: "2 recording(s) failed processing on the node (see /var/log/bigbluebutton): rebuild each with bbb-record --rebuild <id>",
    });
  });

  it("a node holds no recording only by a report made after it emptied that counts none: anything else says why not", () => {
    const emptied = NOW - 1200;
    const report = (fields: string, reported: number) => parseRecordingHealth(`backlog bbb1 waiting=0 oldest=0 overdue=0 ${fields}reported=${reported}`)[0];
    const counted = "kept=0 kept_bytes=0 resend=0 unsent=0 ";
    expect(recordingsLeft(undefined, emptied)).toMatch(/never reported its recordings/);
    expect(recordingsLeft(report("kept=0 kept_bytes=0 resend=0 ", NOW), emptied)).toMatch(/does not count the recordings being processed .*run pulumi up/);
    // Made before, or too close to, the time it was seen empty: a meeting that had just ended may be missing from it.
    expect(recordingsLeft(report(counted, emptied - 300), emptied)).toMatch(/waiting for its first recording report made after its last meeting/);
    expect(recordingsLeft(report(counted, emptied + CLOCK_MARGIN_SECONDS - 1), emptied)).toMatch(/waiting for its first/);
    expect(recordingsLeft(report(counted.replace("unsent=0", "unsent=2"), emptied + 600), emptied)).toBe(
      "2 recording(s) on the node not yet at the front (being processed or to be sent)",
    );
    // A failed recording moves only by hand: the reason says what to do.
    expect(recordingsLeft(report(counted.replace("unsent=0", "unsent=2 failed=1"), emptied + 600), emptied)).toMatch(
      /^2 recording\(s\) on the node not yet at the front, 1 of them failed processing: rebuild each on the node \(bbb-record --rebuild <id>\)/,
    );
    expect(recordingsLeft(report(counted, emptied + CLOCK_MARGIN_SECONDS), emptied)).toBeUndefined();
  });
});
