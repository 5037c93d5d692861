"""Worker side: put the simulated device in place of ``torch.cuda`` and of the clocks.

``install`` runs before the student module is imported, so ``from time import perf_counter``
and ``from torch.cuda import Event`` at the top of a submission get the simulated versions.
It replaces, in the ``time`` module, ``perf_counter``, ``perf_counter_ns``, ``monotonic``,
``monotonic_ns``, ``time``, ``time_ns`` and ``sleep`` (which advances the host clock instead of
waiting), and ``timeit.default_timer``. In ``torch.cuda`` (the real module when torch imports,
else a minimal stand-in holding only ``torch.cuda``) it replaces ``Event``, ``Stream``,
``synchronize``, ``current_stream``, ``default_stream``, ``stream``, ``is_available``,
``device_count``, ``current_device``, ``get_device_name`` and a few no-ops.
"""

from __future__ import annotations

import sys
import time
import timeit
import types
from collections.abc import Callable
from typing import Any

from grader.protocol.values import Workload
from grader.sim import REAL_CUDA, SIMULATED
from grader.sim.device import SimDevice, SimEvent, SimStream, stream_context
from grader.sim.workloads import SimKernel, build_real

EPOCH_NS = 1_700_000_000 * 10**9  # time.time() of the simulated host at its clock's zero
MONOTONIC_NS = 10_000 * 10**9  # monotonic clocks do not start at zero either


def _bound(cls: type, device: SimDevice) -> type:
    """``cls`` with the device filled in, named as torch names it (``torch.cuda.Event``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls.__init__(self, *args, _device=device, **kwargs)

    name = cls.__name__.removeprefix("Sim")
    return type(name, (cls,), {"__init__": __init__, "__module__": "torch.cuda"})


def cuda_namespace(device: SimDevice) -> dict[str, Any]:
    """The ``torch.cuda`` attributes of the simulated device."""
    stream_cls = _bound(SimStream, device)
    default = stream_cls()

    def synchronize(device_index: Any = None) -> None:
        device.synchronize()

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    return {
        "Event": _bound(SimEvent, device),
        "Stream": stream_cls,
        "synchronize": synchronize,
        "current_stream": lambda device_index=None: default,
        "default_stream": lambda device_index=None: default,
        "stream": stream_context,
        "is_available": lambda: True,
        "is_initialized": lambda: True,
        "device_count": lambda: 1,
        "current_device": lambda: 0,
        "get_device_name": lambda device_index=None: SimDevice.name,
        "init": noop,
        "set_device": noop,
        "empty_cache": noop,
        "manual_seed": noop,
        "manual_seed_all": noop,
    }


def _patch_time(device: SimDevice) -> None:
    def perf_counter_ns() -> int:
        return device.read_clock()

    def perf_counter() -> float:
        return device.read_clock() / 1e9

    def monotonic_ns() -> int:
        return MONOTONIC_NS + device.read_clock()

    def monotonic() -> float:
        return monotonic_ns() / 1e9

    def time_ns() -> int:
        return EPOCH_NS + device.read_clock()

    def wall_time() -> float:
        return time_ns() / 1e9

    for name, fn in (
        ("perf_counter", perf_counter),
        ("perf_counter_ns", perf_counter_ns),
        ("monotonic", monotonic),
        ("monotonic_ns", monotonic_ns),
        ("time", wall_time),
        ("time_ns", time_ns),
        ("sleep", device.sleep),
    ):
        setattr(time, name, fn)
    timeit.default_timer = perf_counter


def _torch_cuda(real_torch: bool) -> types.ModuleType:
    """The real ``torch.cuda`` module, or a stand-in registered as ``torch`` / ``torch.cuda``."""
    if real_torch:
        try:
            import torch

            return torch.cuda
        except ImportError:
            pass
    torch_mod = types.ModuleType("torch", "stand-in: only torch.cuda is simulated here")
    cuda = types.ModuleType("torch.cuda")
    torch_mod.cuda = cuda
    sys.modules["torch"], sys.modules["torch.cuda"] = torch_mod, cuda
    return cuda


def install(device: SimDevice | None = None, real_torch: bool = True) -> SimDevice:
    """Simulate in this process from now on; returns the device (for building workloads)."""
    device = device or SimDevice()
    cuda = _torch_cuda(real_torch)
    for name, value in cuda_namespace(device).items():
        setattr(cuda, name, value)
    _patch_time(device)
    return device


def workload_builder(setup: str) -> Callable[[Workload], Any] | None:
    """Install what ``setup`` asks for and return how workloads become callables."""
    if setup == SIMULATED:
        device = install()

        def build(spec: Workload) -> Any:
            if spec.kind != "sim_kernel":
                raise ValueError(f"a {spec.kind} workload needs a real CUDA device")
            device.idle()  # each workload is a fresh experiment on an idle device
            return SimKernel(device, spec)

        return build
    if setup == REAL_CUDA:
        return build_real
    return None
