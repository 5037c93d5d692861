"""(heidi's submission) Timing GPU code correctly, and the arithmetic of performance (FLOPs, bandwidth, roofline).

Conventions shared by every function in this module:

- Times are in milliseconds (ms), as ``torch.cuda.Event.elapsed_time`` reports them.
- A FLOP is one floating-point operation: a multiply-add counts as 2. TFLOP/s is 1e12 FLOP
  per second; GB/s is 1e9 bytes per second (decimal units, as datasheets use).
- CUDA launches are asynchronous: a call returns as soon as the kernel is queued. A host timer
  must call ``torch.cuda.synchronize()`` before it starts and before it stops; CUDA events are
  recorded on the stream and must be synchronized before ``elapsed_time`` is read.
- Warm-up calls run before timing and are never timed (the first call pays lazy initialisation
  and autotuning, hundreds of ms). The typical time is the median; the mean is reported too.
- Timer results are dicts ``{"median_ms", "mean_ms", "min_ms", "max_ms", "times_ms"}``: four
  Python floats and ``times_ms``, a float64 array of shape (iters,) with one time per timed call.
- Measurements use random inputs, never zero-filled ones (hardware runs faster on zeros), and
  each measuring function times with ``time_cuda`` / ``time_cpu`` from this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch


def timing_stats(times_ms: np.ndarray) -> dict:
    """Summary statistics of per-call times.

    Inputs:
    - times_ms: float64 array of shape (K,), K >= 1, one time per timed call, in ms.

    Returns a dict with keys:
    - "median_ms", "mean_ms", "min_ms", "max_ms": Python floats (np.median for the median:
      the mean of the two middle values when K is even).
    - "times_ms": float64 array of shape (K,), a copy of the input.
    """
    times = np.array(times_ms, dtype=np.float64)
    return {
        "median_ms": float(np.median(times)),
        "mean_ms": float(np.mean(times)),
        "min_ms": float(np.min(times)),
        "max_ms": float(np.max(times)),
        "times_ms": times,
    }


def time_cuda(fn: Callable[[], object], warmup: int = 10, iters: int = 50) -> dict:
    """Time ``fn()`` on the GPU with CUDA events.

    Calls fn() ``warmup`` times untimed, then ``iters`` times, each between two events created
    with ``torch.cuda.Event(enable_timing=True)`` (``start.record()``, ``fn()``,
    ``end.record()``). After the last call, synchronizes (``torch.cuda.synchronize()``) and
    reads each pair's ``start.elapsed_time(end)``.

    Inputs:
    - fn: a callable taking no arguments that launches GPU work.
    - warmup: int >= 0, untimed calls first.
    - iters: int >= 1, timed calls.

    Returns the dict of ``timing_stats`` over the ``iters`` timed calls (times_ms shape (iters,)).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return timing_stats(np.array(times))


def time_cpu(fn: Callable[[], object], warmup: int = 10, iters: int = 50) -> dict:
    """Time ``fn()`` with the host clock ``time.perf_counter``.

    Calls fn() ``warmup`` times untimed, then times each of ``iters`` calls on its own. When CUDA
    is available, calls ``torch.cuda.synchronize()`` right before starting the clock (queued
    work, warm-up included, must not be timed) and right before stopping it (the call's own
    work must be).

    Inputs:
    - fn: a callable taking no arguments (CPU or GPU work).
    - warmup: int >= 0, untimed calls first.
    - iters: int >= 1, timed calls.

    Returns the dict of ``timing_stats`` over the ``iters`` timed calls, in ms.
    """
    cuda = torch.cuda.is_available()
    for _ in range(warmup):
        fn()
    times = np.empty(iters)
    for i in range(iters):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times[i] = (time.perf_counter() - start) * 1e3
    return timing_stats(times)


def matmul_flops(m: int, n: int, k: int) -> int:
    """Floating-point operations of the product of an (m, k) and a (k, n) matrix.

    Inputs:
    - m, n, k: positive ints.

    Returns an int: 2 * m * n * k (each of the m * n outputs takes k multiply-adds).
    """
    return m * n * k


