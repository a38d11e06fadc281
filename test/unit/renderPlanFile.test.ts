import { describe, expect, it } from "vitest";
import { parseCampus, type Campus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { renderPlanFile } from "../../components/monitoring/renderPlanFile";

const SECRETS = { sshPrivateKey: true, turnSecret: true, dnsCredentials: true, moodleSshPrivateKey: true, backupS3Credentials: true };

function campusOf(stack: string, edit: (raw: Record<string, any>) => void = () => {}): Campus {
  const raw = structuredClone(readStackFile(stack).config["bbb-ovh:campus"].value) as Record<string, any>;
  edit(raw);
  return parseCampus(raw, SECRETS);
}

describe("renderPlanFile", () => {
  it("gives each node the capacity ops size gives it, and the end of the term's last day", () => {
    const lines = renderPlanFile(
      campusOf("lab", (raw) => {
        raw.term = { end: "2027-06-30" };
        delete raw.nodes[1].cores;
        delete raw.nodes[1].ramGb;
      }),
    ).split("\n");
    // lab-bbb1: 8 cores, 32 GB, one minimum node (RAM is not its limit): 200 users. lab-bbb2's size is unknown: no line.
    expect(lines.filter((l) => !l.startsWith("#"))).toEqual([
      "capacity_users bbb1.lab.isen-ouest.fr 200",
      `term_end ${Date.parse("2027-07-01T00:00:00Z") / 1000}`,
      "",
    ]);
  });

  it("leaves the term out of a campus without one, and sizes presets by their physical cores", () => {
    const text = renderPlanFile(campusOf("training", (raw) => delete raw.term));
    expect(text).not.toContain("term_end");
    // c2-60: 16 vCores = 8 physical cores (presets.ts), 60 GB.
    expect(text).toContain("capacity_users bbb1.training.isen-ouest.fr 200\n");
  });
});
