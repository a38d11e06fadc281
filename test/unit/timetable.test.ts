import fc from "fast-check";
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { parseCampus } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { awakeHours, isTeaching, lessonsBetween, shouldBeAwake, WEEKDAYS, type Timetable } from "../../components/schedule/timetable";

const PARIS: Timetable = {
  timezone: "Europe/Paris",
  slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }],
  closed: ["2026-11-11", { from: "2026-12-19", to: "2027-01-03" }],
  wakeBeforeMinutes: 45,
  sleepAfterMinutes: 60,
};
const at = (iso: string, zone = "Europe/Paris") => DateTime.fromISO(iso, { zone }).toJSDate();
const seed = Number(process.env.FUZZ_SEED ?? 20261125);

describe("timetable (pure)", () => {
  it("teaches inside a slot, in local time, and not on closed days", () => {
    expect(isTeaching(PARIS, at("2026-11-25T08:00"))).toBe(true); // a Wednesday
    expect(isTeaching(PARIS, at("2026-11-25T07:59"))).toBe(false);
    expect(isTeaching(PARIS, at("2026-11-25T17:59"))).toBe(true);
    expect(isTeaching(PARIS, at("2026-11-28T10:00"))).toBe(false); // Saturday
    expect(isTeaching(PARIS, at("2026-11-11T10:00"))).toBe(false); // closed day
    expect(isTeaching(PARIS, at("2026-12-24T10:00"))).toBe(false); // inside the holiday range
    expect(isTeaching(PARIS, at("2027-01-04T10:00"))).toBe(true); // the Monday after
  });

  it("wakes nodes before the first lesson and lets them sleep after the last", () => {
    expect(shouldBeAwake(PARIS, at("2026-11-25T07:14"))).toBe(false);
    expect(shouldBeAwake(PARIS, at("2026-11-25T07:16"))).toBe(true);
    expect(shouldBeAwake(PARIS, at("2026-11-25T18:59"))).toBe(true);
    expect(shouldBeAwake(PARIS, at("2026-11-25T19:01"))).toBe(false);
  });

  it("keeps 08:00 local across the daylight-saving changes (UTC moves, the lesson does not)", () => {
    // Europe/Paris leaves summer time on Sunday 2026-10-25 and enters it on Sunday 2027-03-28.
    expect(DateTime.fromJSDate(lessonsBetween(PARIS, at("2026-10-23T12:00"), at("2026-10-23T12:00"))[0].start!.toJSDate()).toUTC().hour).toBe(6);
    expect(DateTime.fromJSDate(lessonsBetween(PARIS, at("2026-10-26T12:00"), at("2026-10-26T12:00"))[0].start!.toJSDate()).toUTC().hour).toBe(7);
    expect(isTeaching(PARIS, DateTime.fromISO("2026-10-26T07:30Z").toJSDate())).toBe(true); // 08:30 CET
    expect(isTeaching(PARIS, DateTime.fromISO("2026-10-23T06:30Z").toJSDate())).toBe(true); // 08:30 CEST
    expect(isTeaching(PARIS, DateTime.fromISO("2026-10-26T06:30Z").toJSDate())).toBe(false); // 07:30 CET
    // A week that crosses the change still has 5 x 10 lesson hours (the change is on a Sunday night).
    const week = (from: string, to: string) => lessonsBetween(PARIS, at(from), at(to)).reduce((h, i) => h + i.length("hours"), 0);
    expect(week("2026-10-19T00:00", "2026-10-31T23:59")).toBe(100);
    expect(week("2027-03-22T00:00", "2027-04-03T23:59")).toBe(100);
    // A slot over the spring-forward hour (02:00-03:00 does not exist that night) is one hour shorter.
    const night: Timetable = { ...PARIS, slots: [{ days: ["sun"], from: "01:00", to: "04:00" }], closed: [] };
    expect(lessonsBetween(night, at("2027-03-28T00:00"), at("2027-03-28T05:00"))[0].length("hours")).toBe(2);
  });

  it("property: teaching implies awake, and awake time is the lessons widened by the margins", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("2026-09-01T00:00:00Z"), max: new Date("2027-07-01T00:00:00Z"), noInvalidDate: true }), (d) => {
        if (isTeaching(PARIS, d)) expect(shouldBeAwake(PARIS, d)).toBe(true);
        const local = DateTime.fromJSDate(d, { zone: "Europe/Paris" });
        // Wall-clock truth, computed independently: a weekday, 08:00 <= t < 18:00, not closed.
        const minutes = local.hour * 60 + local.minute;
        const date = local.toISODate() as string;
        const closed = date === "2026-11-11" || (date >= "2026-12-19" && date <= "2027-01-03");
        const expected = local.weekday <= 5 && minutes >= 480 && minutes < 1080 && !closed;
        expect(isTeaching(PARIS, d)).toBe(expected);
      }),
      { seed, numRuns: 400 },
    );
  });

  it("property: over any span, awake hours are at least the lesson hours and at most the span", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("2026-09-01T00:00:00Z"), max: new Date("2027-06-01T00:00:00Z"), noInvalidDate: true }),
        fc.integer({ min: 1, max: 24 * 21 }),
        (start, hours) => {
          const end = new Date(start.getTime() + hours * 3_600_000);
          const awake = awakeHours(PARIS, start, end);
          const lessons = lessonsBetween(PARIS, start, end).reduce((h, i) => {
            const s = Math.max(i.start!.toMillis(), start.getTime());
            const e = Math.min(i.end!.toMillis(), end.getTime());
            return h + Math.max(0, e - s) / 3_600_000;
          }, 0);
          expect(awake).toBeGreaterThanOrEqual(lessons - 1e-9);
          expect(awake).toBeLessThanOrEqual(hours + 1e-9);
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it("is checked by the campus schema: time zone, slot order, day names, dates, all at once", () => {
    const raw = structuredClone(readStackFile("training").config["bbb-ovh:campus"].value) as Record<string, unknown>;
    raw.timetable = { timezone: "Europe/Pariss", slots: [{ days: ["mon", "funday"], from: "18:00", to: "08:00" }], closed: ["2026-13-01"] };
    raw.term = { end: "next summer" };
    let message = "";
    try {
      parseCampus(raw, { sshPrivateKey: true, turnSecret: true, dnsCredentials: true });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/campus\.timetable\.slots\[0\]\.days\[1\]: expected one of mon, tue/);
    expect(message).toMatch(/campus\.timetable\.closed\[0\]/);
    expect(message).toMatch(/campus\.term\.end: expected a date YYYY-MM-DD/);
    expect(WEEKDAYS).toHaveLength(7);
  });
});
