/**
 * Re-run stability, measured on the program's inputs: the engine re-runs a remote step when its
 * command, stdin or triggers change (a trigger change replaces it), so two evaluations of the same
 * stack must give the same values, and adding a node must touch only what has to know about it.
 */
import type { RecordedResource } from "../cli/plan/recorder";
import { evaluateStack } from "../test/support/evaluateStack";
import { throwawayPrivateKey } from "../components/hosts/deployKey";

const REMOTE = ["command:remote:Command", "command:remote:CopyToRemote"];
/** The inputs whose change makes a remote step run again. */
const RERUN_FIELDS = ["create", "update", "delete", "stdin", "triggers", "source", "remotePath"];

/** Known values for the stacks' encrypted keys, so both evaluations see the same secrets. */
// The operator key must parse (its public half goes to the providers): a real throwaway key.
export const BENCH_SECRETS = { "bbb-ovh:sshPrivateKey": throwawayPrivateKey("bench"), "bbb-ovh:turnSecret": "bench-turn-secret" };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export interface RerunResult {
  stack: string;
  remoteSteps: number;
  /** Remote steps whose command, stdin or triggers differ between two evaluations (goal 0). */
  changedSteps: string[];
  /** Any resource whose inputs differ at all between two evaluations. */
  changedResources: string[];
}

export async function rerunStability(stack: string): Promise<RerunResult> {
  const first = await evaluateStack(stack, BENCH_SECRETS);
  const second = await evaluateStack(stack, BENCH_SECRETS);
  const again = new Map(second.resources.map((r) => [r.urn, r]));
  const remote = first.resources.filter((r) => REMOTE.includes(r.type));
  return {
    stack,
    remoteSteps: remote.length,
    changedSteps: remote.filter((r) => !again.has(r.urn) || RERUN_FIELDS.some((f) => !same(r.inputs[f], again.get(r.urn)!.inputs[f]))).map((r) => r.name),
    changedResources: first.resources.filter((r) => !again.has(r.urn) || !same(r.inputs, again.get(r.urn)!.inputs)).map((r) => r.name),
  };
}

export interface AddNodeResult {
  stack: string;
  added: string;
  existing: number;
  /** Existing resources whose inputs change, with the fields that change. */
  changed: Array<{ name: string; type: string; fields: string[] }>;
  /** Existing resources that disappear (goal 0). */
  removed: string[];
}

/** A copy of the campus's last node under a new name and FQDN (and address, for an existing host). */
function withOneMoreNode(campus: Record<string, any>): string {
  const last = campus.nodes[campus.nodes.length - 1];
  const added = { ...structuredClone(last), name: `${campus.id}-added`, fqdn: `bbb-added.${campus.dns.zone}` };
  if (added.kind === "existing") {
    added.ipv4 = "198.51.100.99";
    delete added.ipv6;
  }
  campus.nodes.push(added);
  return added.name;
}

export async function addOneNode(stack: string): Promise<AddNodeResult> {
  const before = await evaluateStack(stack, BENCH_SECRETS);
  let added = "";
  const after = await evaluateStack(stack, BENCH_SECRETS, (campus) => (added = withOneMoreNode(campus)));
  const now = new Map(after.resources.map((r) => [r.urn, r]));
  const changedFields = (a: RecordedResource, b: RecordedResource) =>
    [...new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)])].filter((k) => !same(a.inputs[k], b.inputs[k]));
  return {
    stack,
    added,
    existing: before.resources.length,
    changed: before.resources
      .filter((r) => now.has(r.urn) && changedFields(r, now.get(r.urn)!).length > 0)
      .map((r) => ({ name: r.name, type: r.type, fields: changedFields(r, now.get(r.urn)!) })),
    removed: before.resources.filter((r) => !now.has(r.urn)).map((r) => r.name),
  };
}
