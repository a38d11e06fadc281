import { isIP } from "node:net";
import { isCidr } from "../config/schema";
import type { Campus, ResolvedHost } from "../config/campus";
import { sshPortOf } from "../hosts/sshPort";
import { base64 } from "../remote/invocation";
import { MONITORING_PORTS } from "../monitoring/monitoringLayout";

/**
 * The one firewall policy of a campus host, and its three renderings: the host's nftables table
 * (every host kind), the Public Cloud security group, and OVH's Edge Network Firewall (dedicated
 * servers). What is open, from the sources in docs/firewall.md:
 * - SSH (the host's own port, components/hosts/sshPort.ts: 22 unless an existing host's sshPort says
 *   otherwise) only from campus.adminCidrs, IPv4 and IPv6; on the front also from the nodes, which
 *   push recordings to it by rsync over SSH (restricted there by authorized_keys);
 * - HTTP and HTTPS (80, 443/tcp) from anywhere;
 * - on BigBlueButton nodes: WebRTC media 16384-32768/udp from anywhere, and TURN 3478 tcp+udp when the
 *   node runs the built-in TURN server (bbb-install README; its coturn listens on 3478);
 * - on a front with a standby front (campus.standbyFront): PostgreSQL (5432/tcp) and SSH from the
 *   standby's address only, which streams the database and pulls the recordings; on the standby, the
 *   same from the front: once `ops failover` has made the standby serve, `ops failback` makes the front
 *   its standby, streaming its database (pg_basebackup) and pulling its recordings
 *   (scripts/scalelite-recordings-pull.sh). SSH both ways in any case: the pool runs' timer on each front
 *   reads the other's front-role and keeps its copies there (ops scale / schedule apply --if-serving);
 * - monitoring (campus.monitoring, docs/monitoring.md): the scrape ports from the addresses of the fronts
 *   that run Prometheus, nothing else: node_exporter (9100) on every host, the BigBlueButton exporter
 *   served by the node's nginx with TLS (9689) on nodes, and on a front its Prometheus (9090) for the other front, which watches it;
 * - Grafana (campus.monitoring.grafana, 3000/tcp, HTTPS with a login) on each front, from campus.adminCidrs only;
 * - nothing else: no NFS (2049), no rpcbind (111), no database port for anyone else.
 */
export type FirewallRole = "front" | "node";

export interface IngressRule<Cidr = string> {
  description: string;
  protocol: "tcp" | "udp";
  portMin: number;
  portMax: number;
  cidr: Cidr;
  ethertype: "IPv4" | "IPv6";
}

export interface PolicyInput {
  role: FirewallRole;
  /** The port this host's sshd listens on (sshPortOf): admins, nodes and the standby all reach it there. */
  sshPort: number;
  /** campus.adminCidrs (the schema has parsed them; checked again here, all problems at once). */
  adminCidrs: readonly string[];
  /** Front only: the nodes' addresses (IPv4 or IPv6, no prefix); empty strings are skipped (no IPv6). */
  nodeAddresses?: readonly string[];
  /** Front only: the standby front's addresses (replication and the recordings copy); empty strings are skipped. */
  standbyAddresses?: readonly string[];
  /** Standby front only: the front, which streams the database from here and pulls the recordings once a failback made it the standby; empty strings are skipped. */
  peerFrontAddresses?: readonly string[];
  /** With peerFrontAddresses: the campus keeps recordings, so the front's copy reaches this host's SSH too. */
  peerFrontCopiesRecordings?: boolean;
  /** The fronts whose Prometheus scrapes this host (for a front: the other front); empty strings are skipped. */
  monitorAddresses?: readonly string[];
  /**
   * Node only, with a standby front: both fronts, admitted on SSH. The pool's timer runs on each of them
   * (ops scale / schedule apply --if-serving), and the run that wakes a node asleep through a failover points it
   * at the front that serves, over SSH to the node (cli/ops/pendingResend.ts). Empty strings are skipped.
   */
  frontAddresses?: readonly string[];
  /** Front only: Grafana runs there (campus.monitoring.grafana); its port is admitted from the admins. */
  grafana?: boolean;
  /** Node only: campus.turn.mode; an external TURN server leaves nothing listening on 3478 (default builtin). */
  turn?: "builtin" | "external";
}

