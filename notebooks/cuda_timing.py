# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Timing GPU code (on a simulated GPU)
#
# CUDA launches are **asynchronous**: `y = a @ b` on the GPU returns as soon as the kernel is
# queued, long before it has run. So a host timer
#
# ```python
# start = time.perf_counter(); fn(); elapsed = time.perf_counter() - start
# ```
#
# measures the launch (microseconds), not the kernel. Correct timing either synchronizes
# (`torch.cuda.synchronize()` before starting and before stopping the clock) or records CUDA
# events on the stream (`start.record(); fn(); end.record(); torch.cuda.synchronize();
# start.elapsed_time(end)`). And the first calls are slow (lazy initialisation, autotuning):
# warm up first, then report the **median**, which ignores the occasional hiccup.
#
# No GPU is needed here: `notebook.simulated_gpu()` puts the kit's simulated device in place of
# `torch.cuda` and of the clocks for a `with` block, as the grader's worker does. Kernels there
# cost device time on a virtual clock (no real waiting, and exactly reproducible): this one
# takes 300 ms on its first call, 6 ms on the next nine, then 2 ms with a 3x hiccup every 7th
# call.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from grader import notebook
from grader.sim.workloads import SimKernel, sim_kernel

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import cuda_timing  # noqa: E402  (your assignments/cuda_timing.py)

# %%
notebook.check("cuda_timing")

# %% [markdown]
# ## Four ways to time the same 2 ms kernel

# %%
reported, series = {}, {}
with notebook.simulated_gpu() as device:
    kernel = SimKernel(device, sim_kernel(duration_ms=2.0))
    start = time.perf_counter()
    kernel()
    reported["host timer, no synchronize"] = (time.perf_counter() - start) * 1e3
    torch.cuda.synchronize()

    kernel = SimKernel(device, sim_kernel(duration_ms=2.0))
    torch.cuda.synchronize()
    start = time.perf_counter()
    kernel()
    torch.cuda.synchronize()
    reported["synchronized, first call"] = (time.perf_counter() - start) * 1e3

    for name in ("time_cpu", "time_cuda"):
        with notebook.needs(name):
            kernel = SimKernel(device, sim_kernel(duration_ms=2.0))
            stats = getattr(cuda_timing, name)(kernel, warmup=10, iters=50)
            reported[f"your {name}, median"] = stats["median_ms"]
    with notebook.needs("time_cuda"):
        kernel = SimKernel(device, sim_kernel(duration_ms=2.0))
        series = cuda_timing.time_cuda(kernel, warmup=0, iters=40)

fig, ax = plt.subplots(figsize=(8, 2.8))
ax.barh(list(reported), list(reported.values()), color="C0")
ax.axvline(2.0, color="C3", linestyle="--", label="true steady time: 2 ms")
ax.set(xscale="log", xlabel="reported time (ms, log)")
ax.legend()
plt.show()
for name, ms in reported.items():
    print(f"{name:30} {ms:10.4f} ms")

# %% [markdown]
# ## Why warm up, and why the median
# Every call of `time_cuda(kernel, warmup=0, iters=40)`: the first call and the slow start pull
# the mean far above the steady 2 ms; the median barely moves.

# %%
with notebook.needs("time_cuda"):
    notebook.ready(series or None)
    times = series["times_ms"]
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(np.arange(1, len(times) + 1), times, "o-")
    ax.axhline(series["mean_ms"], color="C3", label=f"mean {series['mean_ms']:.2f} ms")
    ax.axhline(series["median_ms"], color="C2", label=f"median {series['median_ms']:.2f} ms")
    ax.set(xlabel="call", ylabel="ms (log)", yscale="log", title="no warm-up")
    ax.legend()
    plt.show()

# %% [markdown]
# ## The roofline
# A kernel doing $F$ FLOPs and moving $B$ bytes has arithmetic intensity $I = F / B$; it can
# reach at most $\min(P_{peak},\ I \cdot BW)$. An $n \times n$ matmul has $F = 2n^3$ and moves
# at least $3n^2$ elements: small ones are memory-bound, large ones compute-bound. (Peaks of an
# H200-class GPU in bf16: about 989 TFLOP/s and 4800 GB/s.)

# %%
peak_tflops, peak_gbps = 989.0, 4800.0
with notebook.needs("matmul_flops / matmul_bytes / attainable_tflops / roofline_bound"):
    intensity = np.logspace(-1, 4, 200)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    roof = [cuda_timing.attainable_tflops(i * 1e6, 1e6, peak_tflops, peak_gbps) for i in intensity]
    ax.plot(intensity, roof, "k-", label="roofline")
    for n in (64, 256, 1024, 4096, 16384):
        flops, nbytes = cuda_timing.matmul_flops(n, n, n), cuda_timing.matmul_bytes(n, n, n, 2)
        i = cuda_timing.arithmetic_intensity(flops, nbytes)
        bound = cuda_timing.roofline_bound(flops, nbytes, peak_tflops, peak_gbps)
        ax.plot(
            i,
            cuda_timing.attainable_tflops(flops, nbytes, peak_tflops, peak_gbps),
            "o",
            label=f"matmul n={n} ({bound}-bound)",
        )
    ax.set(xscale="log", yscale="log", xlabel="FLOP per byte", ylabel="TFLOP/s at best")
    ax.legend(fontsize=8)
    plt.show()
