/**
 * Recording archives as scalelite_post_publish.rb makes them (`tar --create` of `<format>/<record id>` in
 * BigBlueButton's published tree, with the metadata.xml BigBlueButton writes: <recording><id>, and
 * <playback><format>, which Scalelite's Recording.create_from_metadata_xml reads), and hostile ones built
 * member by member with Python's tarfile (GNU tar refuses to write some of them).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** A recording id of BigBlueButton's form: sha1 hex of the external meeting id, '-', the start in ms. */
export const recordId = (seed: string, n = 0): string => `${createHash("sha1").update(seed).digest("hex")}-${1732525200000 + n}`;

export const metadataXml = (id: string, format = "presentation"): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<recording><id>${id}</id><state>published</state><published>true</published>` +
  `<start_time>1732525200000</start_time><end_time>1732528800000</end_time><participants>3</participants>` +
  `<meta><meetingId>lesson-${id.slice(0, 8)}</meetingId><meetingName>Lesson</meetingName><isBreakout>false</isBreakout></meta>` +
  `<playback><format>${format}</format><link>https://bbb.example/playback/${format}/2.3/${id}</link><duration>3600000</duration></playback></recording>\n`;

/** A well-formed archive `<dir>/<id>.tar` holding presentation/<id>/{metadata.xml, video.bin of `bytes` random bytes}. */
export function goodArchive(dir: string, id: string, bytes = 4096): string {
  const published = path.join(dir, `published-${id}`);
  mkdirSync(path.join(published, "presentation", id), { recursive: true });
  writeFileSync(path.join(published, "presentation", id, "metadata.xml"), metadataXml(id));
  execFileSync("sh", ["-c", `head -c ${bytes} /dev/urandom > "$1"`, "sh", path.join(published, "presentation", id, "video.bin")]);
  const archive = path.join(dir, `${id}.tar`);
  execFileSync("tar", ["--create", "--file", archive, "-C", published, `presentation/${id}`]);
  return archive;
}

export interface Member {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chr";
  mode?: number;
  content?: string;
  linkname?: string;
}

const BUILD = `
import io, json, sys, tarfile
spec = json.loads(sys.argv[2])
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE}
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for m in spec:
        info = tarfile.TarInfo(m["name"])
        info.type = types[m.get("type", "file")]
        info.mode = m.get("mode", 0o755 if info.type == tarfile.DIRTYPE else 0o644)
        info.linkname = m.get("linkname", "")
        data = m.get("content", "").encode()
        info.size = len(data) if info.type == tarfile.REGTYPE else 0
        t.addfile(info, io.BytesIO(data) if info.size else None)
`;

/** An archive `<dir>/<name>` with exactly these members. */
export function craftedArchive(dir: string, name: string, members: Member[]): string {
  const archive = path.join(dir, name);
  execFileSync("python3", ["-c", BUILD, archive, JSON.stringify(members)]);
  return archive;
}

/** The members of a well-formed recording `id`, to add hostile ones to. */
export const recordingMembers = (id: string, metadataId = id): Member[] => [
  { name: `presentation/${id}`, type: "dir" },
  { name: `presentation/${id}/metadata.xml`, content: metadataXml(metadataId) },
];