/** The database container's port, published on a front with a standby (scripts/scalelite-docker.sh). */
export const POSTGRES_PORT = 5432;
const ANYWHERE = ["0.0.0.0/0", "::/0"];
const familyOf = (cidr: string): IngressRule["ethertype"] => (cidr.includes(":") ? "IPv6" : "IPv4");

function rules(description: string, protocol: IngressRule["protocol"], portMin: number, portMax: number, cidrs: readonly string[]): IngressRule[] {
  return cidrs.map((cidr) => ({ description, protocol, portMin, portMax, cidr, ethertype: familyOf(cidr) }));
}

/** SSH on the front from one node address (also used with addresses known only once the node exists). */
export function nodeSshRule<Cidr>(cidr: Cidr, sshPort: number, ethertype: IngressRule["ethertype"] = "IPv4"): IngressRule<Cidr> {
  return { description: "ssh from nodes (recordings)", protocol: "tcp", portMin: sshPort, portMax: sshPort, cidr, ethertype };
}

/** What a front admits from its standby front: the database stream, and SSH for the recordings copy. */
export function standbyRules<Cidr>(cidr: Cidr, sshPort: number, ethertype: IngressRule["ethertype"] = "IPv4"): IngressRule<Cidr>[] {
  return [
    { description: "postgresql replication from the standby front", protocol: "tcp", portMin: POSTGRES_PORT, portMax: POSTGRES_PORT, cidr, ethertype },
    { description: "ssh from the standby front (recordings copy)", protocol: "tcp", portMin: sshPort, portMax: sshPort, cidr, ethertype },
  ];
}

/**
 * What the standby front admits from the front: the database stream, for `ops failback` (the front becomes the
 * standby of the serving standby), and SSH: the recordings copy then, when the campus keeps recordings, and
 * always the pool runs' timer on the front, which reads this front's role and keeps its copies here. The rule's
 * description names what it serves; it is unchanged for a campus with recordings, whose rule was there before
 * the timer needed it (a changed description would replace the Public Cloud rule).
 */
export function peerFrontRules<Cidr>(cidr: Cidr, sshPort: number, recordings: boolean, ethertype: IngressRule["ethertype"] = "IPv4"): IngressRule<Cidr>[] {
  const ssh = recordings ? "ssh from the other front (recordings copy)" : "ssh from the other front (ops pool runs)";
  return [
    { description: "postgresql replication from the other front (failback)", protocol: "tcp", portMin: POSTGRES_PORT, portMax: POSTGRES_PORT, cidr, ethertype },
    { description: ssh, protocol: "tcp", portMin: sshPort, portMax: sshPort, cidr, ethertype },
  ];
}

/** What a host admits from a front's Prometheus: its exporters' ports, and on a front the Prometheus the other front watches. */
export function monitoringRules<Cidr>(role: FirewallRole, cidr: Cidr, ethertype: IngressRule["ethertype"] = "IPv4"): IngressRule<Cidr>[] {
  const ports: Array<[string, number]> =
    role === "node"
      ? [
          ["node_exporter", MONITORING_PORTS.nodeExporter],
          ["bigbluebutton exporter", MONITORING_PORTS.bbbExporterTls],
        ]
      : [
          ["node_exporter", MONITORING_PORTS.nodeExporter],
          ["prometheus", MONITORING_PORTS.prometheus],
        ];
  return ports.map(([what, port]) => ({ description: `${what} scrape from a front`, protocol: "tcp", portMin: port, portMax: port, cidr, ethertype }));
}

/** A host address as a one-address CIDR. */
export const hostCidr = (address: string): string => `${address}/${isIP(address) === 6 ? 128 : 32}`;

