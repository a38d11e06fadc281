import { describe, expect, it } from "vitest";
import { evaluateStack } from "../support/evaluateStack";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";

/**
 * The trust-on-first-use record of a host key (components/hosts/hostKeys.ts) must never run again
 * unpinned when the host it talks to changes: @pulumi/command runs `create` again on an update when
 * `update` is unset, and a changed `connection` is such an update (pulumi/pulumi-command#447 shows a
 * connection diff planned as an update). The record ignores changes to `connection` (Pulumi's
 * ignoreChanges keeps the state's value, https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/),
 * so a moved host keeps the recorded key and every pinned connection to the new address fails with a
 * host key mismatch until the operator pins the new key on purpose (docs/ops.md, "Host keys").
 * Mocks do not run ignoreChanges (an engine feature): the tests check the option and that nothing
 * else in the record's inputs follows the host.
 */
const RECORD = "lab-bbb1-host-key-tofu";
// The operator key must parse (its public half goes to the providers): a real throwaway key.
const SECRETS = { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("lab-operator") };

async function recordOf(mutate?: (node: Record<string, unknown>) => void) {
  const { resources } = await evaluateStack("lab", SECRETS, mutate && ((c) => mutate(c.nodes[0])));
  const record = resources.find((r) => r.name === RECORD);
  if (!record) throw new Error(`no ${RECORD}`);
  return record;
}

describe("trust on first use never re-trusts silently", () => {
  it("ignores changes to the record's connection", async () => {
    expect((await recordOf()).ignoreChanges).toContain("connection");
  });

  it.each([
    ["host", (n: Record<string, unknown>) => (n.ipv4 = "198.51.100.99")],
    ["port", (n: Record<string, unknown>) => (n.sshPort = 2222)],
    ["user", (n: Record<string, unknown>) => (n.sshUser = "admin")],
  ])("a changed %s reaches only the ignored connection, so the record does not run again", async (_, change) => {
    const before = await recordOf();
    const after = await recordOf(change);
    expect(after.inputs.connection).not.toEqual(before.inputs.connection);
    const { connection: _a, ...rest } = after.inputs;
    const { connection: _b, ...restBefore } = before.inputs;
    expect(rest).toEqual(restBefore);
    expect(after.ignoreChanges).toContain("connection");
  });
});
