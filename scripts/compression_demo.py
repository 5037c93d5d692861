"""Compress a small trained network with the quantization module and report size and accuracy.

Trains a three-layer fully connected network (numpy, seeded; the whole demo takes a few seconds
on two CPU cores) on a synthetic five-arm spiral, then compresses its weight matrices with the
functions of a quantization module:
- 8-bit per-channel symmetric quantization (choose_qparams_per_channel, quantize_per_channel,
  dequantize_per_channel);
- magnitude pruning to 50/80/90% sparsity (magnitude_prune), each followed by a short
  fine-tuning that re-applies the masks after every step (apply_mask);
- pruning to 90% plus k-means weight sharing of the kept weights with 5/4/3 bits
  (kmeans_quantize), the shared values fine-tuned through centroid_gradient.
Sizes are counted as Deep Compression does (compressed_size_bits: per kept weight a codebook
index and a 5-bit relative index, filler entries for long gaps, plus the fp32 codebook); biases
stay float32 and are counted in every row.

Usage:
    python scripts/compression_demo.py [--module PATH] [--out table.md] [--plot plot.png]

The module defaults to solutions/quantization.py when present, else assignments/quantization.py
(a student's own file works too). --out writes the table as markdown; the plot (size against
accuracy) is drawn with matplotlib when it is installed (pip install 'dl-course-kit[demo]'),
to --plot, or beside --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# Tiny matrices: BLAS threads only add overhead (and oversubscribe a busy machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INDEX_BITS = 5  # Deep Compression's relative index width for fully connected layers
LAYERS = ("W1", "W2", "W3")


# -- the module under demonstration -----------------------------------------------------------
def load_module(path: Path | None) -> ModuleType:
    if path is None:
        candidates = [
            ROOT / "solutions" / "quantization.py",
            ROOT / "assignments" / "quantization.py",
        ]
        path = next((p for p in candidates if p.exists()), candidates[-1])
    spec = importlib.util.spec_from_file_location("quantization_under_demo", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"quantization functions from {path}")
    return module


# -- data and model (plain numpy) -------------------------------------------------------------
def spiral(n_per_class: int, classes: int, rng: np.random.Generator):
    """A noisy spiral with ``classes`` arms: 2-D points, labels 0..classes-1."""
    t = rng.uniform(0.0, 1.0, (classes, n_per_class))
    angle = 4.0 * t + np.arange(classes)[:, None] * 2 * np.pi / classes
    angle = angle + rng.normal(0.0, 0.2, angle.shape)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=-1).reshape(-1, 2)
    y = np.repeat(np.arange(classes), n_per_class)
    order = rng.permutation(len(y))
    return X[order] * 3.0, y[order]


def init_params(sizes: tuple[int, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params


def forward(params: dict[str, np.ndarray], X: np.ndarray):
    h1 = np.maximum(0.0, X @ params["W1"] + params["b1"])
    h2 = np.maximum(0.0, h1 @ params["W2"] + params["b2"])
    return h2 @ params["W3"] + params["b3"], (X, h1, h2)


def loss_and_grads(params, X, y):
    scores, (x0, h1, h2) = forward(params, X)
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    d = p
    d[np.arange(n), y] -= 1.0
    d /= n
    grads = {"W3": h2.T @ d, "b3": d.sum(axis=0)}
    d2 = (d @ params["W3"].T) * (h2 > 0)
    grads.update(W2=h1.T @ d2, b2=d2.sum(axis=0))
    d1 = (d2 @ params["W2"].T) * (h1 > 0)
    grads.update(W1=x0.T @ d1, b1=d1.sum(axis=0))
    return loss, grads


def accuracy(params, X, y) -> float:
    return float(np.mean(np.argmax(forward(params, X)[0], axis=1) == y))


def train(params, X, y, epochs: int, lr: float, rng, after_step=None) -> dict[str, np.ndarray]:
    """Minibatch SGD with momentum; ``after_step(params)`` may project the parameters (masks,
    shared weights) after every update."""
    params = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 128):
            batch = order[start : start + 128]
            _, grads = loss_and_grads(params, X[batch], y[batch])
            for k in params:
                velocity[k] = 0.9 * velocity[k] - lr * grads[k]
                params[k] = params[k] + velocity[k]
            if after_step is not None:
                params = after_step(params)
    return params


# -- compression ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    method: str
    kept: float  # fraction of weights stored
    size_bits: int
    accuracy: float


def bias_bits(params) -> int:
    return sum(32 * params[k].size for k in params if k.startswith("b"))


def dense_row(params, X, y) -> Row:
    bits = sum(32 * params[k].size for k in LAYERS) + bias_bits(params)
    return Row("dense float32 (baseline)", 1.0, bits, accuracy(params, X, y))


def int8_row(q: ModuleType, params, X, y) -> Row:
    """Per-channel symmetric qint8 weights: 8 bits a weight, a float32 scale and an int32
    zero point per output channel."""
    new = dict(params)
    bits = bias_bits(params)
    for k in LAYERS:
        scales, zps = q.choose_qparams_per_channel(params[k], 1, -128, 127, symmetric=True)
        wq = q.quantize_per_channel(params[k], scales, zps, 1, -128, 127)
        new[k] = q.dequantize_per_channel(wq, scales, zps, 1)
        bits += 8 * wq.size + 64 * len(scales)
    return Row("8-bit per-channel quantization", 1.0, bits, accuracy(new, X, y))


def sparse_float_bits(q: ModuleType, mask: np.ndarray) -> int:
    """Kept weights stored as float32 values with 5-bit relative indices: the entries that
    compressed_size_bits counts (with a 1-bit codebook), re-priced at 32 + 5 bits each."""
    entries = (q.compressed_size_bits(mask, 1, INDEX_BITS) - 32 * 2) // (1 + INDEX_BITS)
    return entries * (32 + INDEX_BITS)


def prune(q: ModuleType, params, sparsity: float, data, rng):
    masks = {k: q.magnitude_prune(params[k], sparsity)[1] for k in LAYERS}

    def reapply(p):
        return {k: (q.apply_mask(v, masks[k]) if k in masks else v) for k, v in p.items()}

    tuned = train(reapply(params), *data, epochs=8, lr=0.02, rng=rng, after_step=reapply)
    return tuned, masks


def share(q: ModuleType, params, masks, bits: int, data, rng):
    """k-means on each layer's kept weights, then a few epochs of centroid fine-tuning: the
    gradient of a shared value is the sum of its weights' gradients (centroid_gradient)."""
    books = {}
    for k in LAYERS:
        _, centroids, assignments = q.kmeans_quantize(params[k][masks[k]], bits, 20)
        books[k] = [centroids, assignments]

    def rebuild(p):
        out = dict(p)
        for k, (centroids, assignments) in books.items():
            w = np.zeros_like(p[k])
            w[masks[k]] = centroids[assignments]
            out[k] = w
        return out

    X, y = data
    params = rebuild(params)
    for _ in range(3):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 128):
            batch = order[start : start + 128]
            _, grads = loss_and_grads(params, X[batch], y[batch])
            for k, book in books.items():
                dc = q.centroid_gradient(grads[k][masks[k]], book[1], len(book[0]))
                book[0] = book[0] - 0.01 * dc
            for k in ("b1", "b2", "b3"):
                params[k] = params[k] - 0.05 * grads[k]
            params = rebuild(params)
    return params