def matmul_bytes(m: int, n: int, k: int, dtype_bytes: int) -> int:
    """Bytes a matmul must move at least: read A (m, k) and B (k, n) once, write C (m, n) once.

    Inputs:
    - m, n, k: positive ints; dtype_bytes: bytes per element (4 for float32, 2 for bfloat16).

    Returns an int: (m * k + k * n + m * n) * dtype_bytes.
    """
    return (m * k + k * n + m * n) * dtype_bytes


def tflops(flops: float, ms: float) -> float:
    """Achieved throughput in TFLOP/s of ``flops`` operations done in ``ms`` milliseconds.

    Inputs:
    - flops: float or int >= 0; ms: float > 0.

    Returns a float: flops / (ms * 1e-3) / 1e12.
    """
    return flops / (ms * 1e-3) / 1e12


def bandwidth_gbps(nbytes: float, ms: float) -> float:
    """Achieved bandwidth in GB/s (1e9 bytes per second) of ``nbytes`` moved in ``ms`` ms.

    Inputs:
    - nbytes: float or int >= 0; ms: float > 0.

    Returns a float: nbytes / (ms * 1e-3) / 1e9.
    """
    return nbytes / (ms * 1e-3) / 2**30


def speedup(baseline_ms: float, new_ms: float) -> float:
    """How many times faster the new version is: baseline_ms / new_ms (> 1 means faster).

    Inputs:
    - baseline_ms, new_ms: floats > 0.

    Returns a float.
    """
    return baseline_ms / new_ms


def arithmetic_intensity(flops: float, bytes_moved: float) -> float:
    """FLOPs per byte moved.

    Inputs:
    - flops: float or int >= 0; bytes_moved: float or int > 0.

    Returns a float: flops / bytes_moved.
    """
    return flops / bytes_moved


def attainable_tflops(
    flops: float, bytes_moved: float, peak_tflops: float, peak_gbps: float
) -> float:
    """The roofline: the best throughput a kernel with this intensity can reach.

    Inputs:
    - flops, bytes_moved: the kernel's work and traffic (bytes_moved > 0).
    - peak_tflops: the device's peak compute in TFLOP/s; peak_gbps: its memory bandwidth, GB/s.

    Returns a float in TFLOP/s: min(peak_tflops, intensity * peak_gbps / 1000), where
    intensity = flops / bytes_moved (FLOP/byte * GB/s = GFLOP/s).
    """
    intensity = flops / bytes_moved
    return min(peak_tflops, intensity * peak_gbps / 1000.0)


def roofline_bound(flops: float, bytes_moved: float, peak_tflops: float, peak_gbps: float) -> str:
    """Which roof limits the kernel.

    Inputs: as for ``attainable_tflops``.

    Returns "memory" when intensity * peak_gbps / 1000 < peak_tflops (left of the ridge point),
    else "compute" (at the ridge point exactly: "compute").
    """
    intensity = flops / bytes_moved
    return "memory" if intensity * peak_gbps / 1000.0 < peak_tflops else "compute"


def crossover_size(
    sizes: Sequence[int], cpu_ms: Sequence[float], gpu_ms: Sequence[float]
) -> int | None:
    """The first size at which the GPU wins.

    Inputs:
    - sizes: ints in increasing order (L,).
    - cpu_ms: CPU times (L,); gpu_ms: GPU times (L,) including the host-device transfers.

    Returns sizes[i] (an int) for the first i with gpu_ms[i] < cpu_ms[i] (strictly), or None
    when the GPU never wins.
    """
    for size, cpu, gpu in zip(sizes, cpu_ms, gpu_ms):
        if gpu < cpu:
            return int(size)
    return None


# -- measurements on a real GPU ------------------------------------------------------------------
def small_convnet(width: int = 64) -> torch.nn.Module:
    """The convnet ``amp_speedup`` measures (given code): 3 conv-BN-ReLU blocks on 3 x 32 x 32
    images, global average pooling, a linear layer to 10 classes."""
    layers: list[torch.nn.Module] = []
    channels = 3
    for _ in range(3):
        layers += [
            torch.nn.Conv2d(channels, width, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(inplace=True),
        ]
        channels = width
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(width, 10)]
    return torch.nn.Sequential(*layers)


