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
 * pins it. The command never re-runs, so a changed key later makes SSH fail with a host key
 * mismatch instead of being silently accepted.
 */
export function recordHostKey(
  name: string,
  args: { host: pulumi.Input<string>; user: string; port?: number; privateKey: pulumi.Input<string> },
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const record = new remote.Command(
    `${name}-host-key-tofu`,
    {
      connection: sshConnection(args),
      create: "cat /etc/ssh/ssh_host_ed25519_key.pub",
    },
    opts,
  );
  return record.stdout.apply((s) => s.trim());
}
