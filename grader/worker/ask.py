"""Questions the worker asks the judge in the middle of a call, and their answers.

Used by the simulated GPU (``grader.sim.proxy``): a timer needs the device's numbers while it
runs, and only the judge has them. During a call whose request carries ``"ask": true`` (the
judge attached a handler to it: ``grader.judge.student.Call.answer``), ``ask(payload)`` writes
the frame ``{"ask": payload}`` on the reply pipe and reads ``{"answer": ...}`` from the request
pipe; the judge answers every ask before it reads the call's reply. Outside such a call nothing
answers, and asking raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from grader.protocol.wire import read_frame, write_frame

ANSWER_BYTES = 1 << 20


class Channel:
    def __init__(self, req_fd: int, rep_fd: int) -> None:
        self.req_fd = req_fd
        self.rep_fd = rep_fd
        self.open = False
        self.on_open: list[Callable[[], None]] = []  # run when an answered call starts
        self.on_close: list[Callable[[], None]] = []  # run when it ends (they may still ask)

    def ask(self, payload: Any) -> Any:
        """The judge's answer to ``payload`` (plain JSON data)."""
        if not self.open:
            raise RuntimeError("nothing answers outside a graded call")
        write_frame(self.rep_fd, {"ask": payload}, [])
        header, _ = read_frame(self.req_fd, None, ANSWER_BYTES)
        if "answer" not in header:
            raise RuntimeError("the judge sent something other than an answer")
        return header["answer"]

    @contextmanager
    def during(self, header: dict[str, Any]) -> Iterator[None]:
        """Open for the call of ``header`` when the judge answers it."""
        if not header.get("ask"):
            yield
            return
        self.open = True
        try:
            for hook in self.on_open:
                hook()
            yield
        finally:
            for hook in self.on_close:
                hook()
            self.open = False
