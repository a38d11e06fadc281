import { parkedSubDomain } from "../../components/dns/parkedSubDomain";
import { describe, expect, it } from "vitest";
import {
  certificateRetryDelays,
  describeDnsChange,
  dnsChanges,
  failbackSteps,
  lagBytes,
  lsnBytes,
  presumedDown,
  recordingsCopyVerdict,
  recordingsRpoNote,
  serversYaml,
  subDomainOf,
  switchSteps,
} from "../../cli/ops/failoverPlan";

const input = { from: "lb", to: "lb-standby", fqdn: "visio.school.example.org", zone: "school.example.org" };

describe("the order of a failover", () => {
  it("fences first and catches up before promoting; Scalelite starts on the promoted database; DNS moves after Redis; the signed check closes", () => {
    expect(switchSteps({ ...input, fromAnswers: true, planned: false }).map((s) => `${s.id}@${s.on}`)).toEqual([
      "fence@lb",
      "catch-up@lb-standby",
      "promote@lb-standby",
      "start-scalelite@lb-standby",
      "rebuild-redis@lb-standby",
      "switch-dns@OVH API",
      "smoke@visio.school.example.org",
    ]);
  });

  it("with campus.backup, ends with a first backup on the new front, after the meetings and the recordings; failback too", () => {
    const steps = switchSteps({ ...input, fromAnswers: true, planned: false, recordings: true, backup: true });
    expect(steps.slice(-3).map((s) => `${s.id}@${s.on}`)).toEqual(["smoke@visio.school.example.org", "resend-recordings@nodes", "first-backup@lb-standby"]);
    expect(steps.at(-1)!.what).toMatch(/^systemctl start --no-block bbb-ovh-backup\.service: .*not waited for/);
    expect(switchSteps({ ...input, fromAnswers: true, planned: false }).map((s) => s.id)).not.toContain("first-backup");
    const back = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone, backup: true }).map((s) => `${s.id}@${s.on}`);
    expect(back.slice(-3)).toEqual(["first-backup@lb", "admit@lb", "rebuild-standby@lb-standby"]);
  });

  it("skips fencing and catching up only for a primary that does not answer", () => {
    const ids = switchSteps({ ...input, fromAnswers: false, planned: false }).map((s) => s.id);
    expect(ids).not.toContain("fence");
    expect(ids).not.toContain("catch-up");
    expect(ids[0]).toBe("promote");
  });

  it("failback rebuilds the old front as a standby before switching, with a catch-up that must lose nothing, then re-protects the other side", () => {
    const steps = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone });
    expect(steps.map((s) => `${s.id}@${s.on}`)).toEqual([
      "fence@lb",
      "admit@lb-standby",
      "rebuild-standby@lb",
      "fence@lb-standby",
      "catch-up@lb",
      "promote@lb",
      "start-scalelite@lb",
      "rebuild-redis@lb",
      "switch-dns@OVH API",
      "smoke@visio.school.example.org",
      "admit@lb",
      "rebuild-standby@lb-standby",
    ]);
    expect(steps.find((s) => s.id === "catch-up")?.what).toMatch(/required: a planned switch loses nothing/);
    // The front coming back may have started Scalelite at boot (never fenced after a --primary-down failover).
    expect(steps[0].what).toMatch(/^only if its scalelite.target runs .*--primary-down/);
  });

  it("with recordings, failback copies them back before the switch and, once the serving front is fenced, checks nothing is left before promoting", () => {
    const steps = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone, recordings: true });
    expect(steps.map((s) => `${s.id}@${s.on}`).slice(1, 7)).toEqual([
      "admit@lb-standby",
      "rebuild-standby@lb",
      "copy-recordings@lb",
      "fence@lb-standby",
      "catch-up@lb",
      "copy-recordings@lb",
    ]);
    expect(steps[6].what).toMatch(/--verify: .*dry run must find nothing left to copy \(required: a planned switch/);
    expect(steps[7].id).toBe("promote");
  });

  it("failback --standby-only stops once the front is a standby holding the recordings: nothing fenced on the serving side, no switch", () => {
    const steps = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone, recordings: true, standbyOnly: true });
    expect(steps.map((s) => `${s.id}@${s.on}`)).toEqual(["fence@lb", "admit@lb-standby", "rebuild-standby@lb", "copy-recordings@lb"]);
    const whole = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone, recordings: true });
    expect(whole.slice(0, 4)).toEqual(steps);
  });

  it("with recordings, a failover whose front answers copies them once more after fencing, before promoting; not when it is presumed down", () => {
    const steps = switchSteps({ ...input, fromAnswers: true, planned: false, recordings: true });
    expect(steps.map((s) => `${s.id}@${s.on}`).slice(0, 4)).toEqual(["fence@lb", "catch-up@lb-standby", "copy-recordings@lb-standby", "promote@lb-standby"]);
    expect(steps[2].what).toMatch(/--verify: .*\(required: lb is fenced, its importer stopped: no recording is left behind on it\)/);
    expect(switchSteps({ ...input, fromAnswers: false, planned: false, recordings: true }).map((s) => s.id)).not.toContain("copy-recordings");
  });
});

