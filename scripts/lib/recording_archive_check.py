#!/usr/bin/env python3
"""Checks a recording archive a node sent, before Scalelite's importer may see it. Never extracts.

    recording_archive_check.py ARCHIVE RECORD_ID
    recording_archive_check.py --held ARCHIVE RECORD_ID RECORDING_DIR

Exit 0 when the archive is what scalelite_post_publish.rb makes (`tar --create` of
`<format>/<record id>` directories of the published tree) and what Scalelite's importer can take without
harm; exit 1 with the reason on stdout otherwise. The importer (lib/recording_importer.rb) extracts the
whole tar, reads every `*/*/metadata.xml`, takes the recording id from it as it is, and replaces
`published/<format>/<id>` with the extracted `<format>/<id>`: so every member must be a plain file or
directory under `<format>/<RECORD_ID>/`, and each metadata.xml must name RECORD_ID and its own format.

--held (an archive already checked): exit 0 when the front already holds exactly that recording, every
regular member byte for byte at the same path under RECORDING_DIR/published or RECORDING_DIR/unpublished
(the importer moves `<format>/<id>` there whole; publishing and unpublishing move it between the two):
a node sending again, after a failover, what the standby's copy already brought over.
"""
import hashlib
import os
import re
import stat
import sys
import tarfile
import xml.etree.ElementTree as ET

FORMAT = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_MEMBERS = 200_000
MAX_METADATA_BYTES = 10 * 1024 * 1024


class Refused(Exception):
    pass


def check_member(member: tarfile.TarInfo, record_id: str) -> None:
    name = member.name
    parts = name.rstrip("/").split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise Refused(f"member {name!r} is not a plain relative path")
    if not (member.isreg() or member.isdir()):
        raise Refused(f"member {name!r} is not a regular file or directory (links and devices are refused)")
    if member.mode & (stat.S_ISUID | stat.S_ISGID):
        raise Refused(f"member {name!r} is setuid or setgid")
    if member.mode & stat.S_IWOTH:
        raise Refused(f"member {name!r} is world-writable")
    if len(parts) < 2 or not FORMAT.match(parts[0]) or parts[1] != record_id:
        raise Refused(f"member {name!r} is outside <format>/{record_id}/")
    if len(parts) == 2 and not member.isdir():
        raise Refused(f"member {name!r} must be the recording's directory")


def check_metadata(archive: tarfile.TarFile, member: tarfile.TarInfo, record_id: str) -> None:
    if member.size > MAX_METADATA_BYTES:
        raise Refused(f"{member.name} is larger than {MAX_METADATA_BYTES} bytes")
    data = archive.extractfile(member).read()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Refused(f"{member.name} declares a DTD or entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise Refused(f"{member.name} is not XML: {e}")
    found = (root.findtext("id") or "").strip()
    if found != record_id:
        raise Refused(f"{member.name} names recording {found!r}, not {record_id}")
    fmt = (root.findtext("playback/format") or "").strip()
    expected = member.name.split("/")[0]
    if fmt != expected:
        raise Refused(f"{member.name} names format {fmt!r} but lies under {expected}/")


def check(path: str, record_id: str) -> None:
    try:
        archive = tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as e:
        raise Refused(f"not a tar archive: {e}")
    with archive:
        metadata = 0
        for count, member in enumerate(archive, start=1):
            if count > MAX_MEMBERS:
                raise Refused(f"more than {MAX_MEMBERS} members")
            check_member(member, record_id)
            parts = member.name.split("/")
            if len(parts) == 3 and parts[2] == "metadata.xml" and member.isreg():
                check_metadata(archive, member, record_id)
                metadata += 1
        if metadata == 0:
            raise Refused(f"no <format>/{record_id}/metadata.xml")


def file_digest(read) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def held(path: str, record_id: str, recording_dir: str) -> None:
    with tarfile.open(path, mode="r:") as archive:
        for member in archive:
            if not member.isreg():
                continue
            fmt, rest = member.name.split("/", 1)
            on_front = [os.path.join(recording_dir, tree, fmt, rest) for tree in ("published", "unpublished")]
            found = [f for f in on_front if os.path.isfile(f) and not os.path.islink(f)]
            if not found:
                raise Refused(f"{member.name} is not on the front")
            with open(found[0], "rb") as f:
                same = file_digest(f.read) == file_digest(archive.extractfile(member).read)
            if not same:
                raise Refused(f"{member.name} differs from the front's")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--held":
        try:
            held(sys.argv[2], sys.argv[3], sys.argv[4])
        except Refused as e:
            print(e)
            return 1
        return 0
    if len(sys.argv) != 3:
        print("usage: recording_archive_check.py ARCHIVE RECORD_ID", file=sys.stderr)
        return 2
    try:
        check(sys.argv[1], sys.argv[2])
    except Refused as e:
        print(e)
        return 1
    except (tarfile.TarError, OSError, EOFError) as e:
        print(f"unreadable archive: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
