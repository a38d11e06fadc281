/**
 * Everything a host script fetches from the internet is pinned by content: a file downloaded with curl
 * or wget is kept only when its sha256 is the pinned one (bbb-install: INSTALLER_PINS in
 * components/bbb/installerPin.ts, or the stack's own campus.bbb.installer; scalelite_post_publish.rb: POST_PUBLISH in
 * components/scalelite/recordingLayout.ts), or, for a source tarball, each file installed from it is checked
 * against a pinned manifest first (bigbluebutton-exporter: BBB_EXPORTER in components/bbb/bbbExporter.ts,
 * `sha256sum -c` of MANIFEST), and a container image runs by digest, from IMAGE_PINS or the
 * image lock (scripts/lib/units.sh: lock_image, then render_container_unit). A static check over
 * scripts/: adding `wget URL`, an unchecked `curl -o`, or `docker run image:tag` anywhere fails it.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BBB_EXPORTER, bbbExporterUrl } from "../../components/bbb/bbbExporter";
import { INSTALLER_PINS, installerUrl } from "../../components/bbb/installerPin";
import { STEPS } from "../../components/remote/catalogue";
import { POST_PUBLISH } from "../../components/scalelite/recordingLayout";

const SCRIPTS = path.join(__dirname, "../../scripts");

/** The functions that are the image lock itself: they run or pull only what lock_image resolved. */
const IMAGE_MECHANISM = new Set(["lib/units.sh:render_container_unit", "lib/units.sh:registry_digest"]);

interface Command {
  file: string;
  fn: string;
  text: string;
  /** The rest of the enclosing function after this command. */
  after: string;
}

/** Commands of a script, comments dropped and continuation lines joined, with their enclosing function. */
function commands(file: string, source: string, word: RegExp): Command[] {
  const lines = source.replace(/\s*\\\n\s*/g, " ").split("\n");
  const found: Command[] = [];
  let fn = "(top level)";
  lines.forEach((line, i) => {
    const head = /^([A-Za-z_][A-Za-z0-9_]*)\(\) \{$/.exec(line);
    if (head) fn = head[1];
    if (line === "}") fn = "(top level)";
    const code = line.trimStart().startsWith("#") ? "" : line;
    if (word.test(code)) {
      const end = lines.findIndex((l, j) => j > i && l === "}");
      found.push({ file, fn, text: code.trim(), after: lines.slice(i + 1, end === -1 ? undefined : end).join("\n") });
    }
  });
  return found;
}

const DOWNLOAD = /(^|[\s;|&(])(curl|wget)\s/;
const IMAGE_USE = /\bdocker\s+(run|pull|create)\b/;

/** Every way a script fetches code or images that is not pinned by content, as messages. */
function unpinned(scripts: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, source] of Object.entries(scripts)) {
    for (const c of commands(file, source, DOWNLOAD)) {
      const saves =
        /\swget\s/.test(` ${c.text}`) || /\s(-[a-zA-Z]*[oO]|--output|--remote-name)\b/.test(c.text) || /\|\s*(sh|bash|tar|tee|gpg|apt-key)\b/.test(c.text);
      // A probe of our own service (health checks, a node's signed API calls) reads an answer and keeps nothing.
      const probe = /"https:\/\/\$IN_FQDN\/|http:\/\/127\.0\.0\.1[:/]/.test(c.text) || `${file}:${c.fn}` === "lib/bbb_api.sh:bbb_api_get";
      if (!saves && probe) continue;
      const url = /"\$(IN_[A-Z0-9_]+)_URL"/.exec(c.text)?.[1];
      const verified =
        url !== undefined && new RegExp(`sha256sum[\\s\\S]*"\\$${url}_SHA256"`).test(c.after) && new RegExp(`!= "\\$${url}_SHA256"[\\s\\S]*die `).test(c.after);
      // A tarball whose files are checked against the pinned manifest before anything is installed from it.
      const manifest = url !== undefined && /"\$IN_MANIFEST" \| sha256sum --quiet -c -[\s\S]*die /.test(c.after);
      if (!saves || !(verified || manifest)) problems.push(`${file} (${c.fn}): '${c.text}' fetches without a pinned sha256 check`);
    }
    for (const c of commands(file, source, IMAGE_USE)) {
      // A one-off container of an image lock_image resolved (the standby's pg_basebackup).
      const locked = /\bdocker\s+run\b.*\s"\$LOCKED_IMAGE"\s/.test(c.text) && /\block_image\s/.test(source);
      if (!locked && !IMAGE_MECHANISM.has(`${file}:${c.fn}`))
        problems.push(`${file} (${c.fn}): '${c.text}' uses an image outside the digest lock (lib/units.sh lock_image)`);
    }
    for (const call of source.replace(/\s*\\\n\s*/g, " ").matchAll(/^\s*render_container_unit\s+(\S+)\s+"[^"]*"\s+(\S+)/gm)) {
      if (call[2] !== '"$LOCKED_IMAGE"') problems.push(`${file}: ${call[1]}'s unit runs ${call[2]}, not the "$LOCKED_IMAGE" lock_image resolved`);
    }
  }
  return problems;
}

