/**
 * The front's record of when the OVH credit stops paying, relative to the SSH user's home: `ops voucher
 * status`, `ops schedule apply` and `ops scale` write it over SSH (they hold the operator's OVH key, which no
 * host does), the front's Scalelite exporter turns it into bbb_ovh_credit_runs_out_timestamp_seconds and
 * bbb_ovh_credit_estimate_timestamp_seconds (the scaleliteMetrics step's CREDIT_ESTIMATE input,
 * components/remote/HostStep.ts creditEstimatePath). The time of writing travels with it, so that an
 * estimate nobody refreshes shows as stale instead of silencing CreditRunsOutBeforeTermEnd.
 */
export const CREDIT_ESTIMATE_IN_HOME = ".bbb-ovh/credit-estimate";

/** `runs_out` is when the credit stops paying (runs out or expires); undefined: never, at the current spend. */
export function renderCreditEstimate(runsOut: Date | undefined, estimatedAt: Date): string {
  const seconds = (d: Date) => String(Math.floor(d.getTime() / 1000));
  return `runs_out ${runsOut ? seconds(runsOut) : "+Inf"}\nestimated_at ${seconds(estimatedAt)}\n`;
}
