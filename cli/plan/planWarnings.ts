import type { Campus } from "../../components/config/campus";
import { backupWarnings } from "../../components/backup/backupConfig";
import { installerWarnings } from "../../components/bbb/installerPin";
import { frontWarnings } from "../../components/planning/frontFailover";
import { capacityWarnings } from "../../components/planning/sizing";
import { scalingWarnings } from "../../components/scaling/rule";
import { sshWarnings } from "../../components/security/sshWarnings";

/** What the offline plan warns about a valid campus, each warning ending with what to do (`to do:`). */
export function planWarnings(campus: Campus, now: Date): string[] {
  return [
    ...capacityWarnings(campus),
    ...scalingWarnings(campus),
    ...frontWarnings(campus),
    ...backupWarnings(campus),
    ...sshWarnings(campus),
    ...installerWarnings(campus.installer, now),
  ];
}
