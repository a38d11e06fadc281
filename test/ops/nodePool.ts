import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { attachScalelite, type Scalelite, type ScaleliteTrees } from "../support/scalelite/harness";
import { execOn, startTestHost, type TestHost } from "../support/sshd";
import { opsProcessEnv, scratch, type OpsTestNode } from "./cli";

const REPO = path.resolve(__dirname, "../..");
const FAKES = path.join(__dirname, "fakes");
/** The Public Cloud project of the pools' stacks (the OVH API peer's). */
export const PROJECT = "0123456789abcdef0123456789abcdef";
/** The training stack's two nodes, one per site, as the schedule's tests run them. */
export const TRAINING_NODES = [
  { name: "bbb-training-sbg", fqdn: "bbb1.training.isen-ouest.fr", secret: "sbg-secret-1f", ip: "198.51.100.11" },
  { name: "bbb-training-gra", fqdn: "bbb2.training.isen-ouest.fr", secret: "gra-secret-2e", ip: "198.51.100.12" },
];
/** The teaching week of the schedule's tests: Europe/Paris, Monday to Friday 08:00-18:00. */
export const TEACHING_WEEK = { timezone: "Europe/Paris", slots: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "08:00", to: "18:00" }] };
/** Times the schedule's tests run at, in Europe/Paris: the night before the teaching week, and its first morning. */
export const SUNDAY_NIGHT = "2026-11-29T03:00:00+01:00";
export const MONDAY_EARLY = "2026-11-30T07:30:00+01:00";

/** The OVH API peer of a pool: each node an ACTIVE hourly instance of PROJECT (and, with `records`, an A record). */
export function startPoolPeer(nodes: ReadonlyArray<{ fqdn: string; ip: string }>, records = false): Promise<OvhApiPeer> {
  return startOvhApiPeer(PROJECT, {
    instances: nodes.map((n, i) => ({ id: `inst-${i}`, name: n.fqdn, status: "ACTIVE", monthlyBilling: null, ip: n.ip })),
    ...(records
      ? {
          records: nodes.map((n, i) => ({
            id: 500 + i,
            zone: "isen-ouest.fr",
            subDomain: n.fqdn.replace(/\.isen-ouest\.fr$/, ""),
            fieldType: "A",
            target: n.ip,
          })),
        }
      : {}),
  });
}

/**
 * Writes the training stack in PROJECT, as `change` makes its campus, to a scratch Pulumi.<name>.yaml; then, with
 * `withRecordings`, the same with recordings on as Pulumi.<name>rec.yaml. Returns the paths.
 */
export function writeTrainingStack(
  name: string,
  change: (campus: Record<string, unknown>) => void,
  withRecordings = false,
): { file: string; recordings?: string } {
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
  const campus = doc.config["bbb-ovh:campus"];
  campus.publicCloud = { ...campus.publicCloud, projectId: PROJECT };
  change(campus);
  const file = path.join(scratch(), `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify(doc));
  if (!withRecordings) return { file };
  campus.recordings = true;
  const recordings = path.join(scratch(), `Pulumi.${name}rec.yaml`);
  writeFileSync(recordings, stringify(doc));
  return { file, recordings };
}

/**
 * The pool the process-level schedule and scale tests drive: a front (real sshd) running Scalelite's own
 * rake tasks through the harness, one BBB API peer per node, every node registered, enabled and polled.
 */
export async function startNodePool(
  trees: ScaleliteTrees,
  nodes: ReadonlyArray<{ fqdn: string; secret: string }>,
): Promise<{ front: TestHost; nodeHttp: BbbApiServer[]; scalelite: Scalelite }> {
  const front = await startTestHost({ fqdn: "visio-training.isen-ouest.fr" });
  const nodeHttp = await Promise.all(nodes.map((n) => startBbbApiServer({ secret: n.secret })));
  const scalelite = await attachPoolScalelite(trees, front, nodes, nodeHttp);
  // An offline node would read to the tests as a node gone.
  await scalelite.pollUntilOnline(nodes.map((n) => n.fqdn));
  return { front, nodeHttp, scalelite };
}

/**
 * A real Scalelite for a front of the pool: each node's API calls routed to its BBB API peer, every node
 * registered and enabled (servers:sync, as the registration step and a failover's rebuild of Redis do).
 */
export async function attachPoolScalelite(
  trees: ScaleliteTrees,
  host: TestHost,
  nodes: ReadonlyArray<{ fqdn: string; secret: string }>,
  nodeHttp: BbbApiServer[],
): Promise<Scalelite> {
  // ops reads the unit to know Scalelite is installed on the front.
  mkdirSync(path.join(host.root, "etc/systemd/system"), { recursive: true });
  writeFileSync(path.join(host.root, "etc/systemd/system/scalelite-api.service"), "[Service]\n");
  const scalelite = await attachScalelite(trees, host);
  nodes.forEach((n, i) => scalelite.route(n.fqdn, nodeHttp[i].url));
  const yaml = `servers:\n${nodes.map((n) => `  ${n.fqdn}:\n    url: https://${n.fqdn}/bigbluebutton/api\n    secret: ${n.secret}\n    enabled: true\n`).join("")}`;
  await execOn(host, "docker exec -i scalelite-api bin/rake 'servers:sync[-,force]'", yaml);
  return scalelite;
}

/** The environment of an ops process against the pool (opsProcessEnv): the front's key, the nodes' outputs, the peer. */
export const poolEnv = (front: TestHost, nodes: ReadonlyArray<Omit<OpsTestNode, "apiUrl">>, nodeHttp: BbbApiServer[], peer: OvhApiPeer) =>
  opsProcessEnv(
    FAKES,
    front,
    nodes.map((n, i) => ({ ...n, apiUrl: nodeHttp[i].apiUrl })),
    peer,
  );
