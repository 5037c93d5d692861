"""Timers that report the right numbers without measuring them, and honest variants that do.

Each entry is Python source appended to the reference ``solutions/cuda_timing.py``: its
``time_cuda`` and ``time_cpu`` replace the reference's. The forgeries use everything the
student's process can reach: the grader's own models and check declarations (the grader
package is readable in the worker), the workload object, ``gc.get_objects()``, frames, patched
``Event.elapsed_time`` and clocks, sleeps shaped to the right length, and the pipe to the judge.
"""

from __future__ import annotations

ORACLE = '''
import gc as _gc
import sys as _sys


def _oracle(function, warmup, iters):
    """The true statistics, from the grader's own model of a correct timer."""
    from grader.topics import cuda_timing as _topic
    from grader.topics.cuda_timing import sim as _sim

    for check in _topic.checks():
        if isinstance(check, _sim.SimulatedTimer) and check.function == function:
            w = 10 if check.warmup is None else check.warmup
            i = 50 if check.iters is None else check.iters
            if (w, i) == (warmup, iters):
                return _sim.true_stats(function, check.spec, w, i)
    raise LookupError("no such check")
'''

FORGERIES = {
    # no device operation at all: the grader's model of the check, by (warmup, iters)
    "oracle": ORACLE
    + """
def time_cuda(fn, warmup=10, iters=50):
    return _oracle("time_cuda", warmup, iters)


def time_cpu(fn, warmup=10, iters=50):
    return _oracle("time_cpu", warmup, iters)
""",
    # every launch made, nothing timed
    "launches only": ORACLE
    + """
def _launch(fn, warmup, iters, function):
    for _ in range(warmup + iters):
        fn()
    torch.cuda.synchronize()
    return _oracle(function, warmup, iters)


def time_cuda(fn, warmup=10, iters=50):
    return _launch(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _launch(fn, warmup, iters, "time_cpu")
""",
    # events recorded, never synchronized; Event.elapsed_time patched to say the truth
    "patched elapsed_time": ORACLE
    + """
def _patched(fn, warmup, iters, function):
    truth = iter(_oracle(function, warmup, iters)["times_ms"])
    torch.cuda.Event.elapsed_time = lambda self, end: float(next(truth))
    for _ in range(warmup):
        fn()
    pairs = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        pairs.append((start, end))
    return timing_stats(np.array([s.elapsed_time(e) for s, e in pairs]))


def time_cuda(fn, warmup=10, iters=50):
    return _patched(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _patched(fn, warmup, iters, "time_cpu")
""",
    # whatever object in the process knows durations: the device, the workload's spec
    "process internals": ORACLE
    + """
def _internals(fn, warmup, iters, function):
    from grader.sim.workloads import duration_ns

    device = next((o for o in _gc.get_objects() if hasattr(o, "free_ns")), None)
    spec = getattr(fn, "spec", None)
    frames = [f.f_locals for f in _sys._current_frames().values()]
    found = [v for fr in frames for v in fr.values() if type(v).__name__ == "Session"]
    times = []
    for i in range(warmup + iters):
        before = device.free_ns if device is not None else 0
        fn()
        if i < warmup:
            continue
        if device is not None:
            times.append((device.free_ns - before) / 1e6)
        elif spec is not None:
            times.append(duration_ns(spec, i + 1) / 1e6)
        elif found:
            times.append(found[0].launches[-1][3] - found[0].launches[-1][2])
    if len(times) != iters:  # nothing in the process knew: the grader's model, then
        return _oracle(function, warmup, iters)
    return timing_stats(np.array(times))


def time_cuda(fn, warmup=10, iters=50):
    return _internals(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _internals(fn, warmup, iters, "time_cpu")
""",
    # a host timer that never synchronizes, with time.perf_counter patched to the truth
    "patched clock": ORACLE
    + """
def _clock(fn, warmup, iters, function):
    import time as _time

    truth = list(_oracle(function, warmup, iters)["times_ms"])
    readings = []
    for ms in truth:
        readings += [10.0, 10.0 + ms / 1e3]
    _time.perf_counter = iter(readings).__next__
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = _time.perf_counter()
        fn()
        times.append((_time.perf_counter() - start) * 1e3)
    return timing_stats(np.array(times))


def time_cuda(fn, warmup=10, iters=50):
    return _clock(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _clock(fn, warmup, iters, "time_cpu")
""",
    # no synchronize: time.sleep shapes each interval to the true length instead
    "shaped sleeps": ORACLE
    + """
def _sleeps(fn, warmup, iters, function):
    truth = _oracle(function, warmup, iters)["times_ms"]
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for ms in truth:
        start = time.perf_counter()
        fn()
        time.sleep(max(0.0, ms / 1e3 - 5.1e-6))  # the launch (5 us) and a reading (0.1 us)
        times.append((time.perf_counter() - start) * 1e3)
        time.sleep(1.0)  # let the kernel finish before the next one
    return timing_stats(np.array(times))


def time_cuda(fn, warmup=10, iters=50):
    return _sleeps(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _sleeps(fn, warmup, iters, "time_cpu")
""",
    # the worker's proxy found and its state patched: its clock, known locally after an answer,
    # made to read the true length of each call that was never waited for
    "patched proxy state": ORACLE
    + """
def _proxy_state(fn, warmup, iters, function):
    proxy = next(o for o in _gc.get_objects() if type(o).__name__ == "Proxy")
    truth = _oracle(function, warmup, iters)["times_ms"]
    for _ in range(warmup):
        fn()
    times = []
    for ms in truth:
        start = time.perf_counter()
        fn()
        proxy._host = round(start * 1e9) - proxy._base + round(ms * 1e6) - 100
        times.append((time.perf_counter() - start) * 1e3)
    return timing_stats(np.array(times))


def time_cuda(fn, warmup=10, iters=50):
    return _proxy_state(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _proxy_state(fn, warmup, iters, "time_cpu")
""",
    # the proxy's channel to the judge, used directly: a kernel of someone else's, then the truth
    "forged operations": ORACLE
    + """
def _forged(fn, warmup, iters, function):
    for o in _gc.get_objects():
        try:
            ask = o._ask if type(o).__name__ == "Proxy" else None
            if callable(ask):
                ask([["launch", 7], ["sync"], ["read", 1]])
        except Exception:
            pass
    return _oracle(function, warmup, iters)


def time_cuda(fn, warmup=10, iters=50):
    return _forged(fn, warmup, iters, "time_cuda")


def time_cpu(fn, warmup=10, iters=50):
    return _forged(fn, warmup, iters, "time_cpu")
""",
}

