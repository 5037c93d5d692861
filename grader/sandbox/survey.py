"""What a worker can read and write, seen from inside, compared with the allow-list.

``PROBE`` is the source of a module graded like a student's: its ``survey`` walks the worker's
file system (breadth first, symlinks not followed, ``/proc`` and ``/sys`` not entered, trees the
allow-list grants whole not entered either, at most ``cap`` entries), looks at each of the
``watch`` paths (the course checkout, an example submission, the home folders) and reads the
mount table. ``violations`` compares the result with ``grader.sandbox.allowlist``; ``table``
prints it. Used by ``scripts/allow_list.py`` and ``tests/sandbox/test_allow_list.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox import allowlist, newroot

if TYPE_CHECKING:
    from grader.sandbox.process import Sandbox

PROBE = '''
import os
import stat


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "file" if stat.S_ISREG(mode) else "other"


def _entry(path):
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    kind = _kind(mode)
    if kind == "link":
        return [path, kind, True, False]
    need = os.R_OK | os.X_OK if kind == "dir" else os.R_OK
    readable = os.access(path, need)
    if readable and kind == "dir":
        try:
            os.listdir(path)
        except OSError:
            readable = False
    return [path, kind, readable, os.access(path, os.W_OK)]


def _walk(starts, prune, cap):
    found, level = [], list(starts)
    while level and len(found) < cap:
        below = []
        for folder in level:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                path = os.path.join(folder, name)
                entry = _entry(path)
                if entry is None:
                    continue
                found.append(entry)
                if len(found) >= cap:
                    return found
                if entry[1] == "dir" and entry[2] and path not in prune:
                    below.append(path)
        level = below
    return found


def survey(watch, prune, cap):
    """Entries [path, kind, readable, writable] of the file system and of ``watch`` (each
    watched path and what lies under it), and the mounts [point, rw or ro, type]."""
    entries = _walk(["/"], set(prune) | {"/proc", "/sys"}, cap)
    for path in watch:
        entry = _entry(path)
        if entry is not None:
            entries.append(entry)
            if entry[1] == "dir" and entry[2]:
                entries += _walk([path], set(prune), cap)
    mounts = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            sep = fields.index("-")
            mounts.append(f"{fields[4]}\t{fields[5].split(',')[0]}\t{fields[sep + 1]}")
    # one string per entry: a reply holds at most 100,000 values
    lines = [f"{p}\t{k}\t{int(r)}\t{int(w)}" for p, k, r, w in entries]
    return {"entries": lines, "mounts": mounts, "uid": os.getuid()}
'''


def _parse(raw: dict) -> dict:
    """The probe's reply as lists: entries [path, kind, readable, writable], mounts."""
    entries = []
    for line in raw["entries"]:
        path, kind, readable, writable = line.rsplit("\t", 3)
        entries.append([path, kind, readable == "1", writable == "1"])
    mounts = [line.rsplit("\t", 2) for line in raw["mounts"]]
    return {"entries": entries, "mounts": mounts, "uid": raw["uid"]}


@dataclass(frozen=True)
class Expected:
    """The allow-list as the survey checks it: paths granted whole, writable places, device
    nodes, and symlinks on the way to them (resolved as ``newroot`` resolves them)."""

    read: list[str]
    writable: list[str]
    devices: list[str]
    links: list[str]

    @classmethod
    def of(cls, allow: dict[str, list[str]]) -> Expected:
        links: set[str] = set(newroot.DEV_LINKS)
        real: dict[str, list[str]] = {}
        for key in ("read", "writable", "devices"):
            real[key] = []
            for path in allow[key]:
                found, target = newroot.resolve(path)
                links.update(p for p, _ in found)
                real[key].append(target)
        return cls(real["read"], real["writable"], real["devices"], sorted(links))

    def why(self, path: str, kind: str) -> str | None:
        """Why the worker may read ``path`` (None: it may not)."""
        if allowlist.covers(path, self.read):
            return "read-only"
        every = [*self.read, *self.writable, *self.devices, *self.links, "/proc"]
        on_the_way = kind == "dir" and any(allowlist.covers(p, [path]) for p in every)
        if allowlist.covers(path, self.writable):
            inner = path not in self.writable and on_the_way
            return "on the way, in a private tmpfs" if inner else "private, writable"
        if path in self.devices:
            return "device"
        if kind == "link" and path in self.links:
            return "link on the way"
        if allowlist.covers(path, ["/proc"]):
            return "own /proc"
        if on_the_way:
            return "on the way"
        return None


