import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { failoverModel, renderFailover, replaceSection } from "../../bench/failoverModel";

describe("the failover model (bench/failoverModel.ts)", () => {
  it("adds up its parts, each with its basis, and says the DNS TTL comes on top", () => {
    const m = failoverModel(120);
    expect(m.parts.every((p) => p.basis.length > 20 && p.minutes > 0)).toBe(true);
    expect(m.minutes).toBeCloseTo(m.parts.reduce((s, p) => s + p.minutes, 0));
    const text = renderFailover(m);
    expect(text).toContain(`RTO: **${m.minutes.toFixed(1)} min** from the command (goal: under 5 min), plus the DNS TTL (2 min)`);
    expect(text).toMatch(/published recordings \| at most 5 min \+ one copy's duration/);
  });

  it("the README and bench/RESULTS.md show the model's figure", () => {
    const figure = `${failoverModel().minutes.toFixed(1)} min`;
    expect(readFileSync(path.join(__dirname, "../../README.md"), "utf8")).toContain(`| ${figure} (goal: under 5)`);
    expect(readFileSync(path.join(__dirname, "../../bench/RESULTS.md"), "utf8")).toContain(`RTO: **${figure}** from the command`);
  });

  it("replaces its own section of RESULTS.md and nothing else, or adds it before the next one", () => {
    const doc = "# R\n\n## A\na\n\n## B\nold\n\n## C\nc\n";
    expect(replaceSection(doc, "## B", "## B\nnew\n", "## C")).toBe("# R\n\n## A\na\n\n## B\nnew\n\n## C\nc\n");
    expect(replaceSection("# R\n\n## C\nc\n", "## B", "## B\nnew\n", "## C")).toBe("# R\n\n## B\nnew\n\n## C\nc\n");
    expect(replaceSection("# R\n\n## B\nold\n", "## B", "## B\nnew\n", "## C")).toBe("# R\n\n## B\nnew\n");
  });
});
