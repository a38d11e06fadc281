#!/usr/bin/env python3
"""Fake of Scalelite's rake tasks, run by the fake `docker exec [-i] scalelite-api bin/rake TASK...`.

It follows Scalelite v1.8.5 (lib/tasks/servers.rake, status.rake, poll.rake, lib/server_sync.rb):
same task names and arguments, same output formats (`servers` prints the secret, as the real one
does; load multipliers print as Ruby BigDecimal, e.g. `0.1e1`), same validation and sync semantics
(a server missing from the file is removed when it has no meeting and cordoned when it has some,
with mode=cordon), same poll thresholds (offline after 2 failed polls, online after 1 good one).
The Rails logger writes to stdout (RAILS_LOG_TO_STDOUT), errors go to stderr.

State and knobs, all under $BBB_OVH_ROOT/fake-state/:
  scalelite-servers.json  the servers (Redis in the real thing) and the database state; written here
  offline                 knob: server ids (one a line) whose getMeetings fails when polled
  meetings                knob and state: running meetings, "<server-id> <meeting-id> [participants]"
                          a line; panic, sync force and an offline transition delete their lines
  bbb-versions            knob: "<server-id> <version>" lines reported by poll:versions (default 3.0.0)
"""

import json
import os
import re
import sys
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

import yaml

STATE_DIR = os.path.join(os.environ["BBB_OVH_ROOT"], "fake-state")
STATE_FILE = os.path.join(STATE_DIR, "scalelite-servers.json")
MEETINGS_FILE = os.path.join(STATE_DIR, "meetings")
SCHEMA_VERSION = 20230720144427
SERVER_PARAMS = {"url", "secret", "enabled", "load_multiplier", "tag"}
PARAMS_IGNORE = {"load", "state", "bbb_version", "online"}
SYNC_MODES = ["keep", "cordon", "force"]
HEALTHY_THRESHOLD = 1
UNHEALTHY_THRESHOLD = 2


class TaskError(Exception):
    """An error a task reports on stderr before exit(1)."""


# ---------------------------------------------------------------- state


def load_state():
    try:
        with open(STATE_FILE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"database": {"created": False, "version": 0}, "servers": {}}


def save_state(state):
    os.makedirs(STATE_DIR, exist_ok=True)
    tmp = STATE_FILE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=2, sort_keys=True)
    os.replace(tmp, STATE_FILE)


def read_lines(name):
    try:
        with open(os.path.join(STATE_DIR, name), encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def meetings_of(server_id):
    return [fields for fields in read_lines("meetings") if fields[0] == server_id]


def drop_meetings_of(server_id):
    kept = [" ".join(fields) + "\n" for fields in read_lines("meetings") if fields[0] != server_id]
    if os.path.exists(MEETINGS_FILE):
        with open(MEETINGS_FILE, "w", encoding="utf-8") as f:
            f.writelines(kept)


def new_server(server_id, url, secret, load_multiplier, tag):
    return {
        "id": server_id, "url": url, "secret": secret, "load_multiplier": str(load_multiplier), "tag": tag,
        "enabled": False, "state": None, "online": False, "load": None, "healthy": 0, "unhealthy": 0,
        "meetings": 0, "users": 0, "largest_meeting": 0, "videos": 0, "bbb_version": None,
    }


def is_enabled(server):
    return server["state"] == "enabled" or (server["state"] is None and server["enabled"])


# ---------------------------------------------------------------- Ruby-like output


def logger(level, message):
    # Ruby's Logger::Formatter, as Rails prints with RAILS_LOG_TO_STDOUT.
    now = datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")
    print(f"{level[0]}, [{now} #{os.getpid()}] {level:>5} -- : {message}")


def big_decimal(value):
    """BigDecimal#to_s: 1.0 -> 0.1e1, 0.5 -> 0.5e0, 0 -> 0.0."""
    d = Decimal(str(value))
    if d == 0:
        return "0.0"
    sign, digits, exponent = d.normalize().as_tuple()
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}0.{text}e{len(digits) + exponent}"


def ruby_float(value):
    return repr(float(value))


