import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from "../scalelite/renderEnvFile";

/** Moodle core settings of mod_bigbluebuttonbn that point it at Scalelite (the secret is set apart). */
export interface MoodleSettings {
  bigbluebuttonbn_server_url: string;
  bigbluebuttonbn_checksum_algorithm: ChecksumAlgorithm;
  /** Present only when the school accepted the data processing agreement. */
  bigbluebuttonbn_default_dpa_accepted?: "1";
}

/** Name of the setting that carries LOADBALANCER_SECRET; it only ever travels on the step's stdin. */
export const MOODLE_SECRET_SETTING = "bigbluebuttonbn_shared_secret";

/** The BigBlueButton server URL Moodle should call: Scalelite's endpoint on the front. */
export const moodleServerUrl = (frontFqdn: string): string => `https://${frontFqdn}/bigbluebutton/`;

/** The settings `php admin/cli/cfg.php --name=... --set=...` will apply, apart from the secret. */
export function renderMoodleSettings(args: { frontFqdn: string; checksumAlgorithm: ChecksumAlgorithm; acceptDpa: boolean }): MoodleSettings {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(args.frontFqdn)) throw new Error(`Moodle settings: '${args.frontFqdn}' is not a host name`);
  if (!CHECKSUM_ALGORITHMS.includes(args.checksumAlgorithm))
    throw new Error(`Moodle settings: checksum algorithm '${args.checksumAlgorithm}' is not one of ${CHECKSUM_ALGORITHMS.join(", ")}`);
  const settings: MoodleSettings = {
    bigbluebuttonbn_server_url: moodleServerUrl(args.frontFqdn),
    bigbluebuttonbn_checksum_algorithm: args.checksumAlgorithm,
  };
  if (args.acceptDpa) settings.bigbluebuttonbn_default_dpa_accepted = "1";
  return settings;
}
