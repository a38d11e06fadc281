/**
 * scripts/scalelite-retire-node.sh, the delete command of a node's retirement guard
 * (components/scalelite/NodeRetirement.ts), run over SSH on a loopback front whose `docker exec
 * scalelite-api bin/rake ...` is Scalelite v1.8.5's own rake tasks (test/support/scalelite), with local BBB
 * API servers as the nodes: the node the stack drops keeps Pulumi from deleting it while it hosts a lesson,
 * holds a recording or has archives on the front, and leaves Scalelite once it holds none.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepInputs } from "../../components/remote/invocation";
import { senderTarget } from "../../components/scalelite/recordingLayout";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls, output, runWatched } from "../support/hostState";
import { attachScalelite, registerInputs, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { runStep, startTestHost, type TestHost } from "../support/sshd";

const trees = scaleliteTrees();
const IDS = ["bbb1.campus.example", "bbb2.campus.example"];
const SECRETS: Record<string, string> = Object.fromEntries(IDS.map((id) => [id, randomBytes(20).toString("hex")]));
const SLEEPING_LIST = "/root/.bbb-ovh/schedule-sleeping";

describe.skipIf(!trees)("a node's retirement guard against Scalelite v1.8.5's own rake tasks", () => {
  let host: TestHost;
  let scalelite: Scalelite;
  const nodes = new Map<string, BbbApiServer>();
  const listings: string[] = [];
  const outputs: string[] = [];

  const retireInputs = (id: string, apiUrl = nodes.get(id)!.apiUrl): StepInputs => ({
    SERVER_ID: id,
    API_URL: apiUrl,
    SHARED_SECRET: SECRETS[id],
    CHECKSUM_ALGORITHM: "SHA256",
    INCOMING_DIR: senderTarget(id),
    SLEEPING_LIST,
    RESOURCE_NAME: `lb-scaleliteRetireNode-${id}`,
  });
  const retire = async (id: string, apiUrl?: string) => {
    const r = await runWatched(host, "scaleliteRetireNode", retireInputs(id, apiUrl), listings);
    outputs.push(output(r));
    return r;
  };
  const register = async (ids: string[]) => {
    const r = await runStep(host, "scaleliteRegister", registerInputs(SECRETS, ids));
    expect(r.code, output(r)).toBe(0);
  };

  beforeAll(async () => {
    for (const id of IDS) nodes.set(id, await startBbbApiServer({ secret: SECRETS[id], bbbVersion: "3.0.9" }));
    host = await startTestHost({ fqdn: "scalelite.campus.example" });
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-api.service"), "[Service]\n");
    scalelite = await attachScalelite(trees!, host);
    for (const [id, node] of nodes) scalelite.route(id, node.url);
  });
  afterAll(async () => {
    await Promise.all([host?.stop(), scalelite?.stop(), ...[...nodes.values()].map((n) => n.close())]);
  });

  it("keeps a node dropped from the stack while it hosts a lesson, holds a recording or has archives on the front; then removes it from Scalelite", async () => {
    await register(IDS);
    const bbb2 = nodes.get("bbb2.campus.example")!;
    await scalelite.addMeetings([["bbb2.campus.example", "lesson-7"]]);
    bbb2.seedMeeting("lesson-7", 20);
    bbb2.recordings.push("rec-7");
    const incoming = path.join(host.root, senderTarget("bbb2.campus.example"));
    mkdirSync(incoming, { recursive: true });
    writeFileSync(path.join(incoming, ".rec-6.tar.Xy12Ab"), "half an archive");
    // The stack dropped bbb2: registration (mode cordon) cordons it, as it hosts a lesson.
    await register(["bbb1.campus.example"]);
    expect((await scalelite.servers())["bbb2.campus.example"]).toMatchObject({ state: "cordoned" });

    const kept = await retire("bbb2.campus.example");
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(
      "bbb2.campus.example is kept, running and cordoned, because it still has: 1 meeting(s) running; 1 recording(s) processing or not yet sent to the front; 1 file(s) it sent still in /mnt/scalelite-recordings/var/bigbluebutton/incoming/bbb2.campus.example, not yet handed to Scalelite's importer. Run `pulumi up` (or `pulumi destroy`) again once they are over",
    );
    expect((await scalelite.servers())["bbb2.campus.example"]).toMatchObject({ state: "cordoned" });
    // Its own API was asked, signed with its secret.
    expect(bbb2.calls.filter((c) => c.accepted).map((c) => c.call)).toEqual(expect.arrayContaining(["getMeetings", "getRecordings"]));

    // The lesson ends; the recording reaches the front and the mover hands it over.
    bbb2.meetings.delete("lesson-7");
    const stillRecording = await retire("bbb2.campus.example");
    expect(stillRecording.code).toBe(1);
    expect(stillRecording.stderr).toMatch(/because it still has: 1 recording\(s\) processing or not yet sent to the front; 1 file\(s\) it sent/);
    bbb2.recordings.length = 0;
    rmSync(path.join(incoming, ".rec-6.tar.Xy12Ab"));
    await scalelite.pollUntil(`Meeting.all.none? { |m| m.server_id == "bbb2.campus.example" }`, "Scalelite drops the ended lesson's meeting record");

    const done = await retire("bbb2.campus.example");
    expect(done.code, output(done)).toBe(0);
    expect(done.stdout).toContain("bbb2.campus.example removed from Scalelite");
    expect(Object.keys(await scalelite.servers())).toEqual(["bbb1.campus.example"]);
    // Pulumi runs it again after a cut: nothing left to do, still a success.
    const again = await retire("bbb2.campus.example");
    expect(again.code, output(again)).toBe(0);
    expect(again.stdout).toContain("bbb2.campus.example is not registered in Scalelite");
  }, 240_000);

  it("cordons a node still enabled before it looks, so no lesson lands on it meanwhile", async () => {
    await register(IDS);
    const bbb1 = nodes.get("bbb1.campus.example")!;
    bbb1.seedMeeting("lesson-8", 3);
    const r = await retire("bbb1.campus.example");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("bbb1.campus.example cordoned in Scalelite: it takes no new meeting");
    expect(r.stderr).toContain("because it still has: 1 meeting(s) running.");
    expect((await scalelite.servers())["bbb1.campus.example"]).toMatchObject({ state: "cordoned" });
    expect(calls(host)).toContain("docker exec scalelite-api bin/rake servers:cordon\\[bbb1.campus.example\\]");
    bbb1.meetings.delete("lesson-8");
  }, 180_000);

  it("keeps a node it cannot ask, saying how to let go of one that is lost; lets go of one ops put to sleep", async () => {
    await register(IDS);
    // Nothing listens there: the node is down (or its datacenter is).
    const lost = await retire("bbb2.campus.example", "http://127.0.0.1:9/bigbluebutton/api");
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain("cannot read getMeetings on bbb2.campus.example (curl: (7)");
    expect(lost.stderr).toContain("drop this guard with `pulumi state delete` on the URN of lb-scaleliteRetireNode-bbb2.campus.example");
    expect((await scalelite.servers())["bbb2.campus.example"]).toBeDefined();

    // Shelved by `ops scale` (emptied first): listed on the front without a pending wake.
    mkdirSync(path.join(host.root, path.dirname(SLEEPING_LIST)), { recursive: true });
    writeFileSync(path.join(host.root, SLEEPING_LIST), "bbb1.campus.example wake=1700000000\nbbb2.campus.example\n");
    const asleep = await retire("bbb2.campus.example", "http://127.0.0.1:9/bigbluebutton/api");
    expect(asleep.code, output(asleep)).toBe(0);
    expect(asleep.stdout).toContain("bbb2.campus.example is asleep (shelved by ops once it held no meeting and no recording)");
    expect(Object.keys(await scalelite.servers())).not.toContain("bbb2.campus.example");
    // One waking up is not asleep: asked, and kept when it cannot answer.
    const waking = await retire("bbb1.campus.example", "http://127.0.0.1:9/bigbluebutton/api");
    expect(waking.code).toBe(1);
    expect(waking.stderr).toContain("cannot read getMeetings on bbb1.campus.example");
    rmSync(path.join(host.root, SLEEPING_LIST));
  }, 180_000);

  it("never shows a node secret: not in its output, an argv, the fakes' log, or ps", () => {
    expect(listings.length).toBeGreaterThan(5);
    const everywhere = outputs.join("\n") + calls(host).join("\n") + listings.join("\n");
    for (const secret of Object.values(SECRETS)) expect(everywhere).not.toContain(secret);
  });
});
