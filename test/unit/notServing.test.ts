/**
 * cli/ops/frontRole.ts notServing, the shell check run before a copy of the sleeping list is written onto the
 * other front, run by sh as the remote shell would, for root and for a login that is not root (through sudo).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { notServing, roleOf } from "../../cli/ops/frontRole";

const dir = mkdtempSync(path.join(tmpdir(), "bbb-ovh-not-serving-"));
const bin = path.join(dir, "bin");
mkdirSync(bin);
// Stands in for sudo(8): `sudo -n CMD...` runs CMD as root without a prompt, or fails; here it runs CMD as is,
// which is what this test needs: the command line, quoted through `sh -c '...'`, reaching sh intact. The real
// sudo (installed here) cannot serve: its env_reset (sudoers(5)) drops BBB_OVH_ROOT, so the role it read would
// be this machine's /var/lib/bbb-ovh, not the test's.
writeFileSync(path.join(bin, "sudo"), '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n');
chmodSync(path.join(bin, "sudo"), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROLE = path.join(dir, "var/lib/bbb-ovh/front-role");
function check(username: string, role: string | undefined | "directory") {
  rmSync(ROLE, { recursive: true, force: true });
  mkdirSync(path.dirname(ROLE), { recursive: true });
  if (role === "directory") mkdirSync(ROLE);
  else if (role !== undefined) writeFileSync(ROLE, role);
  const ssh = { host: "203.0.113.20", port: 22, username };
  const r = spawnSync("sh", ["-c", `${notServing(ssh)} && echo write`], { env: { PATH: `${bin}:/usr/bin:/bin`, BBB_OVH_ROOT: dir }, input: "list\n" });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe.each(["root", "ubuntu"])("notServing as %s", (username) => {
  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["standby", "standby\n"],
    ["fenced", "fenced\n"],
  ])("lets the copy be written when the role is %s", (_what, role) => {
    expect(check(username, role)).toMatchObject({ code: 0, stdout: "write\n" });
  });

  it.each([
    ["primary", "primary\n"],
    ["primary with trailing blanks (a hand edit)", "primary \r\n"],
  ])("refuses, saying why, when it says %s", (_what, role) => {
    expect(check(username, role)).toEqual({ code: 1, stdout: "", stderr: "it serves now (front-role primary): its own runs keep its list\n" });
  });

  it("refuses when the role cannot be read", () => {
    const r = check(username, "directory");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/Is a directory/);
  });
});

describe("roleOf, what ops reads of a front-role file", () => {
  it("is what precedes the first white space, as the host steps' front_role reads it", () => {
    expect(["", "\n", "standby\n", "fenced", "primary  since 2026-12-06\nstandby\n", " primary\n"].map(roleOf)).toEqual([
      "",
      "",
      "standby",
      "fenced",
      "primary",
      "",
    ]);
  });
});
