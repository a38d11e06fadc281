import { describe, expect, it } from "vitest";
import { describeStandbyCopy, parseStandbyCopy, standbyCopiesToShow } from "../../cli/ops/standbyCopy";

const NOW = 1_764_700_000;

describe("the standby's recordings copy in ops status", () => {
  it("reads the status file the pull writes, ignoring what it does not know", () => {
    expect(parseStandbyCopy(`last_attempt=${NOW}\nlast_result=ok\nlast_success=${NOW - 10}\nfiles=3\nbytes=12\nother=x\n`)).toEqual({
      lastResult: "ok",
      lastAttempt: NOW,
      lastSuccess: NOW - 10,
      files: 3,
      bytes: 12,
    });
    expect(parseStandbyCopy(`last_result=fenced\nrole=fenced\n`)).toEqual({ lastResult: "fenced", role: "fenced" });
    expect(parseStandbyCopy("")).toBeUndefined();
    expect(parseStandbyCopy("last_result=failed\nlast_success=\n")).toEqual({ lastResult: "failed" });
  });

  it("says how far behind the serving front the copy is, and makes a problem of a failed, stuck or missing copy", () => {
    expect(describeStandbyCopy("lb2", { lastResult: "ok", lastSuccess: NOW - 240, files: 2 }, NOW)).toEqual({
      line: "recordings copy to lb2: ok, 4 min behind the serving front (last run copied 2 file(s))",
    });
    const stuck = describeStandbyCopy("lb2", { lastResult: "ok", lastSuccess: NOW - 3600 }, NOW);
    expect(stuck.problem).toMatch(/is 60 min behind the serving front \(it runs every 5 minutes\): is its timer running\?/);
    const failed = describeStandbyCopy("lb2", { lastResult: "failed", lastSuccess: NOW - 600 }, NOW);
    expect(failed.line).toBe("recordings copy to lb2: FAILED, 10 min behind the serving front");
    expect(failed.problem).toMatch(/the last recordings copy to lb2 failed .*10 min behind the serving front/);
    expect(describeStandbyCopy("lb2", { lastResult: "failed" }, NOW).problem).toMatch(/never succeeded/);
    expect(describeStandbyCopy("lb2", undefined, NOW).problem).toMatch(/no recordings copy has run on lb2 yet/);
    expect(describeStandbyCopy("lb2", { lastResult: "serving" }, NOW)).toEqual({ line: "recordings copy to lb2: none, lb2 serves (promoted by ops failover)" });
    expect(describeStandbyCopy("lb", { lastResult: "fenced", role: "fenced" }, NOW)).toEqual({
      line: "recordings copy to lb: none, lb is fenced (front-role), not a standby: ops failback makes it one",
    });
  });

  it("shows the copy of whichever front is the standby: the front itself after a failback swapped them", () => {
    const front = (role: string, lastResult = role === "standby" ? "ok" : "serving") => ({ name: "lb", copy: { lastResult, role } });
    const standby = (role: string, lastResult = role === "standby" ? "ok" : "serving") => ({ name: "lb2", copy: { lastResult, role } });
    // As deployed: the front serves, the standby copies.
    expect(standbyCopiesToShow([standby("standby"), front("primary")], "lb2").map((f) => f.name)).toEqual(["lb2"]);
    // Mid-failback: the front was made the standby of lb2, which still serves.
    expect(standbyCopiesToShow([standby("primary"), front("standby")], "lb2").map((f) => f.name)).toEqual(["lb"]);
    // After a failover, before failback: nobody is a standby; the stack's standby says it serves.
    expect(standbyCopiesToShow([standby("primary"), front("fenced", "fenced")], "lb2").map((f) => f.name)).toEqual(["lb2"]);
    // The front unreachable (its site down) and a standby that never ran a copy yet: still the standby's line.
    expect(standbyCopiesToShow([{ name: "lb2", copy: undefined }], "lb2")).toEqual([{ name: "lb2", copy: undefined }]);
  });
});
