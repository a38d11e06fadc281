/** cli/ops/ssh.ts: a host whose key is unknown is refused before any connection, naming the option that gives it. */
import { describe, expect, it } from "vitest";
import { runRemote } from "../../cli/ops/ssh";

describe("an unknown host key", () => {
  it("the front's: --host-key, or the stack's frontHostKey", async () => {
    await expect(runRemote({ host: "203.0.113.10", port: 22, username: "ubuntu" }, "true", 1000)).rejects.toThrow(
      /^203\.0\.113\.10: configuration: the host's SSH key is unknown .*: pass --host-key 'ssh-ed25519 AAAA\.\.\.' .* outputs include frontHostKey$/,
    );
  });

  it("the standby front's: --standby-host-key, or the stack's standbyHostKey", async () => {
    await expect(runRemote({ host: "203.0.113.20", port: 2222, username: "ubuntu", front: "standby" }, "true", 1000)).rejects.toThrow(
      /^203\.0\.113\.20:2222: configuration: .*: pass --standby-host-key 'ssh-ed25519 AAAA\.\.\.' .* outputs include standbyHostKey$/,
    );
  });
});
