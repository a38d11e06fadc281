import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderScaleliteYml } from "../../components/scalelite/renderScaleliteYml";
import { RECORDING_DIR, postPublishUrl } from "../../components/scalelite/recordingLayout";

describe("renderScaleliteYml", () => {
  it("points the post_publish script at the NFS-mounted spool of the front", () => {
    const doc = parse(renderScaleliteYml());
    expect(Object.keys(doc).sort()).toEqual(["extra_rsync_opts", "spool_dir", "work_dir"]);
    expect(doc.spool_dir).toBe(`${RECORDING_DIR}/spool`);
    expect(doc.work_dir).toBe("/var/bigbluebutton/recording/scalelite");
    expect(doc.extra_rsync_opts).toEqual(["--no-owner", "--chmod=F664"]);
  });

  it("takes other directories and refuses relative or trailing-slash paths", () => {
    expect(parse(renderScaleliteYml({ spoolDir: "/srv/spool" })).spool_dir).toBe("/srv/spool");
    expect(() => renderScaleliteYml({ spoolDir: "spool" })).toThrow(/spool_dir/);
    expect(() => renderScaleliteYml({ workDir: "/var/work/" })).toThrow(/work_dir/);
  });

  it("fetches post_publish from the same pinned Scalelite release as the front", () => {
    expect(postPublishUrl("v1.8.5")).toBe("https://raw.githubusercontent.com/blindsidenetworks/scalelite/v1.8.5/bigbluebutton/scalelite_post_publish.rb");
    expect(() => postPublishUrl("master")).toThrow(/pinned/);
  });
});
