"""Topic ``quantization``, part two: fake quantization with the straight-through estimator,
and the integer-only linear layer.

Declarations only; ``grader.topics.quantization`` gathers these checks and mistakes. Integer
outputs are compared exactly (tolerance 0); the ties case makes the requantization multiplier
0.5, so that every odd accumulator is an exact .5 tie.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import PASS, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation, diagnose
from grader.checks.gradient import forward_verdict, with_forward
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import CACHE, conform, describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import (
    BackwardReference,
    Reference,
    forward_out_and_cache,
    param_names,
)
from grader.judge.compare import gradient_error
from grader.judge.student import Call
from grader.topics.quantization.affine import (
    QINT8,
    QUINT8,
    QRange,
    Rounder,
    Shape,
    affine_case,
    observation,
    rounding_mistakes,
)

OUT = ("out", CACHE)
DX = ("dx",)
OUT_Q = ("out_q",)

STE_NO_MASK = "STE gradient passed everywhere (no clipping mask)"
MASK_UNROUNDED = "clipping mask computed before rounding"
ACC_OVERFLOW = "8-bit accumulation overflow (no int32 accumulator)"


# -- inputs ------------------------------------------------------------------------------------
def edge_of_range(shape: Shape, scale: float, zp: int, qrange: QRange) -> Make:
    """x / scale + zp within half a step of qmin - 1 and qmax + 1: the rounded value decides
    whether the clipping mask lets the gradient through."""
    qmin, qmax = qrange

    def make(rng: np.random.Generator) -> tuple:
        edge = np.where(rng.random(shape) < 0.5, qmin - 0.5, qmax + 0.5) - zp
        offset = rng.uniform(0.05, 0.45, shape) * np.where(rng.random(shape) < 0.5, -1, 1)
        return (edge + offset) * scale, float(scale), int(zp), int(qmin), int(qmax)

    return make


def linear_case(N: int, D: int, M: int, x_zp: int = 128, w_zp: int = 3, out_zp: int = 120) -> Make:
    """uint8 activations (quint8), int8 weights (qint8), int32 bias; an output scale that keeps
    the outputs well inside (0, 255) (M * acc has a standard deviation of about 17)."""

    def make(rng: np.random.Generator) -> tuple:
        xq = rng.integers(0, 256, (N, D)).astype(np.uint8)
        wq = rng.integers(-128, 128, (D, M)).astype(np.int8)
        bias_q = rng.integers(-20000, 20000, M).astype(np.int32)
        x_scale = float(rng.uniform(0.01, 0.05))
        w_scale = float(rng.uniform(0.005, 0.02))
        out_scale = float(x_scale * w_scale * 128 * 128 * np.sqrt(D) / 50)
        return (xq, x_scale, x_zp, wq, w_scale, w_zp, bias_q, out_scale, out_zp, 0, 255)

    return make


def linear_ties_case(N: int, D: int, M: int) -> Make:
    """Scales 0.5, 0.25 and 0.25: M = 0.5, so every odd accumulator is an exact .5 tie; operands
    near their zero points keep M * acc small."""

    def make(rng: np.random.Generator) -> tuple:
        xq = (128 + rng.integers(-4, 5, (N, D))).astype(np.uint8)
        wq = (-2 + rng.integers(-4, 5, (D, M))).astype(np.int8)
        bias_q = rng.integers(-9, 10, M).astype(np.int32)
        return (xq, 0.5, 128, wq, 0.25, -2, bias_q, 0.25, 100, 0, 255)

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _fake_with(r: Rounder) -> Callable[..., tuple]:
    def variant(
        ref: ModuleType, x: np.ndarray, scale: float, zp: int, qmin: int, qmax: int
    ) -> tuple:
        return (np.clip(r(x / scale) + zp, qmin, qmax) - zp) * scale, None

    return variant


def _linear_acc(
    xq: np.ndarray, x_zp: int, wq: np.ndarray, w_zp: int, bias_q: np.ndarray
) -> np.ndarray:
    return (xq.astype(np.int64) - x_zp) @ (wq.astype(np.int64) - w_zp) + bias_q


def _requantize(
    acc: np.ndarray,
    x_scale: float,
    w_scale: float,
    out_scale: float,
    out_zp: int,
    qmin: int,
    qmax: int,
    r: Rounder = np.rint,
) -> np.ndarray:
    m = x_scale * w_scale / out_scale
    return np.clip(r(m * acc.astype(np.float64)) + out_zp, qmin, qmax).astype(np.int64)


def _linear_with(r: Rounder) -> Callable[..., np.ndarray]:
    def variant(
        ref: ModuleType,
        xq: np.ndarray,
        xs: float,
        xz: int,
        wq: np.ndarray,
        ws: float,
        wz: int,
        bias: np.ndarray,
        os: float,
        oz: int,
        qmin: int,
        qmax: int,
    ) -> np.ndarray:
        return _requantize(_linear_acc(xq, xz, wq, wz, bias), xs, ws, os, oz, qmin, qmax, r)

    return variant


def _linear_raw_dtypes(
    ref: ModuleType,
    xq: np.ndarray,
    xs: float,
    xz: int,
    wq: np.ndarray,
    ws: float,
    wz: int,
    bias: np.ndarray,
    os: float,
    oz: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    acc = (xq - xz) @ (wq - wz) + bias  # uint8 - int wraps; uint8 @ int8 accumulates in int16
    return _requantize(acc, xs, ws, os, oz, qmin, qmax)


def _linear_int16(
    ref: ModuleType,
    xq: np.ndarray,
    xs: float,
    xz: int,
    wq: np.ndarray,
    ws: float,
    wz: int,
    bias: np.ndarray,
    os: float,
    oz: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    acc = (xq.astype(np.int16) - xz) @ (wq.astype(np.int16) - wz) + bias
    return _requantize(acc, xs, ws, os, oz, qmin, qmax)


def _linear_int8_acc(
    ref: ModuleType,
    xq: np.ndarray,
    xs: float,
    xz: int,
    wq: np.ndarray,
    ws: float,
    wz: int,
    bias: np.ndarray,
    os: float,
    oz: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    prod = (xq.astype(np.int64) - xz) @ (wq.astype(np.int64) - wz)
    return _requantize(prod.astype(np.int8) + bias, xs, ws, os, oz, qmin, qmax)


def _ste_everywhere(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    scale: float,
    zp: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    return dout.copy()


def _mask_unrounded(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    scale: float,
    zp: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    v = x / scale + zp
    return np.where((v >= qmin) & (v <= qmax), dout, 0.0)


MISCONCEPTIONS = (
    *rounding_mistakes("fake_quantize_forward", _fake_with, "np.rint(x / scale)", ("out",)),
    *rounding_mistakes("quantized_linear", _linear_with, "np.rint(M * acc)"),
    Misconception(
        "fake_quantize_backward",
        STE_NO_MASK,
        "the straight-through estimator passes dout only where the rounded value was NOT "
        "clamped: dx = dout * mask, mask = (qmin <= q) & (q <= qmax)",
        _ste_everywhere,
    ),
    Misconception(
        "fake_quantize_backward",
        MASK_UNROUNDED,
        "build the mask from the ROUNDED value np.rint(x / scale) + zero_point (as "
        "torch.fake_quantize_per_tensor_affine), not from x / scale + zero_point",
        _mask_unrounded,
    ),
    *(
        Misconception(
            "quantized_linear",
            ACC_OVERFLOW,
            "widen before subtracting and multiplying: xq.astype(np.int32) - x_zp, "
            "wq.astype(np.int32) - w_zp; 8- and 16-bit integer arrays wrap around",
            variant,
        )
        for variant in (_linear_raw_dtypes, _linear_int16, _linear_int8_acc)
    ),
)


# -- properties --------------------------------------------------------------------------------
def _linear_vs_float(ctx: Context) -> Verdict:
    """Dequantized, the integer layer is within one output step of the float layer."""
    for _ in range(100):
        args = linear_case(6, 24, 5)(ctx.rng)
        xq, xs, xz, wq, ws, wz, bias, os, oz, qmin, qmax = args
        real = ctx.ref.dequantize(xq, xs, xz) @ ctx.ref.dequantize(wq, ws, wz) + bias * xs * ws
        inside = (real / os + oz > qmin + 1) & (real / os + oz < qmax - 1)
        if inside.all():
            break
    (out_q,) = student_outputs(ctx, "quantized_linear", args, OUT_Q)
    error = np.abs(ctx.ref.dequantize(out_q, os, oz) - real)
    excess = np.where(inside, np.maximum(error - os * (0.5 + 1e-9), 0.0), 0.0)
    return expect_close(
        ctx,
        "quantized_linear",
        "dequantized output within scale/2 of the float layer x @ w + b",
        ("error beyond out_scale/2",),
        (excess,),
        (np.zeros_like(excess),),
        0.0,
        evidence=observation(ctx, "quantized_linear", args, (out_q,), OUT_Q),
    )


def _ste_secant(ctx: Context) -> Verdict:
    """The STE gradient is the slope of the student's own forward over one quantization step:
    (out(x + scale) - out(x - scale)) / (2 scale) is 1 well inside the range and 0 where the
    value is clamped, which is what dx / dout must be."""
    scale, zp, (qmin, qmax) = 0.125, 3, (-16, 15)
    shape = (3, 4)
    rng = ctx.rng
    inside = rng.integers(qmin + 2, qmax - 1, shape) - zp
    outside = np.where(rng.random(shape) < 0.5, qmin - 2 - rng.integers(0, 4, shape), qmax + 2)
    k = np.where(rng.random(shape) < 0.6, inside, outside - zp)
    x = (k + rng.uniform(-0.4, 0.4, shape)) * scale
    args = (x, scale, zp, qmin, qmax)
    (out_ref, cache_ref) = ctx.ref.fake_quantize_forward(x.copy(), *args[1:])
    dout = rng.standard_normal(shape)
    out, handle = forward_out_and_cache(ctx, "fake_quantize_forward", args, out_ref)
    text = describe_call("fake_quantize_forward", param_names(ctx, "fake_quantize_forward"), args)
    # a slope of the student's own forward proves something only for a right forward (the
    # identity forward and dx = dout agree)
    forward = forward_verdict(
        ctx,
        Observation(
            "fake_quantize_forward", text, args, (out, None), ("out", CACHE), (out_ref, None)
        ),
    )
    reply = ctx.student.call(Call("fake_quantize_backward", (dout, handle)))
    expected = ctx.ref.fake_quantize_backward(dout.copy(), cache_ref)
    conform(reply.value, expected, "fake_quantize_backward -> dx")
    return with_forward(
        forward,
        _secant_verdict(ctx, args, dout, reply.value, expected),
        "your fake_quantize_forward",
        ctx,
        "fake_quantize_backward",
    )


def _secant_verdict(
    ctx: Context, args: tuple, dout: np.ndarray, dx: np.ndarray, expected: np.ndarray
) -> Verdict:
    x, scale = args[0], args[1]
    shape = x.shape
    points = []
    for i in range(x.size):
        for sign in (1.0, -1.0):
            xp = x.copy()
            xp.flat[i] += sign * scale
            points.append(xp)
    replies = ctx.student.batch(
        [Call("fake_quantize_forward", (p, *args[1:]), pick=0) for p in points]
    )
    values = []
    for j, r in enumerate(replies):
        if not (isinstance(r.value, np.ndarray) and r.value.shape == shape):
            return Verdict(Outcome.BAD_OUTPUT, "fake_quantize_forward returned a wrong out")
        values.append(float(r.value.flat[j // 2]))
    slope = ((np.array(values[0::2]) - np.array(values[1::2])) / (2 * scale)).reshape(shape)
    cmp = gradient_error("dx", dx, dout * slope, 1e-6)
    if cmp.ok:
        return PASS
    text = describe_call("fake_quantize_forward", param_names(ctx, "fake_quantize_forward"), args)
    call = f"fake_quantize_backward(dout {shape}, cache) after {text}"
    seen = Observation("fake_quantize_backward", call, (dout, *args), (dx,), DX, (expected,))
    mistake = diagnose(ctx, seen, 1e-6)
    lines = [
        f"{call}: dx differs from dout times "
        "the slope of your own forward over one quantization step, (out(x + scale) - "
        "out(x - scale)) / (2 scale): 1 inside the range, 0 where clamped.",
        "  " + cmp.describe(),
    ]
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)


# -- checks --------------------------------------------------------------------------------------
def checks(topic: str) -> list[Check]:
    ff, fb, ql = "fake_quantize_forward", "fake_quantize_backward", "quantized_linear"
    return [
        Reference(
            topic,
            ff,
            "quint8 (4, 5), beyond the range on both sides",
            affine_case((4, 5), 0.05, 100, QUINT8, spread=1.5),
            OUT,
        ),
        Reference(
            topic, ff, "exact .5 ties, 4-bit", affine_case((3, 6), 0.25, 2, (-8, 7), ties=True), OUT
        ),
        Reference(
            topic,
            ff,
            "(20, 12) qint8",
            affine_case((20, 12), 0.03, -4, QINT8, spread=1.3),
            OUT,
            hidden=True,
        ),
        NoMutation(topic, ff, "inputs unchanged", affine_case((3, 3), 0.1, 0, QINT8), OUT),
        Deterministic(topic, ff, "deterministic", affine_case((3, 3), 0.1, 0, QINT8), OUT),
        BackwardReference(
            topic,
            fb,
            ff,
            "quint8 (4, 5), clamped on both sides",
            affine_case((4, 5), 0.05, 100, QUINT8, spread=1.5),
            DX,
        ),
        BackwardReference(
            topic,
            fb,
            ff,
            "within half a step of the range's edges",
            edge_of_range((4, 4), 0.1, 5, QINT8),
            DX,
        ),
        BackwardReference(
            topic,
            fb,
            ff,
            "(15, 10) 4-bit",
            affine_case((15, 10), 0.2, 8, (0, 15), spread=1.6),
            DX,
            hidden=True,
        ),
        Property(
            topic,
            fb,
            "numeric slope over one step (STE), elementwise",
            _ste_secant,
            kind=Kind.GRADIENT,
        ),
        Reference(
            topic, ql, "N=4 D=20 M=3, uint8 x, int8 w", linear_case(4, 20, 3), OUT_Q, tol=0.0
        ),
        Reference(
            topic,
            ql,
            "power-of-two scales (exact .5 ties)",
            linear_ties_case(5, 6, 4),
            OUT_Q,
            tol=0.0,
        ),
        Reference(
            topic,
            ql,
            "batch of 1, zero points 0",
            linear_case(1, 12, 6, x_zp=0, w_zp=0, out_zp=128),
            OUT_Q,
            tol=0.0,
        ),
        Reference(
            topic, ql, "N=16 D=64 M=10", linear_case(16, 64, 10), OUT_Q, tol=0.0, hidden=True
        ),
        Property(topic, ql, "within one output step of the float layer", _linear_vs_float),
        NoMutation(topic, ql, "inputs unchanged", linear_case(3, 8, 2), OUT_Q),
        Deterministic(topic, ql, "deterministic", linear_case(3, 8, 2), OUT_Q),
    ]
