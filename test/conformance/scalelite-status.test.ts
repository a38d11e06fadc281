/**
 * `ops status` and `ops drain` read what Scalelite v1.8.5's own `bin/rake status` prints (status.rake with
 * Tabulo 2.8.2, border :blank) and what `servers:panic` prints: parsed here from the real tasks' output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStatusTable } from "../../cli/ops/scalelite";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { scaleliteTrees, startScalelite, type Scalelite } from "../support/scalelite/harness";

const trees = scaleliteTrees();

describe.skipIf(!trees)("Scalelite v1.8.5's status table, as ops reads it", () => {
  let scalelite: Scalelite;
  let node: BbbApiServer;
  beforeAll(async () => {
    scalelite = await startScalelite(trees!);
    node = await startBbbApiServer({ secret: "node-secret-1", bbbVersion: "3.0.9" });
    scalelite.route("bbb1.campus.example", node.url);
    const yaml = [
      "servers:",
      "  bbb1.campus.example:",
      "    secret: node-secret-1",
      "    load_multiplier: 2",
      "  node-with-a-long-name.campus.example:",
      "    secret: node-secret-2",
      "    tag: lab",
    ].join("\n");
    expect((await scalelite.rake(["servers:sync[-,cordon]"], yaml)).code).toBe(0);
    node.seedMeeting("maths", 25);
    node.seedMeeting("physics", 18);
    await scalelite.pollUntilOnline(["bbb1.campus.example"], { bbbVersion: true });
    expect((await scalelite.rake(["servers:cordon[bbb1.campus.example]"])).code).toBe(0);
  });
  afterAll(async () => {
    await node?.close();
    await scalelite?.stop();
  });

  it("reads every column of a polled node, and empty cells of a node never reached", async () => {
    const status = await scalelite.rake(["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(parseStatusTable(status.stdout)).toEqual([
      // The load is Scalelite's: attendees (at least LOAD_MIN_USER_COUNT=15 per fresh meeting) times the multiplier.
      {
        hostname: "bbb1.campus.example",
        state: "cordoned",
        status: "online",
        meetings: 2,
        users: 43,
        largestMeeting: 25,
        videos: 0,
        load: 86,
        bbbVersion: "3.0.9",
        tag: undefined,
      },
      {
        hostname: "node-with-a-long-name.campus.example",
        state: "enabled",
        status: "offline",
        meetings: undefined,
        users: undefined,
        largestMeeting: undefined,
        videos: undefined,
        load: undefined,
        bbbVersion: undefined,
        tag: "lab",
      },
    ]);
  });
});