describe("the recordings check of a failback", () => {
  const run = (code: number | null, stdout: string, stderr = "") => recordingsCopyVerdict({ code, stdout, stderr }, "lb-standby", "lb");
  it("passes when the pull says nothing is left to copy", () => {
    const out =
      "recordings-pull: copied 2 file(s), 10 bytes of recordings from the serving front\nrecordings-pull: nothing left to copy: this front holds every recording the serving front has\n";
    expect(run(0, out)).toBe("copied 2 file(s), 10 bytes of recordings from the serving front; nothing left to copy from lb-standby");
  });
  it("stops the failback naming how many files are left, or why the pull failed", () => {
    expect(() => run(3, "recordings-pull: copied 0 file(s), 0 bytes\nrecordings-pull: 4 file(s) still to copy from the serving front\n")).toThrow(
      /lb: unhealthy: does not hold every recording lb-standby has \(4 file\(s\) still to copy from lb-standby after a copy\): failback stops before the switch, nothing was promoted/,
    );
    expect(() => run(1, "", "recordings-pull: error: this front is not the standby (serving): it copies nothing\n")).toThrow(
      /\(error: this front is not the standby \(serving\): it copies nothing\)/,
    );
    // Exit 0 without the line that says the check ran (an older pull command without --verify) is no proof.
    expect(() => run(0, "recordings-pull: copied 0 file(s), 0 bytes\n")).toThrow(/does not hold every recording/);
  });
  it("in a failover, says the old front is fenced with nothing promoted, and how to promote without the copy", () => {
    expect(() =>
      recordingsCopyVerdict(
        { code: 3, stdout: "recordings-pull: 2 file(s) still to copy from the serving front\n", stderr: "" },
        "lb",
        "lb-standby",
        "failover",
      ),
    ).toThrow(
      /lb-standby: unhealthy: does not hold every recording lb has \(2 file\(s\) still to copy from lb after a copy\): failover stops before promoting, nothing was promoted and lb is fenced .*--primary-down to promote without them/,
    );
  });
  it("gives the recordings RPO: none once verified, else the copy interval and the age of the last copy", () => {
    expect(recordingsRpoNote({ from: "lb", to: "lb-standby", verified: true })).toBe("none: lb-standby holds every recording lb has (verified after fencing)");
    expect(recordingsRpoNote({ from: "lb", to: "lb-standby", verified: false, lastCopySecondsAgo: 42.4 })).toBe(
      "the copy interval (5 min): what lb published after lb-standby's last copy is not on lb-standby (its last copy started 42 s before promotion), but for what the nodes that answer send again (resend-recordings)",
    );
    expect(recordingsRpoNote({ from: "lb", to: "lb-standby", verified: false })).toMatch(
      /\(no successful copy recorded\), but for what the nodes that answer send again \(resend-recordings\)$/,
    );
  });
});

describe("a primary that does not answer", () => {
  it("is refused without --primary-down, naming the flag and the risk of two fronts", () => {
    expect(() => presumedDown("lb", "TCP: connect ECONNREFUSED", false)).toThrow(/lb does not answer .*--primary-down.*two fronts would accept meetings/);
  });
  it("is presumed down with --primary-down, and the report says so", () => {
    expect(presumedDown("lb", "timeout", true)).toBe("lb does not answer (timeout): presumed down (--primary-down), not fenced");
  });
});

