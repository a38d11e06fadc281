import { describe, expect, it } from "vitest";
import {
  renderCopyAuthorizedKey,
  renderSpoolAuthorizedKeys,
  renderTransferKnownHosts,
  renderTransferSshConfig,
} from "../../components/scalelite/renderRecordingTransfer";
import { INCOMING_DIR, RECORDING_DIR } from "../../components/scalelite/recordingLayout";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

describe("renderSpoolAuthorizedKeys", () => {
  it("gives each node one line: its own addresses only, every SSH feature off, the receiver confined to its own target", () => {
    const text = renderSpoolAuthorizedKeys([
      { name: "bbb-sbg", ipv4: "192.0.2.21", ipv6: "2001:DB8::21", publicKey: `${KEY_B} comment dropped\n` },
      { name: "bbb-rbx", ipv4: "192.0.2.22", ipv6: "", publicKey: KEY_A },
    ]);
    // receiver TARGET MAX_ARCHIVE SENDER_LIMIT RESERVE RRSYNC: 10 GiB, 40 GiB, 10 GiB.
    const limits = "10737418240 42949672960 10737418240 /usr/bin/rrsync";
    expect(text).toBe(
      `from="192.0.2.22",restrict,command="/usr/local/lib/bbb-ovh/spool-receive ${INCOMING_DIR}/bbb-rbx ${limits}" ${KEY_A} bbb-ovh-recordings@bbb-rbx\n` +
        `from="192.0.2.21,2001:db8::21",restrict,command="/usr/local/lib/bbb-ovh/spool-receive ${INCOMING_DIR}/bbb-sbg ${limits}" ${KEY_B} bbb-ovh-recordings@bbb-sbg\n`,
    );
  });

  it("gives the same text whatever the order of the nodes", () => {
    const a = { name: "a", ipv4: "192.0.2.1", ipv6: "", publicKey: KEY_A };
    const b = { name: "b", ipv4: "192.0.2.2", ipv6: "", publicKey: KEY_B };
    expect(renderSpoolAuthorizedKeys([a, b])).toBe(renderSpoolAuthorizedKeys([b, a]));
  });

  it("refuses, all at once, what would widen the access or break the line", () => {
    const attempt = () =>
      renderSpoolAuthorizedKeys(
        [
          { name: "a", ipv4: "0.0.0.0/0", ipv6: "*", publicKey: KEY_A },
          { name: "b", ipv4: "192.0.2.2", ipv6: "", publicKey: 'ssh-ed25519 AAAA",command="sh' },
          { name: "b", ipv4: "192.0.2.3", ipv6: "", publicKey: "ssh-rsa AAAAB3" },
        ],
        { incomingDir: '/spool" x', limits: { maxArchiveBytes: 0, senderLimitBytes: 1.5, reserveBytes: 1 } },
      );
    expect(attempt).toThrow(/incoming directory '\/spool" x' must be an absolute path/);
    expect(attempt).toThrow(/maxArchiveBytes must be a positive whole number of bytes; senderLimitBytes must be/);
    expect(attempt).toThrow(/a: '0\.0\.0\.0\/0' is not an IPv4 address; a: '\*' is not an IPv6 address/);
    expect(attempt).toThrow(/b: the transfer key must be an OpenSSH ssh-ed25519 public key/);
    expect(attempt).toThrow(/b: listed twice/);
    expect(() => renderSpoolAuthorizedKeys([])).toThrow(/no node/);
  });
});

describe("renderCopyAuthorizedKey", () => {
  it("lets the standby read the recordings through rrsync -ro, from its own address only, with every SSH feature off", () => {
    expect(renderCopyAuthorizedKey({ name: "lb-standby", ipv4: "192.0.2.30", ipv6: "", publicKey: `${KEY_A} dropped comment` })).toBe(
      `from="192.0.2.30",restrict,command="/usr/bin/rrsync -ro ${RECORDING_DIR}" ${KEY_A} bbb-ovh-recordings-copy@lb-standby\n`,
    );
  });

  it("refuses, all at once, a bad address, name, key or path", () => {
    expect(() =>
      renderCopyAuthorizedKey({ name: "LB", ipv4: "0.0.0.0/0", ipv6: "nope", publicKey: "ssh-rsa AAAA" }, { recordingDir: "/srv/rec ordings" }),
    ).toThrow(
      /recording directory '\/srv\/rec ordings'.*standby name 'LB'.*'0\.0\.0\.0\/0' is not an IPv4 address.*'nope' is not an IPv6 address.*ssh-ed25519/,
    );
  });
});

describe("renderTransferSshConfig and renderTransferKnownHosts", () => {
  it("reaches the front by its address under one alias, with our key and its pinned host key only", () => {
    const config = renderTransferSshConfig({ address: "192.0.2.10", port: 22 });
    expect(config).toContain("Host scalelite-front\n  HostName 192.0.2.10\n  Port 22\n  User scalelite-spool\n");
    for (const line of [
      "IdentityFile /etc/bbb-ovh/recording-transfer/id_ed25519",
      "IdentitiesOnly yes",
      "UserKnownHostsFile /etc/bbb-ovh/recording-transfer/known_hosts",
      "GlobalKnownHostsFile /dev/null",
      "HostKeyAlias scalelite-front",
      "StrictHostKeyChecking yes",
      "BatchMode yes",
    ]) {
      expect(config).toContain(`  ${line}\n`);
    }
    expect(renderTransferKnownHosts("ssh-ed25519 AAAAC3Nzfront host@front\n")).toBe("scalelite-front ssh-ed25519 AAAAC3Nzfront\n");
  });

  it("refuses what is not an address, a port, a user or a host key", () => {
    expect(() => renderTransferSshConfig({ address: "front.example.org", port: 0, user: "x y" })).toThrow(
      /front address 'front\.example\.org' is not an IP address; port 0 is not a TCP port; 'x y' is not a Unix user name/,
    );
    expect(() => renderTransferKnownHosts("")).toThrow(/host key/);
    expect(() => renderTransferKnownHosts("ssh-ed25519 AAAA\nmalicious")).toThrow(/host key/);
  });
});