/** The policy of one host; throws one error naming every bad address. */
export function firewallPolicy(input: PolicyInput): IngressRule[] {
  const problems = [
    ...input.adminCidrs.flatMap((cidr, i) =>
      isCidr(cidr) ? [] : [`campus.adminCidrs[${i}]: '${cidr}' is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32`],
    ),
    ...(input.nodeAddresses ?? []).flatMap((address, i) =>
      address === "" || isIP(address) !== 0 ? [] : [`node address ${i}: '${address}' is not an IP address`],
    ),
    ...(input.standbyAddresses ?? []).flatMap((address, i) =>
      address === "" || isIP(address) !== 0 ? [] : [`standby front address ${i}: '${address}' is not an IP address`],
    ),
    ...(input.peerFrontAddresses ?? []).flatMap((address, i) =>
      address === "" || isIP(address) !== 0 ? [] : [`peer front address ${i}: '${address}' is not an IP address`],
    ),
    ...(input.monitorAddresses ?? []).flatMap((address, i) =>
      address === "" || isIP(address) !== 0 ? [] : [`monitoring front address ${i}: '${address}' is not an IP address`],
    ),
    ...(input.frontAddresses ?? []).flatMap((address, i) =>
      address === "" || isIP(address) !== 0 ? [] : [`front address ${i}: '${address}' is not an IP address`],
    ),
  ];
  if (input.role === "front" && (input.frontAddresses ?? []).length > 0) problems.push("the fronts' addresses on SSH only apply to a node");
  if (input.role === "node" && (input.peerFrontAddresses ?? []).length > 0) problems.push("peer front addresses only apply to a front");
  if (input.role === "node" && (input.standbyAddresses ?? []).length > 0) problems.push("standby front addresses only apply to the front");
  if (!Number.isInteger(input.sshPort) || input.sshPort < 1 || input.sshPort > 65535) problems.push(`ssh port ${input.sshPort} is not a TCP port`);
  if (input.adminCidrs.length === 0) problems.push("campus.adminCidrs: expected at least one admin CIDR allowed to SSH");
  if (input.role === "node" && (input.nodeAddresses ?? []).length > 0) problems.push("node addresses only apply to the front");
  if (input.role === "node" && input.grafana) problems.push("Grafana only runs on a front");
  if (problems.length > 0) throw new Error(`firewall policy: ${problems.join("; ")}`);

  const common = [
    ...rules("ssh from admins", "tcp", input.sshPort, input.sshPort, input.adminCidrs),
    ...rules("http", "tcp", 80, 80, ANYWHERE),
    ...rules("https", "tcp", 443, 443, ANYWHERE),
  ];
  const monitoring = (input.monitorAddresses ?? [])
    .filter((a) => a !== "")
    .map(hostCidr)
    .flatMap((cidr) => monitoringRules(input.role, cidr, familyOf(cidr)));
  if (input.role === "front") {
    const nodes = (input.nodeAddresses ?? []).filter((a) => a !== "").map(hostCidr);
    const standby = (input.standbyAddresses ?? []).filter((a) => a !== "").map(hostCidr);
    const peerFronts = (input.peerFrontAddresses ?? []).filter((a) => a !== "").map(hostCidr);
    return [
      ...common,
      ...nodes.map((cidr) => nodeSshRule(cidr, input.sshPort, familyOf(cidr))),
      ...standby.flatMap((cidr) => standbyRules(cidr, input.sshPort, familyOf(cidr))),
      ...peerFronts.flatMap((cidr) => peerFrontRules(cidr, input.sshPort, input.peerFrontCopiesRecordings ?? false, familyOf(cidr))),
      ...monitoring,
      ...(input.grafana ? rules("grafana from admins", "tcp", MONITORING_PORTS.grafana, MONITORING_PORTS.grafana, input.adminCidrs) : []),
    ];
  }
  const turn = input.turn === "external" ? [] : [...rules("turn tcp", "tcp", 3478, 3478, ANYWHERE), ...rules("turn udp", "udp", 3478, 3478, ANYWHERE)];
  const fronts = (input.frontAddresses ?? [])
    .filter((a) => a !== "")
    .map(hostCidr)
    .map((cidr) => frontSshRule(cidr, input.sshPort, familyOf(cidr)));
  return [...common, ...fronts, ...turn, ...rules("webrtc media", "udp", 16384, 32768, ANYWHERE), ...monitoring];
}

