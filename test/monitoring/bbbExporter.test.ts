/**
 * The pinned bigbluebutton-exporter, run for real (server.py with Debian's Python packages) with the
 * settings our nodes get, against the fake BigBlueButton API (test/support/bbbApiServer.ts, which checks
 * checksums as BBB does). Its /var/bigbluebutton is a directory the test lays out as BigBlueButton does
 * (recording/status/sanity/<id>.done for each recording waiting to be processed).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { missingPrograms, pollUntil, sample, scrape, Stack } from "../support/monitoringStack";
import { freePort } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const tree = upstreamTree("bigbluebutton-exporter");
const missing = missingPrograms();
if (missing.length > 0) process.stderr.write(`bbbExporter: SKIPPED, missing ${missing.join(", ")}\n`);

const stack = new Stack();
let peer: BbbApiServer | undefined;
afterAll(async () => {
  await peer?.close().catch(() => undefined);
  await stack.stop();
});

describe.skipIf(!tree || missing.length > 0)("bigbluebutton-exporter (pinned), for real", () => {
  it("reports the node's meetings, participants and recording queue, and bbb_api_up 1 then 0 when the API stops", async ({ signal }) => {
    const secret = randomBytes(20).toString("hex");
    peer = await startBbbApiServer({ secret });
    peer.seedMeeting("lesson-a", 3);
    peer.seedMeeting("lesson-b", 5);
    const bbbDir = path.join(stack.dir, "var-bigbluebutton");
    mkdirSync(path.join(bbbDir, "recording/status/sanity"), { recursive: true });
    for (const id of ["rec-1", "rec-2"]) writeFileSync(path.join(bbbDir, "recording/status/sanity", `${id}.done`), "");
    const port = await freePort();
    const exporter = stack.startBbbExporter(tree!, peer.apiUrl, secret, bbbDir, port);
    const url = `http://127.0.0.1:${port}/metrics`;

    let text: string | undefined;
    await pollUntil(
      async () => {
        if (exporter.child.exitCode !== null) throw new Error(`the exporter exited: ${exporter.log()}`);
        return sample((text = await scrape(url)), "bbb_api_up") === 1;
      },
      signal,
      () => `bbb_api_up 1 (exporter log: ${exporter.log()})`,
    );
    expect(sample(text, "bbb_meetings")).toBe(2);
    expect(sample(text, "bbb_meetings_participants")).toBe(8);
    expect(sample(text, "bbb_meetings_participants_max")).toBe(5);
    expect(sample(text, "bbb_recordings_unprocessed")).toBe(2);
    // It signed its calls with our secret: the fake accepted them (a wrong checksum answers FAILED).
    expect(peer.calls.filter((c) => c.call === "getMeetings").every((c) => c.accepted)).toBe(true);
    expect(exporter.log()).not.toContain(secret);

    await peer.close();
    peer = undefined;
    await pollUntil(
      async () => sample((text = await scrape(url)), "bbb_api_up") === 0,
      signal,
      () => "bbb_api_up 0",
    );
    expect(sample(text, "bbb_meetings")).toBe(0);
  });
});