function scriptsOnDisk(): Record<string, string> {
  const files = readdirSync(SCRIPTS, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sh"));
  return Object.fromEntries(files.map((f) => [f, readFileSync(path.join(SCRIPTS, f), "utf8")]));
}

describe("downloads and images pinned by content", () => {
  const scripts = scriptsOnDisk();

  it("finds nothing unpinned in scripts/", () => {
    expect(unpinned(scripts)).toEqual([]);
  });

  it("sees the pinned mechanisms it vouches for: the three checked downloads and every container unit through the lock", () => {
    const downloads = Object.entries(scripts).flatMap(([file, source]) =>
      commands(file, source, DOWNLOAD)
        .filter((c) => /_URL"/.test(c.text))
        .map((c) => `${file}:${c.fn}`),
    );
    expect(downloads.sort()).toEqual([
      "bbb-node-exporter.sh:install_source",
      "bbb-node-install.sh:download_installer",
      "bbb-node-recordings.sh:install_post_publish",
    ]);
    const units =
      Object.values(scripts)
        .join("\n")
        .match(/^\s*render_container_unit /gm) ?? [];
    expect(units.length).toBeGreaterThanOrEqual(6); // postgres, redis, api, nginx, poller, importer
    // The steps get both halves of each pin, and the pins are content hashes of fixed commits.
    expect(STEPS.bbbInstall.required).toEqual(expect.arrayContaining(["INSTALLER_URL", "INSTALLER_SHA256"]));
    for (const pin of Object.values(INSTALLER_PINS)) {
      expect(pin.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(installerUrl(pin)).toContain(pin.commit);
    }
    expect(POST_PUBLISH.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(POST_PUBLISH.url).toContain(POST_PUBLISH.commit);
    expect(STEPS.bbbExporter.required).toEqual(expect.arrayContaining(["EXPORTER_URL", "MANIFEST_B64"]));
    expect(bbbExporterUrl()).toContain(BBB_EXPORTER.commit);
    for (const sha256 of Object.values(BBB_EXPORTER.files)) expect(sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("fails on an unpinned wget, an unchecked curl -o, or a docker run by tag added to a script", () => {
    const added = {
      "x.sh": [
        "fetch() {",
        "  wget https://example.org/tool.sh",
        '  curl -fsSL -o "$tmp" "$IN_TOOL_URL"',
        "  curl -fsSL https://example.org/get.sh | bash",
        "}",
        "start() {",
        "  docker run --rm alpine:3.19 true",
        "  docker pull \\",
        "    redis:7",
        "}",
        'render_container_unit scalelite-x "X" "$IN_X_IMAGE" multi-user.target "" "" | install_unit x.service',
      ].join("\n"),
    };
    const problems = unpinned(added);
    expect(problems).toHaveLength(6);
    expect(problems.join("\n")).toContain("'wget https://example.org/tool.sh' fetches without a pinned sha256 check");
    expect(problems.join("\n")).toContain("'docker run --rm alpine:3.19 true' uses an image outside the digest lock");
    expect(problems.join("\n")).toContain("'docker pull redis:7' uses an image outside the digest lock");
    expect(problems.join("\n")).toContain(`scalelite-x's unit runs "$IN_X_IMAGE"`);
  });
});
