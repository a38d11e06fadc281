import Table from "cli-table3";
import type { Campus } from "../../components/config/campus";
import { OpsError } from "./errors";
import type { OvhApi } from "./ovhApi";

/**
 * OVHcloud vouchers: redeem a code on the stack's Public Cloud project (or the account), and answer
 * "how long does the credit last?". API calls and answer shapes: OVH API console, /cloud/project
 * credit and usage, /me/credit (typings cloud.Credit, cloud.Usage.UsageCurrent/UsageForecast,
 * me.credit.Balance), re-checked against the API console before relying on a new field.
 */

interface Money {
  value: number;
  currencyCode?: string;
  text?: string;
}

/** cloud.Credit (GET /cloud/project/{serviceName}/credit/{id}). */
interface ProjectCredit {
  id: number;
  description?: string;
  voucher?: string | null;
  available_credit: Money;
  used_credit?: Money;
  total_credit?: Money;
  validity?: { from?: string; to?: string } | null;
}

/** me.credit.Balance (GET /me/credit/balance/{balanceName}). */
interface AccountBalance {
  balanceName: string;
  amount: Money;
  expiring?: Array<{ amount: Money; expirationDate: string }>;
}

export interface VoucherStatus {
  project?: string;
  credits: Array<{ id: number; description: string; available: number; used?: number; total?: number; validUntil?: string }>;
  account: Array<{ name: string; amount: number; expiring: Array<{ amount: number; date: string }> }>;
  /** Why account balances are missing, when they are (e.g. the key has no /me rights). */
  accountProblem?: string;
  usage: { periodStart?: string; spentThisPeriod: number; forecastThisMonth?: number; burnPerDay: number };
  creditLeft: number;
  currency: string;
  runsOutOn?: string;
  /** When the credit stops paying (runs out or expires, whichever comes first); undefined: never, at this spend. */
  paidUntil?: string;
  /** The first date on which a credit with money left expires. */
  expiresOn?: string;
  unusedAtExpiry?: number;
  termEnd?: string;
  /** True when the credit does not last until the term's end: a scheduled job alerts on it. */
  shortOfTerm: boolean;
  answer: string;
}

/** A voucher code from a file or stdin; never from argv (it would sit in shell history and `ps`). */
export function parseVoucherCode(text: string): string {
  const code = text.trim();
  if (!/^[A-Za-z0-9_-]{4,64}$/.test(code))
    throw new OpsError("usage", "-", "the voucher code must be one word of letters, digits, '-' or '_' (read from --code-file FILE or stdin)");
  return code;
}

function projectOf(campus: Campus | undefined): string {
  const sn = campus?.config.publicCloud?.projectId;
  if (!sn)
    throw new OpsError(
      "config",
      "-",
      "the stack has no Public Cloud project (campus.publicCloud.projectId): give one, or redeem on the account with --account",
    );
  return sn;
}

export async function redeemVoucher(
  api: OvhApi,
  campus: Campus | undefined,
  code: string,
  account: boolean,
): Promise<{ target: string; credited?: number; currency?: string; validUntil?: string; summary: string }> {
  if (account) {
    const movement = await api.call<{ amount?: Money }>("POST", "/me/credit/code", { inputCode: code });
    const amount = movement?.amount?.value;
    return {
      target: "account",
      credited: amount,
      currency: movement?.amount?.currencyCode,
      summary: `voucher credited to the OVH account${amount !== undefined ? `: ${amount.toFixed(2)} ${movement?.amount?.currencyCode ?? ""}`.trimEnd() : ""}`,
    };
  }
  const sn = projectOf(campus);
  // The API answers this POST with nothing (typed void): the credit is read back, found by its
  // `voucher` field (the redeemed code), and only its amount and validity are shown.
  await api.call<void>("POST", `/cloud/project/${sn}/credit`, { code });
  const ids = await api.call<number[]>("GET", `/cloud/project/${sn}/credit`);
  let credit: ProjectCredit | undefined;
  for (const id of [...ids].sort((a, b) => b - a)) {
    const c = await api.call<ProjectCredit>("GET", `/cloud/project/${sn}/credit/${id}`);
    if (c.voucher === code) {
      credit = c;
      break;
    }
  }
  const amount = credit?.available_credit?.value;
  const until = credit?.validity?.to ?? undefined;
  return {
    target: `project ${sn}`,
    credited: amount,
    currency: credit?.available_credit?.currencyCode,
    validUntil: until,
    summary: credit
      ? `voucher credited to Public Cloud project ${sn}${amount !== undefined ? `: ${amount.toFixed(2)} ${credit.available_credit.currencyCode ?? ""}`.trimEnd() : ""}${until ? `, valid until ${until.slice(0, 10)}` : ""}`
      : `voucher accepted by Public Cloud project ${sn}, but its credit is not among the project's credits yet: check with \`ops voucher status\``,
  };
}

