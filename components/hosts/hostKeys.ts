import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { remote } from "@pulumi/command";
import { sshConnection } from "./connection";

/** An SSH host key generated in Pulumi and installed at OS install time: pinned from the first connection. */
export function generatedHostKey(name: string, parent: pulumi.Resource): tls.PrivateKey {
  return new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, { parent });
}

/**
 * Trust on first use, for hosts whose OS we do not install (existing hosts, adopted servers): the
 * first step reads the host's ed25519 key over an unpinned connection and every later connection
 * pins it. The command never re-runs: not for a changed key (SSH then fails with a host key
 * mismatch), and not for a changed host, port or user either. @pulumi/command runs `create` again
 * when `connection` changes (an update without an `update` command), which would trust whatever
 * answers at the new address; `ignoreChanges: ["connection"]` keeps the recorded key instead, so the
 * pinned connections to the new address fail until the operator pins its key on purpose
 * (docs/ops.md, "Host keys").
 */
export function recordHostKey(
  name: string,
  args: { host: pulumi.Input<string>; user: string; port: number; privateKey: pulumi.Input<string> },
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const record = new remote.Command(
    `${name}-host-key-tofu`,
    {
      connection: sshConnection(args),
      create: "cat /etc/ssh/ssh_host_ed25519_key.pub",
    },
    { ...opts, ignoreChanges: [...(opts.ignoreChanges ?? []), "connection"] },
  );
  return record.stdout.apply((s) => s.trim());
}
