"""``grader check``'s worker templates as daemons, found running by the next check."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from grader.judge.student import Call, StudentModule
from grader.sandbox import daemon, template
from grader.sandbox.process import Sandbox

pytestmark = pytest.mark.skipif(not template.available(), reason="templates need Linux")

ROOT = Path(__file__).resolve().parents[2]
SOURCE = textwrap.dedent(
    """
    import time

    def one():
        return 1.0

    def nap():
        time.sleep(60)
    """
)


@pytest.fixture
def runtime(monkeypatch) -> Path:
    """A private ``XDG_RUNTIME_DIR`` with daemons on (short: a socket's path has at most 107
    bytes); every daemon started there is killed."""
    folder = Path(tempfile.mkdtemp(prefix="gd-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.setenv(daemon.ENV, "on")
    yield folder
    for sock in (folder / f"grader-{os.getuid()}").glob("*.sock"):
        pid = owner(sock)
        if pid:
            for child in children(pid):
                os.kill(child, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def owner(sock_path: Path) -> int | None:
    """The pid of the daemon listening at ``sock_path`` (None when nothing listens)."""
    try:
        found = daemon.connect(sock_path)
    except template.TemplateError:
        return None
    if found is None:
        return None
    found[0].close()
    return found[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_until(condition, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "served.py"
    path.write_text(SOURCE)
    return path


def check_with(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader", "check", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def check(topic: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return check_with([topic, "--submission", "solutions"], env)


def test_the_next_check_forks_from_the_daemon_the_first_left(runtime):
    env = dict(os.environ)
    first = check("dropout", env)
    assert first.returncode == 0, first.stdout + first.stderr
    numpy_only = daemon.socket_path((), template.scrubbed_env())  # all dropout forks from
    pid = owner(numpy_only)
    assert pid is not None and alive(pid)
    second = check("dropout", env)
    assert second.returncode == 0
    assert owner(numpy_only) == pid  # the same daemon served it
    torch = daemon.socket_path(("torch",), template.scrubbed_env())
    assert not torch.exists()  # no topic of this check needed it
    without = check("dropout", {**env, daemon.ENV: "off"})
    assert without.stdout == second.stdout  # same verdicts, same report


def test_without_daemons_a_check_leaves_nothing_running(runtime, monkeypatch):
    monkeypatch.setenv(daemon.ENV, "off")
    done = check("dropout", dict(os.environ))
    assert done.returncode == 0
    assert not list(runtime.glob("grader-*/*.sock"))


def test_a_folder_others_may_enter_is_refused(runtime):
    shared = runtime / f"grader-{os.getuid()}"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(template.TemplateError, match="private"):
        daemon.channel((), template.scrubbed_env(), 5.0)
    done = check("dropout", dict(os.environ))  # the check still runs, on a template of its own
    assert done.returncode == 0
    assert not list(shared.glob("*.sock"))


def test_a_socket_path_too_long_is_refused(tmp_path, monkeypatch):
    (long := tmp_path / ("x" * 90)).mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long))
    with pytest.raises(template.TemplateError, match="too long"):
        daemon.socket_path((), template.scrubbed_env())


def test_an_edited_kit_or_other_imports_get_a_daemon_of_their_own(tmp_path, monkeypatch):
    env = template.scrubbed_env()
    assert daemon.key((), env) != daemon.key(("torch",), env)
    assert daemon.key((), env) != daemon.key((), {**env, "LANG": "xx"})
    copy = tmp_path / "grader"
    copy.mkdir()
    (copy / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(daemon, "_GRADER", copy)
    before = daemon.key((), env)
    (copy / "a.py").write_text("x = 22\n")
    assert daemon.key((), env) != before


def test_a_closed_connection_takes_its_workers_along(runtime, module, monkeypatch):
    channel = daemon.channel((), template.scrubbed_env(), 10.0)
    monkeypatch.setitem(template._templates, (), channel)
    s = StudentModule(module, "served", Sandbox(), 5.0, 5.0)
    s.loaded_functions()
    worker = s.worker.proc.pid
    assert s.call(Call("one")).value == 1.0
    channel.kill()  # as when the check is killed outright
    assert wait_until(lambda: not alive(worker), 5.0)
    assert alive(channel.pid)  # the daemon itself stays for the next check
    s.close()


def test_an_idle_daemon_ends_and_removes_its_socket(runtime, monkeypatch):
    monkeypatch.setattr(daemon, "IDLE_S", 0.3)
    channel = daemon.channel((), template.scrubbed_env(), 10.0)
    path = daemon.socket_path((), template.scrubbed_env())
    assert path.exists()
    pid = channel.pid
    channel.kill()
    assert wait_until(lambda: not alive(pid), 0.3 + template.IDLE_POLL_S + 5.0)
    assert not path.exists()


def test_a_removed_socket_ends_the_daemon(runtime):
    channel = daemon.channel((), template.scrubbed_env(), 10.0)
    path = daemon.socket_path((), template.scrubbed_env())
    pid = channel.pid
    channel.kill()
    path.unlink()
    assert wait_until(lambda: not alive(pid), template.IDLE_POLL_S + 5.0)


# -- the resident judge (grader.resident) ----------------------------------------------------
def resident_pid() -> int | None:
    from grader import resident

    return owner(daemon.socket_path(resident.KIND, {}, resident.LIBRARIES))


def children(pid: int) -> list[int]:
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            listed = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except FileNotFoundError:  # the thread ended since the listing: it has no children
            continue
        found += [int(c) for c in listed.split()]
    return found


def started_resident(env: dict[str, str]) -> int:
    check("dropout", env)  # the first check starts it (and runs itself)
    assert wait_until(lambda: resident_pid() is not None, 30.0)
    return resident_pid()


def test_a_check_in_the_resident_judge_is_the_check_itself(runtime):
    env = dict(os.environ)
    pid = started_resident(env)
    bob = ["--submission", str(ROOT / "examples/submissions/bob")]
    cases = (["losses", *bob], ["dropout"], ["no_such_topic"], ["losses", "--help"])
    zh = {**env, "GRADER_LANG": "zh"}  # the topics the resident judge built say it in Chinese
    for args, given in (*((args, env) for args in cases), (["losses", *bob], zh)):
        served = check_with(args, given)
        alone = check_with(args, {**given, daemon.ENV: "off"})
        assert served.returncode == alone.returncode, args  # 1: failures, 2: usage, 0: help
        scratch = re.compile(r"/grader-scratch-\d+/[^/]+/[^/]+/")  # each run's own folder
        assert scratch.sub("", served.stdout) == scratch.sub("", alone.stdout), args
        assert scratch.sub("", served.stderr) == scratch.sub("", alone.stderr), args
    assert resident_pid() == pid  # it served them all


def test_the_resident_judge_builds_every_topic_and_imports_no_torch():
    """What the resident judge loads before its first check: every topic's checks (the child
    of a check starts with them built), and still not torch (seconds and 200 MiB more)."""
    code = textwrap.dedent(
        """
        import sys
        from grader import registry, resident
        resident._load_topics()
        built = registry.topic.cache_info().currsize
        print(built, len(registry.available()), "torch" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    built, available, torch = done.stdout.split()
    assert int(built) == int(available) > 0
    assert torch == "False"


def test_a_topic_that_fails_to_load_is_left_to_its_check(monkeypatch):
    from grader import registry, resident

    def broken(name):
        raise registry.TopicError(f"{name}: broken")

    monkeypatch.setattr(registry, "topic", broken)
    resident._load_topics()  # the resident judge still starts


def stuck_check(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """A ``grader check`` of a module that loops forever (stderr piped)."""
    stuck = tmp_path / "stuck"
    stuck.mkdir()
    (stuck / "losses.py").write_text(
        (ROOT / "examples/submissions/infinite_loop/losses.py").read_text()
    )
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "losses", "--submission", str(stuck)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_on_the_client_stops_the_check_in_the_resident_judge(runtime, tmp_path):
    env = dict(os.environ)
    pid = started_resident(env)
    client = stuck_check(tmp_path, env)
    assert wait_until(lambda: children(pid), 30.0)  # the check runs in the resident judge
    (check_pid,) = children(pid)
    time.sleep(1.0)
    client.send_signal(signal.SIGINT)
    assert client.wait(timeout=30) == 130
    assert "interrupted" in client.stderr.read()
    assert wait_until(lambda: not alive(check_pid), 10.0)
    assert resident_pid() == pid  # the resident judge goes on


def test_a_killed_client_takes_its_check_along(runtime, tmp_path):
    env = dict(os.environ)
    pid = started_resident(env)
    client = stuck_check(tmp_path, env)
    assert wait_until(lambda: children(pid), 30.0)
    (check_pid,) = children(pid)
    client.kill()
    client.wait(timeout=10)
    assert wait_until(lambda: not alive(check_pid), 10.0)


REACH = """
import socket

def reach(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
    except OSError:
        return False
    return True
"""


@pytest.mark.parametrize("filesystem", ["allow-list", "deny-list"])
def test_no_worker_reaches_a_daemon(runtime, tmp_path, monkeypatch, filesystem):
    from dataclasses import replace

    from grader import config, pipeline

    monkeypatch.setattr(template, "_daemons", type(template._daemons)())
    template.use_daemons()
    course = config.load(ROOT / "autograder.yml")
    sandbox = replace(pipeline.sandbox_for(course), filesystem=filesystem)
    assert str(daemon.folder()) in sandbox.hide
    channel = daemon.channel((), template.scrubbed_env(), 10.0)
    path = daemon.socket_path((), template.scrubbed_env())
    assert daemon.connect(path) is not None  # reachable from here
    module = tmp_path / "reach.py"
    module.write_text(REACH)
    monkeypatch.setitem(template._templates, (), channel)
    s = StudentModule(module, "reach", sandbox, 5.0, 5.0)
    try:
        s.loaded_functions()
        if "mntns" not in s.isolation:  # a non-root user without namespaces: nothing hidden
            pytest.skip("no mount namespace on this machine: the worker's files are the host's")
        assert s.call(Call("reach", (str(path),))).value is False
    finally:
        s.close()
