"""Judge side of a graded timer: the simulated device of one check, and the judge's record of it.

The worker holds no simulation (``grader.sim.proxy``): each ``fn()`` launch, event creation and
record, synchronize, sleep, clock read, poll and ``elapsed_time`` of the student's code reaches
the judge as an operation, asked over the worker's pipe during the call (``Session.answer`` is
the handler the judge attaches to the call). The session replays each on its own
``SimDevice`` and answers those that return a value. Kernel durations, the device timeline and
event stamps stay here; what leaves is what a real GPU tells a program that times it: clock
readings, whether an event has completed (and, to keep busy-wait loops local, when), and
``elapsed_time``.

An ask is a JSON list of operations (the last one's value is answered, with the host clock):

- ``["launch", kernel]``, ``["event", id, enable_timing]``, ``["record", id]``, ``["sync"]``,
  ``["wait", id]`` (``event.synchronize()``), ``["sleep", ns]``, ``["flush"]``: no value;
- ``["read", n]``: n clock readings; value: the host clock after the last;
- ``["poll", id, n]``: n ``query()`` of event ``id`` (-1: the stream); value
  ``[done, ready_ns]`` for the last (``ready_ns``: when it completes, None if never recorded);
- ``["elapsed", a, b]``: value: milliseconds, or ``{"error": message}`` as torch raises.

Anything else, or an operation on a kernel or event the session never made, is a violation:
refused, and the check fails as ``bad_output``. The ``Record`` (``Session.record()``) then says
what the student could have measured of each call: a reported time scores only when it is one
of those (``Record.closest``), so numbers computed from anything but the device's answers earn
nothing, however they were obtained in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.protocol.values import Workload
from grader.sim.device import NS_PER_MS, SimDevice, SimEvent
from grader.sim.workloads import duration_ns, launch_ns

KIND = "sim_kernel"  # the workload kind the worker gets: only a kernel id as its parameter
MAX_OPS_PER_ASK = 10_000
MAX_OPS = 5_000_000  # counting each of n reads or polls: far above what any timer needs
MAX_READS = 200_000  # clock readings kept in the record (later ones are answered, not kept)
MAX_ID = 2**31
MAX_COUNT = 10**7
MAX_SLEEP_NS = 10**15  # 11 days of simulated sleep in one call
STREAM = -1


class Refused(Exception):
    """An operation the simulated device does not have."""


def _int(value: Any, low: int, high: int, what: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise Refused(f"{what} must be an int in [{low}, {high}], got {value!r:.40}")
    return value


class Session:
    """The simulated device of one check, driven by the operations the worker asks about."""

    def __init__(self, device: SimDevice | None = None) -> None:
        self.device = device or SimDevice()
        self.specs: dict[int, Workload] = {}
        self.calls: dict[int, int] = {}  # kernel id -> calls so far
        self.launches: list[tuple[int, int, int, int]] = []  # (kernel, call, start, end)
        self.events: dict[int, SimEvent] = {}
        self.marks: dict[int, int] = {}  # event id -> launches before its last record
        self.reads: list[int] = []  # every clock value answered, in order
        self.read_done: list[int] = []  # launches the host had waited for at each reading
        self.elapsed: list[tuple[int, int, float]] = []  # (start stamp, end stamp, ms)
        self.done = 0  # launches the host knows have completed (it waited for them)
        self.ops = 0
        self.reads_dropped = 0
        self.violation: str | None = None

    # -- set up by the check ------------------------------------------------------------------
    def kernel(self, spec: Workload) -> Workload:
        """Register ``spec``; return what the worker gets in its place (an id, nothing else)."""
        kid = len(self.specs) + 1
        self.specs[kid] = spec
        self.calls[kid] = 0
        return Workload(KIND, (("kernel", float(kid)),))

    # -- the handler of the worker's asks -----------------------------------------------------
    def answer(self, payload: Any) -> dict[str, Any]:
        """Replay the operations of one ask; answer the last one's value and the host clock."""
        if self.violation is None:
            try:
                if not isinstance(payload, list) or len(payload) > MAX_OPS_PER_ASK:
                    raise Refused(f"an ask is a list of at most {MAX_OPS_PER_ASK} operations")
                value = None
                for op in payload:
                    value = self._apply(op)
                return {"host": self.device.host_ns, "value": value}
            except Refused as refused:
                self.violation = str(refused)
        return {"error": f"the simulated GPU refused: {self.violation}"}

    def _count(self, n: int) -> None:
        self.ops += n
        if self.ops > MAX_OPS:
            raise Refused(f"more than {MAX_OPS} device operations in one call")

    def _event(self, value: Any) -> SimEvent:
        eid = _int(value, 0, MAX_ID, "an event id")
        if eid not in self.events:
            raise Refused(f"event {eid} was never created")
        return self.events[eid]

    def _apply(self, op: Any) -> Any:
        if not isinstance(op, list) or not op or not isinstance(op[0], str):
            raise Refused(f"malformed operation {op!r:.60}")
        name, args = op[0], op[1:]
        arity = {"launch": 1, "event": 2, "record": 1, "sync": 0, "wait": 1, "sleep": 1}
        arity.update(flush=0, read=1, poll=2, elapsed=2)
        if arity.get(name) != len(args):
            raise Refused(f"unknown operation {op!r:.60}")
        dev = self.device
        if name in ("read", "poll"):
            n = _int(args[-1], 1, MAX_COUNT, "a count")
            self._count(n)
        else:
            self._count(1)
        if name == "launch":
            kid = _int(args[0], 0, MAX_ID, "a kernel id")
            if kid not in self.specs:
                raise Refused(f"kernel {kid} does not belong to this check")
            self.calls[kid] += 1
            spec = self.specs[kid]
            start, end = dev.launch(duration_ns(spec, self.calls[kid]), launch_ns(spec))
            self.launches.append((kid, self.calls[kid], start, end))
        elif name == "event":
            eid = _int(args[0], 0, MAX_ID, "an event id")
            if type(args[1]) is not bool:
                raise Refused("enable_timing must be True or False")
            self.events[eid] = SimEvent(args[1], _device=dev)
            self.marks.pop(eid, None)
        elif name == "record":
            event = self._event(args[0])
            event.record()
            self.marks[args[0]] = len(self.launches)
        elif name == "sync":
            dev.synchronize()
            self.done = len(self.launches)
        elif name == "wait":
            self._event(args[0]).synchronize()
            self.done = max(self.done, self.marks.get(args[0], 0))
        elif name == "sleep":
            dev.host_ns += _int(args[0], 0, MAX_SLEEP_NS, "a sleep in ns")
        elif name == "read":
            first = dev.host_ns + dev.read_ns
            dev.host_ns += n * dev.read_ns
            keep = min(n, MAX_READS - len(self.reads))
            self.reads_dropped += n - keep
            self.reads.extend(range(first, first + keep * dev.read_ns, dev.read_ns))
            self.read_done.extend([self.done] * keep)
            return dev.host_ns
        elif name == "poll":
            dev.host_ns += (n - 1) * dev.read_ns
            if type(args[0]) is int and args[0] == STREAM:
                dev.host_ns += dev.read_ns
                done, ready = dev.free_ns <= dev.host_ns, dev.free_ns
                if done:
                    self.done = len(self.launches)
            else:
                event = self._event(args[0])
                done, ready = event.query(), event.stamp_ns
                if done:
                    self.done = max(self.done, self.marks.get(args[0], 0))
            return [done, ready]
        elif name == "elapsed":
            start, end = self._event(args[0]), self._event(args[1])
            try:
                ms = start.elapsed_time(end)
            except RuntimeError as exc:
                return {"error": str(exc)}
            assert start.stamp_ns is not None and end.stamp_ns is not None
            self.elapsed.append((start.stamp_ns, end.stamp_ns, ms))
            self.done = max(self.done, self.marks[args[0]], self.marks[args[1]])
            return ms
        return None

    def record(self) -> Record:
        """What the judge saw, frozen for the verdict."""
        spans = np.array([(s, e) for _, _, s, e in self.launches], dtype=np.int64).reshape(-1, 2)
        elapsed = np.array([(a, b) for a, b, _ in self.elapsed], dtype=np.int64).reshape(-1, 2)
        return Record(
            calls={(k, c): i for i, (k, c, _, _) in enumerate(self.launches)},
            launches=dict(self.calls),
            starts=spans[:, 0],
            ends=spans[:, 1],
            reads=np.array(self.reads, dtype=np.int64),
            read_done=np.array(self.read_done, dtype=np.int64),
            elapsed_stamps=elapsed,
            elapsed_ms=np.array([ms for _, _, ms in self.elapsed], dtype=np.float64),
            reads_dropped=self.reads_dropped,
        )


