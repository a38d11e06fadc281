/**
 * Host-key pinning and bounded dialing on every SSH connection the program makes: each
 * remote.Command and CopyToRemote carries a hostKey (generated and installed at OS install, given
 * in the stack, or recorded once by the trust-on-first-use step), except that record step itself;
 * and each connection bounds @pulumi/command's dial retries, so a dead host fails instead of hanging.
 */
import { describe, expect, it } from "vitest";
import { readStackFile } from "../../components/config/stackFile";
import { SSH_DIAL } from "../../components/hosts/connection";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";
import { plannedCloud } from "../../cli/plan/mockCloud";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { evaluateStack } from "../support/evaluateStack";

const SSH_KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const REMOTE = ["command:remote:Command", "command:remote:CopyToRemote"];
const isTofu = (r: RecordedResource) => r.name.endsWith("-host-key-tofu");
const unwrap = (v: unknown): any => (isSecretValue(v) ? unwrap(v.value) : v);

const CASES: Array<[string, string, ((c: Record<string, any>) => void)?]> = [
  ["brest", "brest"],
  ["nantes", "nantes"],
  ["rennes", "rennes"],
  ["training", "training"],
  ["lab", "lab"],
  [
    "brest with an adopted node (no reinstall)",
    "brest",
    (c) => ((c.nodes[0].serviceName = "ns3001234.ip-51-68-1.eu"), (c.nodes[0].sshUser = "ubuntu"), delete c.nodes[0].model),
  ],
  ["lab with no host key in the stack", "lab", (c) => delete c.front.hostKey],
];

// The operator key must parse (its public half is derived): a throwaway one.
const OPERATOR_KEY = throwawayPrivateKey("KNOWN-PINNING-KEY");

async function connections(stack: string, mutate?: (c: Record<string, any>) => void) {
  const { resources } = await evaluateStack(stack, { "bbb-ovh:sshPrivateKey": OPERATOR_KEY }, mutate);
  const planned = async (type: string, name: string) => (await plannedCloud.newResource({ type, name, inputs: {}, custom: true })).state;
  // Every key a pinned connection may legitimately carry, and where it comes from.
  const origins = new Map<string, string>();
  for (const r of resources) {
    if (r.type === "tls:index/privateKey:PrivateKey" && r.name.endsWith("-host-key"))
      origins.set(((await planned(r.type, r.name)).publicKeyOpenssh as string).trim(), r.urn);
    if (isTofu(r)) origins.set((await planned(r.type, r.name)).stdout as string, r.urn);
  }
  return { resources, origins, remote: resources.filter((r) => REMOTE.includes(r.type)) };
}

describe("SSH connections of every stack", () => {
  it.each(CASES)("%s: every remote step pins the host key, except the trust-on-first-use record", async (_label, stack, mutate) => {
    const { remote, origins } = await connections(stack, mutate);
    expect(remote.length).toBeGreaterThan(5);
    const configured = JSON.stringify(readStackFile(stack).config["bbb-ovh:campus"].value);
    const keyOfHost = new Map<string, string>();
    const unpinned: string[] = [];
    for (const r of remote) {
      const connection = unwrap(r.inputs.connection);
      expect(connection, r.name).toBeTypeOf("object");
      const hostKey = unwrap(connection.hostKey);
      if (isTofu(r)) {
        expect(hostKey, `${r.name} records the key, so it cannot pin it`).toBeUndefined();
        continue;
      }
      if (typeof hostKey !== "string" || !SSH_KEY_LINE.test(hostKey.trim())) {
        unpinned.push(`${r.name} (${r.type}): connection.hostKey = ${JSON.stringify(hostKey)}`);
        continue;
      }
      // The key comes from a generated host key, the record step, or the stack file: nowhere else.
      const origin = origins.get(hostKey.trim());
      if (origin) {
        if (origin.endsWith("-host-key-tofu")) expect(r.dependencies, `${r.name} must wait for the record step`).toContain(origin);
      } else {
        expect(configured, `${r.name}: hostKey of unknown origin`).toContain(hostKey.trim());
      }
      // One host, one key: no step of a host pins something else.
      const at = `${connection.host}:${connection.port}`;
      expect(keyOfHost.get(at) ?? hostKey, `${r.name} pins a different key for ${at}`).toBe(hostKey);
      keyOfHost.set(at, hostKey);
    }
    expect(unpinned).toEqual([]);
  });

  it.each(CASES)("%s: every connection bounds the provider's dial retries", async (_label, stack, mutate) => {
    const { remote } = await connections(stack, mutate);
    for (const r of remote) {
      const c = unwrap(r.inputs.connection);
      expect(Number.isInteger(c.dialErrorLimit) && c.dialErrorLimit > 0 && c.dialErrorLimit <= 100, `${r.name} dialErrorLimit ${c.dialErrorLimit}`).toBe(true);
      expect(c.perDialTimeout > 0 && c.perDialTimeout <= 60, `${r.name} perDialTimeout ${c.perDialTimeout}`).toBe(true);
    }
  });

  it("states the bound: a host that never answers fails within dialErrorLimit × perDialTimeout (plus back-off)", () => {
    // @pulumi/command retries a failed dial dialErrorLimit times, each dial at most perDialTimeout
    // seconds; the back-off between dials is the provider's own. Pure dial time is therefore at most:
    const boundSeconds = SSH_DIAL.dialErrorLimit * SSH_DIAL.perDialTimeout;
    expect(boundSeconds).toBeLessThanOrEqual(15 * 60);
    expect(boundSeconds).toBeGreaterThanOrEqual(5 * 60); // long enough for a freshly installed host to boot
  });
});
