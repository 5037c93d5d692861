"""The quantization checks catch realistic bugs: each mutant of the reference solution loses
points on the function it breaks, and where the bug is a known misconception the feedback
names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught, grade_mutant

from grader.topics.quantization.affine import (
    DEQ_WRAP,
    FLOOR,
    HALF_UP,
    NOT_WIDENED,
    PER_TENSOR,
    ZP_BEFORE_ROUND,
    ZP_NOT_INT,
)
from grader.topics.quantization.compress import (
    AT_THRESHOLD_KEPT,
    CENTROID_MEAN,
    K_TRUNCATED,
    NO_FILLER,
    RANDOM_INIT,
    SIGNED_PRUNE,
)
from grader.topics.quantization.integer import ACC_OVERFLOW, MASK_UNROUNDED, STE_NO_MASK
from grader.topics.quantization.train import NO_SKIP, NO_T2

T = "quantization"
SCALER = "DynamicLossScaler"

NAMED = [
    Mutant(  # edge: a float zero point of integer value
        T,
        "choose_qparams",
        "return scale, (qmin + qmax + 1) // 2",
        "return scale, (qmin + qmax + 1) / 2",
        ZP_NOT_INT,
    ),
    Mutant(  # edge: a weight exactly at the threshold
        T,
        "threshold_prune",
        "mask = np.abs(w) > threshold",
        "mask = np.abs(w) >= threshold",
        AT_THRESHOLD_KEPT,
    ),
    Mutant(  # torch's order: the zero point inside the rounding
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point",
        "q = np.clip(np.rint(x / scale + zero_point)",
        ZP_BEFORE_ROUND,
    ),
    Mutant(
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point",
        "q = np.clip(np.floor(x / scale + 0.5) + zero_point",
        HALF_UP,
    ),
    Mutant(
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point",
        "q = np.clip(np.floor(x / scale) + zero_point",
        FLOOR,
    ),
    Mutant(
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point",
        "q = np.clip(np.round(np.abs(x / scale) + 0.0001) * np.sign(x) + zero_point",
        HALF_UP,  # C-style round: halves away from zero
    ),
    Mutant(
        T,
        "choose_qparams",
        "zero_point = qmin - int(np.rint(lo / scale))\n"
        "    return scale, int(min(max(zero_point, qmin), qmax))",
        "zero_point = qmin - lo / scale\n    return scale, zero_point",
        ZP_NOT_INT,
    ),
    Mutant(
        T,
        "choose_qparams",
        "lo = min(float(np.min(x)), 0.0)\n    hi = max(float(np.max(x)), 0.0)",
        "lo = float(np.min(x))\n    hi = float(np.max(x))",
        NOT_WIDENED,
    ),
    Mutant(
        T,
        "choose_qparams_per_channel",
        "params = [choose_qparams(row, qmin, qmax, symmetric) for row in channels]",
        "params = [choose_qparams(w, qmin, qmax, symmetric)] * len(channels)",
        PER_TENSOR,
    ),
    Mutant(
        T,
        "quantize_per_channel",
        "return np.clip(np.rint(x / s) + z",
        "return np.clip(np.floor(x / s + 0.5) + z",
        HALF_UP,
    ),
    Mutant(
        T,
        "dequantize",
        "return (q.astype(np.float64) - zero_point) * scale",
        "return (q - zero_point) * scale",
        DEQ_WRAP,
    ),
    Mutant(
        T,
        "fake_quantize_forward",
        "rounded = np.rint(x / scale) + zero_point",
        "rounded = np.floor(x / scale + 0.5) + zero_point",
        HALF_UP,
    ),
    Mutant(
        T,
        "fake_quantize_backward",
        "return np.where(mask, dout, 0.0)",
        "return dout.copy()",
        STE_NO_MASK,
    ),
    Mutant(
        T,
        "quantized_linear",
        "x32 = xq.astype(np.int32) - np.int32(x_zp)\n"
        "    w32 = wq.astype(np.int32) - np.int32(w_zp)",
        "x32 = xq - x_zp\n    w32 = wq - w_zp",
        ACC_OVERFLOW,
    ),
    Mutant(
        T,
        "quantized_linear",
        "out = np.rint(multiplier * acc.astype(np.float64))",
        "out = np.floor(multiplier * acc.astype(np.float64) + 0.5)",
        HALF_UP,
    ),
    Mutant(
        T,
        "magnitude_prune",
        "order = np.argsort(np.abs(w),",
        "order = np.argsort(w,",
        SIGNED_PRUNE,
    ),
    Mutant(
        T,
        "magnitude_prune",
        "k = int(round(sparsity * w.size))",
        "k = int(sparsity * w.size)",
        K_TRUNCATED,
    ),
    Mutant(
        T,
        "kmeans_quantize",
        "centroids = np.linspace(flat.min(), flat.max(), k)",
        "centroids = np.random.choice(flat, k, replace=False)",
        RANDOM_INIT,
    ),
    Mutant(
        T,
        "kmeans_quantize",
        "centroids = np.linspace(flat.min(), flat.max(), k)",
        "centroids = np.random.uniform(flat.min(), flat.max(), k)",
        RANDOM_INIT,
    ),
    Mutant(
        T,
        "centroid_gradient",
        "return sums.astype(np.float64)",
        "return sums / np.maximum(np.bincount(assignments.reshape(-1), minlength=k), 1)",
        CENTROID_MEAN,
    ),
    Mutant(
        T,
        "compressed_size_bits",
        "entries = int(np.sum(-(-distances // span)))",
        "entries = positions.size",
        NO_FILLER,
    ),
    Mutant(
        T,
        "distillation_loss",
        "loss = float(alpha * T**2 * kl + (1 - alpha) * ce)",
        "loss = float(alpha * kl + (1 - alpha) * ce)",
        None,  # loss alone: caught by the numeric gradient, not the named mistake
    ),
    Mutant(
        T,
        "distillation_loss",
        "loss = float(alpha * T**2 * kl + (1 - alpha) * ce)\n\n"
        "    dhard = np.exp(log_p)\n"
        "    dhard[rows, y] -= 1.0\n"
        "    dstudent = (alpha * T * (np.exp(log_ps) - pt)",
        "loss = float(alpha * kl + (1 - alpha) * ce)\n\n"
        "    dhard = np.exp(log_p)\n"
        "    dhard[rows, y] -= 1.0\n"
        "    dstudent = (alpha / T * (np.exp(log_ps) - pt)",
        NO_T2,
    ),
    Mutant(
        T,
        SCALER,
        "new_params = {k: p.copy() for k, p in params.items()}",
        "new_params = {k: p - lr * unscaled[k] for k, p in params.items()}",
        NO_SKIP,
    ),
]

UNNAMED = [
    Mutant(
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point, qmin, qmax)",
        "q = np.rint(x / scale) + zero_point",
    ),
    Mutant(
        T,
        "quantize",
        "q = np.clip(np.rint(x / scale) + zero_point, qmin, qmax)",
        "q = np.clip(np.rint(x / scale), qmin, qmax) + zero_point",
    ),
    Mutant(
        T,
        "choose_qparams",
        "return scale, (qmin + qmax + 1) // 2",
        "return scale, (qmin + qmax) // 2",
    ),
    Mutant(
        T,
        "choose_qparams",
        "scale = max((hi - lo) / (qmax - qmin), FLOAT32_EPS)",
        "scale = max((hi - lo) / (qmax - qmin + 1), FLOAT32_EPS)",
    ),
    Mutant(T, "dequantize_per_channel", "* np.reshape(scales, shape)", "* scales"),
    Mutant(
        T,
        "fake_quantize_forward",
        "out = (np.clip(rounded, qmin, qmax) - zero_point) * scale",
        "out = np.clip(rounded, qmin, qmax) * scale",
    ),
    Mutant(T, "quantized_linear", "acc = x32 @ w32 + bias_q.astype(np.int32)", "acc = x32 @ w32"),
    Mutant(
        T,
        "threshold_prune",
        "threshold = quality * np.std(w)\n    mask",
        "threshold = quality * np.std(w, ddof=1)\n    mask",
    ),
    Mutant(T, "apply_mask", "return np.where(mask, w, 0.0)", "return np.where(mask, 0.0, w)"),
    Mutant(
        T,
        "kmeans_quantize",
        "centroids[filled] = sums[filled] / counts[filled]",
        "centroids = sums / np.maximum(counts, 1)",
    ),
    Mutant(
        T,
        "compressed_size_bits",
        "return entries * (bits + index_bits) + 32 * 2**bits",
        "return entries * (bits + index_bits)",
    ),
    Mutant(
        T,
        "distillation_loss",
        "dstudent = (alpha * T * (np.exp(log_ps) - pt)",
        "dstudent = (alpha * T**2 * (np.exp(log_ps) - pt)",
    ),
    Mutant(
        T,
        "distillation_loss",
        "shifted = z - np.max(z, axis=1, keepdims=True)",
        "shifted = z",
    ),
    Mutant(  # edges: one row at +-1000 beside ordinary rows
        T,
        "distillation_loss",
        "shifted = z - np.max(z, axis=1, keepdims=True)",
        "shifted = z - np.max(z)",
    ),
    Mutant(
        T,
        "distillation_loss",
        "shifted = z - np.max(z, axis=1, keepdims=True)",
        "shifted = z - np.min(z, axis=1, keepdims=True)",
    ),
    Mutant(
        T,
        SCALER,
        "if self.growth_tracker == self.growth_interval:",
        "if True:",
    ),
    Mutant(
        T,
        SCALER,
        "self.scale *= self.backoff_factor\n            self.growth_tracker = 0",
        "self.scale *= self.backoff_factor",
    ),
    Mutant(T, SCALER, "self.scale = float(init_scale)", "self.scale = 2.0**15"),
]

# The mask lives in the forward pass's cache: the edit is in fake_quantize_forward, but the bug
# shows (and is named) in fake_quantize_backward only, so it has a test of its own below.
UNROUNDED = "(x / scale + zero_point)"
MASK_BEFORE_ROUNDING = Mutant(
    T,
    "fake_quantize_forward",
    "mask = (rounded >= qmin) & (rounded <= qmax)",
    f"mask = ({UNROUNDED} >= qmin) & ({UNROUNDED} <= qmax)",
    MASK_UNROUNDED,
)

MUTANTS = NAMED + UNNAMED + [MASK_BEFORE_ROUNDING]

# a backward's gradient checks count only for a right forward: a forward bug fails them too
CALLERS = {
    "choose_qparams": {"choose_qparams_per_channel"},
    "fake_quantize_forward": {"fake_quantize_backward"},
}


@pytest.mark.parametrize("mutant", NAMED + UNNAMED, ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


def test_mask_before_rounding_is_named_in_backward(course, tmp_path):
    """The mask lives in the forward pass's cache; the bug shows (and is named) in backward."""
    results = grade_mutant(course, tmp_path, MASK_BEFORE_ROUNDING)
    failed = [r for r in results if not r.passed]
    assert failed and {r.function for r in failed} == {"fake_quantize_backward"}
    assert MASK_UNROUNDED in {r.misconception for r in failed}
