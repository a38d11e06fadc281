/**
 * Decision to serving, modelled: how long after `ops scale` decides a node is needed it takes meetings,
 * for the three ways a node can come: a shelved spare, a new instance from the node image, a new instance
 * installed by bbb-install. Each part has its basis; "estimate" marks what no source publishes and
 * nobody has measured yet (a real `ops scale` run logs the seconds from unshelve to enabled).
 */
import { BY_STEP } from "./durations";

export interface ReadyPart {
  part: string;
  minutes: number;
  basis: string;
}

export interface ReadyPath {
  path: string;
  goalMinutes?: number;
  parts: ReadyPart[];
  minutes: number;
}

const SCALELITE_POLL: ReadyPart = {
  part: "Scalelite's poller sees it online",
  minutes: 1,
  basis:
    "poll every 60 s (campus.scalelite.pollIntervalSeconds); one healthy poll brings a server online (Scalelite poll.rake, SERVER_HEALTHY_THRESHOLD default 1)",
};
const ENABLE: ReadyPart = {
  part: "signed getMeetings, then bin/rake servers:enable",
  minutes: 0.5,
  basis: "ops scale checks every 10 s in the same run; the rake task boots Rails in the container (seconds)",
};
const INSTANCE: ReadyPart = {
  part: "instance ACTIVE and booted",
  minutes: 3,
  basis: "1-3 min for a C2 flavor to be ACTIVE with cloud-init done (bench/durations.ts); OVH starts billing at ACTIVE (OVHcloud 'Public Cloud Billing')",
};

const PREPARE: ReadyPart = { part: "DNS A record, SSH, scripts, preflight", minutes: 1, basis: "bench/durations.ts (0.5 + 0.1 + 0.2 + 0.2)" };
const CONFIGURE: ReadyPart = { part: "configure and health", minutes: 1.5, basis: "bench/durations.ts bbbConfigure + bbbHealth" };

function path(name: string, parts: ReadyPart[], goalMinutes?: number): ReadyPath {
  return { path: name, goalMinutes, parts, minutes: parts.reduce((s, p) => s + p.minutes, 0) };
}

export function nodeReadyPaths(): ReadyPath[] {
  return [
    path(
      "shelved spare (unshelve)",
      [
        {
          part: "unshelve to ACTIVE",
          minutes: 2.5,
          basis:
            "estimate: unshelving a SHELVED_OFFLOADED server schedules and boots it again from its shelve snapshot in Glance (OpenStack API reference, servers-action-shelve), the path of a new instance (1-3 min) with a larger image to fetch; OVH publishes no figure",
        },
        {
          part: "BigBlueButton services answer",
          minutes: 1,
          basis: "estimate: the units start at boot as after `bbb-conf --restart` (about a minute); nothing is installed",
        },
        ENABLE,
        SCALELITE_POLL,
      ],
      5,
    ),
    path(
      "new instance from the node image",
      [
        INSTANCE,
        PREPARE,
        {
          part: "first-boot step: address and name, certificate, TURN, bbb-conf --setip",
          minutes: BY_STEP.bbbFirstBoot.minutes,
          basis: `bench/durations.ts bbbFirstBoot: ${BY_STEP.bbbFirstBoot.basis}`,
        },
        CONFIGURE,
        { part: "registered in Scalelite (servers:add)", minutes: 1, basis: "bench/durations.ts scaleliteRegister" },
        SCALELITE_POLL,
      ],
      10,
    ),
    path("new instance installed by bbb-install", [
      INSTANCE,
      PREPARE,
      { part: "bbb-install.sh", minutes: 20, basis: "'under 30 minutes' (bbb-install README), ~15 min (Scalelite README); bench/durations.ts bbbInstall" },
      CONFIGURE,
      { part: "registered in Scalelite (servers:add)", minutes: 1, basis: "bench/durations.ts scaleliteRegister" },
      SCALELITE_POLL,
    ]),
  ];
}
