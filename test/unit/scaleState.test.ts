import { describe, expect, it } from "vitest";
import { parseScaleState } from "../../cli/ops/scale";

describe("ops scale's state file (~/.bbb-ovh/scale-state)", () => {
  it("reads this version's file, an earlier version's (surplus start only), and takes anything unreadable as no state", () => {
    expect(parseScaleState('{"surplusSince":1764662400000,"billedSince":{"bbb1.campus.example":1764660000000}}\n')).toEqual({
      surplusSince: 1764662400000,
      billedSince: { "bbb1.campus.example": 1764660000000 },
    });
    expect(parseScaleState('{"surplusSince":null}\n')).toEqual({ surplusSince: undefined, billedSince: {} });
    expect(parseScaleState('{"surplusSince":5}')).toEqual({ surplusSince: 5, billedSince: {} });
    // A start that is not a number is dropped (that node is then shelved once empty, as with no record).
    expect(parseScaleState('{"billedSince":{"a":"soon","b":7},"surplusSince":"x"}')).toEqual({ surplusSince: undefined, billedSince: { b: 7 } });
    for (const text of ["", "not json", "[1,2]", '{"billedSince":null}']) expect(parseScaleState(text)).toMatchObject({ billedSince: {} });
  });
});
