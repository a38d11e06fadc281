import { describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { capacityWarnings } from "../../components/planning/sizing";
import { scalingRuleOf, scalingWarnings } from "../../components/scaling/rule";

const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

/** C2-60s (200 users each), `perSite` in each of Strasbourg and Gravelines, behind a Public Cloud front. */
function cloudCampus(perSite: number, over: Partial<CampusInput> = {}) {
  const nodes = ["SBG5", "GRA11"].flatMap((region) =>
    Array.from({ length: perSite }, (_, i) => ({
      name: `bbb-${region.toLowerCase()}-${i + 1}`,
      fqdn: `bbb-${region.toLowerCase()}-${i + 1}.isen-ouest.fr`,
      kind: "publicCloud",
      region,
      flavor: "c2-60",
    })),
  );
  const input = {
    id: "training",
    label: "training",
    dns: { zone: "isen-ouest.fr" },
    adminEmail: "it@isen-ouest.fr",
    sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd it"],
    adminCidrs: ["193.52.128.0/24"],
    recordings: false,
    expected: { concurrentUsers: 300, classrooms: 10 },
    publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
    front: { name: "lb", fqdn: "visio.isen-ouest.fr", kind: "publicCloud", region: "GRA11", flavor: "c2-30" },
    nodes,
    ...over,
  } as CampusInput;
  return parseCampus(input, noSecrets);
}

describe("the scaling rule of a campus", () => {
  it("takes campus.scaling's settings, and its defaults when the stack has none (one node's worth, under failure, 30 min)", () => {
    expect(scalingRuleOf(cloudCampus(2))).toEqual({ policy: "datacenter", marginUsers: 200, marginUnderFailure: true, scaleDownAfterMs: 30 * 60_000 });
    const set = cloudCampus(2, {
      failover: "node",
      scaling: { marginUsers: 50, marginUnderFailure: false, scaleDownAfterMinutes: 45 },
    } as Partial<CampusInput>);
    expect(scalingRuleOf(set)).toEqual({ policy: "node", marginUsers: 50, marginUnderFailure: false, scaleDownAfterMs: 45 * 60_000 });
  });
});

describe("the plan's warning when ops scale cannot keep its margin at the expected peak", () => {
  const scaling = (s: object = {}) => ({ scaling: s }) as Partial<CampusInput>;

  it("warns a stack with campus.scaling whose pool carries the peak under the policy but not the peak plus the margin", () => {
    // 300 users + 200 under 'datacenter': 500 with a site down; two C2-60s a site carry 400 then.
    const [warning, ...rest] = scalingWarnings(cloudCampus(2, scaling()));
    expect(rest).toEqual([]);
    expect(warning).toContain("300 + a margin of 200 = 500 users carried under failover 'datacenter', and the whole pool carries 400 then");
    expect(warning).toContain("npm run ops -- size --users 500 --rooms 10 --failover datacenter");
    expect(warning).toContain("campus.scaling.marginUnderFailure: false");
    // The policy itself holds: capacityWarnings has nothing to say, so this is the plan's only word on it.
    expect(capacityWarnings(cloudCampus(2, scaling()))).toEqual([]);
  });

  it("is quiet with three nodes a site, without campus.scaling, with no margin, or when the margin is spare room the pool has", () => {
    expect(scalingWarnings(cloudCampus(3, scaling()))).toEqual([]);
    expect(scalingWarnings(cloudCampus(2))).toEqual([]);
    expect(scalingWarnings(cloudCampus(2, scaling({ marginUsers: 0 })))).toEqual([]);
    // Spare room: 500 users of room in four nodes' 800, and the 300 present carried with a site down.
    expect(scalingWarnings(cloudCampus(2, scaling({ marginUnderFailure: false })))).toEqual([]);
  });

  it("counts spare room in the whole pool when the margin is not carried under failure", () => {
    const [warning] = scalingWarnings(cloudCampus(2, { ...scaling({ marginUnderFailure: false, marginUsers: 600 }) }));
    expect(warning).toContain("room for 300 + a margin of 600 = 900 users, and the whole pool has 800");
    expect(warning).toContain("--failover none");
    expect(warning).not.toContain("marginUnderFailure: false");
  });

  it("leaves a pool that fails the policy for the peak alone to capacityWarnings, once", () => {
    const small = cloudCampus(1, scaling());
    expect(capacityWarnings(small)).toContainEqual(
      expect.stringMatching(/with site \w+ down \(failover policy 'datacenter'\), the nodes carry about 200 users/),
    );
    expect(scalingWarnings(small)).toEqual([]);
  });
});
