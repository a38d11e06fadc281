/**
 * Pulumi's share of a plan, measured apart from ours: the resources a plan recorded (type, name,
 * parent, dependencies, final inputs, secrets) registered again by a program that does nothing else,
 * through the same SDK classes, recorder and mocks. What that costs is what the mock runtime needs for
 * these resources whatever program builds them; the plan's cost above it is the program's own.
 * A lower bound: the replay's inputs are already resolved, where the program waits on outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import { remote } from "@pulumi/command";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { isSecretValue, type RecordedResource } from "../cli/plan/recorder";
import { dependencyOrder } from "../cli/plan/render";
import { SCRIPTS_DIR } from "../components/remote/scriptBundle";

type ResourceClass = new (name: string, args: Record<string, unknown>, opts: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/**
 * The SDK class of each type the program registers: each declares its output properties, which the
 * runtime resolves one by one, so a bare CustomResource would cost less than the real resource.
 */
const CLASSES: Record<string, ResourceClass> = {
  "tls:index/privateKey:PrivateKey": tls.PrivateKey,
  "tls:index/certRequest:CertRequest": tls.CertRequest,
  "tls:index/selfSignedCert:SelfSignedCert": tls.SelfSignedCert,
  "tls:index/locallySignedCert:LocallySignedCert": tls.LocallySignedCert,
  "random:index/randomBytes:RandomBytes": random.RandomBytes,
  "random:index/randomPassword:RandomPassword": random.RandomPassword,
  "command:remote:Command": remote.Command,
  "command:remote:CopyToRemote": remote.CopyToRemote,
  "ovh:Dedicated/server:Server": ovh.dedicated.Server,
  "ovh:Domain/zoneRecord:ZoneRecord": ovh.domain.ZoneRecord,
  "ovh:Ip/firewall:Firewall": ovh.ip.Firewall,
  "ovh:Ip/firewallRule:FirewallRule": ovh.ip.FirewallRule,
} as unknown as Record<string, ResourceClass>;

/** A type not in CLASSES: a resource of that type token with only its inputs as properties. */
class Unlisted extends pulumi.CustomResource {
  constructor(type: string, name: string, inputs: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
    super(type, name, inputs, opts);
  }
}

/** A recorded input as the program gave it: secret-wrapped values become secrets again. */
function asInput(value: unknown): unknown {
  if (isSecretValue(value)) return pulumi.secret(asInput(value.value));
  if (Array.isArray(value)) return value.map(asInput);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asInput(v)]));
  return value;
}

/** A program registering `recorded` again, parents and dependencies first; the stack resource is the runtime's own. */
export function replayProgram(recorded: RecordedResource[]): () => Record<string, never> {
  return () => {
    const byUrn = new Map<string, pulumi.Resource>();
    for (const r of dependencyOrder(recorded)) {
      if (r.type === "pulumi:pulumi:Stack") continue;
      const opts = {
        parent: r.parent ? byUrn.get(r.parent) : undefined,
        dependsOn: r.dependencies.flatMap((urn) => byUrn.get(urn) ?? []),
        protect: r.protect,
        additionalSecretOutputs: r.additionalSecretOutputs,
      };
      const inputs = asInput(r.inputs) as Record<string, unknown>;
      // The archive's path does not survive recording: the scripts directory it always is.
      if (r.type === "command:remote:CopyToRemote") inputs.source = new pulumi.asset.FileArchive(SCRIPTS_DIR);
      const Class = CLASSES[r.type];
      const resource = !r.custom
        ? new pulumi.ComponentResource(r.type, r.name, {}, opts)
        : Class
          ? new Class(r.name, inputs, opts)
          : new Unlisted(r.type, r.name, inputs, opts);
      byUrn.set(r.urn, resource);
    }
    return {};
  };
}
