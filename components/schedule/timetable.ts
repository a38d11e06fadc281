import { DateTime, Interval } from "luxon";

/**
 * When a campus teaches, so hourly-billed Public Cloud nodes can sleep (shelved) the rest of the time.
 * Times are wall-clock times in the campus's IANA time zone; luxon does the time-zone arithmetic, so a
 * slot 08:00-18:00 stays 08:00-18:00 local across a daylight-saving change.
 */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface TeachingSlot {
  days: Weekday[];
  /** "HH:MM", local time; `to` after `from` (a slot does not cross midnight). */
  from: string;
  to: string;
}

export interface Timetable {
  timezone: string;
  slots: TeachingSlot[];
  /** Closed days ("2026-12-25") and ranges ({from, to}, both inclusive, local dates). */
  closed: Array<string | { from: string; to: string }>;
  /** Nodes are awake this long before the first lesson (unshelve, boot, health check, enable). */
  wakeBeforeMinutes: number;
  /** And stay awake this long after the last one (late meetings, recording processing). */
  sleepAfterMinutes: number;
}

const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(":").map(Number);
  return h * 60 + m;
};

/** Problems with a timetable, each naming its field, all at once (the schema reports them). */
export function timetableProblems(t: Timetable): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  if (!DateTime.local().setZone(t.timezone).isValid)
    problems.push({ path: "timezone", message: `'${t.timezone}' is not an IANA time zone such as Europe/Paris` });
  t.slots.forEach((slot, i) => {
    if (minutesOf(slot.to) <= minutesOf(slot.from))
      problems.push({ path: `slots[${i}]`, message: `'to' (${slot.to}) must be after 'from' (${slot.from}) on the same day` });
  });
  t.closed.forEach((entry, i) => {
    if (typeof entry !== "string" && entry.to < entry.from)
      problems.push({ path: `closed[${i}]`, message: `'to' (${entry.to}) is before 'from' (${entry.from})` });
  });
  return problems;
}

function isClosed(t: Timetable, isoDate: string): boolean {
  return t.closed.some((entry) => (typeof entry === "string" ? entry === isoDate : isoDate >= entry.from && isoDate <= entry.to));
}

/** The teaching intervals of one local date (empty on a closed day). */
function lessonsOn(t: Timetable, day: DateTime): Interval[] {
  const isoDate = day.toISODate() as string;
  if (isClosed(t, isoDate)) return [];
  const weekday = WEEKDAYS[day.weekday - 1];
  return t.slots
    .filter((slot) => slot.days.includes(weekday))
    .map((slot) => {
      const at = (hhmm: string) => day.set({ hour: Number(hhmm.slice(0, 2)), minute: Number(hhmm.slice(3, 5)), second: 0, millisecond: 0 });
      return Interval.fromDateTimes(at(slot.from), at(slot.to));
    })
    .filter((i) => i.isValid);
}

/** Teaching intervals overlapping [start, end], in order. */
export function lessonsBetween(t: Timetable, start: Date, end: Date): Interval[] {
  const from = DateTime.fromJSDate(start, { zone: t.timezone }).startOf("day").minus({ days: 1 });
  const to = DateTime.fromJSDate(end, { zone: t.timezone }).endOf("day");
  const [startMs, endMs] = [start.getTime(), end.getTime()];
  const out: Interval[] = [];
  for (let day = from; day <= to; day = day.plus({ days: 1 })) {
    out.push(...lessonsOn(t, day).filter((i) => (i.start as DateTime).toMillis() <= endMs && (i.end as DateTime).toMillis() > startMs));
  }
  return out.sort((a, b) => (a.start as DateTime).toMillis() - (b.start as DateTime).toMillis());
}

/** Is `at` inside a lesson? */
export function isTeaching(t: Timetable, at: Date): boolean {
  const instant = DateTime.fromJSDate(at);
  return lessonsBetween(t, at, at).some((i) => i.contains(instant));
}

/** Should the nodes be awake at `at`: a lesson within wakeBefore ahead, or within sleepAfter behind. */
export function shouldBeAwake(t: Timetable, at: Date): boolean {
  const instant = DateTime.fromJSDate(at);
  const windowStart = instant.minus({ minutes: t.sleepAfterMinutes }).toJSDate();
  const windowEnd = instant.plus({ minutes: t.wakeBeforeMinutes }).toJSDate();
  return lessonsBetween(t, windowStart, windowEnd).some((i) => {
    const awake = Interval.fromDateTimes(
      (i.start as DateTime).minus({ minutes: t.wakeBeforeMinutes }),
      (i.end as DateTime).plus({ minutes: t.sleepAfterMinutes }),
    );
    return awake.contains(instant);
  });
}

/** Hours awake over [start, end) (merged awake intervals), for the savings estimate. */
export function awakeHours(t: Timetable, start: Date, end: Date): number {
  const range = Interval.fromDateTimes(DateTime.fromJSDate(start), DateTime.fromJSDate(end));
  const awake = lessonsBetween(t, start, end).map((i) =>
    Interval.fromDateTimes((i.start as DateTime).minus({ minutes: t.wakeBeforeMinutes }), (i.end as DateTime).plus({ minutes: t.sleepAfterMinutes })),
  );
  return Interval.merge(awake)
    .map((i) => i.intersection(range))
    .reduce((sum, i) => sum + (i ? i.length("hours") : 0), 0);
}

export interface AwakeTransition {
  at: Date;
  /** What the nodes should do then: wake (unshelve) or sleep (shelve). */
  to: "awake" | "asleep";
}

/** The moments after `from` and up to `until` when the nodes should wake or go to sleep, in order. */
export function awakeTransitions(t: Timetable, from: Date, until: Date): AwakeTransition[] {
  const margin = { minutes: t.wakeBeforeMinutes + t.sleepAfterMinutes };
  const start = DateTime.fromJSDate(from).minus(margin).toJSDate();
  const end = DateTime.fromJSDate(until).plus(margin).toJSDate();
  const awake = Interval.merge(
    lessonsBetween(t, start, end).map((i) =>
      Interval.fromDateTimes((i.start as DateTime).minus({ minutes: t.wakeBeforeMinutes }), (i.end as DateTime).plus({ minutes: t.sleepAfterMinutes })),
    ),
  );
  const [fromMs, untilMs] = [from.getTime(), until.getTime()];
  return awake
    .flatMap((i): AwakeTransition[] => [
      { at: (i.start as DateTime).toJSDate(), to: "awake" },
      { at: (i.end as DateTime).toJSDate(), to: "asleep" },
    ])
    .filter((x) => x.at.getTime() > fromMs && x.at.getTime() <= untilMs);
}