def run(q: ModuleType, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    X_train, y_train = spiral(600, 5, rng)
    X_test, y_test = spiral(400, 5, rng)
    started = time.perf_counter()
    params = train(init_params((2, 64, 64, 5), rng), X_train, y_train, 40, 0.05, rng)
    print(f"trained a 2-64-64-5 network in {time.perf_counter() - started:.1f} s")
    data = (X_train, y_train)
    rows = [dense_row(params, X_test, y_test), int8_row(q, params, X_test, y_test)]
    pruned = {}
    for sparsity in (0.5, 0.8, 0.9):
        tuned, masks = prune(q, params, sparsity, data, rng)
        pruned[sparsity] = (tuned, masks)
        bits = sum(sparse_float_bits(q, masks[k]) for k in LAYERS) + bias_bits(params)
        rows.append(
            Row(
                f"pruned {sparsity:.0%} (+ fine-tuning)",
                1 - sparsity,
                bits,
                accuracy(tuned, X_test, y_test),
            )
        )
    tuned, masks = pruned[0.9]
    for bits in (5, 4, 3):
        shared = share(q, tuned, masks, bits, data, rng)
        size = sum(q.compressed_size_bits(masks[k], bits, INDEX_BITS) for k in LAYERS)
        rows.append(
            Row(
                f"pruned 90% + {bits}-bit k-means sharing",
                0.1,
                size + bias_bits(params),
                accuracy(shared, X_test, y_test),
            )
        )
    return rows


# -- reporting --------------------------------------------------------------------------------
def table(rows: list[Row]) -> str:
    base = rows[0].size_bits
    lines = [
        "| method | weights kept | size (KiB) | compression | test accuracy |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.kept:.0%} | {r.size_bits / 8192:.2f} | "
            f"{base / r.size_bits:.1f}x | {r.accuracy:.1%} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'dl-course-kit[demo]')")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        ax.scatter(r.size_bits / 8192, 100 * r.accuracy)
        ax.annotate(r.method, (r.size_bits / 8192, 100 * r.accuracy), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("model size (KiB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Compressing a 2-64-64-5 network on a spiral")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", type=Path, help="quantization module to use")
    parser.add_argument("--out", type=Path, help="write the table as markdown here")
    parser.add_argument("--plot", type=Path, help="PNG plot path (default: beside --out)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    q = load_module(args.module)
    try:
        rows = run(q, args.seed)
    except NotImplementedError as exc:
        print(f"the module is not implemented yet: {exc}", file=sys.stderr)
        return 1
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(
            "# Compression demo (scripts/compression_demo.py)\n\n" + text + "\n", encoding="utf-8"
        )
        print(f"wrote {args.out}")
    plot_path = args.plot or (args.out.with_suffix(".png") if args.out else None)
    if plot_path is not None:
        plot(rows, plot_path)
    else:
        print("no plot requested (--plot PATH or --out PATH)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
