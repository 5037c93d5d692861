"""The worker under attack: deadlines, crashes, memory, output, isolation layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader.judge.student import Call, StudentFault, StudentModule
from grader.sandbox.process import GRADER_DIR, Sandbox, WorkerProcess

ROOT = os.geteuid() == 0
SOURCE = textwrap.dedent(
    """
    import os, socket, subprocess, sys, time
    import numpy as np

    def double(x):
        return 2 * x, {"kept": x}

    def spin():
        while True:
            pass

    def spawn_and_spin():
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         start_new_session=True)
        with open("/tmp/child-started", "w") as fh:
            fh.write("1")
        while True:
            pass

    def hog():
        return np.ones(int(20e9 / 8))

    def die():
        os._exit(3)

    def shout():
        print("x" * 10_000_000)
        return 1.0

    def whoami():
        return os.getuid()

    def processes():
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

    def listdir(path):
        return len(os.listdir(path)) if os.path.exists(path) else None

    def entries(path):
        return sorted(os.listdir(path))

    def connect():
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        except OSError as exc:
            return type(exc).__name__
        return "connected"

    def big_file():
        with open("/tmp/big", "wb") as fh:
            fh.write(b"x" * (40 << 20))

    def draw():
        import random

        return np.random.rand(3), random.random()

    def refuse():
        raise NotImplementedError("todo")

    def leave():
        sys.exit(4)
    """
)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "demo.py"
    path.write_text(SOURCE)
    return path


def student(module: Path, **kw) -> StudentModule:
    sandbox = Sandbox(
        hide=kw.pop("hide", ()),
        memory_mb=kw.pop("memory_mb", 1024),
        filesystem=kw.pop("filesystem", "allow-list"),
    )
    return StudentModule(module, "demo", sandbox, kw.pop("timeout", 2.0), 2.0)


def test_start_up_is_fast_and_reports_its_layers(module):
    started = time.perf_counter()
    worker = WorkerProcess(module, "demo", Sandbox())
    elapsed = time.perf_counter() - started
    worker.close()
    assert elapsed < 2.0  # generous for a loaded CI machine; the benchmark reports the median
    assert "python -s -P" in worker.isolation and any(
        x.startswith("rlimits") for x in worker.isolation
    )
    if ROOT:
        layers = {"netns(no network)", "pidns", "private tmpfs", "private /proc", "not dumpable"}
        assert layers <= set(worker.isolation)


def test_request_and_reply_pipes_hold_a_mebibyte_and_carry_a_bigger_array(module):
    """A speed check's round (MiBs of arrays) crosses each pipe in a few hand-overs, not dozens:
    both pipes are enlarged to PIPE_BYTES (where the system's pipe-max-size allows it)."""
    import fcntl

    from grader.sandbox.process import PIPE_BYTES

    worker = WorkerProcess(module, "demo", Sandbox())
    try:
        allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text()) >= PIPE_BYTES
        for fd in (worker._req_w, worker._rep_r):
            size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
            assert size >= PIPE_BYTES if allowed else size > 0
    finally:
        worker.close()
    s = student(module)
    x = np.random.default_rng(0).standard_normal(3 << 17)  # 3 MiB: more than one pipeful
    out, _ = s.call(Call("double", (x,))).value
    assert np.array_equal(out, 2 * x)
    s.close()


def test_call_with_handles(module):
    s = student(module)
    reply = s.call(Call("double", (np.arange(3.0),), keep=[1]))
    out, handle = reply.value
    assert np.array_equal(out, [0, 2, 4]) and type(handle).__name__ == "Handle"
    s.close()


def test_timeout_kills_the_whole_tree_and_is_not_retried(module, tmp_path):
    s = student(module, timeout=1.0)
    with pytest.raises(StudentFault) as info:
        s.call(Call("spawn_and_spin"))
    assert info.value.outcome == "timeout"
    started = time.perf_counter()
    with pytest.raises(StudentFault, match="timed out earlier"):
        s.call(Call("spawn_and_spin"))
    assert time.perf_counter() - started < 0.5
    # the worker was replaced: other functions still work
    assert np.array_equal(s.call(Call("double", (np.ones(2),), keep=[1])).value[0], [2, 2])
    s.close()
    if ROOT:  # the grandchild lived in the worker's PID namespace and died with it
        out = os.popen("pgrep -f 'time.sleep\\(60\\)' || true").read().strip()
        assert out == ""


def test_crash_is_reported_and_the_worker_replaced(module):
    s = student(module)
    with pytest.raises(StudentFault) as info:
        s.call(Call("die"))
    assert info.value.outcome == "crashed" and "status 3" in info.value.reason
    assert s.call(Call("double", (1.0,), keep=[1])).value[0] == 2.0
    s.close()