describe("replication lag in bytes", () => {
  it("reads LSNs as 64-bit positions across the high word", () => {
    expect(lsnBytes("0/3000060")).toBe(0x3000060n);
    expect(lsnBytes("16/B374D848")).toBe((0x16n << 32n) + 0xb374d848n);
    expect(lagBytes("1/00000010", "0/FFFFFFF0")).toBe(0x20);
    expect(lagBytes("0/100", "0/100")).toBe(0);
    // A standby ahead of a position read earlier has nothing left to replay.
    expect(lagBytes("0/100", "0/200")).toBe(0);
    expect(() => lsnBytes("not-an-lsn")).toThrow(/not a PostgreSQL LSN/);
  });
});

describe("the DNS switch", () => {
  it("names the record inside its zone, the apex included, and refuses a name outside it", () => {
    expect(subDomainOf("visio.school.example.org", "school.example.org")).toBe("visio");
    expect(subDomainOf("school.example.org", "school.example.org")).toBe("");
    expect(() => subDomainOf("visio.other.org", "school.example.org")).toThrow(/not inside the DNS zone school\.example\.org/);
  });

  const create = { subDomain: "visio", ttl: 120 };
  const records = [
    { id: 1, fieldType: "A", subDomain: "visio", target: "198.51.100.10" },
    { id: 2, fieldType: "A", subDomain: "visio", target: "203.0.113.20" },
    { id: 3, fieldType: "AAAA", subDomain: "visio", target: "2001:db8::10" },
  ];

  it("moves each A record not already there, and each AAAA to the new front's IPv6", () => {
    const { changes, problems } = dnsChanges(records, { ipv4: "203.0.113.20", ipv6: "2001:db8::20" }, create);
    expect(problems).toEqual([]);
    expect(changes).toEqual([
      { kind: "put", id: 1, fieldType: "A", from: "198.51.100.10", to: "203.0.113.20" },
      { kind: "put", id: 3, fieldType: "AAAA", from: "2001:db8::10", to: "2001:db8::20" },
    ]);
    expect(changes.map(describeDnsChange)).toEqual(["A 198.51.100.10 -> 203.0.113.20", "AAAA 2001:db8::10 -> 2001:db8::20"]);
    expect(dnsChanges([], { ipv4: "203.0.113.20" }, create).problems).toEqual([expect.stringMatching(/no A record/)]);
  });

  it("parks the AAAA records under another name when the new front has no IPv6 (a dedicated server), so IPv6 clients leave the old front", () => {
    const { changes, problems } = dnsChanges(records, { ipv4: "203.0.113.20" }, create);
    expect(problems).toEqual([]);
    expect(changes).toContainEqual({ kind: "park", id: 3, fieldType: "AAAA", from: "2001:db8::10", subDomain: "bbb-ovh-parked.visio" });
    expect(changes.map(describeDnsChange)).toContain("AAAA 2001:db8::10 parked at bbb-ovh-parked.visio (the new front has no IPv6)");
    expect(parkedSubDomain("")).toBe("bbb-ovh-parked");
  });

  it("puts a parked AAAA record back (same id, the stack's subdomain and TTL) when the front coming back has an IPv6; creates one only when none is parked", () => {
    const onlyA = records.filter((r) => r.fieldType === "A");
    const parked = { id: 3, fieldType: "AAAA", subDomain: "bbb-ovh-parked.visio", target: "2001:db8::10" };
    const back = dnsChanges([...onlyA, parked], { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, create).changes;
    expect(back).toEqual([
      { kind: "put", id: 2, fieldType: "A", from: "203.0.113.20", to: "198.51.100.10" },
      { kind: "unpark", id: 3, fieldType: "AAAA", subDomain: "visio", to: "2001:db8::10", ttl: 120 },
    ]);
    expect(back.map(describeDnsChange)).toContain("AAAA 2001:db8::10 back from bbb-ovh-parked.visio (TTL 120 s)");
    // What a version before parking left: the AAAA deleted, none parked.
    expect(dnsChanges(onlyA, { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, create).changes).toEqual([
      { kind: "put", id: 2, fieldType: "A", from: "203.0.113.20", to: "198.51.100.10" },
      { kind: "post", fieldType: "AAAA", subDomain: "visio", to: "2001:db8::10", ttl: 120 },
    ]);
    // Nothing without an A record (the switch stops there), nor twice once it is back.
    expect(dnsChanges([parked], { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, create).changes).toEqual([]);
    const done = [...onlyA.map((r) => ({ ...r, target: "198.51.100.10" })), { ...parked, subDomain: "visio" }];
    expect(dnsChanges(done, { ipv4: "198.51.100.10", ipv6: "2001:db8::10" }, create).changes).toEqual([]);
  });

  it("--dry-run says what the AAAA records become, and where the certificate step goes: after DNS with HTTP-01, first with DNS-01", () => {
    const dns = (toIpv6?: string) => switchSteps({ ...input, fromAnswers: true, planned: false, toIpv6 }).find((s) => s.id === "switch-dns")?.what;
    expect(dns("2001:db8::20")).toMatch(/AAAA := 2001:db8::20 \(PUT; when the name has none, PUT back those parked at bbb-ovh-parked\.visio, or POST one\)/);
    expect(dns()).toMatch(/AAAA records parked at bbb-ovh-parked\.visio by PUT \(lb-standby has no IPv6/);
    const ids = switchSteps({ ...input, fromAnswers: true, planned: false, challenge: "http-01" }).map((s) => `${s.id}@${s.on}`);
    expect(ids.slice(-3)).toEqual(["switch-dns@OVH API", "certificate@lb-standby", "smoke@visio.school.example.org"]);
    expect(switchSteps({ ...input, fromAnswers: true, planned: false }).map((s) => s.id)).not.toContain("certificate");
    // DNS-01: the standby holds the certificate already; checked (and renewed if it ends soon) before the fence.
    const dns01 = switchSteps({ ...input, fromAnswers: true, planned: false, challenge: "dns-01" });
    expect(dns01.map((s) => `${s.id}@${s.on}`).slice(0, 2)).toEqual(["certificate@lb-standby", "fence@lb"]);
    expect(dns01.filter((s) => s.id === "certificate")).toHaveLength(1);
    expect(dns01[0].what).toMatch(/by DNS-01 .*before anything changes/);
    const back = failbackSteps({ serving: "lb-standby", back: "lb", fqdn: input.fqdn, zone: input.zone, backIpv6: "2001:db8::10", challenge: "http-01" });
    expect(back.find((s) => s.id === "certificate")?.on).toBe("lb");
    expect(back.find((s) => s.id === "switch-dns")?.what).toMatch(/AAAA := 2001:db8::10/);
  });

  it("retries the certificate past the zone's TTL, at most 4 attempts (Let's Encrypt's 5 failed validations per hour)", () => {
    for (const ttl of [60, 300, 3600]) {
      const delays = certificateRetryDelays(ttl);
      expect(delays).toHaveLength(3);
      expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual((ttl + 30) * 1000);
      expect(delays[1]).toBe(2 * delays[0]);
    }
    expect(certificateRetryDelays(0)[0]).toBe(10_000);
  });
});

describe("the server list Redis is rebuilt from", () => {
  it("carries every node with its own secret, multiplier, tag and declared state", () => {
    const yaml = serversYaml([
      { fqdn: "bbb1.school.example.org", secret: "s1", loadMultiplier: 2, tag: "exam" },
      { fqdn: "bbb2.school.example.org", secret: "s2", state: "cordoned" },
    ]);
    expect(yaml).toMatch(
      /bbb1\.school\.example\.org:\n\s+url: https:\/\/bbb1\.school\.example\.org\/bigbluebutton\/api\n\s+secret: s1\n\s+enabled: true\n\s+load_multiplier: 2\n\s+tag: exam/,
    );
    expect(yaml).toMatch(/bbb2\.school\.example\.org:\n(.*\n)*?\s+enabled: false/);
  });
  it("names every node without a secret at once", () => {
    expect(() => serversYaml([{ fqdn: "a.example.org" }, { fqdn: "b.example.org", secret: "s" }, { fqdn: "c.example.org" }])).toThrow(
      /no secret for a\.example\.org, c\.example\.org: .*nodeSecrets/,
    );
  });
});
