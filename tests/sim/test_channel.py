"""Questions from a worker during a call (``grader.worker.ask``), through a real worker: they are
answered only during a call that answers them, a worker asking otherwise is stopped, and one that
asks without reading the answers cannot block the judge past the call's deadline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.judge.student import Call, StudentFault, StudentModule
from grader.pipeline import sandbox_for

MODULE = """
import gc, os, struct, json


def _channel():
    return next(o for o in gc.get_objects() if type(o).__name__ == "Channel")


def ask_twice(x):
    ch = _channel()
    return [ch.ask({"n": x}), ch.ask({"n": x + 1})]


def ask_uninvited():
    ch = _channel()
    ch.open = True  # pretend the judge answers this call
    return ch.ask({"n": 1})


def flood():
    ch = _channel()
    head = json.dumps({"ask": 0, "blobs": []}).encode()
    frame = struct.pack(">I", len(head)) + head
    while True:  # ask and ask, and never read an answer
        os.write(ch.rep_fd, frame * 100)
"""


@pytest.fixture
def student(course, tmp_path):
    path = tmp_path / "asker.py"
    path.write_text(MODULE)
    sandbox = replace(sandbox_for(course), setup="")
    module = StudentModule(path, "asker", sandbox, 3.0, 10.0)
    yield module
    module.close()


def test_a_call_that_answers_gets_every_question_answered(student):
    seen = []

    def answer(payload):
        seen.append(payload)
        return payload["n"] * 10

    reply = student.call(Call("ask_twice", (4,), answer=answer))
    assert reply.value == [40, 50] and seen == [{"n": 4}, {"n": 5}]


def test_a_question_during_a_call_that_answers_none_stops_the_worker(student):
    with pytest.raises(StudentFault) as caught:
        student.call(Call("ask_uninvited"))
    assert caught.value.outcome == "crashed"
    assert "asked a question" in caught.value.reason
    assert student.call(Call("ask_twice", (1,), answer=lambda p: 0)).value == [0, 0]  # a new one


def test_a_worker_that_never_reads_its_answers_times_out(student):
    with pytest.raises(StudentFault) as caught:
        student.call(Call("flood", answer=lambda p: "an answer of some length" * 4))
    assert caught.value.outcome == "timeout"
