"""An input modified after the call returned, by a thread the call started, is reported like
one modified during the call (grader.judge.student: LATE_GRACE_S; grader.sandbox.quiesce)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.batch import grade_batch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "submissions"
IN_CALL = "    X *= 0.0  # modifies the caller's array\n"
# One thread, started by the first call, that zeroes the latest call's X some time after the
# call returned (one thread: a new one per call would soon reach the process limit, as the
# threads of a quiescent worker only run while it serves a request).
LATER = """    _latest[:] = [X]
    _wake.set()
    if not _thread:
        _thread.append(threading.Thread(target=_later, daemon=True))
        _thread[0].start()
"""
HELPER = """

import threading
import time

_latest, _thread, _wake = [], [], threading.Event()


def _later():
    while True:
        _wake.wait()
        _wake.clear()
        X = _latest[-1]
        time.sleep(DELAY_S)  # after the function returned
        X *= 0.0
        print("LATE-MODIFIED", flush=True)
"""


def _graded(course, tmp_path: Path, name: str, source: str):
    folder = tmp_path / f"submissions-{name}" / name
    folder.mkdir(parents=True)
    (folder / "losses.py").write_text(source)
    (report,) = grade_batch(course, [folder.parent], tmp_path / f"out-{name}", topics=("losses",))
    assert report.results
    return report


def _warnings(course, tmp_path: Path, name: str, source: str) -> dict[str, tuple[str, ...]]:
    report = _graded(course, tmp_path, name, source)
    return {r.check_id: r.warnings for r in report.results if r.warnings}


# 0.1 s: still inside LATE_GRACE_S when the thread is busy with the previous call's X first
@pytest.mark.parametrize("sleep_s", [0.03, 0.1])
def test_a_thread_that_modifies_the_inputs_after_return_is_reported(fast_course, tmp_path, sleep_s):
    source = (EXAMPLES / "mutates_inputs" / "losses.py").read_text()
    assert IN_CALL in source
    in_call = _warnings(fast_course, tmp_path, "in_call", source)
    planted = source.replace(IN_CALL, LATER) + HELPER.replace("DELAY_S", repr(sleep_s))
    late = _warnings(fast_course, tmp_path, "late", planted)
    assert list(in_call) == ["losses/svm_loss_vectorized: inputs unchanged"]
    assert late == in_call  # the same check, the same verdict and words


def test_a_thread_that_waits_past_the_grace_never_modifies_unseen(fast_course, tmp_path):
    # the thread sleeps 0.4 s, past LATE_GRACE_S: the worker it lives in is replaced after the
    # call, so it never runs again (with a later request) to modify an input unreported (with
    # the worker kept, it prints LATE-MODIFIED during a later call and nothing is reported)
    source = (EXAMPLES / "mutates_inputs" / "losses.py").read_text()
    planted = source.replace(IN_CALL, LATER) + HELPER.replace("DELAY_S", "0.4")
    report = _graded(fast_course, tmp_path, "later", planted)
    warned = [r.check_id for r in report.results if r.warnings]
    modified = (report.student_output or "").count("LATE-MODIFIED")
    assert modified <= len(warned), (modified, warned)
    assert all(r.passed for r in report.results if r.function == "svm_loss_vectorized")
