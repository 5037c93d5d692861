"""Put the simulated device in place of ``torch.cuda`` and of the clocks.

Two ways: ``install`` simulates right here (notebooks, tests: a ``SimDevice`` in this process);
``install_proxy`` (a worker, through ``workload_builder``) installs the thin proxy of
``grader.sim.proxy``, which asks the judge's session of the check for every value, so that no
duration, timeline or stamp is in the student's process.

In a worker this runs before the student module is imported, so ``from time import perf_counter``
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
from grader.sim.proxy import Ask, Proxy, ProxyEvent, ProxyKernel, ProxyStream
from grader.sim.session import KIND
from grader.sim.workloads import build_real

EPOCH_NS = 1_700_000_000 * 10**9  # time.time() of the simulated host at its clock's zero
MONOTONIC_NS = 10_000 * 10**9  # monotonic clocks do not start at zero either


def _bound(cls: type, **bound: Any) -> type:
    """``cls`` with the device (or proxy) filled in, named as torch names it
    (``torch.cuda.Event``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls.__init__(self, *args, **bound, **kwargs)

    name = cls.__name__.removeprefix("Sim").removeprefix("Proxy")
    return type(name, (cls,), {"__init__": __init__, "__module__": "torch.cuda"})


def _namespace(event_cls: type, stream_cls: type, sync: Callable[[], None]) -> dict[str, Any]:
    default = stream_cls()

    def synchronize(device_index: Any = None) -> None:
        sync()

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    return {
        "Event": event_cls,
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


def cuda_namespace(device: SimDevice) -> dict[str, Any]:
    """The ``torch.cuda`` attributes of a simulated device in this process."""
    return _namespace(
        _bound(SimEvent, _device=device), _bound(SimStream, _device=device), device.synchronize
    )


def proxy_namespace(proxy: Proxy) -> dict[str, Any]:
    """The ``torch.cuda`` attributes of the worker's proxy (the same names)."""
    return _namespace(
        _bound(ProxyEvent, _proxy=proxy), _bound(ProxyStream, _proxy=proxy), proxy.synchronize
    )


def _patch_time(read_ns: Callable[[], int], sleep: Callable[[float], None]) -> None:
    def perf_counter_ns() -> int:
        return read_ns()

    def perf_counter() -> float:
        return read_ns() / 1e9

    def monotonic_ns() -> int:
        return MONOTONIC_NS + read_ns()

    def monotonic() -> float:
        return monotonic_ns() / 1e9

    def time_ns() -> int:
        return EPOCH_NS + read_ns()

    def wall_time() -> float:
        return time_ns() / 1e9

    for name, fn in (
        ("perf_counter", perf_counter),
        ("perf_counter_ns", perf_counter_ns),
        ("monotonic", monotonic),
        ("monotonic_ns", monotonic_ns),
        ("time", wall_time),
        ("time_ns", time_ns),
        ("sleep", sleep),
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
    """Simulate in this process from now on (notebooks, tests: the device is right here);
    returns the device (for building kernels: ``SimKernel(device, spec)``)."""
    device = device or SimDevice()
    cuda = _torch_cuda(real_torch)
    for name, value in cuda_namespace(device).items():
        setattr(cuda, name, value)
    _patch_time(device.read_clock, device.sleep)
    return device


def install_proxy(ask: Ask, real_torch: bool = True) -> Proxy:
    """In a worker: ``torch.cuda`` and the clocks become the proxy that asks the judge."""
    proxy = Proxy(ask)
    cuda = _torch_cuda(real_torch)
    for name, value in proxy_namespace(proxy).items():
        setattr(cuda, name, value)
    _patch_time(proxy.read_clock, proxy.sleep)
    return proxy


def workload_builder(setup: str, channel: Any = None) -> Callable[[Workload], Any] | None:
    """Install what ``setup`` asks for and return how workloads become callables.

    ``simulated_cuda`` needs the worker's ``channel`` (``grader.worker.ask.Channel``): the proxy
    asks through it, and starts and ends with each call that the judge answers."""
    if setup == SIMULATED:
        if channel is None:
            raise RuntimeError("the simulated GPU needs the worker's channel to the judge")
        proxy = install_proxy(channel.ask)
        channel.on_open.append(proxy.begin)
        channel.on_close.append(proxy.end)

        def build(spec: Workload) -> Any:
            if spec.kind != KIND or [k for k, _ in spec.params] != ["kernel"]:
                raise ValueError(
                    f"a {spec.kind} workload: the simulated GPU runs only the judge's kernels"
                )
            return ProxyKernel(proxy, int(spec.param("kernel")))

        return build
    if setup == REAL_CUDA:
        return build_real
    return None
