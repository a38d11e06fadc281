import { md, pct } from "./markdown";
import type { ReadyPath } from "./nodeReady";
import { EXPECTED_PEAK, TIMETABLE, type ScalingBench } from "./scalingWeek";

/** The heading the section starts with: `npm run bench:scaling` replaces RESULTS.md from there to the end. */
export const SCALING_HEADING = "## Capacity that follows the load (simulated week)";

const eur = (v: number) => `${v.toFixed(2)} EUR`;

export function renderScaling(b: ScalingBench, ready: ReadyPath[]): string {
  const rows = b.runs.flatMap((run) =>
    run.results.map((w) => [
      run.seed,
      run.pool,
      run.label,
      w.mode,
      eur(w.costEur),
      w.nodeHours,
      w.underCapacityMinutes,
      w.belowPolicyMinutes,
      w.peakUsers,
      w.wakes,
      w.meetingsCut,
    ]),
  );
  const savings = b.runs.map((run) => [
    run.seed,
    run.pool,
    run.label,
    pct(run.savingVsTimetable),
    `${pct(run.mostSavingVsTimetable)} (${run.leastNodeHours.toFixed(1)} node-hours)`,
    pct(run.savingVsAlwaysOn),
    run.results.find((w) => w.mode === "scale")!.underCapacityMinutes,
  ]);
  return `${SCALING_HEADING}

Written by \`npm run bench:scaling\` (or the whole \`npm run bench\`): seeded and CPU-only, so the figures do not depend
on the machine. bench/scalingWeek.ts: a seeded school week (seeds ${b.seeds.join(", ")}: ${b.meetingsPerWeek.join(", ")} meetings) minute by minute against
hourly C2-60 nodes in two sites (strasbourg, gravelines), failover policy 'datacenter', timetable
Monday-Friday ${TIMETABLE.slots[0].from}-${TIMETABLE.slots[0].to} (awake ${TIMETABLE.wakeBeforeMinutes} min before, ${TIMETABLE.sleepAfterMinutes} after). Classes start on the hour (70 % within
2 minutes: the burst), 12-32 users joining over 2-6 minutes, 50 or 110 minutes long, 30 % recorded (processed about
as long as they lasted, the node held until then); tutoring in the evening, a few classes on Saturday.
Scalelite places each meeting on the enabled node with the least load as its poller counts it (a meeting younger
than 15 minutes weighs at least 15). A controller runs every 5 minutes: *timetable* is \`ops schedule apply\`,
*scale* is \`ops scale\` with its decision function unchanged (margin one node, 200 users; scaleDownAfter 30 min; an empty parked node shelved in the last 15 min of its paid hour);
a woken node serves ${Math.ceil(ready[0].minutes)} min after the decision (below). The bill counts every commenced hour of each period a
node is up (OVHcloud "Public Cloud Billing": hourly instances are billed per commenced hour; a shelved instance's
compute is not billed), a shelve billed 10 minutes more; the front is the same in every mode and left out.
*Under capacity*: minutes when a node held more users than it carries (200) or a meeting found no enabled node.
*Below policy*: minutes when the enabled nodes would not carry the users present with a site down.
Two pools, each the smallest the scaler's own check accepts (components/scaling/decide.ts \`meets\`) for a campus that expects
${EXPECTED_PEAK} users at its peak: *the peak under the policy* (what \`ops size --users ${EXPECTED_PEAK}\` asks for), and *the peak + margin under
the policy* (what the default margin asks for at the peak: with fewer nodes \`ops scale\` wakes every node and still reports SHORT there).
*Most any controller could save*: each minute, the fewest nodes that meet the rule for the users connected then, as if a
controller knew them, woke and shelved at once, was never held by a meeting or a recording and paid by the minute
(bench/scalingWeek.ts \`leastNodeHours\`), against the timetable's bill: no controller that keeps the rule every minute does better.

${md(["seed", "pool", "scaling", "mode", "week's bill", "node-hours", "under capacity (min)", "below policy (min)", "peak users", "wakes", "meetings cut"], rows)}

${md(["seed", "pool", "scaling", "scale vs timetable (goal ≥ 30 %)", "most any controller could save vs timetable", "scale vs always on", "under capacity (goal 0)"], savings)}

Decision to serving, modelled (bench/nodeReady.ts; *estimate* = no published figure, not measured yet: a real
\`ops scale\` run says how long its woken node took):

${ready
  .map(
    (p) =>
      `**${p.path}**: ${p.minutes.toFixed(1)} min${p.goalMinutes ? ` (goal ≤ ${p.goalMinutes})` : ""}\n\n${md(
        ["part", "minutes", "basis"],
        p.parts.map((x) => [x.part, x.minutes, x.basis]),
      )}`,
  )
  .join("\n\n")}
`;
}
