import { describe, expect, it } from "vitest";
import { problemsOf as problemsWith } from "../support/configProblems";
import { readStackFile } from "../../components/config/stackFile";

const problemsOf = (raw: unknown) => problemsWith(raw, { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true });

describe("control characters in the stack", () => {
  // Host steps take their inputs as one KEY=VALUE line each: a newline would only fail when the
  // step's stdin is written, during `pulumi up`, with nothing naming the field.
  it("rejects newlines and control characters in any string, naming the field, alongside other problems", () => {
    const campus = structuredClone(readStackFile("brest").config["bbb-ovh:campus"].value) as Record<string, any>;
    campus.moodle.dir = "/var/www/moodle\nrm -rf /";
    campus.label = "ISEN\tOuest\u0007";
    campus.adminCidrs = ["10.0.0.0/40"];
    const problems = problemsOf(campus);
    expect(problems).toContainEqual({ path: "campus.moodle.dir", message: "must be a single line without control characters (found \\n)" });
    expect(problems).toContainEqual({ path: "campus.label", message: "must be a single line without control characters (found \\t, \\u0007)" });
    expect(problems.map((p) => p.path)).toContain("campus.adminCidrs[0]");
  });

  it("accepts the stacks shipped under stacks/ (no control characters in them)", () => {
    for (const stack of ["brest", "nantes", "rennes", "training", "lab"]) {
      expect(
        problemsOf(readStackFile(stack).config["bbb-ovh:campus"].value).filter((p) => p.message.includes("control")),
        stack,
      ).toEqual([]);
    }
  });
});
