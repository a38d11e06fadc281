/**
 * The contract between the Pulumi program and the shell under scripts/: which script each step runs
 * and which inputs it reads. Inputs travel on the script's stdin as `KEY=VALUE` lines (one line each,
 * keys [A-Z0-9_]; a key ending in `_B64` carries a base64 value for multi-line content), so that no
 * value, secret or not, ever appears on a command line. `secret` inputs come from Pulumi secrets.
 */
export interface StepSpec {
  /** File under scripts/. */
  script: string;
  /** What the step does, for the plan and for errors. */
  summary: string;
  required: readonly string[];
  optional: readonly string[];
  /** Inputs whose values are secrets. */
  secret: readonly string[];
  /** Other files under scripts/ the step copies onto the host (commands its units run): part of its trigger. */
  installs: readonly string[];
}

function step(script: string, summary: string, required: string[], optional: string[] = [], secret: string[] = [], installs: string[] = []): StepSpec {
  return { script, summary, required, optional, secret, installs };
}

export const STEPS = {
  hostPreflight: step(
    "host-preflight.sh",
    "check OS release, CPU, RAM, IPv6 and that DNS (not /etc/hosts) resolves the FQDN to this host (to DNS_SERVED_BY while another front serves it), waiting a bounded time; changes nothing",
    ["ROLE", "FQDN", "PUBLIC_IPV4", "UBUNTU_RELEASE", "MIN_CORES", "MIN_RAM_MB", "RECOMMENDED_CORES", "RECOMMENDED_RAM_MB", "REQUIRE_IPV6"],
    ["DNS_WAIT_SECONDS", "DNS_RETRY_SECONDS", "DNS_SERVED_BY"],
  ),
  hostFirewall: step(
    "host-firewall.sh",
    "load the host firewall (nftables table inet bbb_ovh, IPv4+IPv6, atomic, kept across reboots); refuses a policy that would cut off its own SSH client",
    ["RULESET_B64", "SSH_SOURCES", "SSH_PORT"],
  ),
  bbbInstall: step(
    "bbb-node-install.sh",
    "run the official bbb-install.sh at its pinned commit (sha256 checked first) with the flags renderInstallerFlags gives; TURN settings written from a file, never argv",
    ["FQDN", "INSTALLER_FLAGS", "INSTALLER_URL", "INSTALLER_SHA256"],
    ["TURN_HOST", "TURN_SECRET"],
    ["TURN_SECRET"],
  ),
  bbbFirstBoot: step(
    "bbb-node-firstboot.sh",
    "make a node booted from the node image its own instead of bbb-install: the builder's address and name replaced by the node's, bbb-conf --setip, a Let's Encrypt certificate (certbot --webroot) for nginx and haproxy, coturn's own secret and bbb-web's TURN servers, FreeSWITCH's own event-socket password; refuses a host not made from the image",
    ["FQDN", "PUBLIC_IPV4", "EMAIL"],
    ["TURN_HOST", "TURN_SECRET"],
    ["TURN_SECRET"],
  ),
  bbbImageClean: step(
    "bbb-node-image-clean.sh",
    "clean an image builder before its disk is saved: machine id, host and authorized keys, secrets (the event-socket password among them), certificates, logs, cloud-init state; refuses a host with recordings",
    ["FQDN"],
  ),
  bbbConfigure: step(
    "bbb-node-configure.sh",
    "set the node's shared secret and allowRevealOfBBBVersion=true, restart only when changed",
    ["FQDN", "SHARED_SECRET"],
    [],
    ["SHARED_SECRET"],
  ),
  bbbRecordings: step(
    "bbb-node-recordings.sh",
    "recording transfer by rsync over SSH: the node's transfer key, the front's pinned host key, ssh_config, scalelite.yml and the pinned post_publish script (sha256 checked), the retry timer for recordings that did not reach the front, a copy of each delivered archive kept for KEEP_HOURS and at most KEEP_BYTES (sent again after a failover); unmounts our former NFS share; restarts bbb-rap-resque-worker only when what it uses changed",
    ["SSH_CONFIG_B64", "KNOWN_HOSTS_B64", "TRANSFER_KEY_B64", "SCALELITE_YML_B64", "POST_PUBLISH_URL", "POST_PUBLISH_SHA256", "KEEP_BYTES", "KEEP_HOURS"],
    [],
    ["TRANSFER_KEY_B64"],
    ["bbb-node-recording-retry.sh", "bbb-node-recording-keep.sh"],
  ),
  bbbExporter: step(
    "bbb-node-exporter.sh",
    "greenstatic's bigbluebutton-exporter from GitHub's tarball of the pinned commit (sha256 of each installed file checked), Python dependencies from Ubuntu, a systemd service on 127.0.0.1:9688 (the node's nginx serves it: monitoringNode) with the recordings read from disk; its settings (API secret) in a root-only EnvironmentFile",
    ["EXPORTER_URL", "MANIFEST_B64", "SETTINGS_B64"],
    [],
    ["SETTINGS_B64"],
  ),
  bbbRetire: step(
    "bbb-node-retire.sh",
    "before a node is deleted: refuse while a recording is on its disk and not yet at the front (recorded, being processed, or waiting to be sent), which getRecordings does not all list",
    ["FQDN"],
  ),
  bbbHealth: step(
    "bbb-node-health.sh",
    "GET /bigbluebutton/api answers SUCCESS and a signed getMeetings with the node's secret succeeds",
    ["FQDN", "SHARED_SECRET", "CHECKSUM_ALGORITHM"],
    ["ATTEMPTS", "DELAY_SECONDS"],
    ["SHARED_SECRET"],
  ),
  scaleliteDocker: step(
    "scalelite-docker.sh",
    "Docker engine from Ubuntu's packages, the scalelite network, PostgreSQL and Redis (persistent) under systemd",
    ["POSTGRES_IMAGE", "REDIS_IMAGE", "POSTGRES_PASSWORD", "DATA_DIR"],
    ["IMAGE_PINS", "POSTGRES_PUBLISH"],
    ["POSTGRES_PASSWORD"],
  ),
  scaleliteCertificate: step(
    "scalelite-certificate.sh",
    "Let's Encrypt certificate by certbot (HTTP-01 or DNS-01 through the OVH API) with a renewal hook reloading nginx",
    ["FQDN", "EMAIL", "CHALLENGE"],
    ["DNS_CREDENTIALS_B64"],
    ["DNS_CREDENTIALS_B64"],
  ),
  scaleliteSpool: step(
    "scalelite-spool.sh",
    "recording directories (1000:2000, 0775), the transfer user whose node keys can only write single files into their own incoming/<node> (spool receiver + rrsync -wo, from= the node addresses), the mover that checks them before Scalelite's spool (path unit + timer); stops exporting our former NFS share",
    ["RECORDING_DIR", "AUTHORIZED_KEYS_B64", "SENDERS", "RESERVE_BYTES"],
    [],
    [],
    ["scalelite-spool-receive.sh", "scalelite-recording-mover.sh"],
  ),
  scaleliteMetrics: step(
    "scalelite-metrics-timer.sh",
    "our Scalelite exporter (servers from Scalelite's Redis and whether ops expects each awake, spool, refused and incoming archives, importer failures, last backup, each node's planned capacity, the end of term and ops' credit estimate) in node_exporter's textfile directory, run by a timer every minute",
    ["RECORDING_DIR", "SLEEPING_LIST", "PLAN_B64", "CREDIT_ESTIMATE"],
    [],
    [],
    ["scalelite-metrics.sh"],
  ),
  scaleliteRecordingsCopy: step(
    "scalelite-recordings-copy.sh",
    "both fronts (campus.standbyFront): the recordings copy from the other front (its own key, read-only there; the other front's pinned host key) and the timer that pulls every 5 minutes while this front is the standby, writing how far behind it is",
    ["RECORDING_DIR", "SSH_CONFIG_B64", "KNOWN_HOSTS_B64", "COPY_KEY_B64"],
    [],
    ["COPY_KEY_B64"],
    ["scalelite-recordings-pull.sh"],
  ),
  scaleliteApp: step(
    "scalelite-app.sh",
    "an env file (0600) and a systemd unit per Scalelite container under scalelite.target; no importer and no recording mount with RECORDINGS=false",
    ["SCALELITE_TAG", "ENV_FILE_B64", "ENV_NGINX_B64", "ENV_POLLER_B64", "RECORDING_DIR"],
    ["RECORDINGS", "START", "ENV_RECORDING_IMPORTER_B64", "IMAGE_PINS"],
    ["ENV_FILE_B64", "ENV_POLLER_B64", "ENV_RECORDING_IMPORTER_B64"],
  ),
  scaleliteHealth: step("scalelite-health.sh", "GET https://FQDN/health_check answers exactly 'success'", ["FQDN"], ["ATTEMPTS", "DELAY_SECONDS"]),
  scaleliteFrontServes: step(
    "scalelite-front-serves.sh",
    "on the standby front, and on a rebuilt front (campus.rebuildFront): its front-role agrees with campus.servingFront (primary when the stack says it serves, anything else when not) before the front's DNS records move; with RECORD (a rebuilt front), records that role when none is, before Scalelite is installed; changes nothing else",
    ["SERVES"],
    ["RECORD"],
  ),
  scaleliteRegister: step(
    "scalelite-register.sh",
    "servers:sync[-,MODE] with servers.yaml on stdin, keeping the nodes an operator drained drained, poll now, check every other node is enabled and online",
    ["SERVERS_YAML_B64", "SYNC_MODE", "EXPECTED_IDS"],
    ["KEEP_STATE_IDS", "CORDONED_IDS", "ATTEMPTS", "DELAY_SECONDS"],
    ["SERVERS_YAML_B64"],
  ),
  scaleliteRetireNode: step(
    "scalelite-retire-node.sh",
    "before a node is deleted: cordon it in Scalelite, refuse while it hosts a meeting, holds a recording or has archives in its transfer target, then remove it from Scalelite",
    ["SERVER_ID", "API_URL", "SHARED_SECRET", "CHECKSUM_ALGORITHM", "INCOMING_DIR", "SLEEPING_LIST", "RESOURCE_NAME"],
    [],
    ["SHARED_SECRET"],
  ),
  scaleliteBackup: step(
    "scalelite-backup.sh",
    "restic from Ubuntu's packages, the bbb-ovh-backup command, repository settings (0600), the repository initialised once, bbb-ovh-backup.timer (database dump + recordings, retention)",
    [
      "RESTIC_REPOSITORY",
      "RESTIC_PASSWORD",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "RECORDING_DIR",
      "SCHEDULE",
      "KEEP_DAILY",
      "KEEP_WEEKLY",
      "KEEP_MONTHLY",
      "MAX_AGE_HOURS",
    ],
    ["AWS_DEFAULT_REGION"],
    ["RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    ["scalelite-backup-command.sh"],
  ),
  scaleliteReplicationPrimary: step(
    "scalelite-replication-primary.sh",
    "let the standby front stream the database: replication role with its own password, TLS on, pg_hba hostssl replication from the standby only, a capped replication slot; reload, no restart",
    ["DATA_DIR", "STANDBY_ADDRESSES", "REPLICATION_PASSWORD", "TLS_CERT_B64", "TLS_KEY_B64"],
    ["WAL_KEEP"],
    ["REPLICATION_PASSWORD", "TLS_KEY_B64"],
  ),
  scaleliteReplicationStandby: step(
    "scalelite-replication-standby.sh",
    "make the standby's database a hot standby of the primary's over TLS (verify-full): pg_basebackup when it is not one yet (the old directory moved aside, never deleted), then wait until it streams; its replication lag written every minute for node_exporter (timer)",
    ["DATA_DIR", "POSTGRES_IMAGE", "PRIMARY_ADDRESS", "REPLICATION_PASSWORD", "CA_CERT_B64"],
    ["PRIMARY_PORT", "IMAGE_PINS"],
    ["REPLICATION_PASSWORD"],
    ["standby-replication-metrics.sh"],
  ),
  monitoringNode: step(
    "monitoring-node.sh",
    "node_exporter from the distribution's packages, serving TLS with the campus monitoring CA's certificate and one basic-auth login (web-config), for the fronts' Prometheus only (firewall); on a node, the BigBlueButton exporter behind BigBlueButton's nginx with the same certificate and login (nginx -t first)",
    ["CA_CERT_B64", "TLS_CERT_B64", "TLS_KEY_B64", "WEB_CONFIG_B64", "SCRAPE_PORTS"],
    ["EXPORTER_NGINX_B64", "HTPASSWD_B64"],
    ["TLS_KEY_B64"],
  ),
  monitoringFront: step(
    "monitoring-front.sh",
    "Prometheus (the rules pack, retention in days and disk budget), Alertmanager mailing the admin, blackbox_exporter, from the distribution's packages; each file checked by promtool/amtool first",
    ["PROMETHEUS_YML_B64", "ALERTMANAGER_YML_B64", "BLACKBOX_YML_B64", "RETENTION_DAYS", "DISK_BUDGET_GB", "SCRAPE_PASSWORD"],
    ["SMTP_PASSWORD", "PEER"],
    ["SCRAPE_PASSWORD", "SMTP_PASSWORD"],
  ),
  monitoringGrafana: step(
    "monitoring-grafana.sh",
    "Grafana (campus.monitoring.grafana) as a container of Grafana's image by digest, on the host network, serving HTTPS on 3000 with the host's monitoring certificate; the local Prometheus as datasource and the dashboards of scripts/monitoring/dashboards through file provisioning; anonymous access off, the admin password set through Grafana's CLI on stdin",
    ["FQDN", "GRAFANA_IMAGE", "DATASOURCES_YML_B64", "DASHBOARDS_YML_B64", "ADMIN_PASSWORD"],
    ["SCRAPE_PASSWORD", "IMAGE_PINS"],
    ["ADMIN_PASSWORD", "SCRAPE_PASSWORD"],
  ),
  moodleConfigure: step(
    "moodle-configure.sh",
    "point mod_bigbluebuttonbn at Scalelite (cfg.php as the web server user; the secret through stdin), check a SHA1-only module is set to SHA1, and enable the module",
    ["MOODLE_DIR", "SERVER_URL", "SHARED_SECRET", "CHECKSUM_ALGORITHM", "ACCEPT_DPA"],
    ["PHP", "PHP_USER"],
    ["SHARED_SECRET"],
  ),
} as const satisfies Record<string, StepSpec>;

export type StepName = keyof typeof STEPS;