/**
 * What a usage document (cloud.usage.UsageCurrent / UsageForecast) adds up to: the sum of its groups'
 * totals. Each group (hourlyUsage.instance[], .storage[], .snapshot[], ...; monthlyUsage.instance[],
 * ...; resourcesUsage[]) has a `totalPrice` that already includes its parts' own `totalPrice`
 * (details[], stored/outgoingBandwidth, resources[].components[]), so parts are never added again.
 * A group without a total (the field is optional in a few types) counts its direct parts instead.
 * `usableCredits` is credit, not spending.
 */
export function totalPriceOf(doc: unknown): number {
  const d = (doc ?? {}) as { hourlyUsage?: Record<string, unknown> | null; monthlyUsage?: Record<string, unknown> | null; resourcesUsage?: unknown };
  const groups = [d.hourlyUsage, d.monthlyUsage].flatMap((resources) => Object.values(resources ?? {}).flatMap((list) => (Array.isArray(list) ? list : [])));
  if (Array.isArray(d.resourcesUsage)) groups.push(...d.resourcesUsage);
  return groups.reduce((sum: number, group) => sum + groupTotal(group), 0);
}

const priceOf = (x: unknown) =>
  x && typeof x === "object" && typeof (x as { totalPrice?: unknown }).totalPrice === "number" ? (x as { totalPrice: number }).totalPrice : undefined;

function groupTotal(group: unknown): number {
  const own = priceOf(group);
  if (own !== undefined || !group || typeof group !== "object") return own ?? 0;
  return Object.values(group).reduce(
    (sum: number, part) => sum + (Array.isArray(part) ? part.reduce((s: number, p) => s + (priceOf(p) ?? 0), 0) : (priceOf(part) ?? 0)),
    0,
  );
}

