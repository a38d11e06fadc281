/**
 * greenstatic's bigbluebutton-exporter, the exporter BigBlueButton's "Server Monitoring" docs name, as
 * every node runs it (scripts/bbb-node-exporter.sh). Pinned by content: the node fetches GitHub's source
 * tarball of the commit and checks the sha256 of each file it installs. We pin the files, not the
 * tarball: GitHub generates tarballs on the fly and has changed their compression before, so a tarball
 * hash is not a promise; the files are exactly `git archive` of the commit (tools/upstream/pins.tsv pin
 * `bigbluebutton-exporter`; test/conformance/bbb-exporter-pin.test.ts checks these hashes against it).
 */
export const BBB_EXPORTER = {
  tag: "v0.7.1",
  commit: "8bfc6d865c8d02d20147083c5769198285b17ede",
  /** Files of the tarball (under its top directory) that the node installs, and their sha256. */
  files: {
    "bbb-exporter/api.py": "104688d51729b4bcb75c3b02ca980ccfe5c9f9541aee78417b55a4a35b8d0ba6",
    "bbb-exporter/api_lib.py": "3a4be65fee1bfda2c819f95d525f0a460b7416b452fc8770efd33151a8aeae3b",
    "bbb-exporter/collector.py": "05650c29564d667433532531c508ea173f4948afe2b6f2de06bd7cbe7ec8cbe1",
    "bbb-exporter/helpers.py": "c9056db9f1ac78607e76a434de618da11de244251531f0952f4aa644c8b173fd",
    "bbb-exporter/server.py": "344cb68c7e19a12d41d347ce5e32c5cfb19c170d82941c736ac55715ac748be2",
    "bbb-exporter/settings.py": "f2bf3ca8620d0ffe4d5d575b1a9501bcbbd552cc9184c8050c65efd45a501e5b",
  } as Record<string, string>,
  /** The exporter's default port (settings.py PORT), on loopback: the node's nginx serves it to the fronts (MONITORING_PORTS.bbbExporterTls). */
  port: 9688,
} as const;

/** GitHub's source tarball of the pinned commit. */
export const bbbExporterUrl = (): string => `https://codeload.github.com/greenstatic/bigbluebutton-exporter/tar.gz/${BBB_EXPORTER.commit}`;

/** The manifest bbb-node-exporter.sh checks with `sha256sum -c` (paths relative to the tarball's top directory). */
export function renderBbbExporterManifest(): string {
  return Object.entries(BBB_EXPORTER.files)
    .map(([file, sha256]) => `${sha256}  ${file}\n`)
    .join("");
}

/**
 * The exporter's settings (environment, its settings.py reads them), for a root-only EnvironmentFile:
 * systemd reads it as root before dropping to the exporter's user, so the secret is never on a command line.
 * RECORDINGS_METRICS_READ_FROM_DISK counts recordings under /var/bigbluebutton instead of asking the API
 * for every recording, and is what adds bbb_recordings_unprocessed (the queue RecordingsWaitingOnNode reads).
 */
export function renderBbbExporterSettings(apiBaseUrl: string, secret: string): string {
  if (!apiBaseUrl.endsWith("/")) throw new Error(`the exporter's API_BASE_URL must end with '/' (settings.py refuses it otherwise): ${apiBaseUrl}`);
  return [
    `API_BASE_URL=${apiBaseUrl}`,
    `API_SECRET=${secret}`,
    // It has neither TLS nor a login: only the node's nginx reaches it (components/monitoring/renderBbbExporterProxy.ts).
    `BIND_IP=127.0.0.1`,
    `PORT=${BBB_EXPORTER.port}`,
    `RECORDINGS_METRICS_READ_FROM_DISK=true`,
    "",
  ].join("\n");
}
