/**
 * The front's list of nodes `ops schedule apply` / `ops scale` put to sleep, relative to the SSH user's
 * home: ops writes it (cli/ops/nodePower.ts), the front's Scalelite exporter reads it (the scaleliteMetrics
 * step's SLEEPING_LIST input, components/remote/HostStep.ts sleepingListPath). With a standby front, the
 * other front keeps a copy (cli/ops/nodePower.ts), for the runs made there after a failover.
 */
export const SLEEPING_LIST_IN_HOME = ".bbb-ovh/schedule-sleeping";

/** Each node ops put to sleep, with when a wake was first asked for (epoch seconds), if one is pending. */
export type SleepingList = Map<string, number | undefined>;

/** `<id>` or `<id> wake=<epoch>` a line; the first form is also what earlier versions wrote. */
export function parseSleepingList(text: string): SleepingList {
  const list: SleepingList = new Map();
  for (const line of text.split("\n")) {
    const [id, ...rest] = line.trim().split(/\s+/);
    if (!id) continue;
    const wake = rest.map((f) => /^wake=(\d+)$/.exec(f)?.[1]).find(Boolean);
    list.set(id, wake === undefined ? undefined : Number(wake));
  }
  return list;
}

export function renderSleepingList(list: SleepingList): string {
  return [...list]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, wake]) => (wake === undefined ? `${id}\n` : `${id} wake=${wake}\n`))
    .join("");
}
