"""Input mutation is established by the judge from bytes it reads itself (the shared arena),
never by code that runs in the worker after the student's code."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.base import Outcome
from grader.judge.student import Call, StudentModule
from grader.pipeline import grade_topic, sandbox_for
from grader.protocol.arena import Arena
from grader.sandbox.process import Sandbox

# At import: every tool a worker-side comparison could use is made to lie. Then the function
# modifies X in place (and hides nothing else): the judge must still see it.
PATCHES = """
import builtins, copy, hashlib
import numpy as np

np.copy = lambda a, *args, **kwargs: a
np.array_equal = lambda *args, **kwargs: True
np.array = lambda a, *args, **kwargs: a
np.asarray = lambda a, *args, **kwargs: a
np.ascontiguousarray = lambda a, *args, **kwargs: a
copy.deepcopy = lambda value, memo=None: value
copy.copy = lambda value: value
builtins.hash = lambda value: 0
builtins.id = lambda value: 0


class _Same:
    def __init__(self, *args, **kwargs):
        pass

    def update(self, *args):
        pass

    def digest(self):
        return b"same"

    def hexdigest(self):
        return "same"


hashlib.sha256 = hashlib.md5 = hashlib.blake2b = _Same
"""


# Hides its modification from the worker's own echo: the worker's serialiser is patched to send
# a pristine copy of the input back. Only the judge's reading of the arena sees through it.
HIDER = """
import sys


def scale(x):
    pristine = x.tolist()
    x *= 3
    calls = sys.modules["grader.worker.calls"]
    real = calls.to_wire

    def lying(value, blobs, *rest):
        if value is x:
            import numpy

            return real(numpy.array(pristine), blobs, *rest)
        return real(value, blobs, *rest)

    calls.to_wire = lying
    return float(x.sum())
"""


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_a_worker_that_lies_about_everything_still_shows_its_mutation(tmp_path, start):
    module = tmp_path / "liar.py"
    module.write_text(PATCHES + HIDER)
    student = StudentModule(module, "liar", Sandbox(start=start), 5.0, 5.0)
    x = np.arange(6.0).reshape(2, 3)
    try:
        reply = student.call(Call("scale", (x,), echo=[0]))
    finally:
        student.close()
    assert reply.value == 45.0
    assert np.array_equal(reply.echo[0], 3 * x)  # what the judge read, not what was echoed
    assert np.array_equal(x, np.arange(6.0).reshape(2, 3))  # the judge's own copy is intact


def test_the_no_mutation_check_reports_a_patched_worker(course, tmp_path):
    source = (course.solutions_dir / "losses.py").read_text()
    # right answers (hygiene counts only for a right function), then the caller's X changed
    planted = (
        source
        + PATCHES
        + """

_right = svm_loss_vectorized


def svm_loss_vectorized(W, X, y, reg):
    answer = _right(W, X, y, reg)
    X *= 2.0  # modifies the caller's X after computing the right answer
    return answer
"""
    )
    (tmp_path / "losses.py").write_text(planted)
    results, _ = grade_topic(course, "losses", tmp_path / "losses.py", None, sandbox_for(course))
    (check,) = [
        r
        for r in results
        if r.function == "svm_loss_vectorized" and r.check_id.endswith("inputs unchanged")
    ]
    assert "modified its input(s) X" in check.message
    if course.config.mutation == "fail":
        assert check.outcome is Outcome.WRONG
    else:
        assert check.warnings


def test_the_arena_never_reuses_a_region_and_says_when_it_is_full():
    arena = Arena.create(1)  # 1 MiB
    assert arena is not None
    try:
        a = arena.place(np.ones(1000))
        b = arena.place(np.zeros(1000))
        assert a is not None and b is not None and b["offset"] >= a["offset"] + 8000
        assert np.array_equal(arena.read(a), np.ones(1000))
        assert arena.place(np.zeros(200_000)) is None  # 1.6 MB: does not fit
        assert arena.place(np.array(["text"], dtype=object)) is None
    finally:
        arena.close()


def test_without_the_arena_the_same_worker_would_hide_it(tmp_path):
    """The attack is real: the worker's own echo is fooled (why the judge reads the arena)."""
    module = tmp_path / "liar.py"
    module.write_text(PATCHES + HIDER)
    student = StudentModule(module, "liar", Sandbox(arena_mb=0), 5.0, 5.0)
    x = np.arange(6.0).reshape(2, 3)
    try:
        reply = student.call(Call("scale", (x,), echo=[0]))
    finally:
        student.close()
    assert not np.array_equal(np.asarray(reply.echo[0]), 3 * x)