def to_d(value):
    """Ruby's String#to_d: the leading number, 0 when none."""
    match = re.match(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", str(value))
    return Decimal(match.group(0)) if match else Decimal(0)


# ---------------------------------------------------------------- tasks


def find(state, server_id):
    server = state["servers"].get(server_id)
    if server is None:
        raise TaskError(f"ERROR: No server found with id: {server_id}")
    return server


def task_servers(state, _args):
    if not state["servers"]:
        print("No servers are configured", file=sys.stderr)
    for s in state["servers"].values():
        print(f"id: {s['id']}")
        print(f"\turl: {s['url']}")
        print(f"\tsecret: {s['secret']}")
        print(f"\t{s['state'] or ('enabled' if s['enabled'] else 'disabled')}")
        print(f"\tload: {'unavailable' if s['load'] is None else ruby_float(s['load'])}")
        print(f"\tload multiplier: {big_decimal(s['load_multiplier'])}")
        print(f"\tbbb version: {s['bbb_version'] or ''}")
        print(f"\ttag: {s['tag'] or ''}")
        print(f"\t{'online' if s['online'] else 'offline'}")


def multiplier_or_one(raw):
    if raw is None:
        return Decimal("1.0")
    value = to_d(raw)
    if value == 0:
        logger("INFO", "WARNING! Load-multiplier was not readable or 0, so it is now 1")
        return Decimal("1.0")
    return value


def task_add(state, args):
    url, secret, multiplier, tag = (args + [None] * 4)[:4]
    if url is None or secret is None:
        raise TaskError("Error: Please input at least a URL and a secret!")
    if not url.startswith(("http://", "https://")):
        raise TaskError("Error: Server URL must start with http:// or https://")
    logger("INFO", f"Adding server {url}...")
    server_id = str(uuid.uuid4())  # a fresh id every time: servers:add is not idempotent
    state["servers"][server_id] = new_server(server_id, url, secret, multiplier_or_one(multiplier), tag or None)
    save_state(state)
    print("OK")
    print(f"id: {server_id}")


def set_state(new_state, verb):
    def task(state, args):
        server_id = args[0] if args else None
        logger("INFO", f"{verb} server {server_id}...")
        find(state, server_id)["state"] = new_state
        save_state(state)
        print("OK")

    return task


def task_remove(state, args):
    server_id = args[0] if args else None
    logger("INFO", f"Removing server {server_id}...")
    find(state, server_id)
    del state["servers"][server_id]
    save_state(state)
    print("OK")


def task_disable(state, args):
    server_id = args[0] if args else None
    logger("INFO", f"Disabling server {server_id}...")
    server = find(state, server_id)
    confirmed = True
    if server["load"] is not None and float(server["load"]) > 0.0:
        print("WARNING: You are trying to disable a server with active load. You should use the cordon option if\n"
              "          you do not want to clear all the meetings")
        print("If you still wish to continue please enter `yes`")
        answer = sys.stdin.readline()
        if answer == "":
            # $stdin.gets returns nil at end of input and the task dies on nil.chomp, as the real one does.
            raise TaskError("rake aborted!\nNoMethodError: undefined method `chomp' for nil:NilClass")
        confirmed = answer.rstrip("\n").strip().lower() == "yes"
        if confirmed:
            drop_meetings_of(server_id)
    if confirmed:
        server["state"] = "disabled"
    save_state(state)
    print("OK")


def task_panic(state, args):
    server_id, keep_state = (args + [None, None])[:2]
    logger("INFO", f"Panicking server {server_id}...")
    server = find(state, server_id)
    for fields in meetings_of(server_id):
        logger("INFO", f"Clearing Meeting id={fields[1]}")
    drop_meetings_of(server_id)
    if not keep_state:
        server["state"] = "disabled"
    save_state(state)
    print("OK")


def validate_sync_params(servers):
    for server_id, params in servers.items():
        params = params if isinstance(params, dict) else {}
        servers[server_id] = params
        if params.get("url") is None:
            params["url"] = f"https://{server_id}/bigbluebutton/api"
        params["enabled"] = params.get("enabled") is None or bool(params["enabled"])
        if params.get("load_multiplier") is None:
            params["load_multiplier"] = 1.0
        params["tag"] = params.get("tag") or None
        bad = sorted(set(params) - SERVER_PARAMS - PARAMS_IGNORE)
        sid = str(server_id)
        if not re.fullmatch(r"[a-zA-Z0-9_.-]+", sid):
            raise TaskError(f"Server id={sid} contains invalid characters")
        if not str(params.get("secret") or "").strip():
            raise TaskError(f"Server id={sid} has no secret")
        if bad:
            raise TaskError(f"Server id={sid} has bad parameters: {json.dumps(bad)}")
        if to_d(params["load_multiplier"]) <= 0:
            raise TaskError(f"Server id={sid} has invalid load_multiplier={params['load_multiplier']}")
        url = urlparse(str(params["url"]))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TaskError(f"Server id={sid} has invalid url={params['url']}")


def task_sync(state, args):
    path, mode, dryrun = (args + [None] * 3)[:3]
    if not path:
        raise TaskError("ERROR: Missing 'path' parameter")
    mode = mode or "cordon"
    dryrun = bool(dryrun) and str(dryrun).lower() not in ("n", "no", "false")
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        document = yaml.safe_load(text)
    except OSError as error:
        raise TaskError(f"ERROR: {error}") from error
    except yaml.MarkedYAMLError as error:
        # Psych's message names the position only, never the document's text.
        mark = error.problem_mark
        raise TaskError(f"ERROR: (<unknown>): {error.problem} at line {mark.line + 1} column {mark.column + 1}") from error
    if not isinstance(document, dict):
        raise TaskError("ERROR: Invalid YAML document")
    servers = document.get("servers")
    if not isinstance(servers, dict):
        raise TaskError("ERROR: Servers parameter not a hash")
    if mode not in SYNC_MODES:
        raise TaskError(f"ERROR: Unknown sync mode '{mode}' (choose: {' '.join(SYNC_MODES)})")
    try:
        validate_sync_params(servers)
    except TaskError as error:
        raise TaskError(f"ERROR: {error}") from error

    for server_id, params in servers.items():
        server_id = str(server_id)
        server = state["servers"].get(server_id)
        if server is None:
            logger("INFO", f"[{server_id}] Server created")
            if dryrun:
                continue
            server = new_server(server_id, params["url"], params["secret"], to_d(params["load_multiplier"]), params["tag"])
            state["servers"][server_id] = server
        if server["url"] != params["url"]:
            server["url"] = params["url"]
            logger("INFO", f"[{server_id}] Server updated: url={params['url']}")
        if server["secret"] != params["secret"]:
            server["secret"] = params["secret"]
            logger("INFO", f"[{server_id}] Server updated: secret=*****")
        if to_d(server["load_multiplier"]) != to_d(params["load_multiplier"]):
            server["load_multiplier"] = str(params["load_multiplier"])
            logger("INFO", f"[{server_id}] Server updated: load_multiplier={params['load_multiplier']}")
        if server["tag"] != params["tag"]:
            server["tag"] = params["tag"]
            logger("INFO", f"[{server_id}] Server updated: tag={params['tag'] or ''}")
        if params["enabled"] and not is_enabled(server):
            server["state"] = "enabled"
            logger("INFO", f"[{server_id}] Server enabled")
        elif not params["enabled"] and is_enabled(server):
            server["state"] = "cordoned"
            logger("INFO", f"[{server_id}] Server disabled (cordoned)")

    wanted = {str(k) for k in servers}
    for server_id in [sid for sid in state["servers"] if sid not in wanted]:
        server = state["servers"][server_id]
        if mode == "keep":
            logger("INFO", f"[{server_id}] Server not removed")
            continue
        if not meetings_of(server_id):
            if not dryrun:
                del state["servers"][server_id]
            logger("INFO", f"[{server_id}] Server removed")
            continue
        if is_enabled(server):
            server["state"] = "cordoned"
            logger("INFO", f"[{server_id}] Server not empty. Cordoned for removal")
        if mode == "cordon":
            continue
        logger("INFO", f"[{server_id}] Server not empty. Ending meetings now...")
        for fields in meetings_of(server_id):
            logger("INFO", f"[{server_id}] Try to end meeting id={fields[1]}")
        if not dryrun:
            drop_meetings_of(server_id)
            del state["servers"][server_id]
        logger("INFO", f"[{server_id}] Server removed")
    if not dryrun:
        save_state(state)


def task_yaml(state, args):
    verbose = bool(args and args[0])
    dump = {}
    for s in state["servers"].values():
        info = {"url": s["url"], "secret": s["secret"], "load_multiplier": float(s["load_multiplier"]),
                "tag": s["tag"] or "", "enabled": is_enabled(s)}
        if verbose:
            info.update(state=s["state"] or ("enabled" if is_enabled(s) else "disabled"),
                        load=-1.0 if s["load"] is None else float(s["load"]),
                        bbb_version=s["bbb_version"] or "", online=s["online"])
        dump[s["id"]] = info
    print("---")
    print(yaml.safe_dump({"servers": dump}, sort_keys=False, default_flow_style=False), end="")


def task_status(state, _args):
    header = ["HOSTNAME", "STATE", "STATUS", "MEETINGS", "USERS", "LARGEST MEETING", "VIDEOS", "LOAD", "BBB VERSION", "TAG"]
    rows = []
    for s in state["servers"].values():
        shown_state = s["state"] if s["state"] in ("enabled", "cordoned") else ("disabled" if s["state"] else ("enabled" if s["enabled"] else "disabled"))
        rows.append([urlparse(s["url"]).hostname or "", shown_state, "online" if s["online"] else "offline",
                     s["meetings"], s["users"], s["largest_meeting"], s["videos"],
                     "" if s["load"] is None else ruby_float(s["load"]), s["bbb_version"] or "", s["tag"] or ""])
    rows.sort(key=lambda row: row[0])
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]

    # Tabulo with border: :blank: one space of padding each side, headers centred, numbers right-aligned.
    def cell(value, width, centred=False):
        text = str(value)
        if centred:
            return f" {text.center(width)} "
        return f" {text.rjust(width) if isinstance(value, int) else text.ljust(width)} "

    print()
    print("".join(cell(h, w, centred=True) for h, w in zip(header, widths)))
    for row in rows:
        print("".join(cell(v, w) for v, w in zip(row, widths)))


