import type * as pulumi from "@pulumi/pulumi";
import type { types } from "@pulumi/command";
import type { HostRole, ResolvedHost } from "../config/campus";

/**
 * What every host component hands to the steps that run on it, whatever its kind
 * (ordered dedicated server, Public Cloud instance, or a host the school already owns). Its role is in
 * its type, as validation resolved it: a BigBlueButton node takes a NodeHandle, a front a FrontHandle.
 */
export interface HostHandle<R extends HostRole = HostRole> {
  /** The resolved config entry: name, fqdn, role, datacenter, spec. */
  readonly host: ResolvedHost & { role: R };
  readonly ipv4: pulumi.Output<string>;
  /** Empty string when the address is not known (OVH gives no IPv6 output for dedicated servers). */
  readonly ipv6: pulumi.Output<string>;
  /** SSH connection for @pulumi/command; the private key inside is a Pulumi secret. */
  readonly connection: pulumi.Output<types.input.remote.ConnectionArgs>;
  /** The SSH host key every connection pins (generated, configured, or recorded on first contact). */
  readonly hostKey: pulumi.Output<string>;
  /** The SSH user; steps prefix `sudo -n` when it is not root. */
  readonly sshUser: string;
  /** Resources a first SSH step must wait for (the server, its OS install, its DNS records). */
  readonly ready: pulumi.Resource[];
}

export type NodeHandle = HostHandle<"node">;
/** campus.front's or campus.standbyFront's host. */
export type FrontHandle = HostHandle<"front">;
