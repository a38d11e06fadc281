import * as pulumi from "@pulumi/pulumi";
import type { HostRole, ResolvedHostOf } from "../config/campus";
import type { HostHandle } from "./HostHandle";
import { sshConnection } from "./connection";
import { recordHostKey } from "./hostKeys";
import { sshPortOf } from "./sshPort";

export interface ExistingHostArgs<R extends HostRole = HostRole> {
  host: ResolvedHostOf<"existing", R>;
  privateKey: pulumi.Input<string>;
}

/** A host the school already runs: nothing is provisioned, only the common shape and a pinned host key. */
export class ExistingHost<R extends HostRole = HostRole> extends pulumi.ComponentResource implements HostHandle<R> {
  readonly host: ResolvedHostOf<"existing", R>;
  readonly ipv4: pulumi.Output<string>;
  readonly ipv6: pulumi.Output<string>;
  readonly connection: HostHandle["connection"];
  readonly hostKey: pulumi.Output<string>;
  readonly sshUser: string;
  readonly ready: pulumi.Resource[] = [];

  constructor(name: string, args: ExistingHostArgs<R>, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:hosts:ExistingHost", name, {}, opts);
    const cfg = args.host.config;
    this.host = args.host;
    this.sshUser = cfg.sshUser;
    this.ipv4 = pulumi.output(cfg.ipv4);
    this.ipv6 = pulumi.output(cfg.ipv6 ?? "");
    const login = { host: cfg.ipv4, user: cfg.sshUser, port: sshPortOf(args.host), privateKey: args.privateKey };
    this.hostKey = cfg.hostKey ? pulumi.output(cfg.hostKey) : recordHostKey(name, login, { parent: this });
    this.connection = sshConnection({ ...login, hostKey: this.hostKey });
    this.registerOutputs({ ipv4: this.ipv4 });
  }
}