/**
 * Whether OVH's Edge Network Firewall stands in front of the host (DedicatedHost makes one): dedicated servers but
 * those ordered through the eco cart, on which OVH may not offer it.
 */
export const behindEdgeFirewall = (host: ResolvedHost): boolean => host.kind === "dedicated" && host.preset?.range !== "eco";

/** What a node admits from a front of a pair: SSH, for the pool runs' timer on that front (PolicyInput.frontAddresses). */
export function frontSshRule<Cidr>(cidr: Cidr, sshPort: number, ethertype: IngressRule["ethertype"] = "IPv4"): IngressRule<Cidr> {
  return { description: "ssh from a front (ops pool runs)", protocol: "tcp", portMin: sshPort, portMax: sshPort, cidr, ethertype };
}

/** The CIDRs the policy lets reach SSH on sshPort: what host-firewall.sh checks its own SSH client against. */
export function sshSources(policy: readonly IngressRule[], sshPort: number): string[] {
  return policy.filter((r) => r.protocol === "tcp" && r.portMin <= sshPort && sshPort <= r.portMax).map((r) => r.cidr);
}

/** The policy input of one host of a validated campus: its role, the admins, TURN, Grafana on a front, and its SSH port from the one owner. */
export function hostPolicyInput(campus: Pick<Campus, "config">, host: Pick<ResolvedHost, "role" | "config">): PolicyInput {
  const { monitoring } = campus.config;
  return {
    role: host.role,
    sshPort: sshPortOf(host),
    adminCidrs: campus.config.adminCidrs,
    turn: campus.config.turn.mode,
    ...(host.role === "front" && monitoring.enabled && monitoring.grafana ? { grafana: true } : {}),
  };
}

/**
 * The policy of a host as its cloud-side filters take it (security group, edge firewall): the addresses of the
 * nodes and standby front come later, as Pulumi outputs, so they are added here as one-address CIDRs of any type.
 * Each rule carries a stable resource name; everything opens SSH on the host's own port (input.sshPort).
 */
export function cloudPolicy<Cidr>(
  input: PolicyInput,
  later: { nodes?: readonly Cidr[]; standbys?: readonly Cidr[] },
): { name: string; rule: IngressRule<Cidr | string> }[] {
  return [
    ...firewallPolicy(input).map((rule) => ({ name: ruleName(rule), rule: rule as IngressRule<Cidr | string> })),
    ...(later.nodes ?? []).map((cidr, i) => ({ name: `ssh-node-${i}`, rule: nodeSshRule<Cidr | string>(cidr, input.sshPort) })),
    ...(later.standbys ?? []).flatMap((cidr, i) =>
      standbyRules<Cidr | string>(cidr, input.sshPort).map((rule) => ({ name: `from-standby-front-${i}-${rule.portMin}`, rule })),
    ),
  ];
}

/** A stable, readable resource name for a rule. */
export function ruleName(rule: IngressRule): string {
  const ports = rule.portMin === rule.portMax ? `${rule.portMin}` : `${rule.portMin}-${rule.portMax}`;
  return `${rule.protocol}-${ports}-${rule.cidr.replace(/[/:.]+/g, "_")}`;
}

export const NFT_TABLE = "bbb_ovh";

/**
 * ICMP the hosts must accept (RFC 4890 section 4.4 for ICMPv6): neighbour discovery and router
 * advertisements (IPv6 does not work without them), packet-too-big / fragmentation-needed (path MTU
 * discovery), the other errors, and echo requests (ping, for monitoring).
 */
const ICMPV6_TYPES = [
  "destination-unreachable",
  "packet-too-big",
  "time-exceeded",
  "parameter-problem",
  "echo-request",
  "nd-router-advert",
  "nd-neighbor-solicit",
  "nd-neighbor-advert",
  "mld-listener-query",
];
const ICMP_TYPES = ["destination-unreachable", "time-exceeded", "parameter-problem", "echo-request"];

