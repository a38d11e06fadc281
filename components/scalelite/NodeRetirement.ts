import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import { HEALTH_CHECKSUM_ALGORITHM, type BbbNode } from "../bbb/BbbNode";
import { senderTarget } from "./recordingLayout";
import type { ScaleliteFront } from "./ScaleliteFront";

export interface NodeRetirementArgs {
  front: ScaleliteFront;
  node: BbbNode;
  /** The node's name in the stack: its transfer target on the front is named after it. */
  hostName: string;
}

/**
 * Retiring a node takes as long as its lessons do. When a node leaves the stack (or the stack is
 * destroyed), Pulumi deletes this guard before the node's own resources, and its delete runs the
 * front's scaleliteRetireNode step: the node is cordoned, then kept (the run fails, the host keeps running
 * and stays in the state) while it hosts a meeting, holds a recording or has archives waiting on the
 * front; once it holds none, it leaves Scalelite and Pulumi goes on to delete it. Without it, with
 * protection.allowTermination, the same `pulumi up` that cordons a node terminates it, lessons and all.
 */
export class NodeRetirement extends pulumi.ComponentResource {
  readonly guard: remote.Command;

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
        RESOURCE_NAME: front.steps.guardName("scaleliteRetireNode", args.hostName),
      },
      // After the node's health: deleted before everything of the node's own.
      { parent: this, dependsOn: [node.health] },
    );
    this.registerOutputs({});
  }
}
