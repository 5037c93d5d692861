"""Worker side of the simulated GPU: a thin proxy that knows no duration, timeline or stamp.

In a worker, ``torch.cuda.Event``, ``torch.cuda.synchronize``, streams, the judge's kernels and
the ``time`` clocks are this proxy (``grader.sim.install.install_proxy``). It turns each use
into an operation for the judge's ``grader.sim.session.Session`` of the check, sent over the
worker's pipe while the graded call runs (``ask``; the vocabulary is in that module). Why a
callback and not a log read after the call: a timer needs numbers *during* the call (a clock
after a synchronize, ``elapsed_time``), and only the judge can compute them; any number the
proxy made up itself would either need the durations here (where the student reads them) or
be wrong. So the worker holds nothing worth reading or patching: patching the proxy changes
only what it asks, and the judge grades against what it answered itself.

Round trips are few. Operations without a value (launch, record, synchronize, sleep) are
buffered and sent with the next one that has a value. Whenever the judge answers, it says the
host clock; until the next operation whose effect on the host depends on the device (launch,
synchronize, event synchronize), clock readings and sleeps are answered here from that
(readings cost ``READ_NS`` each, as the judge counts them), and polls of an event whose
completion time the judge gave are answered here too; all of them are still sent, so the judge
replays them, and only its own values count. Polling would reveal that completion time anyway,
to within ``READ_NS``.

Outside a graded call (at import, in a function that is not a timer) nothing answers: the
clocks advance by ``READ_NS`` per reading, synchronize does nothing, and a kernel launch or
``elapsed_time`` raises. The visible clocks continue from call to call (a check's session
starts at 0; the proxy adds where the last one ended), so they never run backwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from grader.sim.device import READ_NS
from grader.sim.session import MAX_COUNT, MAX_SLEEP_NS, STREAM

Ask = Callable[[list], dict]
FLUSH_AT = 4096  # buffered operations per ask (the judge takes up to 10 000)


class Proxy:
    """The worker's end of the simulated device; every method is one ``torch.cuda`` action."""

    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self._lock = threading.RLock()
        self._pending: list[list] = []
        self._host: int | None = None  # the judge's host clock, while known without asking
        self._ready: dict[int, int] = {}  # event id (or STREAM) -> when it completes
        self._announced: set[int] = set()  # events the current session knows
        self._timing: dict[int, bool] = {}  # every event made here -> enable_timing
        self._base = 0  # visible clock = base + the session's host clock
        self._last = 0  # the last visible clock value (ns)
        self._next_event = 1
        self.active = False  # a session answers (a graded timer call runs)

    # -- the call around it -------------------------------------------------------------------
    def begin(self) -> None:
        """A graded call starts: a fresh session on the judge, at host time 0."""
        with self._lock:
            self.active = True
            self._pending, self._host = [], None
            self._ready.clear()
            self._announced.clear()
            self._base = self._last

    def end(self) -> None:
        """The call returned: send what is buffered, so the judge's record is complete."""
        with self._lock:
            try:
                if self._pending:
                    self._send(self._pending)
            except Exception:  # noqa: BLE001 (the call is over; the judge judges what it got)
                pass
            self._pending, self.active = [], False

    # -- talking to the judge -----------------------------------------------------------------
    def _send(self, ops: list[list]) -> Any:
        self._pending = []
        answer = self._ask(ops)
        if not isinstance(answer, dict) or "error" in answer:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise RuntimeError(str(error or "the simulated GPU did not answer"))
        self._host = int(answer["host"])
        return answer.get("value")

    def _push(self, op: list) -> None:
        last = self._pending[-1] if self._pending else None
        if (
            op[0] in ("read", "poll")
            and last is not None
            and last[:-1] == op[:-1]
            and last[-1] < MAX_COUNT
        ):
            last[-1] += 1  # consecutive readings (polls of one event) travel as a count
        else:
            self._pending.append(op)
        if len(self._pending) >= FLUSH_AT:
            self._send(self._pending)

    def _value(self, op: list) -> Any:
        return self._send([*self._pending, op])

    def _visible(self) -> int:
        assert self._host is not None
        self._last = max(self._last, self._base + self._host)
        return self._last

    def _announce(self, eid: int) -> None:
        if eid not in self._announced:  # made earlier (at import, in another call)
            self._announced.add(eid)
            self._push(["event", eid, self._timing[eid]])

    # -- clocks -------------------------------------------------------------------------------
    def read_clock(self) -> int:
        """The host clock in ns (a reading costs ``READ_NS``)."""
        with self._lock:
            if not self.active:
                self._last += READ_NS
                return self._last
            if self._host is None:
                self._value(["read", 1])
            else:
                self._host += READ_NS
                self._push(["read", 1])
            return self._visible()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        ns = min(MAX_SLEEP_NS, round(seconds * 1e9))
        with self._lock:
            if not self.active:
                self._last += ns
                return
            self._push(["sleep", ns])
            if self._host is not None:
                self._host += ns

    # -- device -------------------------------------------------------------------------------
    def launch(self, kernel: int) -> None:
        with self._lock:
            if not self.active:
                raise RuntimeError("this simulated kernel runs only inside the graded call")
            self._push(["launch", kernel])
            self._host = None  # a full launch queue would block the host
            self._ready.pop(STREAM, None)

    def synchronize(self) -> None:
        with self._lock:
            if self.active:
                self._push(["sync"])
                self._host = None

    def new_event(self, enable_timing: bool) -> int:
        with self._lock:
            eid = self._next_event
            self._next_event += 1
            self._timing[eid] = enable_timing
            if self.active:
                self._announce(eid)
            return eid

    def record(self, eid: int) -> None:
        with self._lock:
            if self.active:
                self._announce(eid)
                self._push(["record", eid])
                self._ready.pop(eid, None)

    def wait(self, eid: int) -> None:
        with self._lock:
            if self.active:
                self._announce(eid)
                self._push(["wait", eid])
                self._host = None

    def poll(self, eid: int) -> bool:
        """``event.query()`` (``eid``) or ``stream.query()`` (``STREAM``)."""
        with self._lock:
            if not self.active:
                return True
            if eid != STREAM:
                self._announce(eid)
            ready = self._ready.get(eid)
            if self._host is not None and ready is not None:
                self._host += READ_NS
                self._push(["poll", eid, 1])
                return ready <= self._host
            done, ready = self._value(["poll", eid, 1])
            if ready is not None:
                self._ready[eid] = int(ready)
            return bool(done)

    def elapsed(self, start: int, end: int) -> float:
        with self._lock:
            if not self.active:
                raise RuntimeError(
                    "the simulated GPU answers elapsed_time only during a graded timer call"
                )
            self._announce(start)
            self._announce(end)
            value = self._value(["elapsed", start, end])
            if isinstance(value, dict):
                raise RuntimeError(str(value.get("error")))
            return float(value)


