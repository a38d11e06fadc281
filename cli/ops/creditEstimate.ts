import type { Campus } from "../../components/config/campus";
import { CREDIT_ESTIMATE_IN_HOME, renderCreditEstimate } from "../../components/monitoring/creditEstimate";
import { OpsError } from "./errors";
import type { OvhApi } from "./ovhApi";
import { writeHomeFile, type SshTarget } from "./ssh";
import { voucherStatus, type VoucherStatus } from "./voucher";

/**
 * The credit estimate on the front, for its Scalelite exporter (components/monitoring/creditEstimate.ts): only
 * a run holding the operator's OVH key can read the credit, and no host holds one.
 */
export async function writeCreditEstimate(ssh: SshTarget, status: VoucherStatus, estimatedAt: Date, timeoutMs: number): Promise<void> {
  const text = renderCreditEstimate(status.paidUntil ? new Date(status.paidUntil) : undefined, estimatedAt);
  const r = await writeHomeFile(ssh, CREDIT_ESTIMATE_IN_HOME, text, timeoutMs);
  if (r.code !== 0) throw new OpsError("command", ssh.host, `cannot write the credit estimate: ${r.stderr.trim()}`);
}

/**
 * What `schedule apply` and `scale` add to their run: the credit read and written to the front, on the real
 * clock (not `--at`). Their key may lack the credit rights (docs/vouchers.md): then the estimate on the front
 * is left to age, CreditEstimateStale says so, and the run itself is not failed for it. Returns what happened.
 */
export async function refreshCreditEstimate(api: OvhApi, campus: Campus, ssh: SshTarget, timeoutMs: number): Promise<string> {
  if (!campus.config.publicCloud?.projectId) return "not estimated: the stack has no Public Cloud project";
  const now = new Date();
  try {
    const status = await voucherStatus(api, campus, now);
    await writeCreditEstimate(ssh, status, now, timeoutMs);
    return `written to the front: ${status.answer}`;
  } catch (e) {
    if (e instanceof OpsError) return `not refreshed: ${e.message}`;
    throw e;
  }
}
