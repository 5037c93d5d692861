"""Judge-chosen workloads: what each call costs on the simulated device.

A ``sim_kernel`` workload (``grader.protocol.values.Workload``) is one kernel per call whose
device duration depends on the call number ``i`` (1-based, counted per built workload):

- call 1: ``first_ms`` (lazy initialisation, cuDNN autotuning: hundreds of ms);
- calls 2 .. ``slow_calls``: ``slow_ms`` (caches and clocks still warming up);
- later calls: ``duration_ms`` times ``1 + jitter * u(i)`` with ``u(i)`` in [-1, 1] from an
  integer hash of ``i`` and ``seed``, and times ``hiccup_factor`` every ``hiccup_every``-th
  steady call (another process, a clock change: the outliers a median ignores).

Only the judge computes durations (``duration_ns``): its session launches them on its device
and its models of timers run ``SimKernel``; the worker gets a kernel id and nothing else
(``grader.sim.proxy.ProxyKernel``). Nothing depends on real time or on global random state.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.protocol.values import Workload
from grader.sim.device import NS_PER_MS, SimDevice

DEFAULTS = {
    "duration_ms": 2.0,
    "first_ms": 300.0,
    "slow_calls": 10.0,
    "slow_ms": 6.0,
    "launch_us": 5.0,
    "jitter": 0.02,
    "hiccup_every": 7.0,
    "hiccup_factor": 3.0,
    "seed": 0.0,
}


def sim_kernel(**params: float) -> Workload:
    """A ``sim_kernel`` workload; unnamed parameters take ``DEFAULTS``."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown sim_kernel parameters {sorted(unknown)}")
    merged = {**DEFAULTS, **params}
    return Workload("sim_kernel", tuple((k, float(v)) for k, v in merged.items()))


def _unit(i: int, seed: int) -> float:
    """A deterministic value in [-1, 1] for call ``i`` (Knuth's multiplicative hash)."""
    h = (i * 2654435761 + seed * 97531 + 12345) % 2**32
    return (h % 20001) / 10000.0 - 1.0


def duration_ns(spec: Workload, i: int) -> int:
    """Device time of call ``i`` (1-based) of the workload, in ns."""
    p = {**DEFAULTS, **dict(spec.params)}
    slow_calls = int(p["slow_calls"])
    if i == 1:
        ms = p["first_ms"]
    elif i <= slow_calls:
        ms = p["slow_ms"]
    else:
        ms = p["duration_ms"] * (1.0 + p["jitter"] * _unit(i, int(p["seed"])))
        every = int(p["hiccup_every"])
        if every > 0 and (i - slow_calls) % every == 0:
            ms *= p["hiccup_factor"]
    return round(ms * NS_PER_MS)


def launch_ns(spec: Workload) -> int:
    return round(spec.param("launch_us", DEFAULTS["launch_us"]) * 1000)


class SimKernel:
    """The callable a ``sim_kernel`` workload becomes: each call launches one kernel."""

    def __init__(self, device: SimDevice, spec: Workload) -> None:
        self.device = device
        self.spec = spec
        self.calls = 0
        self.launch_cost = launch_ns(spec)

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.calls += 1
        self.device.launch(duration_ns(self.spec, self.calls), self.launch_cost)

    def __repr__(self) -> str:
        return f"<simulated kernel, {self.spec.param('duration_ms'):g} ms steady>"


DTYPES = ("float32", "bfloat16", "float16")  # a matmul workload's ``dtype`` parameter indexes this


def matmul(n: int, dtype: str = "float32", seed: int = 0) -> Workload:
    """A real GPU workload: ``a @ b`` with random (never zero-filled) n x n inputs."""
    return Workload(
        "matmul", (("n", float(n)), ("dtype", float(DTYPES.index(dtype))), ("seed", float(seed)))
    )


def build_real(spec: Workload) -> Callable[[], None]:
    """The callable for a real-GPU workload (judge side for the reference, worker side for the
    student: the same inputs from the same seed)."""
    import torch

    if spec.kind != "matmul":
        raise ValueError(f"a {spec.kind} workload needs the simulated device")
    n = int(spec.param("n"))
    if not 1 <= n <= 16384:
        raise ValueError(f"matmul size {n} out of range")
    dtype = getattr(torch, DTYPES[int(spec.param("dtype"))])
    gen = torch.Generator(device="cuda").manual_seed(int(spec.param("seed")))
    a = torch.randn(n, n, device="cuda", dtype=dtype, generator=gen)
    b = torch.randn(n, n, device="cuda", dtype=dtype, generator=gen)

    def run() -> None:
        torch.mm(a, b)

    return run