EVENTS = "events"  # times answered by elapsed_time
CLOCK = "clock"  # differences of two clock readings


@dataclass(frozen=True)
class Record:
    """The judge's record of one call: kernel spans (ns, in launch order: one stream, so the
    spans follow each other), the clock values it answered with how many launches the host had
    waited for at each, and the ``elapsed_time`` answers with their events' stamps.

    A measurement *covers call i alone* when its interval contains kernel i's whole span on the
    device and overlaps no other kernel's. A time measured with events must come from such an
    ``elapsed_time`` answer; one measured with the host clock from two readings bracketing call
    i alone, the second taken after the host waited for call i (a synchronize, an event
    synchronize or query that found it done): a reading that did not wait measures a launch."""

    calls: dict[tuple[int, int], int]  # (kernel id, call number) -> launch index
    launches: dict[int, int]  # kernel id -> calls made
    starts: np.ndarray
    ends: np.ndarray
    reads: np.ndarray
    read_done: np.ndarray
    elapsed_stamps: np.ndarray
    elapsed_ms: np.ndarray
    reads_dropped: int = 0

    def window(self, i: int) -> tuple[int, int, int, int]:
        """Bounds for a measurement of launch ``i`` alone: it starts in [lo, start] and ends in
        [end, hi] (lo: the previous kernel's end, hi: the next one's start)."""
        lo = int(self.ends[i - 1]) if i > 0 else np.iinfo(np.int64).min
        hi = int(self.starts[i + 1]) if i + 1 < len(self.starts) else np.iinfo(np.int64).max
        return lo, int(self.starts[i]), int(self.ends[i]), hi

    def event_times(self, i: int) -> np.ndarray:
        """The ``elapsed_time`` answers (ms) that cover launch ``i`` alone."""
        lo, start, end, hi = self.window(i)
        a, b = self.elapsed_stamps[:, 0], self.elapsed_stamps[:, 1]
        return self.elapsed_ms[(a >= lo) & (a <= start) & (b >= end) & (b <= hi)]

    def _brackets(self, i: int) -> tuple[slice, slice]:
        """Readings that may open (taken in [lo, start]) and close (in [end, hi], after the
        host waited for launch ``i``) a measurement of launch ``i``; both runs are contiguous
        as clock values and waits only grow."""
        lo, start, end, hi = self.window(i)
        reads = self.reads
        first = slice(np.searchsorted(reads, lo, "left"), np.searchsorted(reads, start, "right"))
        begin = max(np.searchsorted(reads, end, "left"), np.searchsorted(self.read_done, i + 1))
        last = slice(begin, np.searchsorted(reads, hi, "right"))
        return first, last

    def closest(self, i: int, source: str, ms: float) -> float | None:
        """The measurement of launch ``i`` alone nearest to ``ms``; None when there is none."""
        if source == EVENTS:
            found = self.event_times(i)
            return float(found[np.argmin(np.abs(found - ms))]) if found.size else None
        first, last = self._brackets(i)
        opens, closes = self.reads[first], self.reads[last]
        if not opens.size or not closes.size:
            return None
        target = opens + round(ms * NS_PER_MS)  # the closing reading each opening one needs
        at = np.clip(np.searchsorted(closes, target), 1, max(1, closes.size - 1))
        best = None
        for pick in (at - 1, np.minimum(at, closes.size - 1)):
            diffs = (closes[pick] - opens) / NS_PER_MS
            cand = float(diffs[np.argmin(np.abs(diffs - ms))])
            if best is None or abs(cand - ms) < abs(best - ms):
                best = cand
        return best
