"""The simulated device: launches are asynchronous, events and synchronize follow device time,
workloads are deterministic, and no real time passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.sim.device import NS_PER_MS, SimDevice, SimEvent
from grader.sim.workloads import DEFAULTS, SimKernel, duration_ns, sim_kernel

MS = NS_PER_MS


def event(dev: SimDevice, timing: bool = True) -> SimEvent:
    return SimEvent(enable_timing=timing, _device=dev)


def test_launch_costs_the_host_only_the_launch():
    dev = SimDevice(launch_ns=5_000)
    dev.launch(2 * MS)
    assert dev.host_ns == 5_000
    assert dev.free_ns == 5_000 + 2 * MS


def test_kernels_queue_behind_each_other():
    dev = SimDevice(launch_ns=1_000)
    for _ in range(3):
        dev.launch(10 * MS)
    assert dev.host_ns == 3_000
    assert dev.free_ns == 1_000 + 30 * MS  # the first starts at 1 us, the rest back to back


def test_an_idle_device_starts_a_kernel_when_it_is_launched():
    dev = SimDevice(launch_ns=1_000)
    dev.launch(MS)
    dev.sleep(1.0)  # the host does something else for a second
    dev.launch(MS)
    assert dev.free_ns == 1_000_000_000 + 2_000 + MS


def test_synchronize_waits_for_the_device():
    dev = SimDevice()
    dev.launch(7 * MS)
    dev.synchronize()
    assert dev.host_ns == dev.free_ns
    before = dev.host_ns
    dev.synchronize()  # nothing queued: no wait
    assert dev.host_ns == before


def test_a_full_launch_queue_blocks_the_host():
    dev = SimDevice(launch_ns=1_000, queue_depth=2)
    for _ in range(3):
        dev.launch(10 * MS)
    assert dev.host_ns == 1_000 + 10 * MS  # the third launch waited for the first kernel


def test_clock_reads_and_sleep_advance_the_host_clock():
    dev = SimDevice(read_ns=100)
    assert dev.read_clock() == 100
    assert dev.read_clock() == 200
    dev.sleep(0.5)
    assert dev.host_ns == 200 + 500_000_000


def test_events_measure_device_time():
    dev = SimDevice(launch_ns=5_000)
    dev.launch(300 * MS)  # queued work before the timed region
    start, end = event(dev), event(dev)
    start.record()
    dev.launch(2 * MS)
    end.record()
    dev.synchronize()
    assert start.elapsed_time(end) == pytest.approx(2.0)


def test_elapsed_time_before_synchronize_raises_like_torch():
    dev = SimDevice()
    start, end = event(dev), event(dev)
    start.record()
    dev.launch(2 * MS)
    end.record()
    assert not end.query()
    with pytest.raises(RuntimeError, match="device not ready"):
        start.elapsed_time(end)
    end.synchronize()
    assert end.query()
    assert start.elapsed_time(end) == pytest.approx(2.005)  # the launch gap on an idle device


def test_events_need_timing_and_recording():
    dev = SimDevice()
    with pytest.raises(RuntimeError, match="enable_timing"):
        event(dev, timing=False).elapsed_time(event(dev))
    with pytest.raises(RuntimeError, match="recorded"):
        event(dev).elapsed_time(event(dev))


def test_polling_an_event_ends_a_busy_wait():
    dev = SimDevice(read_ns=100)
    end = event(dev)
    dev.launch(MS)
    end.record()
    polls = 0
    while not end.query():
        polls += 1
    assert polls == MS // 100 - 1  # each poll costs read_ns; the 10 000th sees it done


def test_a_host_timer_without_synchronize_reads_the_launch_time():
    dev = SimDevice(launch_ns=5_000, read_ns=100)
    t0 = dev.read_clock()
    dev.launch(50 * MS)
    assert dev.read_clock() - t0 == 5_100


# -- workloads ----------------------------------------------------------------------------------
def test_workload_calls_first_slow_then_steady():
    spec = sim_kernel(duration_ms=2.0, first_ms=300.0, slow_calls=10, slow_ms=6.0, jitter=0.02)
    durations = [duration_ns(spec, i) / MS for i in range(1, 40)]
    assert durations[0] == 300.0
    assert durations[1:10] == [6.0] * 9
    steady = [d for i, d in enumerate(durations[10:], start=11) if (i - 10) % 7]
    assert all(1.96 <= d <= 2.04 for d in steady)
    hiccups = [durations[i - 1] for i in (17, 24, 31, 38)]
    assert all(5.88 <= d <= 6.12 for d in hiccups)
    assert len(set(steady)) > 5  # jitter: not one constant


@given(st.integers(1, 10_000), st.integers(0, 100))
def test_workload_durations_are_a_function_of_the_call_number(i, seed):
    spec = sim_kernel(seed=seed, hiccup_every=0)
    assert duration_ns(spec, i) == duration_ns(sim_kernel(seed=seed, hiccup_every=0), i)
    if i > DEFAULTS["slow_calls"]:
        assert abs(duration_ns(spec, i) / MS - 2.0) <= 2.0 * 0.02 + 1e-9


def test_sim_kernel_rejects_unknown_parameters():
    with pytest.raises(ValueError, match="unknown"):
        sim_kernel(durration_ms=1.0)


def test_a_kernel_counts_its_calls_and_launches_them():
    dev = SimDevice()
    fn = SimKernel(dev, sim_kernel(launch_us=7.0))
    fn()
    fn()
    assert fn.calls == 2 and dev.launches == 2
    assert dev.host_ns == 14_000
    assert dev.free_ns == 7_000 + 300 * MS + 6 * MS


def test_same_program_same_timings():
    def run() -> list[float]:
        dev = SimDevice()
        fn = SimKernel(dev, sim_kernel())
        out = []
        for _ in range(30):
            s, e = event(dev), event(dev)
            s.record()
            fn()
            e.record()
            dev.synchronize()
            out.append(s.elapsed_time(e))
        return out

    assert run() == run()
