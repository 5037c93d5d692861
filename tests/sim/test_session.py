"""The judge's session and the worker's proxy, talking in one process (a loopback in place of the
worker's pipe): the proxy's answers are the local device's, round trips are few, the session
refuses what the device does not have, and its record tells measured times from others."""

from __future__ import annotations

import numpy as np
import pytest

from grader.sim.device import NS_PER_MS, READ_NS, SimDevice, SimEvent
from grader.sim.proxy import Proxy, ProxyEvent, ProxyKernel, ProxyStream
from grader.sim.session import CLOCK, MAX_OPS_PER_ASK, STREAM, Session
from grader.sim.workloads import SimKernel, sim_kernel

MS = NS_PER_MS
SPEC = sim_kernel(duration_ms=2.0, first_ms=30.0, slow_calls=3, slow_ms=5.0, seed=4)


class Loopback:
    """A session and the proxy that asks it, counting the asks (round trips in a worker)."""

    def __init__(self, spec=SPEC) -> None:
        self.session = Session()
        self.asks = 0
        self.proxy = Proxy(self.ask)
        wire = self.session.kernel(spec)
        self.fn = ProxyKernel(self.proxy, int(wire.param("kernel")))
        self.proxy.begin()

    def ask(self, ops: list) -> dict:
        self.asks += 1
        return self.session.answer(ops)

    def event(self) -> ProxyEvent:
        return ProxyEvent(enable_timing=True, _proxy=self.proxy)


def events_timer(fn, event, sync, warmup: int, iters: int) -> list[float]:
    for _ in range(warmup):
        fn()
    pairs = [(event(), event()) for _ in range(iters)]
    for start, end in pairs:
        start.record()
        fn()
        end.record()
    sync()
    return [s.elapsed_time(e) for s, e in pairs]


def host_timer(fn, read, sync, warmup: int, iters: int) -> list[int]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        sync()
        start = read()
        fn()
        sync()
        times.append(read() - start)
    return times


def test_the_proxy_answers_what_the_local_device_says():
    dev = SimDevice()
    local = SimKernel(dev, SPEC)
    want = events_timer(local, lambda: SimEvent(True, _device=dev), dev.synchronize, 4, 6)
    loop = Loopback()
    got = events_timer(loop.fn, loop.event, loop.proxy.synchronize, 4, 6)
    assert got == want
    assert loop.asks == 6  # one per elapsed_time: launches and records travel with the first
    dev = SimDevice()
    local = SimKernel(dev, SPEC)
    want = host_timer(local, dev.read_clock, dev.synchronize, 4, 6)
    loop = Loopback()
    got = host_timer(loop.fn, loop.proxy.read_clock, loop.proxy.synchronize, 4, 6)
    assert got == want and loop.asks == 12  # each reading after a synchronize asks


def test_readings_and_polls_with_a_known_clock_are_answered_locally_and_replayed():
    loop = Loopback()
    first = loop.proxy.read_clock()
    readings = [loop.proxy.read_clock() for _ in range(5000)]
    assert readings == list(range(first + READ_NS, first + 5001 * READ_NS, READ_NS))
    loop.fn()
    end = loop.event()
    end.record()
    polls = 0
    while not end.query():  # a busy-wait for the 30 ms first call: 300 000 polls
        polls += 1
    loop.proxy.end()
    assert loop.asks <= 4
    assert polls == pytest.approx(30 * MS / READ_NS, rel=1e-3)
    session = loop.session
    assert len(session.reads) == 5001 and session.reads[-1] == readings[-1]
    assert session.done == 1  # the judge saw the poll that found the kernel done
    assert session.device.host_ns >= session.launches[0][3]


def test_clocks_continue_across_calls_and_nothing_answers_between_them():
    loop = Loopback()
    loop.fn()
    loop.proxy.synchronize()
    during = loop.proxy.read_clock()
    loop.proxy.end()
    after = loop.proxy.read_clock()  # no session: the clock still moves, and forward
    assert after == during + READ_NS
    with pytest.raises(RuntimeError, match="only inside the graded call"):
        loop.fn()
    event = loop.event()
    with pytest.raises(RuntimeError, match="only during a graded timer call"):
        event.elapsed_time(loop.event())
    assert event.query() is True and ProxyStream(_proxy=loop.proxy).query() is True
    loop.session = Session()  # the next check's session, starting at host time 0
    loop.proxy.begin()
    assert loop.proxy.read_clock() > after
    event.record()  # an event made outside the session is announced before its first use
    assert loop.session.violation is None


def test_elapsed_time_before_the_end_event_completed_raises_like_torch():
    loop = Loopback()
    start, end = loop.event(), loop.event()
    start.record()
    loop.fn()
    end.record()
    with pytest.raises(RuntimeError, match="device not ready"):
        start.elapsed_time(end)
    end.synchronize()
    assert start.elapsed_time(end) == pytest.approx(30.005)
    untimed = ProxyEvent(_proxy=loop.proxy)
    untimed.record()
    with pytest.raises(RuntimeError, match="enable_timing"):
        start.elapsed_time(untimed)


@pytest.mark.parametrize(
    "ops",
    [
        "launch",
        [["launch", 2]],  # a kernel of another check
        [["launch", 1.0]],
        [["record", 5]],  # an event never created
        [["event", 1, 1]],
        [["read", 0]],
        [["sleep", -1]],
        [["poll", -1.0, 1]],
        [["rm", "-rf"]],
        [["sync", 1]],
        [["sync"]] * (MAX_OPS_PER_ASK + 1),
    ],
)
def test_an_operation_the_device_does_not_have_is_refused_for_good(ops):
    session = Session()
    session.kernel(SPEC)
    assert "error" in session.answer(ops)
    assert session.violation
    assert "error" in session.answer([["sync"]])  # nothing is answered after a violation


def test_the_record_counts_only_measurements_of_one_call_alone():
    loop = Loopback()
    proxy = loop.proxy
    for _ in range(3):
        loop.fn()
    proxy.synchronize()
    a = proxy.read_clock()
    loop.fn()  # call 4: launched on an idle device
    proxy.synchronize()
    b = proxy.read_clock()
    c = proxy.read_clock()
    loop.fn()  # call 5: never waited for before the reading
    d = proxy.read_clock()
    proxy.sleep(1.0)
    e = proxy.read_clock()
    start, end = loop.event(), loop.event()
    start.record()
    loop.fn()  # call 6, between two events
    loop.fn()  # call 7
    end.record()
    proxy.synchronize()
    both = start.elapsed_time(end)
    record = loop.session.record()
    fourth, fifth, sixth = (record.calls[(1, n)] for n in (4, 5, 6))
    assert record.closest(fourth, CLOCK, (b - a) / MS) == (b - a) / MS
    assert record.closest(fifth, CLOCK, (d - c) / MS) is None  # the host did not wait
    assert record.closest(fifth, CLOCK, (e - c) / MS) is None  # a sleep is not a wait
    assert record.event_times(sixth).size == 0  # the events span calls 6 and 7
    assert both > 0 and record.calls.get((1, 8)) is None
    assert record.launches == {1: 7}


def test_a_session_bounds_what_it_keeps():
    session = Session()
    session.kernel(SPEC)
    answer = session.answer([["read", 300_000]])
    assert answer["host"] == 300_000 * READ_NS
    assert len(session.reads) == 200_000 and session.reads_dropped == 100_000
    assert "error" in session.answer([["poll", STREAM, 10**7]] * 1)  # past the operation limit
    assert np.all(np.diff(session.record().reads) > 0)
