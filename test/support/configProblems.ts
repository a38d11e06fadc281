import { CampusConfigError, parseCampus, type ConfigProblem, type SecretPresence } from "../../components/config/campus";

/** The problems parseCampus reports for a raw campus (none when it is valid). */
export function problemsOf(raw: unknown, secrets: SecretPresence, now?: Date): ConfigProblem[] {
  try {
    parseCampus(raw, secrets, now);
  } catch (e) {
    if (e instanceof CampusConfigError) return e.problems;
    throw e;
  }
  return [];
}
