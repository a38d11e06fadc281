import * as pulumi from "@pulumi/pulumi";
import type { types } from "@pulumi/command";

/** Bounded SSH waiting: a server that never answers fails after ~10 minutes, naming the host. */
export const SSH_DIAL = { dialErrorLimit: 40, perDialTimeout: 15 } as const;

export function sshConnection(args: {
  host: pulumi.Input<string>;
  user: string;
  /** The host's SSH port (sshPortOf). */
  port: number;
  privateKey: pulumi.Input<string>;
  hostKey?: pulumi.Input<string>;
}): pulumi.Output<types.input.remote.ConnectionArgs> {
  return pulumi.output({
    host: args.host,
    user: args.user,
    port: args.port,
    privateKey: pulumi.secret(args.privateKey),
    hostKey: args.hostKey,
    ...SSH_DIAL,
  }) as pulumi.Output<types.input.remote.ConnectionArgs>;
}
