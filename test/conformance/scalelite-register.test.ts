/**
 * scripts/scalelite-register.sh run over SSH on a loopback test host whose `docker exec scalelite-api
 * bin/rake ...` is Scalelite v1.8.5's OWN rake tasks (test/support/scalelite: ServerSync, the models and the
 * poller on a real redis-server), with the servers.yaml our renderer produces and local BBB API servers as
 * the nodes. What is asserted is Scalelite's own behaviour: sync accepted and idempotent, a node dropped
 * from the list removed when empty and cordoned while it hosts a meeting (mode cordon), its meetings
 * ended then removed (mode force), every node enabled and online once Scalelite's poller has seen it, and
 * a node an operator drained (`ops drain` = servers:cordon) left drained by the next registration.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64, type StepInputs } from "../../components/remote/invocation";
import { nodeApiUrl, type ScaleliteNodeState } from "../../components/scalelite/renderServersYaml";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { calls, output, runWatched } from "../support/hostState";
import { attachScalelite, registerInputs as nodeRegistration, scaleliteTrees, type Scalelite } from "../support/scalelite/harness";
import { killSessions, runStep, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const trees = scaleliteTrees();
const IDS = ["bbb1.campus.example", "bbb2.campus.example", "bbb3.campus.example"];
const NODE_SECRETS: Record<string, string> = Object.fromEntries(IDS.map((id) => [id, randomBytes(20).toString("hex")]));

const registerInputs = (ids: string[], extra: StepInputs = {}, states: Record<string, ScaleliteNodeState> = {}): StepInputs =>
  nodeRegistration(NODE_SECRETS, ids, extra, states);

describe.skipIf(!trees)("scalelite-register against Scalelite v1.8.5's own rake tasks", () => {
  const fronts: Array<{ host: TestHost; scalelite: Scalelite }> = [];
  const nodes = new Map<string, BbbApiServer>();

  /** A front whose scalelite-api container runs (its unit is installed) with a fresh Scalelite behind it. */
  async function front(): Promise<{ host: TestHost; scalelite: Scalelite }> {
    const host = await startTestHost({ fqdn: "scalelite.campus.example" });
    mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-api.service"), "[Service]\n");
    const scalelite = await attachScalelite(trees!, host);
    for (const [id, node] of nodes) scalelite.route(id, node.url);
    fronts.push({ host, scalelite });
    return { host, scalelite };
  }

  beforeAll(async () => {
    for (const id of IDS) nodes.set(id, await startBbbApiServer({ secret: NODE_SECRETS[id], bbbVersion: "3.0.9" }));
  });
  afterAll(async () => {
    await Promise.all(fronts.flatMap(({ host, scalelite }) => [host.stop(), scalelite.stop()]));
    await Promise.all([...nodes.values()].map((n) => n.close()));
  });

  describe("a first registration, then the same again", () => {
    let f: { host: TestHost; scalelite: Scalelite };
    const listings: string[] = [];
    let first: Awaited<ReturnType<typeof runStep>>;
    let second: Awaited<ReturnType<typeof runStep>>;
    let afterFirst: Awaited<ReturnType<Scalelite["servers"]>>;
    beforeAll(async () => {
      f = await front();
      first = await runWatched(f.host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)), listings);
      afterFirst = await f.scalelite.servers();
      second = await runWatched(f.host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)), listings);
    });

    it("ServerSync accepts the rendered list; every node is enabled, untagged, and online after Scalelite's poll", () => {
      expect(first.code, output(first)).toBe(0);
      expect(calls(f.host)).toContain("docker exec -i scalelite-api bin/rake servers:sync\\[-\\,cordon\\]");
      expect(first.stdout).toContain("[bbb1.campus.example] Server created");
      expect(first.stdout).toContain("all nodes enabled and online: bbb1.campus.example bbb2.campus.example");
      expect(Object.keys(afterFirst).sort()).toEqual(IDS.slice(0, 2));
      for (const [id, s] of Object.entries(afterFirst)) {
        expect(s).toMatchObject({ url: nodeApiUrl(id), secret: NODE_SECRETS[id], state: "enabled", online: true, tag: null, load_multiplier: "1" });
      }
      // Scalelite's poller signed its getMeetings with the node's secret.
      expect(nodes.get("bbb1.campus.example")!.calls.some((c) => c.call === "getMeetings" && c.accepted)).toBe(true);
    });

    it("is idempotent: the second run changes nothing in Scalelite", async () => {
      expect(second.code, output(second)).toBe(0);
      expect(second.stdout).not.toMatch(/Server (created|updated|enabled|removed|disabled)/);
      const now = await f.scalelite.servers();
      const owned = (all: typeof now) => Object.fromEntries(Object.entries(all).map(([id, s]) => [id, [s.url, s.secret, s.state, s.load_multiplier, s.tag]]));
      expect(owned(now)).toEqual(owned(afterFirst));
    });

    it("never shows a node secret: not in step output, an argv, the fakes' log, or ps", () => {
      expect(listings.length).toBeGreaterThan(10);
      const everywhere = [first, second].map(output).join("\n") + calls(f.host).join("\n") + listings.join("\n");
      for (const secret of Object.values(NODE_SECRETS)) expect(everywhere).not.toContain(secret);
    });
  });

  it("cordons a node dropped from the list while it hosts a lesson (mode cordon), removes it once the poller saw the lesson end", async () => {
    const { host, scalelite } = await front();
    expect((await runStep(host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)))).code).toBe(0);
    // A lesson placed on bbb2 by Scalelite (its Meeting record) and running there.
    await scalelite.addMeetings([["bbb2.campus.example", "lesson-42"]]);
    nodes.get("bbb2.campus.example")!.seedMeeting("lesson-42", 25);

    const r = await runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example", "bbb3.campus.example"]));
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("[bbb2.campus.example] Server not empty. Cordoned for removal");
    expect(r.stdout).toContain("also registered, not in the plan: bbb2.campus.example (cordoned, online)");
    const servers = await scalelite.servers();
    expect(servers["bbb2.campus.example"]).toMatchObject({ state: "cordoned", online: true });
    expect(servers["bbb3.campus.example"]).toMatchObject({ state: "enabled", online: true });
    expect(nodes.get("bbb2.campus.example")!.meetings.has("lesson-42")).toBe(true);

    // The lesson ends; Scalelite's poller (its own container, every POLL_INTERVAL) drops the meeting record.
    // One poll:all can give up on a loaded machine (a failed run here: bbb2 disabled, its meeting still
    // recorded): the pollers run again, as the next POLL_INTERVAL would, until the record is gone.
    nodes.get("bbb2.campus.example")!.meetings.delete("lesson-42");
    await scalelite.pollUntil(`Meeting.all.none? { |m| m.server_id == "bbb2.campus.example" }`, "Scalelite drops the ended lesson's meeting record");
    const later = await runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example", "bbb3.campus.example"]));
    expect(later.code, output(later)).toBe(0);
    expect(later.stdout).toContain("[bbb2.campus.example] Server removed");
    expect(Object.keys(await scalelite.servers()).sort()).toEqual(["bbb1.campus.example", "bbb3.campus.example"]);
  });

  // Scalelite v1.8.5's ServerSync calls the API helper from a class method that does not have it
  // (lib/server_sync.rb: `include ApiHelper` inside `def self.sync`), so mode force logs the failure,
  // forgets the meeting and removes the server while the lesson goes on, unbalanced, on the node.
  it("mode force drops the node and its meeting records, but (Scalelite v1.8.5) does not end the lesson on the node", async () => {
    const { host, scalelite } = await front();
    expect((await runStep(host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)))).code).toBe(0);
    await scalelite.addMeetings([["bbb2.campus.example", "lesson-43"]]);
    nodes.get("bbb2.campus.example")!.seedMeeting("lesson-43", 12);
    const r = await runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example"], { SYNC_MODE: "force" }));
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("[bbb2.campus.example] Try to end meeting id=lesson-43");
    expect(r.stdout).toContain("[bbb2.campus.example] Failed to end meeting id=lesson-43: undefined method `encode_bbb_uri' for ServerSync:Class");
    expect(r.stdout).toContain("[bbb2.campus.example] Server removed");
    expect(nodes.get("bbb2.campus.example")!.calls.some((c) => c.call === "end")).toBe(false);
    expect(nodes.get("bbb2.campus.example")!.meetings.has("lesson-43")).toBe(true);
    nodes.get("bbb2.campus.example")!.meetings.delete("lesson-43");
    expect(Object.keys(await scalelite.servers())).toEqual(["bbb1.campus.example"]);
  });

  it("leaves a node an operator drained (ops drain) or disabled as it is when registration runs again, and says so", async () => {
    const { host, scalelite } = await front();
    expect((await runStep(host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)))).code).toBe(0);
    // A lesson runs on bbb2 while the operator drains it for maintenance: `ops drain` runs servers:cordon.
    await scalelite.addMeetings([["bbb2.campus.example", "lesson-drain"]]);
    nodes.get("bbb2.campus.example")!.seedMeeting("lesson-drain", 9);
    expect((await scalelite.rake(["servers:cordon[bbb2.campus.example]"])).code).toBe(0);
    // bbb1 is empty: disabled by an operator (Scalelite's poller also disables a cordoned node once empty).
    expect((await scalelite.rake(["servers:disable[bbb1.campus.example]"])).code).toBe(0);

    // A node is added to the stack: the next `pulumi up` registers the whole set again.
    const r = await runStep(host, "scaleliteRegister", registerInputs(IDS));
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).not.toMatch(/\[bbb[12]\.campus\.example\] Server enabled/);
    const servers = await scalelite.servers();
    expect(servers["bbb1.campus.example"]).toMatchObject({ state: "disabled" });
    expect(servers["bbb2.campus.example"]).toMatchObject({ state: "cordoned", online: true });
    expect(servers["bbb3.campus.example"]).toMatchObject({ state: "enabled", online: true });
    expect(r.stdout).toContain("left drained, as an operator set it: bbb1.campus.example (disabled), bbb2.campus.example (cordoned)");
    expect(r.stdout).toContain("all other nodes enabled and online: bbb3.campus.example");
    expect(nodes.get("bbb2.campus.example")!.meetings.has("lesson-drain")).toBe(true);

    // `ops undrain` (servers:enable), then registration again: the node stays in rotation.
    expect((await scalelite.rake(["servers:enable[bbb2.campus.example]"])).code).toBe(0);
    const again = await runStep(host, "scaleliteRegister", registerInputs(IDS));
    expect(again.code, output(again)).toBe(0);
    expect((await scalelite.servers())["bbb2.campus.example"]).toMatchObject({ state: "enabled", online: true });
    expect(again.stdout).toContain("left drained, as an operator set it: bbb1.campus.example (disabled)");
    nodes.get("bbb2.campus.example")!.meetings.delete("lesson-drain");
  }, 240_000); // measured 70 s on a loaded 2-core machine (load 25)

  it("applies a state the stack declares: cordoned drains an enabled node, enabled brings a drained one back", async () => {
    const { host, scalelite } = await front();
    expect((await runStep(host, "scaleliteRegister", registerInputs(IDS.slice(0, 2)))).code).toBe(0);
    expect((await scalelite.rake(["servers:cordon[bbb2.campus.example]"])).code).toBe(0);
    const r = await runStep(
      host,
      "scaleliteRegister",
      registerInputs(IDS.slice(0, 2), {}, { "bbb1.campus.example": "cordoned", "bbb2.campus.example": "enabled" }),
    );
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain("[bbb1.campus.example] Server disabled (cordoned)");
    expect(r.stdout).toContain("[bbb2.campus.example] Server enabled");
    expect(r.stdout).toMatch(/left drained, as the stack declares: bbb1\.campus\.example \((cordoned|disabled)\)/);
    const servers = await scalelite.servers();
    // Empty, so Scalelite's poller (run by the step) disables it right away.
    expect(["cordoned", "disabled"]).toContain(servers["bbb1.campus.example"].state);
    expect(servers["bbb2.campus.example"]).toMatchObject({ state: "enabled", online: true });
  }, 180_000);

  it("fails naming each node that is not ready, and why, as Scalelite's poller decides it", async () => {
    const { host, scalelite } = await front();
    expect((await runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example", "bbb3.campus.example"]))).code).toBe(0);
    scalelite.route("bbb3.campus.example", undefined); // its getMeetings now fails (connection refused)
    const r = await runStep(host, "scaleliteRegister", {
      ...registerInputs(["bbb1.campus.example", "bbb3.campus.example"]),
      EXPECTED_IDS: "bbb1.campus.example bbb3.campus.example bbb9.campus.example",
      ATTEMPTS: "3",
    });
    // bbb3 was online: Scalelite takes it offline after two failed polls; the step polls up to 3 times.
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("node(s) not ready after 3 poll(s): bbb3.campus.example: offline");
    expect(r.stderr).toContain("bbb9.campus.example: missing (not registered)");
    expect(r.stderr).not.toContain("bbb1.campus.example:");
  });

  it("reports Scalelite's refusal of an invalid list without echoing it", async () => {
    const { host } = await front();
    const bad = `servers:\n  bbb1.campus.example:\n    secret: ${NODE_SECRETS["bbb1.campus.example"]}\n    load_multiplier: 0\n`;
    const r = await runStep(host, "scaleliteRegister", { ...registerInputs(["bbb1.campus.example"]), SERVERS_YAML_B64: base64(bad) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ERROR: Server id=bbb1.campus.example has invalid load_multiplier=0");
    expect(r.stderr).toContain("servers:sync refused the server list");
    expect(output(r)).not.toContain(NODE_SECRETS["bbb1.campus.example"]);
  });

  it("converges after a run killed between the sync and the poll", async ({ signal }) => {
    const { host, scalelite } = await front();
    const knob = path.join(host.root, "fake-state/knobs/FAKE_DOCKER_HANG");
    mkdirSync(path.dirname(knob), { recursive: true });
    writeFileSync(knob, "exec scalelite-api bin/rake poll:all");
    const killed = runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example"]));
    await waitUntil(() => calls(host).some((c) => c.includes("poll:all")), signal, 10);
    killSessions(host);
    expect((await killed).code).not.toBe(0);
    expect((await scalelite.servers())["bbb1.campus.example"]).toMatchObject({ state: "enabled", online: false });

    writeFileSync(knob, "");
    const r = await runStep(host, "scaleliteRegister", registerInputs(["bbb1.campus.example"]));
    expect(r.code, output(r)).toBe(0);
    expect((await scalelite.servers())["bbb1.campus.example"]).toMatchObject({ state: "enabled", online: true });
  });
});
