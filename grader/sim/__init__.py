"""A simulated asynchronous CUDA device on a virtual clock, for grading timing code without a GPU.

- ``device``: the host clock and the device timeline (launches, events, synchronize), in
  integer nanoseconds; nothing here reads real time, so a simulated 10 s costs microseconds.
- ``workloads``: what a judge-chosen workload costs per call (first call slow, then a few slow
  calls, then a steady duration with small deterministic jitter and hiccups).
- ``session``: judge side; one check's device, driven by the operations the worker asks about
  during the graded call, and the judge's record of what the student measured.
- ``proxy``: worker side; the thin ``torch.cuda`` and clocks that ask the judge's session: no
  duration, timeline or stamp is ever in the student's process.
- ``install``: puts the proxy (a worker) or a local device (notebooks, tests) in place of
  ``torch.cuda`` and of the ``time`` module's clocks before a student module is imported.

The judge decides whether a worker simulates (``worker_setup``): only when the judge itself has
no CUDA device; on a CUDA machine the worker keeps the real ``torch.cuda``.
"""

from __future__ import annotations

from functools import cache

SIMULATED = "simulated_cuda"  # the topic asks for the simulation; the judge has no CUDA
REAL_CUDA = "cuda"  # the topic asks for the simulation but the judge has a real CUDA device


def _no_nvidia_device() -> bool:
    """True when this machine certainly has no NVIDIA GPU: no device node, no driver entry.
    (Seconds of importing torch are spent only where a GPU may be.)"""
    import glob
    import os

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    nodes = glob.glob("/dev/nvidia[0-9]*") + glob.glob("/dev/dxg")  # dxg: WSL2
    return not (nodes or os.path.isdir("/proc/driver/nvidia/gpus"))


@cache
def judge_has_cuda() -> bool:
    """True when this (judge) process sees a CUDA device through torch; without a device node
    or driver of one, False without importing torch."""
    if _no_nvidia_device():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def worker_setup(requested: str) -> str:
    """The setup a worker gets for a topic that declares ``WORKER_SETUP = requested``."""
    if requested != SIMULATED:
        return requested
    return REAL_CUDA if judge_has_cuda() else SIMULATED