def test_memory_limit(module):
    s = student(module)
    with pytest.raises(StudentFault) as info:
        s.call(Call("hog"))
    assert info.value.outcome == "memory"
    s.close()


def test_not_implemented_and_sys_exit(module):
    s = student(module)
    with pytest.raises(StudentFault) as info:
        s.call(Call("refuse"))
    assert info.value.outcome == "not_implemented"
    with pytest.raises(StudentFault) as info:
        s.call(Call("leave"))
    assert info.value.outcome == "exception" and "sys.exit(4)" in info.value.reason
    assert s.call(Call("double", (1.0,), keep=[1])).value[0] == 2.0  # still the same worker
    s.close()


def test_seeding_makes_global_randomness_repeatable(module):
    draws = []
    for _ in range(2):  # two separate workers
        s = student(module)
        s.seed(1234)
        draws.append(s.call(Call("draw")).value)
        s.close()
    assert np.array_equal(draws[0][0], draws[1][0]) and draws[0][1] == draws[1][1]


def test_file_size_limit_is_an_exception_not_a_crash(module):
    s = StudentModule(module, "demo", Sandbox(file_size_mb=16), 5.0, 5.0)
    with pytest.raises(StudentFault) as info:
        s.call(Call("big_file"))
    assert info.value.outcome == "exception" and "OSError" in info.value.reason
    assert s.call(Call("double", (1.0,), keep=[1])).value[0] == 2.0
    s.close()


def test_output_is_captured_and_capped(module):
    s = student(module)
    assert s.call(Call("shout")).value == 1.0
    s.close()
    text = "\n".join(s.output_log)
    assert len(text) < 70_000 and "output dropped" in text


@pytest.mark.skipif(not ROOT, reason="uid switch and namespaces need root")
@pytest.mark.parametrize("filesystem", ["allow-list", "deny-list"])
def test_isolation_layers_hold(module, filesystem):
    # outside /tmp, /var/tmp and /root (which the worker replaces wholesale), to test hiding
    base = next(
        p
        for p in (Path("/run"), Path("/var/lib"), Path("/opt"), Path("/srv"))
        if p.is_dir() and os.access(p, os.W_OK)
    )
    secret = base / f"grader-hidden-{os.getpid()}"
    secret.mkdir(exist_ok=True)
    (secret / "answers.py").write_text("x = 1")
    try:
        s = student(module, hide=(str(secret),), filesystem=filesystem)
        other = student(module)
        uid = s.call(Call("whoami")).value
        assert uid >= 1_000_000 and other.call(Call("whoami")).value not in (0, uid)
        other.close()
        # only its own processes: not the judge, not other students' workers
        assert s.call(Call("processes")).value == [1]
        # not there at all in a root of the allow-list; covered by an empty folder otherwise
        expected = None if filesystem == "allow-list" else 0
        assert s.call(Call("listdir", (str(secret),))).value == expected
    finally:
        (secret / "answers.py").unlink()
        secret.rmdir()
    # a private tmpfs: only the way to what is kept read-only (the Python installation and the
    # grader's code, when they lie under /tmp, as in a clone there; in a root of the allow-list
    # also the graded file) and nothing else
    kept = {sys.prefix, sys.base_prefix, sys.exec_prefix, GRADER_DIR}
    if filesystem == "allow-list":
        kept.add(str(module))
    allowed = sorted(
        {
            Path(p).parts[2]
            for p in kept
            if Path(p).parts[1:2] == ("tmp",) and len(Path(p).parts) > 2
        }
    )
    marker = Path("/tmp") / f"grader-marker-{os.getpid()}"
    marker.write_text("outside the sandbox")
    try:
        assert s.call(Call("entries", ("/tmp",))).value == allowed
    finally:
        marker.unlink()
    assert s.call(Call("connect")).value in ("OSError", "ConnectionRefusedError")
    assert s.call(Call("connect")).value != "connected"
    s.close()


@pytest.mark.parametrize(
    "source", ["raise ValueError('at import')", "def broken(:\n", "import sys\nsys.exit(0)"]
)
def test_a_module_that_fails_to_load_leaves_no_worker_behind(tmp_path, source):
    path = tmp_path / "unloadable_module_for_leak_test.py"
    path.write_text(source)
    s = student(path)
    with pytest.raises(StudentFault) as info:
        s.call(Call("anything"))
    assert info.value.outcome == "exception"
    with pytest.raises(StudentFault):  # remembered: no second worker is started
        s.call(Call("anything"))
    assert s.starts == 1
    time.sleep(0.1)
    left = subprocess.run(["pgrep", "-f", path.name], capture_output=True, text=True).stdout
    assert left.split() == []


