"""The simulated device: a host clock and a device timeline, in integer nanoseconds.

Model (one stream, as the default stream of a real GPU):
- The host clock advances only by simulated costs: a kernel launch (``launch_ns``), reading a
  clock or polling an event (``read_ns``, so that busy-wait loops end), ``sleep``, and waiting
  for the device (``synchronize``). Python work between those costs nothing.
- ``launch`` enqueues a kernel: it starts at ``max(device_free, host)`` and keeps the device
  busy for its duration. The host does not wait, unless ``queue_depth`` kernels are pending
  (then it blocks until the oldest finishes, as a full launch queue does).
- An event's ``record`` stamps the time at which all work launched before it completes:
  ``max(device_free, host)``. ``elapsed_time`` raises, as torch does, while either event has
  not completed (the host clock is before its stamp): the timer forgot to synchronize.

Where it runs: in the judge for grading (``grader.sim.session`` drives one ``SimDevice`` per
check with the operations a worker's proxy sends), and in-process for notebooks and tests
(``grader.sim.install.install``), where nothing needs hiding.
"""

from __future__ import annotations

from collections import deque
from contextlib import nullcontext
from typing import Any

NS_PER_MS = 1_000_000
LAUNCH_NS = 5_000  # host cost of a kernel launch
READ_NS = 100  # host cost of reading a clock or polling (so that busy-wait loops end)


class SimDevice:
    """One simulated GPU and the host that drives it."""

    name = "Simulated GPU"

    def __init__(
        self, launch_ns: int = LAUNCH_NS, read_ns: int = READ_NS, queue_depth: int = 1024
    ) -> None:
        self.launch_ns = launch_ns
        self.read_ns = read_ns
        self.queue_depth = queue_depth
        self.host_ns = 0
        self.free_ns = 0  # when the device finishes the work launched so far
        self.pending: deque[int] = deque()  # end times of kernels not yet finished
        self.launches = 0

    # -- host side ---------------------------------------------------------------------------
    def read_clock(self) -> int:
        """The host clock in ns; reading it costs ``read_ns``."""
        self.host_ns += self.read_ns
        return self.host_ns

    def sleep(self, seconds: float) -> None:
        self.host_ns += max(0, round(seconds * 1e9))

    def synchronize(self) -> None:
        """The host waits until the device has finished everything launched so far."""
        self.host_ns = max(self.host_ns, self.free_ns)
        self.pending.clear()

    def idle(self) -> None:
        """Start a new experiment on an idle device (the judge's fresh workload)."""
        self.synchronize()

    # -- device side -------------------------------------------------------------------------
    def launch(self, duration_ns: int, launch_ns: int | None = None) -> tuple[int, int]:
        """Enqueue a kernel of ``duration_ns``; the host pays only the launch cost. Returns
        when the kernel starts and ends on the device."""
        self.host_ns += self.launch_ns if launch_ns is None else launch_ns
        while self.pending and self.pending[0] <= self.host_ns:
            self.pending.popleft()
        if len(self.pending) >= self.queue_depth:  # the launch queue is full: wait for a slot
            self.host_ns = self.pending.popleft()
        start = max(self.free_ns, self.host_ns)
        self.free_ns = start + max(0, int(duration_ns))
        self.pending.append(self.free_ns)
        self.launches += 1
        return start, self.free_ns

    def stamp(self) -> int:
        """When everything launched so far will have completed on the device."""
        return max(self.free_ns, self.host_ns)


class SimEvent:
    """``torch.cuda.Event`` on the simulated device (same constructor and methods)."""

    def __init__(
        self,
        enable_timing: bool = False,
        blocking: bool = False,
        interprocess: bool = False,
        *,
        _device: SimDevice,
    ) -> None:
        self.enable_timing = enable_timing
        self.device = _device
        self.stamp_ns: int | None = None

    def record(self, stream: Any = None) -> None:
        self.stamp_ns = self.device.stamp()

    def query(self) -> bool:
        """True when the work before the event has completed (polling costs ``read_ns``)."""
        self.device.host_ns += self.device.read_ns
        return self.stamp_ns is None or self.stamp_ns <= self.device.host_ns

    def synchronize(self) -> None:
        if self.stamp_ns is not None:
            self.device.host_ns = max(self.device.host_ns, self.stamp_ns)

    def wait(self, stream: Any = None) -> None:
        """Make a stream wait for this event: one stream here, so nothing to do."""

    def elapsed_time(self, end_event: SimEvent) -> float:
        """Milliseconds between this event and ``end_event``, like torch (float)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self.stamp_ns is None or end_event.stamp_ns is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        now = self.device.host_ns
        if self.stamp_ns > now or end_event.stamp_ns > now:
            raise RuntimeError("CUDA error: device not ready")
        return (end_event.stamp_ns - self.stamp_ns) / NS_PER_MS


class SimStream:
    """``torch.cuda.Stream`` / ``current_stream()``: the one stream of the simulated device."""

    def __init__(self, device: Any = None, priority: int = 0, *, _device: SimDevice) -> None:
        self.device = _device

    def synchronize(self) -> None:
        self.device.synchronize()

    def query(self) -> bool:
        self.device.host_ns += self.device.read_ns
        return self.device.free_ns <= self.device.host_ns

    def record_event(self, event: SimEvent | None = None) -> SimEvent:
        event = event if event is not None else SimEvent(_device=self.device)
        event.record(self)
        return event

    def wait_event(self, event: SimEvent) -> None:
        """One stream: its work is already ordered after the event."""

    def wait_stream(self, stream: SimStream) -> None:
        """One stream: nothing to wait for."""

    def __enter__(self) -> SimStream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def stream_context(stream: Any = None) -> nullcontext:
    """``torch.cuda.stream(s)``: every stream is the same one here."""
    return nullcontext(stream)
