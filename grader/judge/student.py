"""The judge's view of one student module: calls become requests, failures become faults.

``StudentModule`` starts the worker lazily, loads the module under its own deadline, replaces a
crashed worker for the calls that remain, and remembers functions that timed out so that they
are not called again (one hanging function costs one deadline). Values coming back are plain
data (``grader.protocol``); anything else raises ``StudentFault`` with an outcome and a reason.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.judge import plan as planning
from grader.judge.environment import environment_hint
from grader.protocol.values import Handle, from_wire, to_wire
from grader.protocol.wire import ProtocolError
from grader.sandbox.process import (
    Sandbox,
    WorkerBadReply,
    WorkerDied,
    WorkerProcess,
    WorkerTimeout,
)

MAX_STARTS = 100  # workers per module: a bound on time, far above what crashing functions use
MAX_CRASHES = 3  # a function that killed its worker this often is not called again
# A call that may modify its inputs and leaves threads behind: they run this long (at most)
# before the judge reads the inputs back, so a modification made shortly after returning is
# reported like one made during the call (the worker is stopped otherwise: grader.sandbox.quiesce).
LATE_GRACE_S = 0.25


class StudentFault(Exception):
    """A student call did not produce a value: ``outcome`` names why, ``reason`` says it."""

    def __init__(self, outcome: str, reason: str, staff: str = "") -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.staff = staff


@dataclass(frozen=True)
class Reply:
    value: Any
    echo: tuple[Any, ...]
    elapsed: float


@dataclass(frozen=True)
class Fetched:
    """A planned request's reply, come back in a stream: served when a check makes it."""

    digest: bytes
    header: dict[str, Any]
    arrays: list[np.ndarray]
    index: int  # in the worker's stream
    tail: bool = False  # its check goes on live after it (the generators' state is kept)
    fault: Exception | None = None  # the stream ended at this request: its timeout or crash


@dataclass(frozen=True)
class Call:
    """One request for ``fn(*args, **kwargs)`` (or ``target.method(...)``)."""

    fn: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    keep: Sequence[int] | str = ()
    echo: Sequence[int] = ()
    target: Handle | None = None
    pick: int | None = None
    assign: Sequence[tuple[str, str, Any]] = ()  # target.attr[key] = value before the call
    # answers the worker's questions during the call (the simulated GPU: grader.sim.session)
    answer: Callable[[Any], Any] | None = field(default=None, compare=False)

    def header(self, blobs: list[np.ndarray]) -> dict[str, Any]:
        head: dict[str, Any] = {
            "op": "call",
            "args": [to_wire(a, blobs) for a in self.args],
            "kwargs": {k: to_wire(v, blobs) for k, v in self.kwargs.items()},
            "keep": self.keep if isinstance(self.keep, str) else list(self.keep),
            "echo": list(self.echo),
        }
        if self.answer is not None:
            head["ask"] = True
        if self.pick is not None:
            head["pick"] = self.pick
        if self.target is not None:
            head.update(target=self.target.id, method=self.fn)
            if self.assign:
                head["assign"] = [[a, k, to_wire(v, blobs)] for a, k, v in self.assign]
        else:
            head["fn"] = self.fn
        return head


FRAME = re.compile(r'^  File "(?P<file>.+)", line (?P<line>\d+)(?:, in (?P<name>.+))?$')
MAX_FRAMES = 3  # the innermost frames of the student's file shown in the reason
MAX_SOURCE = 120  # characters of a source line shown


def student_frames(tb: str, student_file: str) -> list[str]:
    """``at <file>:<line> in <function>: <source line>`` for each frame of the student's file in
    the last exception of traceback text ``tb`` (innermost last, at most ``MAX_FRAMES``).

    Only frames whose file is ``student_file`` are kept: the grader's worker frames, numpy's and
    the standard library's are never shown to the student."""
    block = tb.rsplit("Traceback (most recent call last):", 1)[-1].splitlines()
    name = Path(student_file).name
    frames = []
    for i, text in enumerate(block):
        match = FRAME.match(text)
        if not match or match["file"] != student_file:
            continue
        where = f"at {name}:{match['line']}"
        if match["name"]:
            where += f" in {match['name']}"
        follows = block[i + 1] if i + 1 < len(block) else ""
        if follows.startswith("    ") and not FRAME.match(follows):
            source = follows.strip()
            if source.strip("^~ "):  # not a caret line
                where += f": {source[:MAX_SOURCE]}"
        frames.append(where)
    return frames[-MAX_FRAMES:]