/**
 * The host's nftables file: one table of ours, replaced whole and atomically by `nft -f` (the empty
 * `table` line creates it when absent so that `delete` cannot fail; the three lines are one
 * transaction). It leaves every other table alone (UFW's, Docker's). Input, and only where the policy
 * admits PostgreSQL (a front with a standby): Docker publishes the database container's port by DNAT, so
 * those connections are forwarded to the container and never cross the input chain (Docker docs, "Packet
 * filtering and firewalls": published ports bypass INPUT rules); a forward chain admits DNAT'ed
 * connections to 5432 from the policy's sources only. Other forwarding and output are not filtered, so
 * Docker's own chains keep working.
 */
export function renderNftRuleset(policy: readonly IngressRule[], label: string): string {
  const ports = (r: IngressRule) => (r.portMin === r.portMax ? `${r.portMin}` : `${r.portMin}-${r.portMax}`);
  const line = (r: IngressRule) => {
    const source = ANYWHERE.includes(r.cidr) ? "" : `${r.ethertype === "IPv6" ? "ip6" : "ip"} saddr ${r.cidr} `;
    return `${source}${r.protocol} dport ${ports(r)} accept comment "${r.description}"`;
  };
  // 0.0.0.0/0 and ::/0 of the same port become one rule without an address match (both families).
  const lines = [...new Set(policy.map(line))];
  const database = policy.filter((r) => r.protocol === "tcp" && r.portMin <= POSTGRES_PORT && POSTGRES_PORT <= r.portMax);
  const forward =
    database.length === 0
      ? []
      : [
          "\tchain forward {",
          "\t\ttype filter hook forward priority filter; policy accept;",
          ...database.map((r) => `\t\tct status dnat ${line(r)}`),
          `\t\tct status dnat tcp dport ${POSTGRES_PORT} drop comment "the database container, from anyone else"`,
          "\t}",
        ];
  if (/["\n\\]/.test(label)) throw new Error(`firewall label '${label}' cannot go in an nftables comment`);
  return [
    `# Written by bbb-ovh (host-firewall.sh) for ${label}; changes here are overwritten on the next deployment.`,
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    "\tchain input {",
    "\t\ttype filter hook input priority filter; policy drop;",
    '\t\tiif "lo" accept',
    "\t\tct state established,related accept",
    // Before the invalid drop: neighbour discovery is not tracked by conntrack.
    `\t\ticmpv6 type { ${ICMPV6_TYPES.join(", ")} } accept`,
    `\t\ticmp type { ${ICMP_TYPES.join(", ")} } accept`,
    // DHCPv6 replies come from a link-local server to a request sent to multicast: conntrack cannot
    // match them, and a host whose IPv6 is leased would lose it at renewal (DHCPv4 uses raw sockets).
    '\t\tip6 saddr fe80::/10 udp sport 547 udp dport 546 accept comment "dhcpv6 replies"',
    "\t\tct state invalid drop",
    ...lines.map((l) => `\t\t${l}`),
    "\t}",
    ...forward,
    "}",
    "",
  ].join("\n");
}

/** One rule of OVH's Edge Network Firewall (ovh.ip.FirewallRule inputs, IPv4 only). */
export interface EdgeRule<Cidr = string> {
  sequence: number;
  action: "permit" | "deny";
  protocol: "tcp" | "udp" | "icmp" | "ipv4";
  source?: Cidr;
  destinationPort?: number;
  sourcePort?: number;
  tcpOption?: "established";
}

/** OVH: "You can set up to 20 rules per IP", priorities 0 to 19, the first matching rule wins. */
export const EDGE_MAX_RULES = 20;

/**
 * The policy on OVH's Edge Network Firewall, which is stateless, IPv4 only, takes one destination
 * port per rule (no range) and at most 20 rules. So: established TCP first (OVH's own advice, else
 * replies to the host's own connections are dropped), ICMP, UDP replies from DNS and NTP servers
 * (front; a node permits all UDP since its media range cannot be written as one port), one permit
 * per public port, one permit per IPv4 source of SSH (last, so that adding a node appends a rule instead
 * of shifting, and briefly replacing, the public ones), then deny everything else at 19. When the SSH
 * sources do not fit, SSH is permitted from anywhere here and left to the host firewall and security group.
 * Grafana's port, admitted from the admins like SSH, is permitted per admin source just before SSH, or
 * from anywhere here when those sources do not fit either (the host firewall still admits only the admins).
 */
export function edgeFirewallRules<Cidr>(policy: readonly IngressRule<Cidr>[], sshPort: number): EdgeRule<Cidr>[] {
  const v4 = policy.filter((r) => r.ethertype === "IPv4");
  const isAnywhere = (r: IngressRule<Cidr>) => r.cidr === "0.0.0.0/0";
  const hasUdp = v4.some((r) => r.protocol === "udp");
  type Permit = Omit<EdgeRule<Cidr>, "sequence">;
  const head: Permit[] = [
    { action: "permit", protocol: "tcp", tcpOption: "established" },
    { action: "permit", protocol: "icmp" },
    ...(hasUdp
      ? [{ action: "permit", protocol: "udp" } as Permit]
      : [53, 123].map((sourcePort): Permit => ({ action: "permit", protocol: "udp", sourcePort }))),
  ];
  const ssh = v4.filter((r) => r.protocol === "tcp" && r.portMin === sshPort && !isAnywhere(r));
  const tcpPorts = [...new Set(v4.filter((r) => r.protocol === "tcp" && isAnywhere(r)).flatMap((r) => range(r.portMin, r.portMax)))];
  // Other ports from one source (the standby front's database stream), before SSH for the same reason.
  const grafana = v4.filter((r) => r.protocol === "tcp" && !isAnywhere(r) && r.portMin === MONITORING_PORTS.grafana);
  const sourced = v4
    .filter((r) => r.protocol === "tcp" && !isAnywhere(r) && r.portMin !== sshPort && r.portMin !== MONITORING_PORTS.grafana)
    .flatMap((r) => range(r.portMin, r.portMax).map((destinationPort): Permit => ({ action: "permit", protocol: "tcp", destinationPort, source: r.cidr })));
  const budget = EDGE_MAX_RULES - 1 - head.length - tcpPorts.length - sourced.length;
  const fromAdmins = (rules: IngressRule<Cidr>[], port: number, room: number): Permit[] =>
    rules.length <= room
      ? rules.map((r) => ({ action: "permit", protocol: "tcp", destinationPort: port, source: r.cidr }))
      : [{ action: "permit", protocol: "tcp", destinationPort: port }];
  const sshRules = fromAdmins(ssh, sshPort, budget - Math.min(grafana.length, 1));
  const grafanaRules = grafana.length === 0 ? [] : fromAdmins(grafana, MONITORING_PORTS.grafana, budget - sshRules.length);
  const permits = [
    ...head,
    ...tcpPorts.map((destinationPort): Permit => ({ action: "permit", protocol: "tcp", destinationPort })),
    ...sourced,
    ...grafanaRules,
    ...sshRules,
  ];
  if (permits.length > EDGE_MAX_RULES - 1) throw new Error(`the edge firewall takes ${EDGE_MAX_RULES} rules; this policy needs ${permits.length + 1}`);
  return [...permits.map((rule, sequence) => ({ ...rule, sequence })), { sequence: EDGE_MAX_RULES - 1, action: "deny", protocol: "ipv4" }];
}

function range(min: number, max: number): number[] {
  if (max - min > 16) throw new Error(`the edge firewall takes single ports; ${min}-${max} is a range`);
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

/** The inputs of the hostFirewall step (scripts/host-firewall.sh) for one host. */
export function hostFirewallInputs(input: PolicyInput, fqdn: string): { RULESET_B64: string; SSH_SOURCES: string; SSH_PORT: string } {
  const policy = firewallPolicy(input);
  return {
    RULESET_B64: base64(renderNftRuleset(policy, `the ${input.role} ${fqdn}`)),
    SSH_SOURCES: sshSources(policy, input.sshPort).join(" "),
    SSH_PORT: `${input.sshPort}`,
  };
}
