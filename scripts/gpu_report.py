"""GPU benchmark and check report for the cuda_timing topic (called by scripts/gpu_check.sh).

Writes one JSON file: the device, achieved matmul TFLOP/s per dtype against datasheet peaks,
the reference timer against a naive one (no synchronize), the CPU/GPU crossover, the CUDA graph
and AMP speed-ups, the result of ``pytest -m gpu`` and of grading solutions/cuda_timing.py.
Without CUDA it writes ``{"cuda": false, "message": "no CUDA device"}`` and exits 0.

    python scripts/gpu_report.py OUT.json [--pytest-rc N --pytest-log FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Dense datasheet peaks (SXM): TFLOP/s per dtype, and HBM bandwidth in GB/s.
PEAKS = {
    "H100": {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4, "gbps": 3350},
    "H200": {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4, "gbps": 4800},
}


def reference():
    spec = importlib.util.spec_from_file_location(
        "ref_cuda_timing", ROOT / "solutions" / "cuda_timing.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def naive_ms(fn, warmup: int = 10, iters: int = 50) -> float:
    """The classic mistake: perf_counter around fn() without synchronize (median, ms)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def benchmarks(ref, name: str) -> dict:
    import torch

    peaks = next((v for k, v in PEAKS.items() if k in name), None)
    out: dict = {"matmul_tflops": {}}
    for dtype in ("float32", "tf32", "bfloat16", "float16"):
        got = ref.matmul_tflops(4096, dtype)
        entry = {"n": 4096, "tflops": round(got, 2)}
        if peaks:
            entry.update(peak=peaks[dtype], fraction_of_peak=round(got / peaks[dtype], 3))
        out["matmul_tflops"][dtype] = entry
    for n, dtype in ((4096, torch.bfloat16), (8192, torch.float32)):
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        out.setdefault("timers", []).append(
            {
                "workload": f"{n}^3 {str(dtype).removeprefix('torch.')} matmul",
                "time_cuda_median_ms": round(ref.time_cuda(lambda a=a, b=b: a @ b)["median_ms"], 4),
                "time_cpu_median_ms": round(ref.time_cpu(lambda a=a, b=b: a @ b)["median_ms"], 4),
                "naive_no_sync_median_ms": round(naive_ms(lambda a=a, b=b: a @ b), 4),
            }
        )
        torch.cuda.synchronize()
    with_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the grading worker
    out["cpu_gpu_crossover"] = ref.cpu_gpu_crossover([32, 64, 128, 256, 512, 1024])
    torch.set_num_threads(with_threads)
    eager, graph = ref.launch_overhead_us(False), ref.launch_overhead_us(True)
    out["launch_overhead_us"] = {
        "eager": round(eager, 3),
        "graph": round(graph, 3),
        "graph_speedup": round(eager / graph, 2),
    }
    out["h2d_gbps"] = {
        "pinned": round(ref.h2d_bandwidth(True), 1),
        "pageable": round(ref.h2d_bandwidth(False), 1),
    }
    if peaks:
        out["hbm_peak_gbps"] = peaks["gbps"]
    out["amp_speedup_batch_256"] = round(ref.amp_speedup(256), 2)
    return out


def grading() -> dict:
    from grader import config
    from grader.pipeline import grade_topic, sandbox_for

    course = config.load(ROOT / "autograder.yml")
    started = time.perf_counter()
    results, _ = grade_topic(
        course, "cuda_timing", course.solutions_dir / "cuda_timing.py", None, sandbox_for(course)
    )
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "score": sum(r.points for r in results),
        "max_score": sum(r.max_points for r in results if r.counts),
        "not_passed": [
            {"check": r.check_id, "outcome": r.outcome.value, "message": r.message[:300]}
            for r in results
            if not r.passed and r.outcome.value != "not_run"
        ],
        "gpu_checks": {r.check_id: r.outcome.value for r in results if r.kind == "gpu"},
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--pytest-rc", type=int)
    parser.add_argument("--pytest-log")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    report: dict = {"cuda": False}
    try:
        import torch

        report["cuda"] = bool(torch.cuda.is_available())
    except ImportError:
        report["message"] = "no CUDA device (torch is not installed)"
    if not report["cuda"]:
        report.setdefault("message", "no CUDA device")
    else:
        report["device"] = torch.cuda.get_device_name()
        report["torch"] = torch.__version__
        for part, fn in (
            ("benchmarks", lambda: benchmarks(reference(), report["device"])),
            ("grading", grading),
        ):
            try:
                report[part] = fn()
            except Exception as exc:  # report and go on: one broken part must not hide the rest
                report[part] = {"error": f"{type(exc).__name__}: {exc}"}
    if args.pytest_rc is not None:
        log = Path(args.pytest_log).read_text()[-3000:] if args.pytest_log else ""
        report["pytest_gpu"] = {"returncode": args.pytest_rc, "tail": log}
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("cuda", "device", "message") if k in report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