class ProxyEvent:
    """``torch.cuda.Event`` in a worker (same constructor and methods)."""

    def __init__(
        self,
        enable_timing: bool = False,
        blocking: bool = False,
        interprocess: bool = False,
        *,
        _proxy: Proxy,
    ) -> None:
        self.enable_timing = bool(enable_timing)
        self._proxy = _proxy
        self._id = _proxy.new_event(self.enable_timing)

    def record(self, stream: Any = None) -> None:
        self._proxy.record(self._id)

    def query(self) -> bool:
        return self._proxy.poll(self._id)

    def synchronize(self) -> None:
        self._proxy.wait(self._id)

    def wait(self, stream: Any = None) -> None:
        """Make a stream wait for this event: one stream here, so nothing to do."""

    def elapsed_time(self, end_event: ProxyEvent) -> float:
        """Milliseconds between this event and ``end_event``, as the judge's device says."""
        if not isinstance(end_event, ProxyEvent):
            raise TypeError("elapsed_time expects a torch.cuda.Event")
        return self._proxy.elapsed(self._id, end_event._id)


class ProxyStream:
    """``torch.cuda.Stream`` / ``current_stream()``: the one stream of the simulated device."""

    def __init__(self, device: Any = None, priority: int = 0, *, _proxy: Proxy) -> None:
        self._proxy = _proxy

    def synchronize(self) -> None:
        self._proxy.synchronize()

    def query(self) -> bool:
        return self._proxy.poll(STREAM)

    def record_event(self, event: ProxyEvent | None = None) -> ProxyEvent:
        event = event if event is not None else ProxyEvent(_proxy=self._proxy)
        event.record(self)
        return event

    def wait_event(self, event: ProxyEvent) -> None:
        """One stream: its work is already ordered after the event."""

    def wait_stream(self, stream: ProxyStream) -> None:
        """One stream: nothing to wait for."""

    def __enter__(self) -> ProxyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class ProxyKernel:
    """What a judge's ``sim_kernel`` workload is in the worker: an id; each call launches it."""

    def __init__(self, proxy: Proxy, kernel: int) -> None:
        self._proxy = proxy
        self._kernel = kernel

    def __call__(self, *args: object, **kwargs: object) -> None:
        self._proxy.launch(self._kernel)

    def __repr__(self) -> str:
        return "<simulated kernel>"