JUDGE_WITHOUT_SYS_ADMIN = """
import json, sys
from pathlib import Path
from grader.judge.student import Call, StudentModule
from grader.sandbox.process import Sandbox
s = StudentModule(Path(sys.argv[1]), "demo", Sandbox(), 5.0, 5.0)
print(json.dumps({"value": s.call(Call("double", (2.0,), keep=[1])).value[0],
                  "isolation": s.isolation}))
s.close()
"""


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_root_without_namespaces_still_grades(module):
    """Like a container's root without CAP_SYS_ADMIN: the worker falls back and says so."""
    proc = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-sys_admin",
            "--inh-caps",
            "-sys_admin",
            sys.executable,
            "-c",
            JUDGE_WITHOUT_SYS_ADMIN,
            str(module),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["value"] == 4.0
    assert "no namespaces (not permitted here)" in result["isolation"]
    assert not any(layer.startswith("netns") for layer in result["isolation"])


def test_reachability_of_paths(tmp_path):
    from grader.sandbox import layers

    private = tmp_path / "private"
    (private / "inside").mkdir(parents=True)
    private.chmod(0o700)
    assert layers.reachable_by_others(["/usr/bin", "/does/not/exist"])
    assert not layers.reachable_by_others(["/usr/bin", str(private / "inside")])


def test_cuda_workers_keep_a_memory_cap(module):
    """A CUDA context reserves tens of GiB of address space, so CUDA workers are capped by
    RLIMIT_DATA instead of RLIMIT_AS: a memory bomb still fails as ``memory``."""
    sandbox = Sandbox(memory_mb=1024, setup="cuda")
    s = StudentModule(module, "demo", sandbox, 2.0, 2.0)
    with pytest.raises(StudentFault) as info:
        s.call(Call("hog"))
    assert info.value.outcome == "memory"
    assert any("data_mb" in layer and "memory_mb" not in layer for layer in s.isolation)
    s.close()


PROBE = """
import os


def exists(paths):
    return [os.path.exists(p) for p in paths]


def entries(path):
    return sorted(os.listdir(path))
"""


@pytest.mark.skipif(not ROOT, reason="the mount layers need root")
def test_the_course_folder_is_hidden_but_for_the_graders_own_package(tmp_path):
    """No example submission, note or config of the checkout is readable from a worker: the
    whole course folder is covered, the grader package (and Python) bind-mounted back."""
    from grader import config, pipeline

    repo = Path(__file__).resolve().parents[2]
    course = config.load(repo / "autograder.yml")
    module = tmp_path / "probe.py"
    module.write_text(PROBE)
    s = StudentModule(module, "probe", pipeline.sandbox_for(course), 5.0, 5.0)
    try:
        alice = repo / "examples" / "submissions" / "alice" / "losses.py"
        seen = s.call(Call("exists", ([str(alice), str(repo / "autograder.yml")],))).value
        assert alice.is_file() and seen == [False, False]
        if Path(GRADER_DIR).is_relative_to(repo):
            assert s.call(Call("entries", (str(repo),))).value == [Path(GRADER_DIR).name]
        assert s.call(Call("exists", ([str(Path(GRADER_DIR) / "pipeline.py")],))).value == [True]
    finally:
        s.close()


LOCKER = """
import os


def publish(folder, text):
    try:
        with open(os.path.join(folder, "shared-by-a-classmate"), "w") as fh:
            fh.write(text)
    except OSError:  # not there, or not writable: no channel either
        return False
    return True


def read(folder):
    try:
        with open(os.path.join(folder, "shared-by-a-classmate")) as fh:
            return fh.read()
    except OSError:
        return None
"""


@pytest.mark.skipif(not ROOT, reason="the mount layers need root")
@pytest.mark.parametrize("filesystem", ["allow-list", "deny-list"])
def test_no_world_writable_folder_is_shared_between_workers(tmp_path, filesystem):
    from grader.sandbox import allowlist, layers

    module = tmp_path / "locker.py"
    module.write_text(LOCKER)
    sandbox = Sandbox(filesystem=filesystem)
    one, two = (StudentModule(module, "locker", sandbox, 5.0, 5.0) for _ in range(2))
    folders = {*layers.WORLD_WRITABLE, *allowlist.PRIVATE, *allowlist.writable_by_others()}
    published = []
    try:
        for folder in sorted(folders):
            if one.call(Call("publish", (folder, "my code"))).value:
                published.append(folder)
                assert two.call(Call("read", (folder,))).value is None, folder
    finally:
        one.close()
        two.close()
    assert {"/tmp", "/var/tmp", "/dev/shm"} <= set(published)  # private, but writable
    if filesystem == "allow-list":
        assert {"/run", "/run/lock", "/var/lock"} <= set(published)
    assert not any(os.path.exists(os.path.join(f, "shared-by-a-classmate")) for f in folders)