const DAY_MS = 86_400_000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export async function voucherStatus(api: OvhApi, campus: Campus | undefined, now: Date): Promise<VoucherStatus> {
  const sn = projectOf(campus);
  const ids = await api.call<number[]>("GET", `/cloud/project/${sn}/credit`);
  const credits = await Promise.all(ids.map((id) => api.call<ProjectCredit>("GET", `/cloud/project/${sn}/credit/${id}`)));
  let account: VoucherStatus["account"] = [];
  let accountProblem: string | undefined;
  try {
    const names = await api.call<string[]>("GET", "/me/credit/balance", { type: "VOUCHER" });
    const balances = await Promise.all(names.map((name) => api.call<AccountBalance>("GET", `/me/credit/balance/${encodeURIComponent(name)}`)));
    account = balances.map((b) => ({
      name: b.balanceName,
      amount: b.amount.value,
      expiring: (b.expiring ?? []).map((e) => ({ amount: e.amount.value, date: e.expirationDate })),
    }));
  } catch (e) {
    if (!(e instanceof OpsError) || (e.kind !== "api-auth" && e.kind !== "api")) throw e;
    accountProblem = `${e.detail} (account vouchers are left out)`;
  }
  const current = await api.call<{ period?: { from?: string } }>("GET", `/cloud/project/${sn}/usage/current`);
  const forecast = await api.call<unknown>("GET", `/cloud/project/${sn}/usage/forecast`).catch(() => undefined);
  const spent = totalPriceOf(current);
  const periodStart = current?.period?.from;
  const elapsedDays = periodStart ? Math.max((now.getTime() - Date.parse(periodStart)) / DAY_MS, 1 / 24) : undefined;
  const forecastThisMonth = forecast === undefined ? undefined : totalPriceOf(forecast);
  const daysInMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0)).getUTCDate();
  // Usage lags about a day behind; early in a month the forecast says more than a few hours of usage.
  const burnPerDay =
    elapsedDays !== undefined && elapsedDays >= 2
      ? spent / elapsedDays
      : forecastThisMonth !== undefined
        ? forecastThisMonth / daysInMonth
        : elapsedDays
          ? spent / elapsedDays
          : 0;

  const live = credits.filter((c) => !c.validity?.to || Date.parse(c.validity.to) >= now.getTime());
  const creditLeft = live.reduce((s, c) => s + (c.available_credit?.value ?? 0), 0) + account.reduce((s, b) => s + b.amount, 0);
  const currency = credits[0]?.available_credit?.currencyCode ?? "EUR";
  const runsOut = burnPerDay > 0 ? new Date(now.getTime() + (creditLeft / burnPerDay) * DAY_MS) : undefined;
  const expiries = live
    .filter((c) => (c.available_credit?.value ?? 0) > 0 && c.validity?.to)
    .map((c) => Date.parse(c.validity!.to as string))
    .concat(account.flatMap((b) => b.expiring.map((e) => Date.parse(e.date))))
    .sort((a, b) => a - b);
  const firstExpiry = expiries[0] !== undefined ? new Date(expiries[0]) : undefined;
  const termEnd = campus?.config.term?.end;
  const termEndDate = termEnd ? new Date(`${termEnd}T23:59:59Z`) : undefined;

  // The credit stops paying at whichever comes first: running out, or expiring.
  const expiresFirst = firstExpiry && (!runsOut || firstExpiry < runsOut);
  const lastPaidDay = expiresFirst ? firstExpiry : runsOut;
  const unusedAtExpiry = expiresFirst ? Math.max(0, creditLeft - burnPerDay * ((firstExpiry.getTime() - now.getTime()) / DAY_MS)) : undefined;
  const shortOfTerm = !!termEndDate && (!lastPaidDay ? false : lastPaidDay < termEndDate);
  let answer: string;
  if (!lastPaidDay) answer = `nothing is being spent: ${creditLeft.toFixed(2)} ${currency} of credit left`;
  else if (expiresFirst) answer = `expires on ${isoDay(firstExpiry)} with ${unusedAtExpiry!.toFixed(2)} ${currency} unused`;
  else answer = `runs out on ${isoDay(runsOut!)} (${creditLeft.toFixed(2)} ${currency} left at ${burnPerDay.toFixed(2)} ${currency}/day)`;
  if (termEnd) answer += shortOfTerm ? `, BEFORE the term ends on ${termEnd}` : `, after the term ends on ${termEnd}`;

  return {
    project: sn,
    // Never the `voucher` field: it is the code itself, and this report goes to scheduled jobs' logs.
    credits: credits.map((c) => ({
      id: c.id,
      description: c.description ?? `credit #${c.id}`,
      available: c.available_credit?.value ?? 0,
      used: c.used_credit?.value,
      total: c.total_credit?.value,
      validUntil: c.validity?.to ?? undefined,
    })),
    account,
    accountProblem,
    usage: { periodStart, spentThisPeriod: spent, forecastThisMonth, burnPerDay },
    creditLeft,
    currency,
    runsOutOn: runsOut ? isoDay(runsOut) : undefined,
    paidUntil: lastPaidDay?.toISOString(),
    expiresOn: firstExpiry ? isoDay(firstExpiry) : undefined,
    unusedAtExpiry,
    termEnd,
    shortOfTerm,
    answer,
  };
}

export function renderVoucherStatus(s: VoucherStatus): string {
  const money = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(2));
  const table = new Table({ head: ["credit", "description", "available", "used", "total", "valid until"], style: { head: [], border: [] } });
  for (const c of s.credits) table.push([String(c.id), c.description, money(c.available), money(c.used), money(c.total), c.validUntil?.slice(0, 10) ?? "-"]);
  for (const b of s.account)
    table.push([
      `account ${b.name}`,
      "account voucher balance",
      money(b.amount),
      "-",
      "-",
      b.expiring.map((e) => `${money(e.amount)} on ${e.date.slice(0, 10)}`).join(", ") || "-",
    ]);
  const out = [`OVH credit of Public Cloud project ${s.project}`, table.toString()];
  if (s.accountProblem) out.push(`note: ${s.accountProblem}`);
  out.push(
    `spent this month: ${money(s.usage.spentThisPeriod)} ${s.currency}${s.usage.periodStart ? ` since ${s.usage.periodStart.slice(0, 10)}` : ""}${s.usage.forecastThisMonth !== undefined ? `; forecast for the month: ${money(s.usage.forecastThisMonth)} ${s.currency}` : ""}; burn rate ${money(s.usage.burnPerDay)} ${s.currency}/day`,
  );
  out.push(`credit left: ${money(s.creditLeft)} ${s.currency}: ${s.answer}`);
  return `${out.join("\n")}\n`;
}