def violations(result: dict, expected: Expected) -> list[str]:
    """Each path the worker could read or write, or each mount it could write to, beyond
    what ``expected`` allows."""
    found = []
    for path, kind, readable, writable in result["entries"]:
        why = expected.why(path, kind)
        if readable and why is None:
            found.append(f"readable: {path} ({kind})")
        if writable and why not in ("private, writable", "device"):  # on the way: root's
            found.append(f"writable: {path} ({kind})")
    for point, mode, fstype in result["mounts"]:
        if mode == "rw" and not (
            point in expected.writable or point in expected.devices or point == "/proc"
        ):
            found.append(f"writable mount: {point} ({fstype})")
    return sorted(set(found))


def watched(repo: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """Paths a worker must not reach (but the way to what it may): the checkout, its example
    submissions, home folders, and ``extra`` (a classmate's submission)."""
    paths = [str(repo), str(repo / "examples" / "submissions"), "/root", "/home", "/work", "/srv"]
    return [p for p in dict.fromkeys([*paths, *extra]) if os.path.lexists(p)]


def table(result: dict, expected: Expected, repo: Path, extra: tuple[str, ...] = ()) -> str:
    """The survey as text: top-level entries, what lies under the checkout and home folders,
    the mounts, and the violations (or none)."""
    lines = [f"{'path':<46} {'kind':<7} read  write  allowed as"]
    shown = set()
    inside = [str(repo), "/root", "/home", "/work", *extra]
    for path, kind, readable, writable in result["entries"]:
        top = path.count("/") == 1
        if (top or allowlist.covers(path, inside)) and path not in shown and readable:
            shown.add(path)
            why = expected.why(path, kind) or "NOT ALLOWED"
            lines.append(f"{path:<46} {kind:<7} {'yes':<5} {'yes' if writable else 'no':<6} {why}")
    seen = {e[0] for e in result["entries"]}
    for path in watched(repo, extra):
        lines.append(f"watched {path}: {'present' if path in seen else 'absent'} in the worker")
    rw = [m[0] for m in result["mounts"] if m[1] == "rw"]
    lines.append(
        f"mounts: {len(result['mounts'])}, read-only {len(result['mounts']) - len(rw)}, "
        f"writable {len(rw)}: {' '.join(sorted(rw))}"
    )
    lines.append(f"entries looked at: {len(result['entries'])}; worker uid {result['uid']}")
    found = violations(result, expected)
    lines.append("violations: none" if not found else "violations:")
    lines += [f"  {v}" for v in found[:40]]
    if len(found) > 40:
        lines.append(f"  ... {len(found) - 40} more")
    return "\n".join(lines)


CAP = 5_000  # entries each walk looks at, at most (a second or two on a loaded machine)


def run(
    sandbox: Sandbox, folder: Path, repo: Path, extra: tuple[str, ...] = (), cap: int = CAP
) -> tuple[dict, Expected]:
    """Grade ``PROBE`` (written into ``folder``) in a worker of ``sandbox`` and survey (with
    ``extra`` watched too); the result and the allow-list that worker was given."""
    from grader.judge.student import Call, StudentModule
    from grader.sandbox.process import GRADER_DIR

    module = folder / "allow_list_probe.py"
    module.write_text(PROBE)
    expected = Expected.of(allowlist.allow_list(str(module), GRADER_DIR, sandbox.setup))
    student = StudentModule(module, "allow_list_probe", sandbox, 60.0, 10.0)
    try:
        reply = student.call(Call("survey", (watched(repo, extra), expected.read, cap))).value
        result = _parse(reply)
        result["isolation"] = student.isolation
    finally:
        student.close()
    return result, expected
