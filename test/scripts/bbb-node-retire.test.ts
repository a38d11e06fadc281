/**
 * scripts/bbb-node-retire.sh, the delete command of a node's own retirement guard, run over SSH on a
 * loopback test host whose /var/bigbluebutton/recording/status holds the status files BigBlueButton's
 * recording pipeline writes at each stage (see the script's header for where each comes from): a node is
 * kept while any recording on it has not reached the front, whatever stage it is at.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { output } from "../support/hostState";
import { runStep, startTestHost, type TestHost } from "../support/sshd";

const ID = (n: number) => `${String(n).repeat(40).slice(0, 40)}-1733390000${String(n).padStart(3, "0")}`;

describe("bbb-node-retire", () => {
  let h: TestHost;
  const status = (stage: string, file: string) => {
    const dir = path.join(h.root, "var/bigbluebutton/recording/status", stage);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, file), "");
  };
  const raw = (n: number) => mkdirSync(path.join(h.root, "var/bigbluebutton/recording/raw", ID(n)), { recursive: true });
  const retire = () => runStep(h, "bbbRetire", { FQDN: h.fqdn });

  beforeAll(async () => {
    h = await startTestHost({ fqdn: "bbb1.campus.example" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("lets a node without recordings go", async () => {
    const r = await retire();
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("bbb1.campus.example holds no recording the front does not have");
  });

  it("keeps a node while a recording is at any stage before the front has it, and lets it go once every one is sent or had nothing recorded", async () => {
    status("recorded", `${ID(1)}.done`); // the meeting ended, its archive job not yet queued
    status("archived", `${ID(2)}.done`); // archived, queued for processing: not in getRecordings yet
    status("archived", `${ID(3)}.done`);
    status("published", `${ID(3)}-presentation.done`); // published, the transfer to the front failed so far
    status("archived", `${ID(4)}.norecord`); // nothing was recorded in that meeting
    status("archived", `${ID(5)}.done`);
    status("published", `${ID(5)}-presentation.done`);
    status("published", `${ID(5)}-sender.done`); // at the front
    raw(5); // its raw files stay on the node (BigBlueButton's daily cron removes them after 14 days)
    status("sanity", `${ID(2)}.fail`);
    const kept = await retire();
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(
      "bbb1.campus.example is kept, running: 3 recording(s) are on it and not yet at the front (recorded, being processed, or waiting to be sent; of them, 1 failed processing: rebuild each with bbb-record --rebuild <id>",
    );
    expect(kept.stderr).toContain("nothing was deleted");

    // rap-starter queues the archive job: it creates raw/<id> and removes recorded/<id>.done; until the
    // archive worker writes archived/<id>.done, the raw directory is all that says it is there.
    raw(1);
    rmSync(path.join(h.root, "var/bigbluebutton/recording/status/recorded", `${ID(1)}.done`));
    const archiving = await retire();
    expect(archiving.code).toBe(1);
    expect(archiving.stderr).toContain("3 recording(s) are on it");
    // A failed stage alone names a recording too (its other status files removed by hand, say).
    status("archived", `${ID(6)}.fail`);
    const failedOnly = await retire();
    expect(failedOnly.stderr).toContain(
      "4 recording(s) are on it and not yet at the front (recorded, being processed, or waiting to be sent; of them, 2 failed",
    );
    rmSync(path.join(h.root, "var/bigbluebutton/recording/status/archived", `${ID(6)}.fail`));
    // Another format of a published one failed: it still waits to be sent (the retry timer sends the published
    // format), so it is not counted as failed as well.
    status("processed", `${ID(3)}-podcast.fail`);
    const onePublished = await retire();
    expect(onePublished.stderr).toContain(
      "3 recording(s) are on it and not yet at the front (recorded, being processed, or waiting to be sent; of them, 1 failed",
    );
    rmSync(path.join(h.root, "var/bigbluebutton/recording/status/processed", `${ID(3)}-podcast.fail`));
    // Then each one reaches the front.
    status("archived", `${ID(1)}.done`);
    for (const n of [1, 2, 3]) status("published", `${ID(n)}-sender.done`);
    const gone = await retire();
    expect(gone.code, output(gone)).toBe(0);
  });
});