def _fault_from_error(error: Any, what: str, student_file: str = "") -> StudentFault:
    if not isinstance(error, dict):
        return StudentFault("crashed", f"{what}: malformed error reply")
    kind = str(error.get("kind", "exception"))
    etype = str(error.get("type", "Exception"))[:100]
    message = str(error.get("message", ""))[:2000]
    tb = str(error.get("traceback", ""))[-6000:]
    if kind == "not_implemented":
        return StudentFault("not_implemented", f"{what} raised NotImplementedError: {message}", tb)
    where = "".join("\n  " + f for f in student_frames(tb, student_file)) if student_file else ""
    if kind == "memory":
        reason = f"{what} ran out of memory (MemoryError: {message})"
        return StudentFault("memory", reason + where, tb)
    if kind == "exit":
        return StudentFault("exception", f"{what} called sys.exit({message}){where}", tb)
    last = tb.strip().splitlines()[-3:] if tb else []
    hint = environment_hint(f"{etype}: {message}")
    return StudentFault(
        "exception",
        f"{what} raised {etype}: {message}{hint}{where}",
        "\n".join(last) + "\n" + tb,
    )


class StudentModule:
    def __init__(
        self,
        path: Path,
        module_name: str,
        sandbox: Sandbox,
        call_timeout: float,
        import_timeout: float,
    ) -> None:
        self.path = Path(path).absolute()  # the worker runs elsewhere: relative paths break
        self.module_name = module_name
        self.sandbox = sandbox
        self.call_timeout = call_timeout
        self.import_timeout = import_timeout
        self.worker: WorkerProcess | None = None
        self.functions: dict[str, Any] = {}
        self.load_fault: StudentFault | None = None
        self.timed_out: set[str] = set()
        self.crashes: dict[str, int] = {}
        self.bad_replies: dict[str, int] = {}  # malformed reply frames (each replaced a worker)
        self.starts = 0
        self.isolation: list[str] = []
        self.output_log: list[str] = []
        self.start_times: list[float] = []
        self.pending_seed: int | None = None
        self.threads_after_load = 0  # of the serving process, once the module is loaded
        # planned calls (grader.judge.plan): recorded here when grading the reference, or
        # fetched in streams and served to the checks that make them
        self.recorder: planning.Recorder | None = None
        self._fetched: dict[str, deque[Fetched]] = {}
        self._fetched_from: WorkerProcess | None = None  # None: the stream's worker is gone
        self._cursor: deque[Fetched] = deque()
        self._served: Fetched | None = None  # the check's last served request
        self.streamed = 0  # requests served from streams

    # -- lifecycle ---------------------------------------------------------------------------
    def _ensure(self) -> WorkerProcess:
        if self.load_fault is not None:
            raise self.load_fault
        if self.worker is not None and self.worker.alive():
            return self.worker
        self._retire()
        if self.starts > MAX_STARTS:
            self.load_fault = StudentFault("crashed", "too many worker restarts; gave up")
            raise self.load_fault
        self.starts += 1
        try:
            worker = WorkerProcess(self.path, self.module_name, self.sandbox)
        except (WorkerDied, WorkerTimeout) as exc:
            raise StudentFault("crashed", f"the worker could not start: {exc}") from None
        self.worker = worker  # from here on, _retire() stops it whatever happens
        self.isolation = worker.isolation
        self.start_times.append(worker.setup_s)
        what = f"importing {self.path.name}"
        try:
            header, _ = worker.request({"op": "load"}, [], self.import_timeout)
        except WorkerTimeout:
            self._retire()
            self.load_fault = StudentFault(
                "timeout",
                f"{what} did not finish within {self.import_timeout:g} s "
                "(a loop or a long computation at module level?)",
            )
            raise self.load_fault from None
        except WorkerDied as exc:
            self._retire()
            self.load_fault = StudentFault("crashed", f"{what}: {exc.reason}")
            raise self.load_fault from None
        if not header.get("ok"):
            self.load_fault = _fault_from_error(header.get("error"), what, str(self.path))
            if self.load_fault.outcome == "not_implemented":
                self.load_fault = StudentFault(
                    "exception", self.load_fault.reason, self.load_fault.staff
                )
            self._retire()
            raise self.load_fault
        functions = header.get("functions")
        self.functions = functions if isinstance(functions, dict) else {}
        self.threads_after_load = worker.thread_count()
        return worker

    def _retire(self) -> None:
        if self._fetched_from is not None:  # served from this worker: no more (its handles)
            self._drop_fetched()
        if self.worker is not None:
            self.worker.kill()
            self._collect_output()
            self.worker = None

    def _collect_output(self) -> None:
        if self.worker is not None:
            text = self.worker.output.take()
            if text:
                self.output_log.append(text)

    def close(self) -> None:
        self._drop_fetched()
        if self.worker is not None:
            self.worker.close()
            self._collect_output()
            self.worker = None

    def loaded_functions(self) -> dict[str, Any]:
        """Load the module (if not yet) and return its functions: name -> {kind, params}."""
        self._ensure()
        return self.functions

    # -- calls -------------------------------------------------------------------------------
    def _request(
        self,
        header: dict[str, Any],
        blobs: list,
        timeout: float,
        names: set[str],
        answer: Callable[[Any], Any] | None = None,
    ):
        worker = self._ensure()
        if self.pending_seed is not None:  # the check's seed travels with its first request
            header = {**header, "seed": self.pending_seed}
            self.pending_seed = None
        if self._served is not None:  # the first live call after served ones (see _live)
            if worker is self._fetched_from:
                header = {**header, "restore": self._served.index}
            self._served = None
        try:
            return worker.request(header, blobs, timeout, answer)
        except (WorkerTimeout, WorkerDied) as exc:
            self._retire()
            raise self._fault(exc, names, timeout) from None

    def _fault(self, exc: Exception, names: set[str], timeout: float) -> StudentFault:
        """The fault of a request that timed out or lost its worker (counted against
        ``names``: a function that timed out is not called again, nor one that crashed the
        worker ``MAX_CRASHES`` times)."""
        if isinstance(exc, WorkerTimeout):
            self.timed_out |= names
            return StudentFault(
                "timeout",
                f"{' / '.join(sorted(names))} did not return within {timeout:g} s; "
                "the worker was stopped (an infinite loop?)",
            )
        reason = exc.reason if isinstance(exc, WorkerDied) else str(exc)
        tally = self.bad_replies if isinstance(exc, WorkerBadReply) else self.crashes
        for name in names:
            tally[name] = tally.get(name, 0) + 1
        if isinstance(exc, WorkerBadReply):  # the worker wrote its own frame: no value
            return StudentFault(
                "bad_output", f"{' / '.join(sorted(names))}: {reason}; the worker was replaced"
            )
        return StudentFault("crashed", reason)

    def _reply(self, header: dict[str, Any], arrays: list[np.ndarray], what: str) -> Reply:
        if not isinstance(header, dict):
            raise StudentFault("bad_output", f"{what}: the reply is not a JSON object")
        if not header.get("ok"):
            raise _fault_from_error(header.get("error"), what, str(self.path))
        try:
            value = from_wire(header.get("value", {"t": "none"}), arrays)
            echoed = header.get("echo", [])
            if not isinstance(echoed, list):
                raise ProtocolError("the echo is not a list")
            echo = tuple(from_wire(e, arrays) for e in echoed)
        except ProtocolError as exc:
            raise StudentFault("bad_output", f"{what} returned a malformed value: {exc}") from None
        elapsed = header.get("elapsed")
        return Reply(value, echo, float(elapsed) if isinstance(elapsed, (int, float)) else 0.0)

    def _precheck(self, fn: str) -> None:
        if self.crashes.get(fn, 0) >= MAX_CRASHES:
            raise StudentFault(
                "crashed", f"{fn} crashed the worker {MAX_CRASHES} times; not called again"
            )
        if self.bad_replies.get(fn, 0) >= MAX_CRASHES:
            raise StudentFault(
                "bad_output",
                f"{fn} sent {MAX_CRASHES} malformed replies (each cost a worker); not called again",
            )
        if fn in self.timed_out:
            raise StudentFault(
                "timeout", f"{fn} timed out earlier in this grading; not called again"
            )

    def call(self, call: Call, timeout: float | None = None) -> Reply:
        self._precheck(call.fn)
        blobs: list[np.ndarray] = []
        header = call.header(blobs)
        timeout = timeout or self.call_timeout
        if (fetched := self._planned((call,), False, header, blobs, timeout)) is not None:
            return self._reply(fetched.header, fetched.arrays, call.fn)
        shared = self._share(header, call) if call.echo else {}
        reply, arrays = self._request(header, blobs, timeout, {call.fn}, call.answer)
        result = self._reply(reply, arrays, call.fn)
        if not shared:
            return result
        # the judge reads the watched inputs back from the shared memory itself: what the
        # worker would echo is code that runs after the student's (grader.protocol.arena)
        worker = self.worker
        if worker is not None and worker.thread_count() > self.threads_after_load:
            # threads the student started may still modify the inputs: let them
            worker.let_run(LATE_GRACE_S, self.threads_after_load)
        elif worker is not None:
            worker.settle()
        arena = worker.arena if worker is not None and worker.alive() else None
        if arena is None:
            raise StudentFault("crashed", "the worker ended before its inputs could be read")
        echoed = iter(result.echo)
        echo = tuple(
            arena.read(shared[i]) if i in shared else next(echoed, None) for i in call.echo
        )
        if worker is not None and worker.thread_count() > self.threads_after_load:
            # a thread the call started outlived the grace: it would run again with the next
            # request and could modify these inputs unseen; the worker goes, the thread with it
            self._retire()
        return Reply(result.value, echo, result.elapsed)

    def _share(self, header: dict[str, Any], call: Call) -> dict[int, dict[str, Any]]:
        """Put the watched array arguments into the worker's arena (their nodes replace the
        copies in ``header``); the positions placed and their nodes."""
        arena = self._ensure().arena
        placed: dict[int, dict[str, Any]] = {}
        if arena is None:
            return placed
        for i in call.echo:
            value = call.args[i] if i < len(call.args) else None
            if isinstance(value, np.ndarray) and type(value) is np.ndarray:
                node = arena.place(value)
                if node is not None:
                    header["args"][i] = node
                    placed[i] = node
        header["echo"] = [i for i in call.echo if i not in placed]
        return placed

    def batch(self, calls: Sequence[Call]) -> list[Reply]:
        """Evaluate many calls in one round trip; the first failure raises."""
        names = {c.fn for c in calls}
        for fn in names:
            self._precheck(fn)
        blobs: list[np.ndarray] = []
        header = planning.request_header(calls, True, blobs, None)
        timeout = self.call_timeout + 0.05 * len(calls)
        fetched = self._planned(calls, True, header, blobs, timeout)
        if fetched is not None:
            reply, arrays = fetched.header, fetched.arrays
        else:
            reply, arrays = self._request(header, blobs, timeout, names)
        results = reply.get("results")
        if not isinstance(results, list) or len(results) != len(calls):
            raise StudentFault(
                "bad_output",
                f"{' / '.join(sorted(names))}: the reply to a batch of {len(calls)} calls does "
                "not hold one result per call",
            )
        return [self._reply(r, arrays, c.fn) for r, c in zip(results, calls)]

    def seed(self, seed: int) -> None:
        """Seed the worker's global random generators (for student code that uses them) before
        the next request: sent along with it, not as a round trip of its own."""
        self.pending_seed = seed

    def getattr(self, target: Handle, attr: str) -> Any:
        if self.recorder is not None:
            self.recorder.stop()
        self._cursor.clear()  # the check goes on live
        self._live()
        reply, arrays = self._request(
            {"op": "getattr", "target": target.id, "attr": attr}, [], self.call_timeout, {attr}
        )
        return self._reply(reply, arrays, f"reading .{attr}").value

    # -- planned calls (grader.judge.plan) ---------------------------------------------------
    def begin(self, check_id: str, planned: bool = True) -> None:
        """The requests from here on are check ``check_id``'s: recorded (when grading the
        reference for a plan) or served from what a stream fetched for it."""
        if self.recorder is not None:
            self.recorder.begin(check_id, planned)
        self._cursor = self._fetched.pop(check_id, deque())
        self._served = None

    def _planned(
        self,
        calls: Sequence[Call],
        batch: bool,
        header: dict[str, Any],
        blobs: list[np.ndarray],
        timeout: float,
    ) -> Fetched | None:
        """Record this request, or serve it from a stream when it is the check's next planned
        one (None: send it live, and so every later request of the check: see ``_live``).
        Raises the fault the stream met at this request."""
        if self.recorder is not None:
            self.recorder.note(calls, batch, header, blobs, timeout, self.pending_seed)
            return None
        if not self._cursor:
            return self._live()
        worker = self.worker
        if self._fetched_from is not None and (
            worker is not self._fetched_from or not worker.alive()
        ):  # the stream's worker died since (a crash in a live call): its handles with it
            self._drop_fetched()
            return self._live()
        sent = {**header, "seed": self.pending_seed} if self.pending_seed is not None else header
        if planning.digest(sent, blobs) != self._cursor[0].digest:
            self._cursor.clear()
            return self._live()
        fetched = self._cursor.popleft()
        self.pending_seed = None  # it went with the stream
        self._served = fetched
        if fetched.fault is not None:
            self._cursor.clear()
            raise self._fault(fetched.fault, {c.fn for c in calls}, timeout)
        self.streamed += 1
        return fetched

    def _live(self) -> None:
        """A request of the check goes live. After served ones, that is as planned only for
        a check the plan leaves to go on live (``tail``), in the stream's worker (its
        generators are put back as the stream left them there: ``restore``); otherwise the
        check asks what the reference was not asked, or its worker is gone, and it runs again
        from its start, every request live (``Rerun``)."""
        served = self._served
        if served is None:
            return
        worker = self.worker
        if served.tail and worker is self._fetched_from and worker is not None and worker.alive():
            return
        self._cursor.clear()
        self._served = None  # the next run: live throughout
        raise Rerun()

    def _drop_fetched(self) -> None:
        self._fetched, self._cursor, self._fetched_from = {}, deque(), None

    def prefetch(self, plan: Mapping[str, planning.Steps], check_ids: Sequence[str]) -> None:
        """Fetch the planned requests of ``check_ids`` (in that order) in a few streams.

        A stream that ends early (a timeout, a crash, a reply out of step) keeps what is
        served as if it had been sent live: the checks it answered whole, and the one it
        ended in, up to that request, which meets the same fault when its check makes it.
        The other checks send their calls live, in a new worker."""
        entries = [(cid, p) for cid in check_ids if cid in plan for p in plan[cid].requests]
        if not entries or self.recorder is not None:
            return
        try:
            worker = self._ensure()
        except StudentFault:
            return  # the checks report it
        fetched: dict[str, deque[Fetched]] = {}
        planned = [p for _, p in entries]
        # the last planned request of a check that goes on live: the state it leaves is kept
        tails = {
            i
            for i, (cid, _) in enumerate(entries)
            if not plan[cid].complete and (i + 1 == len(entries) or entries[i + 1][0] != cid)
        }
        for part, header, blobs in planning.stream_requests(planned, tails):
            timeouts = [planned[i].timeout for i in part]
            replies, fault = worker.stream(header, blobs, timeouts)
            for i, (reply, arrays) in zip(part, replies):
                cid, entry = entries[i]
                tail = i in tails
                fetched.setdefault(cid, deque()).append(
                    Fetched(entry.digest, reply, arrays, i, tail)
                )
            if fault is not None:
                self._retire()  # its handles and kept states went with it
                failed = part[len(replies)]
                cid, entry = entries[failed]
                kept = {
                    c: got
                    for c, got in fetched.items()
                    if c == cid or (plan[c].complete and len(got) == len(plan[c].requests))
                }
                kept.setdefault(cid, deque()).append(
                    Fetched(entry.digest, {}, [], failed, fault=fault)
                )
                self._fetched = kept  # served without their worker (_fetched_from None)
                return
        self._fetched, self._fetched_from = fetched, worker


class Rerun(BaseException):
    """A check served from a stream asked what its plan did not have, or its stream's worker
    is gone: it is run again from its start, every call live (``grader.pipeline.grade_topic``).
    Not an ``Exception``: no check's own handler may take it for a fault of the student."""
