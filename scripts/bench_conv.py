"""Benchmark the reference convolution against the naive one and PyTorch, on a CIFAR-sized batch.

Setting: x (50, 3, 32, 32), w (32, 3, 3, 3), stride 1, pad 1, float64 (the dtype the course
uses). Each run is one forward plus one backward pass, timed with time.perf_counter;
fast and torch runs alternate, and their ratio is the median of the per-round ratios:
- ``fast``: solutions/conv.py conv_forward_fast + conv_backward_fast (im2col, numpy);
- ``naive``: conv_forward_naive + conv_backward_naive (explicit loops; slow, fewer runs);
- ``torch``: torch.nn.functional.conv2d forward + autograd backward on CPU, float64, with
  ``torch.set_num_threads`` equal to numpy's BLAS thread count (printed);
- ``torch-f32``: the same in float32, for context only (torch's float64 CPU convolution takes a
  slower path than its float32 one; the ratio that counts compares equal dtypes).
One untimed warm-up run precedes the timed runs of fast and torch; medians are reported, with
the ratios naive/fast (speed-up of the vectorised version) and fast/torch (target: <= 3).

Usage: python scripts/bench_conv.py [--runs 7] [--naive-runs 1] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {"N": 50, "C": 3, "H": 32, "W": 32, "F": 32, "HH": 3, "WW": 3, "stride": 1, "pad": 1}


def load_reference() -> ModuleType:
    path = ROOT / "solutions" / "conv.py"
    spec = importlib.util.spec_from_file_location("reference_conv", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numpy_threads() -> tuple[int, str]:
    """numpy's BLAS thread count, and where the number came from."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_"):
            if hasattr(lib, name):
                return int(getattr(lib, name)()), f"OpenBLAS ({name})"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), var
    return os.cpu_count() or 1, "os.cpu_count()"


def timed_runs(step: Callable[[], object], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of fast and torch")
    parser.add_argument("--naive-runs", type=int, default=1, help="timed runs of the naive pair")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: numpy's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    if args.runs < 1 or args.naive_runs < 1:
        parser.error("--runs and --naive-runs must be at least 1")

    import torch  # imported late: --help works without it

    ref = load_reference()
    threads, source = numpy_threads()
    threads = args.threads or threads
    torch.set_num_threads(threads)

    s = SHAPES
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]))
    w = rng.standard_normal((s["F"], s["C"], s["HH"], s["WW"]))
    b = rng.standard_normal(s["F"])
    conv_param = {"stride": s["stride"], "pad": s["pad"]}
    out, _ = ref.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)

    def numpy_pair(kind: str) -> Callable[[], object]:
        forward, backward = (
            getattr(ref, f"conv_forward_{kind}"),
            getattr(ref, f"conv_backward_{kind}"),
        )

        def step():
            _, cache = forward(x, w, b, conv_param)
            return backward(dout, cache)

        return step

    xt, wt, bt, dout_t = (torch.from_numpy(a.copy()) for a in (x, w, b, dout))

    def torch_pair(dtype: torch.dtype) -> Callable[[], object]:
        leaves = [t.detach().to(dtype).requires_grad_(True) for t in (xt, wt, bt)]
        upstream = dout_t.to(dtype)

        def step():
            for t in leaves:
                t.grad = None
            y = torch.nn.functional.conv2d(*leaves, stride=s["stride"], padding=s["pad"])
            y.backward(upstream)
            return [t.grad for t in leaves]

        return step

    # the three agree before anything is timed
    for mine, theirs in zip(numpy_pair("fast")(), torch_pair(torch.float64)()):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-9)

    # fast and torch alternate round by round, so that load on a shared machine hits both alike;
    # the ratios are medians of the per-round ratios
    steps = {
        "fast": numpy_pair("fast"),
        "torch": torch_pair(torch.float64),
        "torch-f32": torch_pair(torch.float32),
    }
    results: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step()
    for _ in range(args.runs):
        for name, step in steps.items():
            results[name] += timed_runs(step, 1, warmup=0)
    results["naive"] = timed_runs(numpy_pair("naive"), args.naive_runs, warmup=0)
    medians = {k: statistics.median(v) for k, v in results.items()}

    def per_round(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(results[a], results[b]))

    ratios = {
        "naive/fast": medians["naive"] / medians["fast"],
        "fast/torch": per_round("fast", "torch"),
        "fast/torch-f32": per_round("fast", "torch-f32"),
    }

    print(
        f"conv forward+backward, x {(s['N'], s['C'], s['H'], s['W'])}, "
        f"w {(s['F'], s['C'], s['HH'], s['WW'])}, stride {s['stride']}, pad {s['pad']}, float64"
    )
    print(f"threads: numpy {threads} ({source}), torch {torch.get_num_threads()}")
    print(f"{'method':<9} {'median ms':>10} {'runs':>5}")
    for name in ("fast", "naive", "torch", "torch-f32"):
        print(f"{name:<9} {medians[name] * 1e3:>10.1f} {len(results[name]):>5}")
    print(
        f"naive/fast {ratios['naive/fast']:.0f}x   fast/torch {ratios['fast/torch']:.2f}x   "
        f"(fast/torch-f32 {ratios['fast/torch-f32']:.2f}x)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "shapes": s,
                    "dtype": "float64",
                    "threads": {"numpy": threads, "numpy_source": source, "torch": threads},
                    "machine": platform.platform(),
                    "numpy": np.__version__,
                    "torch": torch.__version__,
                    "seconds": results,
                    "median_s": medians,
                    "ratios": ratios,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
