"""The speed check kind (grader/checks/speed.py), on the conv topic's two speed checks.

The checks run against real worker processes (the baseline in a worker running the reference):
the reference passes at about 1x; a correct but slow submission (the fast functions calling the
naive ones) fails as ``wrong`` with the measured ratio in its message, even when it freezes the
worker's clock; a fast but wrong submission fails as wrong output, not on time.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader import registry
from grader.checks.base import Context, Outcome, SpeedSettings, Verdict
from grader.checks.speed import Race, lost_already, race
from grader.judge.seeds import check_rng
from grader.judge.student import StudentModule
from grader.pipeline import reference_module, run_check, sandbox_for

CASE = "speed: x (4, 3, 16, 16) w (16, 3, 3, 3) vs the reference's vectorised version"
FORWARD = f"conv/conv_forward_fast: {CASE}"
BACKWARD = f"conv/conv_backward_fast: {CASE}"
RATIO = re.compile(
    r"took [\d.]+ ms \(median of [23]\), the reference \w+ [\d.]+ ms timed the same way: "
    r"([\d.]+)x (as fast|slower)"
)
MIN_RATIO = 0.2  # at most 5x slower


def _ratio(message: str) -> float:
    """How many times as fast as the reference, from the message."""
    value, how = RATIO.search(message).groups()
    return float(value) if how == "as fast" else 1 / float(value)


SLOW = """

