import { describe, expect, it } from "vitest";
import { parseStatusTable, rakeCommand } from "../../cli/ops/scalelite";

describe("bin/rake status table", () => {
  it("reads Tabulo's blank-border table with centred headers, right-aligned numbers and empty cells", () => {
    const out = [
      "",
      "      HOSTNAME       STATE    STATUS  MEETINGS  USERS  LARGEST MEETING  VIDEOS  LOAD  BBB VERSION  TAG ",
      " bbb1.test.example  enabled   online         2     43               25       0  43.0  3.0.9        sbg ",
      " bbb2.test.example  cordoned  offline        0      0                0       0                         ",
      "I, [2026-11-25T10:00:00.000000 #42]  INFO -- : a Rails log line",
      "",
    ].join("\n");
    expect(parseStatusTable(out)).toEqual([
      {
        hostname: "bbb1.test.example",
        state: "enabled",
        status: "online",
        meetings: 2,
        users: 43,
        largestMeeting: 25,
        videos: 0,
        load: 43,
        bbbVersion: "3.0.9",
        tag: "sbg",
      },
      {
        hostname: "bbb2.test.example",
        state: "cordoned",
        status: "offline",
        meetings: 0,
        users: 0,
        largestMeeting: 0,
        videos: 0,
        load: undefined,
        bbbVersion: undefined,
        tag: undefined,
      },
    ]);
  });

  it("reads left-aligned headers and long values wider than their header", () => {
    const out = [
      " HOSTNAME                          STATE    STATUS  MEETINGS  USERS  LARGEST MEETING  VIDEOS  LOAD   BBB VERSION  TAG",
      " node-with-a-long-name.example.org enabled  online       120   1450              200      12  1450.0 2.7.16       roubaix-datacenter",
    ].join("\n");
    expect(parseStatusTable(out)[0]).toMatchObject({
      hostname: "node-with-a-long-name.example.org",
      users: 1450,
      load: 1450,
      bbbVersion: "2.7.16",
      tag: "roubaix-datacenter",
    });
  });

  it("refuses output without the table", () => {
    expect(() => parseStatusTable("rake aborted!\n")).toThrow(/no HOSTNAME\/STATUS header/);
  });

  it("quotes the task for the shell and checks ids first", () => {
    expect(rakeCommand("servers:cordon", ["bbb1.example.org"], "root")).toBe("docker exec scalelite-api bin/rake 'servers:cordon[bbb1.example.org]'");
    expect(rakeCommand("status", [], "ubuntu")).toBe("sudo -n docker exec scalelite-api bin/rake 'status'");
    expect(() => rakeCommand("servers:panic", ["a'];reboot;'"], "root")).toThrow(/not a Scalelite server id/);
  });
});
