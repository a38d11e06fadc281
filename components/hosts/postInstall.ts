import { readFileSync } from "node:fs";
import * as path from "node:path";
import { PROJECT_DIR } from "../projectDir";

const SCRIPT = path.join(PROJECT_DIR, "scripts/dedicated-post-install.sh");

export interface PostInstallInput {
  hostKey: { privateOpenssh: string; publicOpenssh: string };
  adminKeys: string[];
}

/**
 * The OVH post-installation script for a dedicated server: scripts/dedicated-post-install.sh with its
 * inputs set right after `set -euo pipefail`. Contains a private host key: keep the result secret.
 */
export function renderPostInstallScript(input: PostInstallInput): string {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const block = [
    `HOST_KEY_B64='${b64(input.hostKey.privateOpenssh)}'`,
    `HOST_PUB_B64='${b64(input.hostKey.publicOpenssh)}'`,
    `ADMIN_KEYS_B64='${b64(input.adminKeys.join("\n"))}'`,
  ].join("\n");
  const script = readFileSync(SCRIPT, "utf8");
  const marker = "set -euo pipefail\n";
  if (!script.includes(marker)) throw new Error(`${SCRIPT} must contain '${marker.trim()}'`);
  return script.replace(marker, `${marker}${block}\n`);
}

/**
 * The script as customizations.postInstallationScript carries it: base64, as OVH recommends
 * (terraform-provider-ovh docs/resources/dedicated_server_reinstall_task.md: "it is recommended to send
 * a base64-encoded script to the API"), so no character of it needs escaping on the way.
 * postInstallationScriptExtension is left unset: the provider's Linux example sets none.
 */
export function encodePostInstallScript(input: PostInstallInput): string {
  return Buffer.from(renderPostInstallScript(input), "utf8").toString("base64");
}