def task_poll_servers(state):
    offline = {fields[0] for fields in read_lines("offline")}
    for s in state["servers"].values():
        sid = s["id"]
        if sid in offline:
            logger("WARN", f"Failed to get server id={sid} status: Connection refused")
            s["healthy"] = 0
            if s["online"]:
                s["unhealthy"] += 1
                if s["unhealthy"] >= UNHEALTHY_THRESHOLD:
                    logger("WARN", f"Server id={sid} is unhealthy. Panicking and setting offline...")
                    drop_meetings_of(sid)
                    s.update(unhealthy=0, healthy=0, load=None, online=False, meetings=0, users=0, largest_meeting=0, videos=0)
        else:
            meetings = meetings_of(sid)
            users = [int(fields[2]) if len(fields) > 2 else 0 for fields in meetings]
            load = float(sum(users) * to_d(s["load_multiplier"]))
            s["unhealthy"] = 0
            if s["online"]:
                s["load"] = load
            else:
                s["healthy"] += 1
                if s["healthy"] >= HEALTHY_THRESHOLD:
                    logger("INFO", f"Server id={sid} is healthy. Bringing back online...")
                    s.update(healthy=0, unhealthy=0, load=load, online=True)
            if s["state"] == "cordoned" and not s["load"]:
                s["state"] = "disabled"
            s.update(meetings=len(meetings), users=sum(users), largest_meeting=max(users, default=0))
        logger("INFO", f"Server id={sid} {'online' if s['online'] else 'offline'} load: "
                       f"{'unavailable' if s['load'] is None else ruby_float(s['load'])}")


