import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadTarget } from "../../cli/ops/stackSource";
import { STACK_DIR } from "../../components/config/stackFile";
import { scratch } from "./cli";

const NODE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKjTSIn0cVq8w0tVZcFAl3+ulYm6i0V7FQKXh7UzLDOy lab-bbb1";

/** The lab stack file with its existing hosts moved to other SSH ports, written to a scratch directory. */
function movedLab(): string {
  const doc = parseDocument(readFileSync(path.join(STACK_DIR, "Pulumi.lab.yaml"), "utf8"));
  doc.setIn(["config", "bbb-ovh:campus", "front", "sshPort"], 2222);
  doc.setIn(["config", "bbb-ovh:campus", "nodes", 0, "sshPort"], 2222);
  doc.setIn(["config", "bbb-ovh:campus", "nodes", 1, "sshPort"], 2200);
  doc.setIn(["config", "bbb-ovh:campus", "nodes", 0, "hostKey"], NODE_HOST_KEY);
  const file = path.join(scratch(), "Pulumi.lab.yaml");
  writeFileSync(file, doc.toString());
  return file;
}

describe("ops reaches each host on the port the stack gives it (components/hosts/sshPort.ts)", () => {
  it("the front and every node on their own sshPort", async () => {
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: { PATH: "" } };
    const target = await loadTarget(movedLab(), {}, io, { outputs: false });
    expect(target.campusProblem).toBeUndefined();
    expect(target.ssh?.port).toBe(2222);
    expect(target.nodes.map((n) => [n.name, n.sshPort])).toEqual([
      ["lab-bbb1", 2222],
      ["lab-bbb2", 2200],
    ]);
    // A node whose host key the stack pins is reached (after a failover, to repoint its recordings) at its address, as its user.
    expect(target.nodes.map((n) => n.ssh && [n.ssh.host, n.ssh.port, n.ssh.username, n.ssh.hostKey])).toEqual([
      ["198.51.100.11", 2222, "ubuntu", NODE_HOST_KEY],
      undefined,
    ]);
    // --ssh-port still wins for the front.
    expect((await loadTarget(movedLab(), { sshPort: 2022 }, io, { outputs: false })).ssh?.port).toBe(2022);
  });
});
