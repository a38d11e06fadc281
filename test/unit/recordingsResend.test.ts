import { describe, expect, it } from "vitest";
import { switchSteps } from "../../cli/ops/failoverPlan";
import { execFileSync } from "node:child_process";
import { asRoot } from "../../cli/ops/ssh";
import { describeResend, parseResend, repointCommand, RESEND_MARGIN_SECONDS, keepCommand, resendSince } from "../../cli/ops/recordingsResend";

const front = { name: "lb-standby", ipv4: "198.51.100.20", sshPort: 2222, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheStandby comment" };

describe("the resend of kept recordings after a switch", () => {
  it("reaches back a margin before the new front's last successful copy, and to every kept archive when none is known", () => {
    expect(resendSince(1_800_000_000)).toBe(1_800_000_000 - RESEND_MARGIN_SECONDS);
    expect(resendSince(undefined)).toBe(0);
    expect(resendSince(60)).toBe(0);
  });

  it("reaches back further when the old front held archives it had not imported at that copy (an importer stopped for hours)", () => {
    const copy = 1_800_000_000;
    expect(resendSince(copy, copy - 5 * 3600)).toBe(copy - 5 * 3600 - RESEND_MARGIN_SECONDS);
    // None pending: the copy's own start (what the pull writes then); a later time never shortens the reach.
    expect(resendSince(copy, copy)).toBe(copy - RESEND_MARGIN_SECONDS);
    expect(resendSince(copy, copy + 600)).toBe(copy - RESEND_MARGIN_SECONDS);
  });

  it("points the node's ssh_config and known_hosts at the new front, each replaced by a rename; runs the resend as bigbluebutton", () => {
    const command = repointCommand(front);
    expect(command).toContain("s/^  HostName .*/  HostName 198.51.100.20/");
    expect(command).toContain("s/^  Port .*/  Port 2222/");
    expect(command).toContain(`printf '%s\\n' 'scalelite-front ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheStandby'`);
    expect(command).toMatch(/mv -f "\$d\/\.ssh_config\.new" "\$d\/ssh_config".*mv -f "\$d\/\.known_hosts\.new" "\$d\/known_hosts"/);
    // Marked last, once both files point there: the node's recordings step keeps this front until the stack names it.
    expect(command).toMatch(/printf '%s %s\\n' 198\.51\.100\.20 2222 > "\$d\/\.front-by-ops\.new" && mv -f "\$d\/\.front-by-ops\.new" "\$d\/front-by-ops"$/);
    expect(keepCommand("resend", 1_800_000_000.7)).toBe(
      'runuser -u bigbluebutton -- "${BBB_OVH_ROOT:-}/usr/local/sbin/bbb-ovh-recording-keep" resend 1800000000',
    );
  });

  it("runs it through sudo for a login that is not root, its quotes intact", () => {
    const command = repointCommand(front);
    const wrapped = asRoot({ host: "n", port: 22, username: "ubuntu" }, command);
    expect(wrapped.startsWith("sudo -n sh -c '")).toBe(true);
    // What sh hands to `sh -c` is the command itself.
    expect(execFileSync("sh", ["-c", wrapped.replace(/^sudo -n sh -c /, "printf %s ")], { encoding: "utf8" })).toBe(command);
    expect(asRoot({ host: "n", port: 22, username: "root" }, command)).toBe(command);
  });

  it("refuses an address or port that would not be one, naming both", () => {
    expect(() => repointCommand({ ...front, ipv4: "x; rm -rf /", sshPort: 0 })).toThrow(/'x; rm -rf \/' is not an IPv4 address; 0 is not a TCP port/);
    expect(() => repointCommand({ ...front, hostKey: "ssh-ed25519 AAAA'quote" })).toThrow(/host key/);
  });

  it("reads the counts of the node's last line, and says which nodes were not done", () => {
    expect(parseResend("recording-keep: resent a\nrecording-keep: resent=3 failed=1\n")).toEqual({ resent: 3, failed: 1 });
    expect(parseResend("usage")).toBeUndefined();
    const line = describeResend(
      [
        { node: "bbb-sbg", ok: true, repointed: true, answered: true, resent: 3, failed: 0, ms: 10, detail: "3 resent" },
        { node: "bbb-gra", ok: false, repointed: false, answered: false, resent: 0, failed: 0, ms: 10, detail: "connect ETIMEDOUT" },
      ],
      "lb-standby",
    );
    expect(line).toBe(
      "1 of 2 node(s) now send to lb-standby; 3 kept archive(s) sent again; not done on bbb-gra: connect ETIMEDOUT (run the failover again once they answer: their copies stay kept)",
    );
    // After a restore the nodes are not repointed: they already send to that front.
    expect(
      describeResend(
        [{ node: "bbb-sbg", ok: true, repointed: false, answered: true, resent: 1, failed: 0, ms: 10, detail: "1 resent" }],
        "lb",
        "ops backup resend",
        false,
      ),
    ).toBe("1 of 1 node(s) reached, sending to lb; 1 kept archive(s) sent again");
  });

  it("is the last step of a switch with recordings, after the signed check; none without recordings", () => {
    const input = { from: "lb", to: "lb-standby", fqdn: "visio.school.example.org", zone: "school.example.org", fromAnswers: false, planned: false };
    const steps = switchSteps({ ...input, recordings: true });
    expect(steps.slice(-2).map((s) => `${s.id}@${s.on}`)).toEqual(["smoke@visio.school.example.org", "resend-recordings@nodes"]);
    expect(steps.at(-1)?.what).toMatch(/sends again the archives it kept that it delivered since lb-standby's last recordings copy less 60 min/);
    expect(switchSteps(input).map((s) => s.id)).not.toContain("resend-recordings");
  });
});
