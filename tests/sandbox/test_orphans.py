"""A subreaper's ``kill_orphans`` kills what workers left behind, not its own children."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreapers: Linux")

# Run in a process of its own: becoming a subreaper would change the test process for good.
SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, time
    from multiprocessing import resource_tracker
    from grader.sandbox import process

    def nap():
        time.sleep(60)

    if __name__ == "__main__":
        assert process.become_subreaper()
        helper = multiprocessing.get_context("spawn").Process(target=nap, daemon=True)
        helper.start()
        resource_tracker.ensure_running()
        tracker = resource_tracker._resource_tracker._pid
        reader, writer = os.pipe()
        if os.fork() == 0:  # a double fork, as a student's worker detaches one
            if os.fork() == 0:
                os.write(writer, str(os.getpid()).encode().ljust(16))
                time.sleep(60)
            os._exit(0)
        orphan = int(os.read(reader, 16))
        os.wait()  # the middle process; the grandchild is now this process's orphan
        killed = process.kill_orphans()

        def alive(pid):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"

        print(killed, alive(orphan), helper.is_alive(), alive(tracker))
        helper.kill()
    """
)


def test_kill_orphans_spares_multiprocessing_children_and_its_resource_tracker(tmp_path):
    script = tmp_path / "subreaper.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    killed, orphan_alive, helper_alive, tracker_alive = done.stdout.split()
    assert (killed, orphan_alive) == ("1", "False")  # the orphan: killed and reaped
    assert (helper_alive, tracker_alive) == ("True", "True")