def task_poll_versions(state):
    versions = {fields[0]: fields[1] for fields in read_lines("bbb-versions") if len(fields) > 1}
    for s in state["servers"].values():
        if s["online"]:
            s["bbb_version"] = versions.get(s["id"], "3.0.0")


def task_poll_all(state, _args):
    task_poll_servers(state)
    task_poll_versions(state)
    save_state(state)


def task_poll_servers_only(state, _args):
    task_poll_servers(state)
    save_state(state)


def task_db_setup(state, _args):
    db = state["database"]
    if db["created"]:
        print("Database 'scalelite' already exists", file=sys.stderr)
    db.update(created=True, version=SCHEMA_VERSION)  # schema:load recreates the tables
    save_state(state)


def task_db_prepare(state, _args):
    state["database"].update(created=True, version=SCHEMA_VERSION)
    save_state(state)


def task_db_version(state, _args):
    db = state["database"]
    if not db["created"]:
        raise TaskError('rake aborted!\nActiveRecord::NoDatabaseError: FATAL:  database "scalelite" does not exist')
    print(f"Current version: {db['version']}")


TASKS = {
    "servers": task_servers,
    "servers:add": task_add,
    "servers:remove": task_remove,
    "servers:enable": set_state("enabled", "Enabling"),
    "servers:cordon": set_state("cordoned", "Cordoning"),
    "servers:disable": task_disable,
    "servers:panic": task_panic,
    "servers:sync": task_sync,
    "servers:yaml": task_yaml,
    "status": task_status,
    "poll:all": task_poll_all,
    "poll:servers": task_poll_servers_only,
    "db:setup": task_db_setup,
    "db:prepare": task_db_prepare,
    "db:version": task_db_version,
}


def parse_task(spec):
    """'servers:sync[-,cordon]' -> ('servers:sync', ['-', 'cordon']), as rake splits its arguments."""
    match = re.fullmatch(r"([^\[]+)(?:\[(.*)\])?", spec, re.S)
    name, raw = match.group(1), match.group(2)
    args = [] if raw is None else [a.strip() for a in re.split(r"(?<!\\),", raw)]
    return name, [a.replace("\\,", ",") or None for a in args]


def main(argv):
    status = 0
    for spec in argv:
        name, args = parse_task(spec)
        task = TASKS.get(name)
        if task is None:
            print(f"rake aborted!\nDon't know how to build task '{name}' (See the list of available tasks with `rake --tasks`)", file=sys.stderr)
            return 1
        try:
            task(load_state(), args)
        except TaskError as error:
            print(error, file=sys.stderr)
            status = 1
            break
        except (InvalidOperation, ValueError) as error:
            print(f"rake aborted!\n{error}", file=sys.stderr)
            status = 1
            break
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
