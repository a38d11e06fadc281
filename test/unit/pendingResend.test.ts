import { describe, expect, it } from "vitest";
import { parsePendingResend } from "../../cli/ops/pendingResend";

describe("the nodes a failover could not point at the new front (~/.bbb-ovh/resend-pending)", () => {
  const to = { name: "lb-standby", ipv4: "203.0.113.7", sshPort: 22, hostKey: "ssh-ed25519 AAAAC3Nza" };

  it("reads what the failover wrote", () => {
    expect(parsePendingResend(`${JSON.stringify({ to, since: 1764000000, nodes: ["bbb-sbg-1", "bbb-gra-2"] })}\n`)).toEqual({
      to,
      since: 1764000000,
      nodes: ["bbb-sbg-1", "bbb-gra-2"],
    });
  });

  it("an empty, cut or hand-edited file lists no node (a wake then points nothing anywhere)", () => {
    expect(parsePendingResend("")).toBeUndefined();
    expect(parsePendingResend('{"to":{"name":"lb-standby"')).toBeUndefined();
    expect(parsePendingResend(JSON.stringify({ to: { ...to, sshPort: "22" }, since: 1, nodes: ["a"] }))).toBeUndefined();
    expect(parsePendingResend(JSON.stringify({ to, since: 1.5, nodes: ["a"] }))).toBeUndefined();
    expect(parsePendingResend(JSON.stringify({ to, since: 1, nodes: "a" }))).toBeUndefined();
    expect(parsePendingResend("null")).toBeUndefined();
  });
});