def conv_forward_fast(x, w, b, conv_param):
    return conv_forward_naive(x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    return conv_backward_naive(dout, cache)
"""

FROZEN_CLOCK = """
import time

time.perf_counter = lambda: 0.0
time.perf_counter_ns = lambda: 0
time.monotonic = lambda: 0.0
time.time = lambda: 0.0
"""


def _run(course, tmp_path: Path, source: str, check_id: str, call_timeout: float = 10.0) -> Verdict:
    path = tmp_path / "conv.py"
    path.write_text(source)
    spec = registry.topic("conv")
    student = StudentModule(path, "conv", sandbox_for(course), call_timeout, 5.0)
    ctx = Context(
        "conv",
        student,
        reference_module(course.solutions_dir / "conv.py"),
        check_rng(course.secret, check_id),
        spec.misconceptions,
        speed=SpeedSettings(min_ratio=MIN_RATIO, repeats=3),
    )
    try:
        return run_check(spec.check(check_id), ctx, 0)
    finally:
        student.close()


def _reference_source(course) -> str:
    return (course.solutions_dir / "conv.py").read_text()


@pytest.mark.parametrize("check_id", [FORWARD, BACKWARD])
def test_reference_passes_with_a_wide_margin(course, tmp_path, check_id):
    verdict = _run(course, tmp_path, _reference_source(course), check_id)
    assert verdict.outcome is Outcome.PASSED, verdict.message
    assert _ratio(verdict.message) >= MIN_RATIO  # the same code: about 1x
    assert "at most 5x slower allowed" in verdict.message


@pytest.mark.parametrize("check_id", [FORWARD, BACKWARD])
def test_slow_but_correct_fails_with_the_ratio(course, tmp_path, check_id):
    verdict = _run(course, tmp_path, _reference_source(course) + SLOW, check_id)
    assert verdict.outcome is Outcome.WRONG
    assert _ratio(verdict.message) < MIN_RATIO
    assert "at most 5x slower allowed" in verdict.message
    assert "vectorise" in verdict.message
    # the naive loops are 30x+ slower: two timed rounds already lose whatever a third measures
    stopped = "stopped after 2 of 3 timed rounds: no later round could have made it fast enough"
    assert ("(median of 2)" in verdict.message) == (stopped in verdict.message)


def test_the_worker_clock_does_not_count(course, tmp_path):
    """Timing is the judge's: a submission that freezes time in the worker is still slow."""
    source = _reference_source(course) + SLOW + FROZEN_CLOCK
    verdict = _run(course, tmp_path, source, FORWARD)
    assert verdict.outcome is Outcome.WRONG
    assert _ratio(verdict.message) < MIN_RATIO


# A naive convolution that leaves dozens of processes spinning (at import and after every call)
# and threads doing numpy work (which releases the GIL), to slow the reference's timing.
SPINNERS = """
import os
import threading
import time


_mine = []


def _spawn(n):
    try:  # reap what the judge killed, to stay under the process limit
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        _mine.clear()  # none left: start new ones
    if _mine:
        return
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            os.setsid()
            while True:
                pass
        _mine.append(pid)


def _busy():
    a = np.ones((200, 200))
    while True:
        a @ a
        time.sleep(0.001)


_spawn(24)
threading.Thread(target=_busy, daemon=True).start()


def conv_forward_fast(x, w, b, conv_param):
    _spawn(3)  # new ones whenever the judge killed the last ones
    return conv_forward_naive(x, w, b, conv_param)
"""


def test_spinners_left_running_do_not_make_a_naive_conv_fast(course, tmp_path):
    """What the student leaves running is killed or stopped after every reply, so it cannot
    slow the reference's round trip (grader.sandbox.quiesce)."""
    source = _reference_source(course) + SPINNERS
    verdict = _run(course, tmp_path, source, FORWARD, call_timeout=40.0)  # it slows itself
    assert verdict.outcome is Outcome.WRONG, verdict.message
    assert _ratio(verdict.message) < MIN_RATIO


def test_fast_but_wrong_fails_as_wrong_output(course, tmp_path):
    source = _reference_source(course).replace(
        "out = w.reshape(F, -1) @ cols + b[:, None]",
        "out = w[:, :, ::-1, ::-1].reshape(F, -1) @ cols + b[:, None]",
    )
    verdict = _run(course, tmp_path, source, FORWARD)
    assert verdict.outcome is Outcome.WRONG
    assert "out differs from the reference conv_forward_fast" in verdict.message
    assert "round 1 of the speed check" in verdict.message
    assert "as fast" not in verdict.message and "slower" not in verdict.message
    assert verdict.misconception == "kernel flipped (true convolution instead of cross-correlation)"


def test_memoising_the_previous_answer_fails(course, tmp_path):
    """Every call of a round has fresh inputs: replaying the first answer is wrong at once."""
    source = (
        _reference_source(course)
        + """

_memo = []


def conv_forward_fast(x, w, b, conv_param, _fast=conv_forward_fast):
    if not _memo:
        _memo.append(_fast(x, w, b, conv_param))
    return _memo[0]
"""
    )
    verdict = _run(course, tmp_path, source, FORWARD)
    assert verdict.outcome is Outcome.WRONG
    assert "round 1 of the speed check" in verdict.message


def test_race_ratio_and_message():
    race = Race("f_fast", "f_ref", student=(0.004, 0.002, 0.003), reference=(0.009, 0.006, 0.2))
    assert race.ratio == pytest.approx(0.009 / 0.003)
    assert race.describe(0.2) == (
        "f_fast took 3 ms (median of 3), the reference f_ref 9 ms timed the same way: "
        "3x as fast, at most 5x slower allowed"
    )
    assert np.isinf(Race("f", "g", (0.0,), (1.0,)).ratio)
    slow = Race("f", "g", student=(0.2,), reference=(0.1,))
    assert "2x slower, at most 5x slower allowed" in slow.describe(0.2)
    assert "2x slower, at least 3x as fast required" in slow.describe(3)


def _raced(rounds: list[tuple[float, float]]) -> tuple[Verdict, int]:
    """``race`` over scripted (reference, student) seconds: the verdict and the rounds run."""
    ran = []

    def one_round(k: int) -> tuple[float, float]:
        ran.append(k)
        return rounds[k]

    ctx = SimpleNamespace(speed=SpeedSettings(min_ratio=0.2, repeats=3))
    return race(ctx, "f_fast", "f_ref", one_round, "vectorise"), len(ran)


def test_a_race_lost_whatever_comes_next_stops_and_says_so():
    # warm-up, then two timed rounds 10x slower: the third cannot lift the median enough
    verdict, ran = _raced([(1.0, 1.0), (1.0, 10.0), (1.0, 10.0), (1.0, 0.0)])
    assert ran == 3 and verdict.outcome is Outcome.WRONG
    assert "(median of 2)" in verdict.message and "stopped after 2 of 3 timed" in verdict.message
    # one slow round and one fast: the third decides, so it runs
    verdict, ran = _raced([(1.0, 1.0), (1.0, 10.0), (1.0, 1.0), (1.0, 1.0)])
    assert ran == 4 and verdict.outcome is Outcome.PASSED and "(median of 3)" in verdict.message
    # a win is never cut short: every round's outputs are checked
    verdict, ran = _raced([(1.0, 1.0)] * 4)
    assert ran == 4 and verdict.outcome is Outcome.PASSED


TIMES = st.floats(1e-6, 1e3)


@given(
    st.integers(1, 7).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(TIMES, TIMES), min_size=n, max_size=n),
            st.integers(1, n),
        )
    ),
    st.sampled_from([0.2, 1.0, 4.0]),
)
def test_a_race_called_lost_is_lost_whatever_the_rest_measures(case, min_ratio):
    repeats, rounds, known = case
    reference, student = ([r[i] for r in rounds] for i in (0, 1))
    if lost_already(student[:known], reference[:known], repeats, min_ratio):
        final = Race("f", "g", tuple(student), tuple(reference))
        assert final.ratio < min_ratio
    if known == repeats:  # nothing left to measure: lost exactly when the full race is
        full = Race("f", "g", tuple(student), tuple(reference))
        assert lost_already(student, reference, repeats, min_ratio) == (full.ratio < min_ratio)
