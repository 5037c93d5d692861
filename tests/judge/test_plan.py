"""Planned calls (grader.judge.plan): recorded from the reference, fetched in streams, served to
the checks that make them; never a different outcome from sending every call live."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from grader import pipeline
from grader.judge import plan as planning
from grader.judge.student import Call, Rerun, StudentFault, StudentModule
from grader.layouts.select import discover
from grader.sandbox.process import Sandbox
from tests.conftest import REPO

MODULE = """
import time
import numpy as np


class Box:
    pass


def draw(n):
    return np.random.rand(n)


def boxed(x):
    return x * 2, Box()


def use(box):
    return float(np.random.rand())


def spin(x):
    while True:
        pass


def leave(x):
    import os
    os._exit(3)
"""


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "planned.py"
    path.write_text(MODULE)
    return path


def _student(path, timeout=5.0):
    return StudentModule(path, "planned", Sandbox(), timeout, 5.0)


def _record(path, checks, timeout=5.0):
    """Run ``checks`` (check id -> function of the student module) recording; the plan."""
    student = _student(path, timeout)
    student.recorder = planning.Recorder()
    try:
        student.loaded_functions()
        for cid, run in checks.items():
            student.begin(cid)
            student.seed(7)
            run(student)
    finally:
        student.close()
    return student.recorder.result()


def _draw_then_use(student):
    """A check: two planned calls (the second keeps a handle), then a live one with it."""
    first = student.call(Call("draw", (3,))).value
    out, box = student.call(Call("boxed", (first,), keep=[1])).value
    return first, out, student.call(Call("use", (box,))).value


def _draw_twice(student):
    return student.call(Call("draw", (2,))).value, student.call(Call("draw", (4,))).value


def test_a_check_served_from_a_stream_gets_what_live_calls_get(module):
    plan = _record(module, {"a": _draw_then_use, "b": _draw_twice})
    assert [len(plan[c].requests) for c in "ab"] == [2, 2]
    assert not plan["a"].complete and plan["b"].complete  # "a" went on with a handle

    live = _student(module)
    streamed = _student(module)
    try:
        for student, prefetch in ((live, False), (streamed, True)):
            student.loaded_functions()
            if prefetch:
                student.prefetch(plan, ["a", "b"])
            results = []
            for cid, run in (("a", _draw_then_use), ("b", _draw_twice)):
                student.begin(cid)
                student.seed(7)
                results.append(run(student))
            student.results = results
        (a_live, b_live), (a_streamed, b_streamed) = live.results, streamed.results
        # the live call after served ones sees the generator as they left it (restore)
        assert a_live[2] == a_streamed[2]
        assert all(np.array_equal(x, y) for x, y in zip(a_live[:2], a_streamed[:2]))
        assert all(np.array_equal(x, y) for x, y in zip(b_live, b_streamed))
        assert streamed.streamed == 4 and live.streamed == 0
    finally:
        live.close()
        streamed.close()


@pytest.mark.parametrize("then", [Call("draw", (5,)), Call("use", (None,))])
def test_a_check_that_asks_what_the_reference_was_not_asked_runs_again_live(module, then):
    """Another call in place of a planned one, or one more after a complete plan."""
    plan = _record(module, {"b": _draw_twice})
    student = _student(module)
    try:
        student.loaded_functions()
        student.prefetch(plan, ["b"])
        student.begin("b")
        student.seed(7)
        first = student.call(Call("draw", (2,))).value
        if then.fn == "use":
            student.call(Call("draw", (4,)))
        with pytest.raises(Rerun):
            student.call(then)
        student.seed(7)  # the run again (grader.pipeline): every request live
        assert np.array_equal(student.call(Call("draw", (2,))).value, first)
        student.call(then)
        assert student.streamed == (2 if then.fn == "use" else 1)
    finally:
        student.close()


def test_a_request_with_another_seed_is_not_served(module):
    plan = _record(module, {"b": _draw_twice})
    student = _student(module)
    try:
        student.loaded_functions()
        student.prefetch(plan, ["b"])
        student.begin("b")
        student.seed(8)  # the stream ran it with seed 7
        student.call(Call("draw", (2,)))
        assert student.streamed == 0
    finally:
        student.close()


def test_a_stream_that_hangs_costs_one_deadline_and_ends_like_live_calls(module):
    checks = {
        "ok": lambda s: s.call(Call("draw", (2,))),
        "hangs": lambda s: s.call(Call("draw", (3,))),
        "after": lambda s: s.call(Call("draw", (4,))),
    }
    plan = _record(module, checks, timeout=1.0)  # each call's deadline, as recorded
    # the student's module: "hangs" is where its draw loops (another module, same calls)
    hanging = module.with_name("hanging.py")
    hanging.write_text(
        MODULE + "\n_calls = 0\n\ndef draw(n):\n    if n == 3:\n        while True:\n"
        "            pass\n    return np.random.rand(n)\n"
    )
    student = StudentModule(hanging, "planned", Sandbox(), 1.0, 5.0)
    try:
        student.loaded_functions()
        started = time.monotonic()
        student.prefetch(plan, list(checks))
        assert 1.0 <= time.monotonic() - started < 3.0  # one deadline, in the stream
        outcomes = []
        for cid, run in checks.items():
            student.begin(cid)
            student.seed(7)
            try:
                run(student)
                outcomes.append("passed")
            except StudentFault as fault:
                outcomes.append(fault.outcome)
        # as live: the first call passes, the hanging one times out, and its function is not
        # called again (the deadline is not spent twice)
        assert outcomes == ["passed", "timeout", "timeout"]
        assert time.monotonic() - started < 3.0
        assert student.timed_out == {"draw"}
    finally:
        student.close()


def test_a_stream_whose_worker_exits_keeps_the_calls_before_it(module):
    checks = {
        "ok": lambda s: s.call(Call("draw", (2,))),
        "exits": lambda s: s.call(Call("leave", (1,))),
        "after": lambda s: s.call(Call("draw", (4,))),
    }
    plan = _record(_safe(module), checks)
    student = _student(module)
    try:
        student.loaded_functions()
        student.prefetch(plan, list(checks))
        starts = student.starts
        student.begin("unplanned")  # a live call first: it starts a new worker
        student.call(Call("draw", (1,)))
        assert student.starts == starts + 1
        student.begin("ok")
        student.seed(7)
        student.call(Call("draw", (2,)))
        assert student.streamed == 1  # served from the gone worker's stream
        student.begin("exits")
        student.seed(7)
        with pytest.raises(StudentFault) as fault:
            student.call(Call("leave", (1,)))
        assert fault.value.outcome == "crashed" and student.crashes == {"leave": 1}
        student.begin("after")  # not reached by the stream: live
        student.seed(7)
        assert student.call(Call("draw", (4,))).value.shape == (4,)
        assert student.starts == starts + 1 and student.streamed == 1  # the new one
    finally:
        student.close()


def _safe(path):
    """The module with ``leave`` harmless (the reference's version, for the recording)."""
    safe = path.with_name("safe.py")
    safe.write_text(MODULE.replace("os._exit(3)", "return 0"))
    return safe


def test_a_check_served_by_a_gone_worker_that_asks_something_else_runs_again(module):
    checks = {"b": _draw_twice, "exits": lambda s: s.call(Call("leave", (1,)))}
    plan = _record(_safe(module), checks)
    student = _student(module)
    try:
        student.loaded_functions()
        student.prefetch(plan, list(checks))  # ends at "exits": "b" kept, its worker gone
        student.begin("b")
        student.seed(7)
        student.call(Call("draw", (2,)))
        with pytest.raises(Rerun):
            student.call(Call("draw", (9,)))
        student.seed(7)  # the run again: live from its start
        assert student.call(Call("draw", (2,))).value.shape == (2,)
        assert student.streamed == 1
    finally:
        student.close()


def test_handles_arguments_read_back_questions_and_large_arrays_end_a_checks_plan():
    assert planning.plannable([Call("f", (1,))], {"op": "call", "args": [{"t": "int"}]})
    assert not planning.plannable([Call("f", (1,), echo=[0])], {"op": "call"})
    assert not planning.plannable([Call("f", answer=lambda q: q)], {"op": "call"})
    header = {"op": "call", "args": [{"t": "handle", "id": 3}]}
    assert not planning.plannable([Call("f")], header)
    big = np.zeros(planning.MAX_PLANNED_BYTES // 8 + 1)
    assert planning.plannable([Call("f", (big[1:],))], {"op": "call"}, [big[1:]])
    assert not planning.plannable([Call("f", (big,))], {"op": "call"}, [big])


def test_stream_requests_stay_within_the_frames_limits():
    array = np.zeros(2)
    entries = [
        planning.Planned((Call("f", (array,) * 30),), False, 1.0, None, b"") for _ in range(200)
    ]
    requests = planning.stream_requests(entries)
    assert [i for part, _, _ in requests for i in part] == list(range(200))
    for _part, header, blobs in requests:
        assert len(blobs) <= planning.MAX_BLOBS + 30 and len(header["ops"]) <= planning.MAX_OPS
        assert all("snap" not in op for op in header["ops"])
    assert len(requests) > 1
    (_, header, _), *_ = planning.stream_requests(entries, {3})
    assert [i for i, op in enumerate(header["ops"]) if "snap" in op] == [3]


@pytest.mark.parametrize("student", ["alice", "bob", "erin", "os_exit", "mutates_inputs"])
def test_a_topic_grades_the_same_with_its_plan_as_without(course, tmp_path, monkeypatch, student):
    """The example submissions (right, wrong, crashing, mutating): the same results."""
    folder = REPO / "examples/submissions" / student
    topics = tuple(t for t in course.topics if (folder / f"{t}.py").exists())[:4]
    (sub,) = discover([folder], topics, tmp_path / "scratch", "auto")
    sandbox = pipeline.sandbox_for(course, extra_hidden=(tmp_path.resolve(),))
    monkeypatch.setenv("GRADER_EXPECTED_CACHE", str(tmp_path / "cache"))
    graded = {}
    for mode in ("off", "on"):
        monkeypatch.setenv("GRADER_PLAN", "off" if mode == "off" else "")
        served = 0
        results = []
        for topic in topics:
            got, module = pipeline.grade_topic(course, topic, sub.modules[topic], None, sandbox)
            results += [
                (r.check_id, r.outcome, r.points, r.misconception)
                + ((r.message,) if r.kind != "speed" else ())  # (speed: measured times)
                for r in got
            ]
            served += module.streamed if module else 0
        graded[mode] = (results, served)
    assert graded["on"][0] == graded["off"][0]
    assert graded["off"][1] == 0 and graded["on"][1] > 0
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
