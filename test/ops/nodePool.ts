import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startBbbApiServer, type BbbApiServer } from "../support/bbbApiServer";
import { attachScalelite, type Scalelite, type ScaleliteTrees } from "../support/scalelite/harness";
import { execOn, startTestHost, type TestHost } from "../support/sshd";

/**
 * The pool the process-level schedule and scale tests drive: a front (real sshd) running Scalelite's own
 * rake tasks through the harness, one BBB API peer per node, every node registered, enabled and polled.
 */
export async function startNodePool(
  trees: ScaleliteTrees,
  nodes: ReadonlyArray<{ fqdn: string; secret: string }>,
): Promise<{ front: TestHost; nodeHttp: BbbApiServer[]; scalelite: Scalelite }> {
  const front = await startTestHost({ fqdn: "visio-training.isen-ouest.fr" });
  // ops reads the unit to know Scalelite is installed on the front.
  mkdirSync(path.join(front.root, "etc/systemd/system"), { recursive: true });
  writeFileSync(path.join(front.root, "etc/systemd/system/scalelite-api.service"), "[Service]\n");
  const nodeHttp = await Promise.all(nodes.map((n) => startBbbApiServer({ secret: n.secret })));
  const scalelite = await attachScalelite(trees, front);
  nodes.forEach((n, i) => scalelite.route(n.fqdn, nodeHttp[i].url));
  const yaml = `servers:\n${nodes.map((n) => `  ${n.fqdn}:\n    url: https://${n.fqdn}/bigbluebutton/api\n    secret: ${n.secret}\n    enabled: true\n`).join("")}`;
  await execOn(front, "docker exec -i scalelite-api bin/rake 'servers:sync[-,force]'", yaml);
  // An offline node would read to the tests as a node gone.
  await scalelite.pollUntilOnline(nodes.map((n) => n.fqdn));
  return { front, nodeHttp, scalelite };
}
