import { describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { frontsMonthly, stackCost } from "../../components/planning/costing";
import { frontRebuildTime, frontWarnings, standbyNotes } from "../../components/planning/frontFailover";
import { PRICE_TABLE } from "../../components/planning/prices";
import { size } from "../../cli/ops/size";

const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

/** The held-out layout of issue 16: a new school on Public Cloud, its front in GRA11 beside half the nodes. */
function newSchool(over: Partial<CampusInput> = {}): CampusInput {
  return {
    id: "school",
    label: "A new school",
    dns: { zone: "school.example.org", ttl: 120 },
    adminEmail: "it@school.example.org",
    sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rGpnmXgQ4i0zA0l1rKsdHn1nBfC7LxX5GmSmSb3Vd it"],
    adminCidrs: ["193.52.128.0/24"],
    expected: { concurrentUsers: 150, classrooms: 8 },
    publicCloud: { projectId: "0123456789abcdef0123456789abcdef" },
    front: { name: "lb", fqdn: "visio.school.example.org", kind: "publicCloud", region: "GRA11", flavor: "c2-30" },
    nodes: [
      { name: "bbb-sbg", fqdn: "bbb1.school.example.org", kind: "publicCloud", region: "SBG5", flavor: "c2-60" },
      { name: "bbb-gra", fqdn: "bbb2.school.example.org", kind: "publicCloud", region: "GRA11", flavor: "c2-60" },
    ],
    ...over,
  } as CampusInput;
}

const standbyIn = (region: string) => ({ name: "lb-standby", fqdn: "visio-standby.school.example.org", kind: "publicCloud", region, flavor: "c2-30" });
const spof = /single point of failure: the front lb/;

describe("the front under failover 'datacenter'", () => {
  it("warns that a front without standby is a single point of failure, and what losing its site costs", () => {
    const warnings = frontWarnings(parseCampus(newSchool(), noSecrets));
    const warning = warnings.find((w) => spof.test(w));
    expect(warning).toBeDefined();
    // Names the site, the missing setting, the rebuild time with its source, the restore and what is lost.
    expect(warning).toMatch(/is in gravelines with no standby front in another site \(campus\.standbyFront\)/);
    expect(warning).toMatch(
      /losing gravelines every lesson stops until a new front is built \(~\d+(\.\d)? min: Public Cloud instance 3 min \+ .*bench\/durations\.ts\)/,
    );
    expect(warning).toMatch(/ops backup restore.* up to 26 h of recordings and meetings are lost/);
  });

  it("says every recording is lost when there is no backup, and nothing about recordings when there are none", () => {
    const noBackup = parseCampus(newSchool({ backup: { enabled: false } } as Partial<CampusInput>), noSecrets);
    expect(frontWarnings(noBackup).join("\n")).toMatch(/with no backup \(campus\.backup\) every recording is lost/);
    const noRecordings = parseCampus(newSchool({ recordings: false }), noSecrets);
    expect(frontWarnings(noRecordings).join("\n")).toMatch(/\(no recordings to restore\)/);
  });

  it("is quiet about the front with a standby in another site (SBG5), and under policies that do not ask for a site", () => {
    const withStandby = parseCampus(newSchool({ standbyFront: standbyIn("SBG5") } as Partial<CampusInput>), noSecrets);
    expect(withStandby.standbyFront).toMatchObject({ name: "lb-standby", site: "strasbourg", role: "front" });
    expect(frontWarnings(withStandby).filter((w) => spof.test(w))).toEqual([]);
    for (const failover of ["node", "none"] as const) expect(frontWarnings(parseCampus(newSchool({ failover }), noSecrets))).toEqual([]);
  });

  it("refuses a standby in the front's own physical site, even under another name of it", () => {
    for (const standby of [
      standbyIn("GRA7"),
      { ...standbyIn("GRA11"), kind: "dedicated", model: "rise-1", datacenter: "gra", region: undefined, flavor: undefined },
    ]) {
      expect(() => parseCampus(newSchool({ standbyFront: standby } as Partial<CampusInput>), noSecrets)).toThrow(
        /campus\.standbyFront: is in gravelines \(\S+\), the front's own site \(GRA11\)/,
      );
    }
  });

  it("checks the standby like any host: unique name and FQDN, inside the zone", () => {
    const clash = { ...standbyIn("SBG5"), name: "lb", fqdn: "visio.elsewhere.org" };
    const error = (() => {
      try {
        parseCampus(newSchool({ standbyFront: clash } as Partial<CampusInput>), noSecrets);
      } catch (e) {
        return String(e);
      }
    })();
    expect(error).toMatch(/campus\.standbyFront\.name: duplicate host name 'lb'/);
    expect(error).toMatch(/campus\.standbyFront\.fqdn: 'visio\.elsewhere\.org' is not inside the DNS zone/);
  });

  it("warns when a standby would wait on HTTP-01 or on a long DNS TTL", () => {
    const campus = parseCampus(
      newSchool({ standbyFront: standbyIn("SBG5"), dns: { zone: "school.example.org", ttl: 3600 } } as Partial<CampusInput>),
      noSecrets,
    );
    const text = frontWarnings(campus).join("\n");
    expect(text).toMatch(/cannot hold a certificate for visio\.school\.example\.org before a failover with HTTP-01/);
    expect(text).toMatch(/campus\.dns\.ttl is 3600 s/);
    const ready = parseCampus(newSchool({ standbyFront: standbyIn("SBG5"), certificates: { challenge: "dns-01" } } as Partial<CampusInput>), {
      ...noSecrets,
      dnsCredentials: true,
    });
    // With DNS-01 and a short TTL a failover waits on nothing: no warning left.
    expect(frontWarnings(ready)).toEqual([]);
    const notes = standbyNotes(ready).join("\n");
    expect(notes).toMatch(/recordings: lb-standby copies lb's published and unpublished recordings every 5 minutes .*read-only/);
    expect(notes).toMatch(
      /its database streams from lb's over TLS with a replication role of its own \(lb-scaleliteReplicationPrimary, then lb-standby-scaleliteReplicationStandby\)/,
    );
    expect(notes).toContain("is already on the standby (DNS-01)");
  });

  it("rebuild time grows with what must be ordered: a dedicated order takes hours, an instance minutes", () => {
    const cloud = frontRebuildTime(parseCampus(newSchool(), noSecrets).front);
    const dedicated = frontRebuildTime(
      parseCampus(
        newSchool({ front: { name: "lb", fqdn: "visio.school.example.org", kind: "dedicated", model: "rise-1", datacenter: "gra" } } as Partial<CampusInput>),
        noSecrets,
      ).front,
    );
    expect(dedicated.minutes - cloud.minutes).toBe(120 - 3);
    expect(cloud.minutes).toBeGreaterThan(10);
  });
});

describe("the standby's cost and the fronts `ops size` counts", () => {
  it("ops estimate prices the standby as a host of its own, and the topologies with it", () => {
    const campus = parseCampus(newSchool({ standbyFront: standbyIn("SBG5") } as Partial<CampusInput>), noSecrets);
    const cost = stackCost(campus, PRICE_TABLE);
    expect(cost.hosts.map((h) => [h.name, h.role])).toEqual([
      ["lb", "front"],
      ["lb-standby", "standby front"],
      ["bbb-sbg", "node"],
      ["bbb-gra", "node"],
    ]);
    const c230 = PRICE_TABLE["c2-30"].monthlyEur as number;
    expect(frontsMonthly(campus, PRICE_TABLE).monthlyEur).toBeCloseTo(2 * c230);
    // Without a standby, 'datacenter' prices one like the front; 'node' prices the front alone.
    const none = parseCampus(newSchool(), noSecrets);
    expect(frontsMonthly(none, PRICE_TABLE)).toMatchObject({ monthlyEur: 2 * c230, label: expect.stringMatching(/a standby front like it/) });
    expect(frontsMonthly(parseCampus(newSchool({ failover: "node" }), noSecrets), PRICE_TABLE).monthlyEur).toBeCloseTo(c230);
  });

  it("ops size counts two fronts under 'datacenter' and one otherwise", () => {
    expect(size({ users: 300, rooms: 12 }).fronts.count).toBe(2);
    expect(size({ users: 300, rooms: 12 }, { policy: "node" }).fronts.count).toBe(1);
  });
});