# Correct timers written otherwise than the reference: each must earn every point.
HONEST = {
    # events, waited for one by one with end.synchronize()
    "events synchronized per call": """
def time_cuda(fn, warmup=10, iters=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return timing_stats(np.array(times))


def time_cpu(fn, warmup=10, iters=50):
    for _ in range(warmup):
        fn()
    stream = torch.cuda.current_stream()
    times = []
    for _ in range(iters):
        stream.synchronize()
        start = time.perf_counter_ns()
        fn()
        stream.synchronize()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return timing_stats(np.array(times))
""",
    # events made at import, a polite busy-wait on them instead of synchronize (a tight one
    # would poll 2 million times per 200 ms kernel); time.time() as the host clock
    "busy-waiting, wall clock": """
_EVENTS = [torch.cuda.Event(enable_timing=True) for _ in range(2)]  # made at import


def time_cuda(fn, warmup=10, iters=50):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = _EVENTS
        start.record()
        fn()
        end.record()
        while not end.query():
            time.sleep(1e-4)
        times.append(start.elapsed_time(end))
    return timing_stats(np.array(times))


def time_cpu(fn, warmup=10, iters=50):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        torch.cuda.synchronize()
        start = time.time()
        fn()
        torch.cuda.synchronize()
        times.append((time.time() - start) * 1e3)
    return timing_stats(np.array(times))
""",
}
