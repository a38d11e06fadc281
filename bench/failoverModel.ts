/**
 * A datacenter down, modelled: how long `ops failover` takes from the command to the first meeting created
 * through the standby front (RTO), and what can be lost (RPO), with the basis of each figure. "estimate"
 * marks what no source publishes and nothing here measures; the failover drill (test/standby) measures
 * the same steps against two real PostgreSQL clusters on one machine, so its figures are a floor, not a
 * datacenter's.
 */
import { STANDBY_COPY_INTERVAL_MINUTES } from "../components/scalelite/recordingLayout";
import { BY_STEP, BY_TYPE } from "./durations";
import { md } from "./markdown";
import type { ReadyPart } from "./nodeReady";

/** The heading `npm run bench:failover` replaces (up to the next section). */
export const FAILOVER_HEADING = "## A datacenter down (failover, modelled)";

/** The goal issue 16 sets: under 5 minutes from the command, plus the DNS TTL for the clients. */
export const RTO_GOAL_MINUTES = 5;

export interface FailoverModel {
  parts: ReadyPart[];
  minutes: number;
  goalMinutes: number;
  /** Seconds resolvers may keep the old address after the switch (campus.dns.ttl's default). */
  dnsTtlSeconds: number;
  rpo: { what: string; bound: string; basis: string }[];
}

export function failoverModel(dnsTtlSeconds = 300): FailoverModel {
  const parts: ReadyPart[] = [
    {
      part: "fence the old front (stop its Scalelite over SSH, or find it unreachable)",
      minutes: 0.2,
      basis: "one SSH command (bench/durations.ts ssh 0.1 min) or the SSH connect timeout when its site is down (estimate)",
    },
    {
      part: "promote the standby's PostgreSQL",
      minutes: 0.1,
      basis: "pg_promote() ends recovery in seconds once the last WAL received is replayed (PostgreSQL 15 docs, 'Failover'; estimate)",
    },
    {
      part: "start Scalelite on the standby",
      minutes: 1,
      basis:
        "its images are already there (pulled at deployment, scaleliteApp): containers start and the API boots Rails until /health_check answers (estimate; scalelite-app.sh bounds it at 3 min)",
    },
    {
      part: "servers:sync and poll:all (Redis rebuilt)",
      minutes: BY_STEP.scaleliteRegister.minutes,
      basis: `bench/durations.ts scaleliteRegister: ${BY_STEP.scaleliteRegister.basis}`,
    },
    {
      part: "front's DNS records switched through the OVH API",
      minutes: BY_TYPE["ovh:Domain/zoneRecord:ZoneRecord"].minutes,
      basis: `bench/durations.ts: ${BY_TYPE["ovh:Domain/zoneRecord:ZoneRecord"].basis}`,
    },
    {
      part: "signed create, join and end through the new front",
      minutes: 0.1,
      basis: "four API calls (ops smoke: well under a second each on a healthy front)",
    },
  ];
  return {
    parts,
    minutes: parts.reduce((s, p) => s + p.minutes, 0),
    goalMinutes: RTO_GOAL_MINUTES,
    dnsTtlSeconds,
    rpo: [
      {
        what: "database (meetings' recordings metadata, tenants)",
        bound: "seconds: the replication lag at the cut",
        basis: "streaming replication sends each WAL record as it is written (PostgreSQL 15 docs, 'Streaming Replication'); the drill measures the rows lost",
      },
      {
        what: "published recordings",
        bound: `at most ${STANDBY_COPY_INTERVAL_MINUTES} min + one copy's duration`,
        basis: "bbb-ovh-recordings-pull.timer every 5 minutes (docs/front.md); `ops status` shows the lag",
      },
      {
        what: "archives in the front's spool or incoming/ (not yet imported)",
        bound: "none from a node that answers; the others' until they answer",
        basis:
          "not copied, but each node keeps what it delivered (7 days, 20 GiB: bbb-node-recording-keep.sh) and ops failover's resend-recordings has it sent again to the new front, which drops what it holds (docs/front.md step 9)",
      },
      {
        what: "running meetings",
        bound: "none cut",
        basis: "meetings live on the nodes; only joins to meetings created before the switch wait for the first poll",
      },
    ],
  };
}

export function renderFailover(m: FailoverModel): string {
  return `${FAILOVER_HEADING}

Written by \`npm run bench:failover\` (also part of \`npm run bench\`): bench/failoverModel.ts, CPU-only. From the
\`ops failover\` command to the first meeting created through the standby front; clients reach it once their
resolvers drop the old address (campus.dns.ttl, ${m.dnsTtlSeconds} s by default).

${md(
  ["step", "minutes", "basis"],
  m.parts.map((p) => [p.part, p.minutes, p.basis]),
)}

RTO: **${m.minutes.toFixed(1)} min** from the command (goal: under ${m.goalMinutes} min), plus the DNS TTL (${m.dnsTtlSeconds / 60} min) for clients.

${md(
  ["what", "lost at most", "basis"],
  m.rpo.map((r) => [r.what, r.bound, r.basis]),
)}
`;
}

/** Replaces the section starting at `heading` (up to the next `## ` heading) in `text`, or adds it before `before`. */
export function replaceSection(text: string, heading: string, section: string, before: string): string {
  const at = text.indexOf(heading);
  if (at >= 0) {
    const next = text.indexOf("\n## ", at + heading.length);
    return `${text.slice(0, at)}${section.trimEnd()}\n${next >= 0 ? `\n${text.slice(next + 1)}` : ""}`;
  }
  const where = text.indexOf(before);
  return where >= 0 ? `${text.slice(0, where)}${section.trimEnd()}\n\n${text.slice(where)}` : `${text.trimEnd()}\n\n${section}`;
}
