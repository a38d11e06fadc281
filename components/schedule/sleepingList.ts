/**
 * The front's list of nodes `ops schedule apply` / `ops scale` put to sleep, relative to the SSH user's
 * home: ops writes it (cli/ops/nodePower.ts), the front's Scalelite exporter reads it (the scaleliteMetrics
 * step's SLEEPING_LIST input, components/remote/HostStep.ts sleepingListPath).
 */
export const SLEEPING_LIST_IN_HOME = ".bbb-ovh/schedule-sleeping";
