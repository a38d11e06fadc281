import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import { HEALTH_CHECKSUM_ALGORITHM, type BbbNode } from "../bbb/BbbNode";
import { senderTarget } from "./recordingLayout";
import type { ScaleliteFront } from "./ScaleliteFront";

export interface NodeRetirementArgs {
  /** The front that serves (campus.servingFront). */
  front: ScaleliteFront;
  /** The stack's front: the guard carries its name whichever front serves (HostSteps.guard). */
  namedAfter: string;
  node: BbbNode;
  /** The node's name in the stack: its transfer target on the front is named after it. */
  hostName: string;
}

/**
 * Retiring a node takes as long as its lessons do. When a node leaves the stack (or the stack is
 * destroyed), Pulumi deletes these guards before the node's own resources: their deletes run the
 * node's bbbRetire step (no recording on its disk that the front lacks), then the front's
 * scaleliteRetireNode step: the node is cordoned, then kept (the run fails, the host keeps running and stays
 * in the state) while it hosts a meeting, holds a recording or has archives waiting on the front; once it
 * holds none, it leaves Scalelite and Pulumi goes on to delete it. Without it, with
 * protection.allowTermination, the same `pulumi up` that cordons a node terminates it, lessons and all.
 */
export class NodeRetirement extends pulumi.ComponentResource {
  readonly guard: remote.Command;
  readonly nodeGuard: remote.Command;

  constructor(name: string, args: NodeRetirementArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:scalelite:NodeRetirement", name, {}, opts);
    const { front, node } = args;
    this.guard = front.steps.guard(
      "scaleliteRetireNode",
      args.hostName,
      {
        SERVER_ID: node.fqdn,
        API_URL: node.apiUrl,
        SHARED_SECRET: node.sharedSecret,
        CHECKSUM_ALGORITHM: HEALTH_CHECKSUM_ALGORITHM,
        INCOMING_DIR: senderTarget(args.hostName),
        SLEEPING_LIST: front.sleepingList,
        RESOURCE_NAME: front.steps.guardName("scaleliteRetireNode", args.hostName, args.namedAfter),
      },
      // After the node's health: deleted before everything of the node's own.
      { parent: this, dependsOn: [node.health], namedAfter: args.namedAfter },
    );
    // On the node itself, and deleted first (it depends on the front's guard): its disk holds recordings
    // getRecordings does not list yet (scripts/bbb-node-retire.sh).
    this.nodeGuard = node.steps.guard("bbbRetire", "retirement", { FQDN: node.fqdn }, { parent: this, dependsOn: [node.health, this.guard] });
    this.registerOutputs({});
  }
}
