import { describe, expect, it } from "vitest";
import { clearEndedWaits, pendingWaits, waitUntil } from "./waitUntil";

describe("the waits a timed-out test names", () => {
  it("lists a wait while it polls, and no longer once its condition holds", async () => {
    let done = false;
    const waiting = waitUntil(
      () => done,
      undefined,
      5,
      () => "the fake front's answer",
    );
    expect(pendingWaits()).toContain("the fake front's answer");
    done = true;
    await waiting;
    expect(pendingWaits()).not.toContain("the fake front's answer");
  });

  it("keeps a wait the test's end stopped until the next test starts, so the timeout message can name it", async () => {
    const controller = new AbortController();
    const waiting = waitUntil(
      () => false,
      controller.signal,
      5,
      () => "a scrape of every target",
    );
    controller.abort();
    await expect(waiting).rejects.toThrow("stopped waiting for a scrape of every target: the test ended");
    expect(pendingWaits()).toContain("a scrape of every target");
    clearEndedWaits();
    expect(pendingWaits()).not.toContain("a scrape of every target");
  });
});
