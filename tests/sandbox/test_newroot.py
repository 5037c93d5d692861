"""Building the allow-list root (grader/sandbox/newroot.py): symlinks, the plan, failure."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from grader.sandbox import layers, newroot

ROOT = sys.platform.startswith("linux") and os.geteuid() == 0


def test_symlinks_on_the_way_are_named_and_followed(tmp_path):
    (tmp_path / "real" / "lib").mkdir(parents=True)
    (tmp_path / "link").symlink_to("real")  # relative, as /lib -> usr/lib
    (tmp_path / "real" / "abs").symlink_to(tmp_path / "real" / "lib")  # absolute
    links, real = newroot.resolve(str(tmp_path / "link" / "abs"))
    base = str(tmp_path.resolve())
    assert real == f"{base}/real/lib"
    assert (f"{base}/link", "real") in links and (f"{base}/real/abs", f"{base}/real/lib") in links


def test_the_plan_puts_parents_first_and_nothing_inside_a_bound_folder(tmp_path):
    outer = tmp_path / "python"
    (outer / "site").mkdir(parents=True)
    graded = tmp_path / "graded.py"
    graded.write_text("x = 1")
    allow = {
        "read": [str(outer / "site"), str(outer), str(graded)],  # site: seen through outer
        "devices": ["/dev/null"],
        "writable": ["/tmp", str(outer / "site")],  # inside a read-only folder: stays so
    }
    steps = newroot.plan(allow, [])
    try:
        kinds = {(s.path, s.kind) for s in steps}
        assert (str(outer), "bind-ro") in kinds and (str(graded), "bind-ro") in kinds
        assert not any(s.path == str(outer / "site") for s in steps)
        assert ("/tmp", "tmpfs") in kinds and ("/dev/null", "bind-dev") in kinds
        assert ("/dev/fd", "link") in kinds and ("/proc", "dir") in kinds
        order = [s.path for s in steps]
        assert order.index("/tmp") < order.index(str(graded))  # the tmpfs first, then into it
    finally:
        for step in steps:
            if step.source >= 0:
                os.close(step.source)


@pytest.mark.skipif(not ROOT, reason="mount namespaces need root on Linux")
def test_a_failed_root_leaves_nothing_mounted_and_the_worker_falls_back(tmp_path):
    """A root that cannot be built (here: a tmpfs size the kernel refuses) unmounts its
    staging folder again; the worker then applies the deny-list layers and says why."""
    marker = tmp_path / "still-here"
    marker.write_text("the host's /tmp")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child of its own mount namespace: nothing of this reaches the test
        code = 1
        try:
            os.close(read)
            layers.enter_namespaces()
            allow = {"read": [sys.prefix], "devices": [], "writable": ["/tmp"]}
            try:
                newroot.enter(allow, tmpfs_mb=-1)
                failed = ""
            except layers.LayerError as exc:
                failed = str(exc)
            seen = marker.exists()

            def refuse(*_args: object) -> None:
                raise layers.LayerError(0, "refused for the test")

            newroot.enter = refuse
            from grader.worker.main import _file_system

            cfg = {"allow": allow, "tmpfs_mb": 16, "hide": [], "reachable": [sys.prefix]}
            names = _file_system(cfg)
            os.write(write, json.dumps([failed, seen, names]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        failed, seen, names = json.loads(fh.read() or "[null, null, null]")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert failed and seen is True
    assert "private tmpfs" in names
    assert any("the allow-list root failed: [Errno 0] refused for the test" in n for n in names)
    assert Path(marker).read_text() == "the host's /tmp"
