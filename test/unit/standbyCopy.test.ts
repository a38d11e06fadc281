import { describe, expect, it } from "vitest";
import { describeStandbyCopy, parseStandbyCopy } from "../../cli/ops/standbyCopy";

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
    expect(parseStandbyCopy("")).toBeUndefined();
    expect(parseStandbyCopy("last_result=failed\nlast_success=\n")).toEqual({ lastResult: "failed" });
  });

  it("says how far behind the front the copy is, and makes a problem of a failed, stuck or missing copy", () => {
    expect(describeStandbyCopy("lb2", { lastResult: "ok", lastSuccess: NOW - 240, files: 2 }, NOW)).toEqual({
      line: "recordings copy to lb2: ok, 4 min behind the front (last run copied 2 file(s))",
    });
    const stuck = describeStandbyCopy("lb2", { lastResult: "ok", lastSuccess: NOW - 3600 }, NOW);
    expect(stuck.problem).toMatch(/is 60 min behind the front \(it runs every 5 minutes\): is its timer running\?/);
    const failed = describeStandbyCopy("lb2", { lastResult: "failed", lastSuccess: NOW - 600 }, NOW);
    expect(failed.line).toBe("recordings copy to lb2: FAILED, 10 min behind the front");
    expect(failed.problem).toMatch(/the last recordings copy to lb2 failed .*10 min behind the front/);
    expect(describeStandbyCopy("lb2", { lastResult: "failed" }, NOW).problem).toMatch(/never succeeded/);
    expect(describeStandbyCopy("lb2", undefined, NOW).problem).toMatch(/no recordings copy has run on lb2 yet/);
    expect(describeStandbyCopy("lb2", { lastResult: "serving" }, NOW)).toEqual({ line: "recordings copy to lb2: none, lb2 serves (promoted by ops failover)" });
  });
});
