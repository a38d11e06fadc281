/** The sleeping list ops keeps on the front (cli/ops/nodePower.ts), which the Scalelite exporter also reads. */
import { describe, expect, it } from "vitest";
import { parseSleepingList, renderSleepingList } from "../../components/schedule/sleepingList";

describe("the sleeping list", () => {
  it("reads the old one-id-a-line format and the pending wake, and writes them back sorted", () => {
    const list = parseSleepingList("bbb2.campus.example wake=1796263200\n\n  bbb1.campus.example  \nbbb3.campus.example wake=soon\n");
    expect([...list]).toEqual([
      ["bbb2.campus.example", 1796263200],
      ["bbb1.campus.example", undefined],
      ["bbb3.campus.example", undefined],
    ]);
    expect(renderSleepingList(list)).toBe("bbb1.campus.example\nbbb2.campus.example wake=1796263200\nbbb3.campus.example\n");
  });
});
