import { createInterface } from "node:readline/promises";
import { OpsError } from "./errors";
import type { OpsIO } from "./io";

/**
 * Asks before an action that changes the pool. `--yes` skips the question; without a terminal to ask
 * on, the action is refused rather than taken silently.
 */
export async function confirm(io: OpsIO, question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!io.stdin.isTTY) throw new OpsError("usage", "-", "confirmation needed and stdin is not a terminal: pass --yes to proceed");
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new OpsError("declined", "-", "nothing changed");
  } finally {
    rl.close();
  }
}
