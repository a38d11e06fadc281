/**
 * Every shipped stack, and fuzzed valid campuses, against Scalelite v1.8.5's OWN code (test/support/
 * scalelite): the servers.yaml the real program sends to the registration step is accepted by Scalelite's
 * ServerSync, each node is brought online by Scalelite's poller (against a local BBB API server per node),
 * and `Server.find_available` with no tag (a create from Moodle or Greenlight, which send no
 * meta_server-tag) finds a node. Scalelite places an untagged create only on untagged servers
 * (docs/tags-README.md, app/models/server.rb find_available).
 */
import fc from "fast-check";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { evaluateStack } from "../support/evaluateStack";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { scaleliteTrees, startScalelite, type Scalelite } from "../support/scalelite/harness";
import { applyAll, fuzzSeed, reshapedCampus, STACKS } from "../fuzz/mutations";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";

const trees = scaleliteTrees();
// The operator key must parse (its public half goes to the providers): a real throwaway key.
const SECRETS = { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("conformance") };

const unwrap = (v: unknown): unknown => (isSecretValue(v) ? unwrap(v.value) : v);
/** The KEY=VALUE inputs of the registration step, as the program hands them to scripts/scalelite-register.sh. */
function registrationInputs(resources: RecordedResource[]): Record<string, string> {
  const step = resources.find((r) => r.type === "command:remote:Command" && r.name.endsWith("-scaleliteRegister"));
  if (!step) throw new Error("no registration step in the program");
  const lines = String(unwrap(step.inputs.stdin)).trimEnd().split("\n");
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

describe.skipIf(!trees)("Scalelite v1.8.5 takes a meeting on every campus the program registers", () => {
  let scalelite: Scalelite;
  const nodes: BbbApiServer[] = [];
  beforeAll(async () => {
    scalelite = await startScalelite(trees!);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await scalelite?.stop();
  });

  /** Syncs the servers.yaml as the step does, polls with Scalelite's poller, and asks for a server for a create. */
  async function registerAndPlace(inputs: Record<string, string>): Promise<{ placed: { id?: string; error?: string }; ids: string[] }> {
    const yaml = Buffer.from(inputs.SERVERS_YAML_B64, "base64").toString("utf8");
    const servers = parse(yaml).servers as Record<string, { url: string; secret: string }>;
    for (const [id, s] of Object.entries(servers)) {
      const node = await startBbbApiServer({ secret: s.secret });
      nodes.push(node);
      scalelite.route(new URL(s.url).hostname, node.url);
      expect(id).toBe(new URL(s.url).hostname);
    }
    const sync = await scalelite.rake([`servers:sync[-,${inputs.SYNC_MODE}]`], yaml);
    expect(sync.code, sync.stderr).toBe(0);
    // Polled as the registration step does: up to 3 times (a loaded machine can make one poll time out).
    const ids = inputs.EXPECTED_IDS.split(",");
    let registered: Awaited<ReturnType<Scalelite["servers"]>> = {};
    let polls = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const poll = await scalelite.rake(["poll:all"]);
      expect(poll.code, poll.stderr).toBe(0);
      polls += poll.stdout;
      registered = await scalelite.servers();
      if (ids.every((id) => registered[id]?.online)) break;
    }
    expect(Object.keys(registered).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(registered[id], `${id}\n${polls}`).toMatchObject({ state: "enabled", online: true });
    return { placed: await scalelite.findAvailable(), ids };
  }

  it.each(STACKS)("%s: ServerSync accepts the servers.yaml and an untagged create finds a node", async (stack) => {
    const { resources } = await evaluateStack(stack, SECRETS);
    const { placed, ids } = await registerAndPlace(registrationInputs(resources));
    expect(placed.error).toBeUndefined();
    expect(ids).toContain(placed.id);
  });

  it("fuzzed valid campuses: accepted, and an untagged create finds a node", async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(reshapedCampus, async ({ stack, mutations }) => {
        const campus = applyAll(stack, mutations);
        let resources: RecordedResource[];
        try {
          ({ resources } = await evaluateStack(stack, SECRETS, (c) => Object.assign(c, campus)));
        } catch {
          return; // a reshaping that makes the campus invalid is the config fuzz tests' concern
        }
        runs += 1;
        const { placed, ids } = await registerAndPlace(registrationInputs(resources));
        expect(placed.error).toBeUndefined();
        expect(ids).toContain(placed.id);
      }),
      { seed: fuzzSeed(), numRuns: 4 },
    );
    expect(runs).toBeGreaterThan(0);
  }, 300_000);

  it("a campus whose nodes are all tagged takes no untagged create (why a tag is set only for a front-end that sends it)", async () => {
    // Without Moodle: with it, the config refuses a campus whose nodes are all tagged, for this reason.
    const { resources } = await evaluateStack("brest", SECRETS, (c) => {
      delete c.moodle;
      for (const node of c.nodes as Array<Record<string, unknown>>) node.tag = "sbg";
    });
    const { placed } = await registerAndPlace(registrationInputs(resources));
    expect(placed.error).toBe("Could not find any available servers.");
    expect((await scalelite.findAvailable("sbg")).id).toBeDefined();
  });
});