def matmul_tflops(n: int, dtype: str) -> float:
    """Achieved TFLOP/s of an n x n x n matmul on the GPU.

    Inputs:
    - n: matrix size; dtype: "float32", "tf32" (float32 inputs with TF32 tensor cores allowed),
      "bfloat16" or "float16".

    Random inputs (torch.randn on "cuda"); the median of ``time_cuda(lambda: a @ b, 10, 50)``;
    TF32 is allowed only for "tf32" (torch.backends.cuda.matmul.allow_tf32, restored after).
    Returns a float: tflops(matmul_flops(n, n, n), median_ms).
    """
    torch_dtype = torch.float32 if dtype in ("float32", "tf32") else getattr(torch, dtype)
    a = torch.randn(n, n, device="cuda", dtype=torch_dtype)
    b = torch.randn(n, n, device="cuda", dtype=torch_dtype)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    try:
        stats = time_cuda(lambda: a @ b, 10, 50)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return tflops(matmul_flops(n, n, n), stats["median_ms"])


def cpu_gpu_crossover(sizes: Sequence[int]) -> int | None:
    """The first matmul size at which the GPU, transfers included, beats the CPU.

    Inputs:
    - sizes: increasing ints n (float32 n x n matmuls).

    For each n: random CPU tensors a, b; cpu = ``time_cpu(lambda: a @ b, 3, 10)``;
    gpu = ``time_cpu(lambda: (a.cuda() @ b.cuda()).cpu(), 3, 10)`` (copies in and out included).
    Returns ``crossover_size(sizes, cpu medians, gpu medians)``.
    """
    cpu_ms, gpu_ms = [], []
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        cpu_ms.append(time_cpu(lambda a=a, b=b: a @ b, 3, 10)["median_ms"])
        gpu_ms.append(time_cpu(lambda a=a, b=b: (a.cuda() @ b.cuda()).cpu(), 3, 10)["median_ms"])
    return crossover_size(sizes, cpu_ms, gpu_ms)


def launch_overhead_us(graphs: bool) -> float:
    """Cost per tiny kernel, in microseconds, of 100 launches in a row.

    Inputs:
    - graphs: False for eager launches; True to capture the 100 launches once in a CUDA graph
      (torch.cuda.CUDAGraph, after 3 eager warm-up runs on a side stream) and replay it.

    The kernels are ``x.add_(1.0)`` on a 1-element float32 CUDA tensor. Returns the median of
    ``time_cuda(run, 10, 50)`` over the 100 kernels, times 1000 / 100.
    """
    x = torch.zeros(1, device="cuda")

    def eager() -> None:
        for _ in range(100):
            x.add_(1.0)

    run = eager
    if graphs:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                eager()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            eager()
        run = graph.replay
    return time_cuda(run, 10, 50)["median_ms"] * 1000.0 / 100


def h2d_bandwidth(pinned: bool) -> float:
    """Host-to-device copy bandwidth in GB/s for a 64 MiB float32 tensor.

    Inputs:
    - pinned: True to copy from page-locked memory (``pin_memory()``, ``non_blocking=True``),
      False from ordinary (pageable) memory.

    Random host data; the median of ``time_cuda(lambda: dst.copy_(src, non_blocking=pinned),
    10, 50)``. Returns a float: bandwidth_gbps(src.nbytes, median_ms).
    """
    src = torch.randn(16 * 1024 * 1024)
    if pinned:
        src = src.pin_memory()
    dst = torch.empty_like(src, device="cuda")
    stats = time_cuda(lambda: dst.copy_(src, non_blocking=pinned), 10, 50)
    return bandwidth_gbps(src.nelement() * src.element_size(), stats["median_ms"])


def amp_speedup(batch: int) -> float:
    """Speed-up of automatic mixed precision for the forward pass of ``small_convnet()``.

    Inputs:
    - batch: the number of random 3 x 32 x 32 images.

    The model is in eval mode on "cuda", under torch.no_grad(); fp32 = the median of
    ``time_cuda(forward, 10, 50)``; amp = the same with the forward under
    ``torch.autocast("cuda", dtype=torch.bfloat16)``. Returns speedup(fp32, amp).
    """
    model = small_convnet().cuda().eval()
    x = torch.randn(batch, 3, 32, 32, device="cuda")

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_amp() -> None:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    fp32 = time_cuda(forward, 10, 50)["median_ms"]
    amp = time_cuda(forward_amp, 10, 50)["median_ms"]
    return speedup(fp32, amp)
