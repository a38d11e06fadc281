import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderScaleliteYml } from "../../components/scalelite/renderScaleliteYml";
import { POST_PUBLISH } from "../../components/scalelite/recordingLayout";
import { upstreamPins } from "../support/upstream";

describe("renderScaleliteYml", () => {
  it("sends archives by rsync over SSH to the front's spool, with our ssh_config, and deletes the node's copy", () => {
    const doc = parse(renderScaleliteYml());
    expect(doc).toEqual({
      work_dir: "/var/bigbluebutton/recording/scalelite",
      spool_dir: "scalelite-spool@scalelite-front:.",
      extra_rsync_opts: ["--no-protect-args", "--rsh=ssh -F /etc/bbb-ovh/recording-transfer/ssh_config"],
      delete_recording: true,
    });
  });

  it("takes other paths and user, and refuses what rsync or YAML would misread, all at once", () => {
    expect(parse(renderScaleliteYml({ sshConfig: "/tmp/x/ssh_config", user: "root" }))).toMatchObject({
      spool_dir: "root@scalelite-front:.",
      extra_rsync_opts: ["--no-protect-args", "--rsh=ssh -F /tmp/x/ssh_config"],
    });
    expect(() => renderScaleliteYml({ workDir: "/var/work/", sshConfig: "/etc/my config", user: "Bad User" })).toThrow(
      /work_dir .*; the ssh_config path '\/etc\/my config' .*; 'Bad User' is not a Unix user name/,
    );
  });

  it("pins post_publish to the commit of the scalelite pin the conformance tests run, never a tag or branch", () => {
    const pin = upstreamPins().find((p) => p.name === "scalelite")!;
    expect(POST_PUBLISH.commit).toBe(pin.commit);
    expect(POST_PUBLISH.url).toBe(`https://raw.githubusercontent.com/blindsidenetworks/scalelite/${pin.commit}/bigbluebutton/scalelite_post_publish.rb`);
    expect(POST_PUBLISH.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
