"""Topic ``quantization``, part one: affine and per-channel quantization (quantize, dequantize,
the observers' scale and zero point), and the rounding mistakes ``integer`` shares.

Declarations only; ``grader.topics.quantization`` gathers these checks and mistakes. Integer
results (int64 arrays, zero points) are compared exactly (tolerance 0). Rounding cases put
x / scale exactly on k + 0.5 (power-of-two scales), where round-half-to-even and round-half-up
differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from grader.checks.base import PASS, Check, Context, Make, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import Reference, param_names, reference_outputs

Q = ("q",)
X = ("x",)
QPARAMS = ("scale", "zero_point")
QPARAMS_PC = ("scales", "zero_points")
QUINT8, QINT8 = (0, 255), (-128, 127)
Shape = tuple[int, ...]
QRange = tuple[int, int]  # (qmin, qmax)

# the names of the known mistakes (tests and the example submission refer to them)
HALF_UP = "round half up instead of round half to even"
FLOOR = "floor or truncation instead of rounding"
ZP_NOT_INT = "zero point not rounded to an integer or not clamped"
HINT_ZP = (
    "zero_point = qmin - np.rint(lo / scale), then clip it to [qmin, qmax] and make it an "
    "int: only an integer zero point lets the real 0 be represented exactly (and a symmetric "
    "zero point is (qmin + qmax + 1) // 2, floor division: / gives the float 128.0)"
)
NOT_WIDENED = "range not widened to include zero"
PER_TENSOR = "one scale for the whole tensor instead of per channel"
DEQ_WRAP = "zero point subtracted in 8-bit arithmetic (wraps around)"
ZP_BEFORE_ROUND = "zero point added before rounding (moves .5 ties when it is odd)"


# -- inputs ------------------------------------------------------------------------------------
def affine_case(
    shape: Shape, scale: float, zp: int, qrange: QRange, spread: float = 1.2, ties: bool = False
) -> Make:
    """x covering the representable range (and ``spread`` times beyond it)."""
    qmin, qmax = qrange

    def make(rng: np.random.Generator) -> tuple:
        lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * spread
        x = rng.uniform(mid - half, mid + half, shape)
        if ties:  # x / scale == k + 0.5 exactly (scale is a power of two)
            k = rng.integers(qmin - zp - 2, qmax - zp + 2, shape)
            x = np.where(rng.random(shape) < 0.7, (k + 0.5) * scale, x)
        return x, float(scale), int(zp), int(qmin), int(qmax)

    return make


def int_array(
    shape: Shape, qrange: QRange, dtype: DTypeLike = np.int64
) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        return rng.integers(qrange[0], qrange[1] + 1, shape).astype(dtype)

    return make


def dequant_case(
    shape: Shape, scale: float, zp: int, qrange: QRange, dtype: DTypeLike = np.int64
) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return int_array(shape, qrange, dtype)(rng), float(scale), int(zp)

    return make


def observed(
    shape: Shape, qrange: QRange, symmetric: bool, low: float = -1.0, high: float = 2.0
) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return rng.uniform(low, high, shape), int(qrange[0]), int(qrange[1]), symmetric

    return make


def fixed_observed(values: Sequence[float], qrange: QRange, symmetric: bool = False) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return np.array(values, dtype=np.float64), int(qrange[0]), int(qrange[1]), symmetric

    return make


def per_channel_observed(shape: Shape, axis: int, qrange: QRange, symmetric: bool) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        w = rng.standard_normal(shape) * rng.uniform(0.1, 3.0, _bshape(len(shape), axis, shape))
        return w, axis, int(qrange[0]), int(qrange[1]), symmetric

    return make


def _bshape(ndim: int, axis: int, shape: Shape) -> tuple[int, ...]:
    out = [1] * ndim
    out[axis] = shape[axis]
    return tuple(out)


def per_channel_case(shape: Shape, axis: int, qrange: QRange, ties: bool = False) -> Make:
    qmin, qmax = qrange

    def make(rng: np.random.Generator) -> tuple:
        C = shape[axis]
        scales = 2.0 ** rng.integers(-6, -1, C) if ties else rng.uniform(0.01, 0.1, C)
        zps = rng.integers(qmin + 10, qmax - 10, C)
        s, z = (
            scales.reshape(_bshape(len(shape), axis, shape)),
            zps.reshape(_bshape(len(shape), axis, shape)),
        )
        v = rng.uniform(qmin - 5, qmax + 5, shape) - z
        if ties:
            v = np.where(rng.random(shape) < 0.7, np.floor(v) + 0.5, v)
        return v * s, scales, zps.astype(np.int64), axis, int(qmin), int(qmax)

    return make


def per_channel_dequant(shape: Shape, axis: int, qrange: QRange) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        C = shape[axis]
        q = int_array(shape, qrange)(rng)
        return q, rng.uniform(0.01, 0.1, C), rng.integers(*qrange, C).astype(np.int64), axis

    return make


# -- known mistakes ----------------------------------------------------------------------------
Rounder = Callable[[np.ndarray], np.ndarray]
HALF_UP_ROUNDERS: tuple[Rounder, ...] = (
    lambda v: np.floor(v + 0.5),
    lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),  # half away from zero (C's round)
    lambda v: np.trunc(v + 0.5),  # (v + 0.5).astype(int)
)
FLOOR_ROUNDERS: tuple[Rounder, ...] = (np.floor, np.trunc)
QParamsModel = Callable[..., tuple]  # a model of choose_qparams: (ref, x, qmin, qmax, symmetric)


def _quantize_with(r: Rounder) -> Callable[..., np.ndarray]:
    def variant(
        ref: ModuleType, x: np.ndarray, scale: float, zp: int, qmin: int, qmax: int
    ) -> np.ndarray:
        return np.clip(r(x / scale) + zp, qmin, qmax).astype(np.int64)

    return variant


def _per_channel_with(r: Rounder) -> Callable[..., np.ndarray]:
    def variant(
        ref: ModuleType,
        x: np.ndarray,
        scales: np.ndarray,
        zps: np.ndarray,
        axis: int,
        qmin: int,
        qmax: int,
    ) -> np.ndarray:
        shape = _bshape(x.ndim, axis, x.shape)
        v = r(x / scales.reshape(shape)) + zps.reshape(shape)
        return np.clip(v, qmin, qmax).astype(np.int64)

    return variant


def _qparams_unrounded(clamp: bool, truncate: bool = False) -> QParamsModel:
    """The zero point left fractional (or truncated by int()), clamped or not."""

    def variant(
        ref: ModuleType, x: np.ndarray, qmin: int, qmax: int, symmetric: bool = False
    ) -> tuple:
        if symmetric:
            return ref.choose_qparams(x, qmin, qmax, symmetric)
        lo, hi = min(float(np.min(x)), 0.0), max(float(np.max(x)), 0.0)
        scale = max((hi - lo) / (qmax - qmin), ref.FLOAT32_EPS)
        zp = float(np.trunc(qmin - lo / scale)) if truncate else qmin - lo / scale
        return scale, (min(max(zp, qmin), qmax) if clamp else zp)

    return variant


def _qparams_not_widened(clamp: bool) -> QParamsModel:
    def variant(
        ref: ModuleType, x: np.ndarray, qmin: int, qmax: int, symmetric: bool = False
    ) -> tuple:
        lo, hi = float(np.min(x)), float(np.max(x))
        if symmetric:
            return ref.choose_qparams(x, qmin, qmax, symmetric)
        scale = max((hi - lo) / (qmax - qmin), ref.FLOAT32_EPS)
        zp = qmin - int(np.rint(lo / scale))
        return scale, (min(max(zp, qmin), qmax) if clamp else zp)

    return variant


def _per_channel_of(per_tensor: QParamsModel) -> Callable[..., tuple]:
    def variant(
        ref: ModuleType, w: np.ndarray, axis: int, qmin: int, qmax: int, symmetric: bool = False
    ) -> tuple:
        rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        params = [per_tensor(ref, row, qmin, qmax, symmetric) for row in rows]
        return np.array([p[0] for p in params]), np.array([p[1] for p in params])

    return variant


def _per_tensor_params(
    ref: ModuleType, w: np.ndarray, axis: int, qmin: int, qmax: int, symmetric: bool = False
) -> tuple:
    scale, zp = ref.choose_qparams(w, qmin, qmax, symmetric)
    C = w.shape[axis]
    return np.full(C, scale), np.full(C, zp, dtype=np.int64)


def _quantize_zp_first(
    ref: ModuleType, x: np.ndarray, scale: float, zp: int, qmin: int, qmax: int
) -> np.ndarray:
    return np.clip(np.rint(x / scale + zp), qmin, qmax).astype(np.int64)


def _dequantize_wrapping(ref: ModuleType, q: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return (q - q.dtype.type(zp)) * scale


def rounding_mistakes(
    fn: str,
    make: Callable[[Rounder], Callable[..., Any]],
    code: str,
    compare: tuple[str, ...] | None = None,
) -> list[Misconception]:
    """Round-half-up and floor/truncation variants of ``fn``, built by ``make(rounder)``."""
    half_up_hint = (
        f"use {code}: it rounds halves to the even integer (2.5 -> 2), as PyTorch does; "
        "np.floor(v + 0.5) rounds every half up"
    )
    floor_hint = (
        f"round to the nearest integer with {code}; floor/astype(int) cut off the fraction "
        "(biased by half a step)"
    )
    return [
        Misconception(fn, HALF_UP, half_up_hint, make(r), compare=compare) for r in HALF_UP_ROUNDERS
    ] + [Misconception(fn, FLOOR, floor_hint, make(r), compare=compare) for r in FLOOR_ROUNDERS]


def _misconceptions() -> list[Misconception]:
    found: list[Misconception] = []
    found += rounding_mistakes("quantize", _quantize_with, "np.rint(x / scale)")
    found += rounding_mistakes("quantize_per_channel", _per_channel_with, "np.rint(x / scales)")
    hint_zp = HINT_ZP
    hint_widen = (
        "widen the range to include zero first: lo = min(x.min(), 0), hi = max(x.max(), 0) "
        "(zero padding and ReLU outputs need an exact 0)"
    )
    for clamp, truncate in ((False, False), (True, False), (False, True), (True, True)):
        unrounded = _qparams_unrounded(clamp, truncate)
        found += [
            Misconception("choose_qparams", ZP_NOT_INT, hint_zp, unrounded),
            Misconception(
                "choose_qparams_per_channel", ZP_NOT_INT, hint_zp, _per_channel_of(unrounded)
            ),
        ]
    for clamp in (False, True):
        found += [
            Misconception("choose_qparams", NOT_WIDENED, hint_widen, _qparams_not_widened(clamp)),
            Misconception(
                "choose_qparams_per_channel",
                NOT_WIDENED,
                hint_widen,
                _per_channel_of(_qparams_not_widened(clamp)),
            ),
        ]
    found += [
        Misconception(
            "choose_qparams_per_channel",
            PER_TENSOR,
            "reduce min and max over every axis EXCEPT the channel axis: one (scale, zero "
            "point) per channel",
            _per_tensor_params,
        ),
        Misconception(
            "quantize",
            ZP_BEFORE_ROUND,
            "round first, then add the zero point: np.rint(x / scale) + zero_point. "
            "np.rint(x / scale + zero_point) (torch's order) rounds an exact .5 tie the other "
            "way when the zero point is odd",
            _quantize_zp_first,
        ),
        Misconception(
            "dequantize",
            DEQ_WRAP,
            "convert first: (q.astype(np.float64) - zero_point) * scale; uint8 arithmetic "
            "wraps around below 0",
            _dequantize_wrapping,
        ),
    ]
    return found


MISCONCEPTIONS = tuple(_misconceptions())


# -- properties --------------------------------------------------------------------------------
def observation(
    ctx: Context, function: str, args: tuple, got: Sequence[Any], names: Sequence[str]
) -> Observation:
    """The student's ``function(*args)`` and what it returned (``got``, named ``names``): the
    evidence from which ``expect_close`` names a known mistake."""
    return Observation(
        function, describe_call(function, param_names(ctx, function), args), args, got, names
    )


def _round_trip(ctx: Context) -> Verdict:
    """Inside the representable range, dequantize(quantize(x)) is within scale/2 of x."""
    x, scale, zp, qmin, qmax = affine_case((6, 7), 0.037, 117, QUINT8, spread=0.98)(ctx.rng)
    args = (x, scale, zp, qmin, qmax)
    (q,) = student_outputs(ctx, "quantize", args, Q)
    error = np.abs(ctx.ref.dequantize(q, scale, zp) - x)
    bound = scale / 2 * (1 + 1e-9)
    return expect_close(
        ctx,
        "quantize",
        f"round trip |dequantize(quantize(x)) - x| <= scale/2 = {scale / 2:g} inside the range",
        ("round-trip error beyond scale/2",),
        (np.maximum(error - bound, 0.0),),
        (np.zeros_like(error),),
        0.0,
        evidence=observation(ctx, "quantize", args, (q,), Q),
    )


def _zero_exact(ctx: Context) -> Verdict:
    """0 maps to the zero point, so dequantize(quantize(0)) is exactly 0."""
    zp = int(ctx.rng.integers(-20, 20))
    args = (np.zeros((2, 3)), 0.0123, zp, -128, 127)
    (q,) = student_outputs(ctx, "quantize", args, Q)
    return expect_close(
        ctx,
        "quantize",
        "quantize(0) == zero_point (0 is exactly representable)",
        Q,
        (q,),
        (np.full((2, 3), zp, dtype=np.int64),),
        0.0,
        evidence=observation(ctx, "quantize", args, (q,), Q),
    )


def _idempotent(ctx: Context) -> Verdict:
    """Grid values are fixed points: quantize(dequantize(q)) == q for q in [qmin, qmax]."""
    scale, zp = 0.0537, -7
    q0 = ctx.rng.integers(-128, 128, (5, 8)).astype(np.int64)
    args = (ctx.ref.dequantize(q0, scale, zp), scale, zp, -128, 127)
    (q,) = student_outputs(ctx, "quantize", args, Q)
    return expect_close(
        ctx,
        "quantize",
        "quantize(dequantize(q)) == q (grid points are fixed points)",
        Q,
        (q,),
        (q0,),
        0.0,
        evidence=observation(ctx, "quantize", args, (q,), Q),
    )


def _dequantize_zero(ctx: Context) -> Verdict:
    zp = int(ctx.rng.integers(0, 256))
    q = np.full((3, 2), zp, dtype=np.int64)
    (x,) = student_outputs(ctx, "dequantize", (q, 0.71, zp), X)
    return expect_close(
        ctx, "dequantize", "dequantize(zero_point) == 0 exactly", X, (x,), (np.zeros((3, 2)),), 0.0
    )


def _qparams_valid(make: Make, what: str) -> Callable[[Context], Verdict]:
    """The zero point is an integer in [qmin, qmax] and every observed x round-trips within
    scale/2 (0 included, exactly)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        x, qmin, qmax, symmetric = args
        got = student_outputs(ctx, "choose_qparams", args, QPARAMS)
        scale, zp = float(got[0]), got[1]
        evidence = observation(ctx, "choose_qparams", args, got, QPARAMS)
        if not (np.isfinite(scale) and scale > 0):  # scale 0 "round-trips" nothing: rejected
            return Verdict(
                Outcome.WRONG,
                f"choose_qparams: {what}: the scale must be a finite number > 0, got {scale:g}",
            )
        zp_ok = float(zp) == np.round(float(zp)) and qmin <= float(zp) <= qmax
        if not zp_ok:
            return expect_close(
                ctx,
                "choose_qparams",
                f"{what}: scale > 0 and zero_point an integer in [{qmin}, {qmax}]",
                ("zero_point",),
                (float(zp),),
                (float(np.clip(np.round(float(zp)), qmin, qmax)),),
                0.0,
                evidence=evidence,
            )
        zp = int(zp)
        q = ctx.ref.quantize(np.append(x, 0.0), scale, zp, qmin, qmax)
        error = np.abs(ctx.ref.dequantize(q, scale, zp) - np.append(x, 0.0))
        excess = np.maximum(error - scale / 2 * (1 + 1e-9), 0.0)
        excess[-1] = error[-1]  # 0 must come back exactly
        return expect_close(
            ctx,
            "choose_qparams",
            f"{what}: every x (and 0, exactly) round-trips within scale/2",
            ("round-trip error beyond scale/2",),
            (excess,),
            (np.zeros_like(excess),),
            0.0,
            evidence=evidence,
        )

    return body


def _zero_point_is_int(ctx: Context) -> Verdict:
    """The zero point is a Python int (a numpy integer too), never a float with an integer
    value: affine and symmetric, quint8 and qint8 (a float zero point makes quantize's output
    float and hides a / where // is due)."""
    for qrange in (QUINT8, QINT8):
        for symmetric in (False, True):
            args = observed((4, 5), qrange, symmetric)(ctx.rng)
            got = student_outputs(ctx, "choose_qparams", args, QPARAMS)
            zp = got[1]
            if isinstance(zp, (int, np.integer)) and not isinstance(zp, (bool, np.bool_)):
                continue
            want = reference_outputs(ctx, "choose_qparams", args)[1]
            if float(zp) != want:  # a wrong value: judged (and named) as a value
                return expect_close(
                    ctx,
                    "choose_qparams",
                    "zero_point is an int: the reference's value",
                    ("zero_point",),
                    (float(zp),),
                    (float(want),),
                    0.0,
                    evidence=observation(ctx, "choose_qparams", args, got, QPARAMS),
                )
            text = describe_call("choose_qparams", param_names(ctx, "choose_qparams"), args)
            return Verdict(
                Outcome.WRONG,
                f"{text}: zero_point is {zp!r} ({type(zp).__name__}); the docstring asks for "
                f"a Python int (int(...))\n  looks like a known mistake: {ZP_NOT_INT}. "
                f"Hint: {HINT_ZP}",
                misconception=ZP_NOT_INT,
            )
    return PASS


def _per_channel_independent(ctx: Context) -> Verdict:
    """Doubling channel c's weights doubles scales[c] and changes no other parameter."""
    args = per_channel_observed((5, 4), 1, QINT8, True)(ctx.rng)
    w = args[0]
    c = int(ctx.rng.integers(0, 4))
    w2 = w.copy()
    w2[:, c] *= 2.0
    base = student_outputs(ctx, "choose_qparams_per_channel", args, QPARAMS_PC)
    args2 = (w2, *args[1:])
    doubled = student_outputs(ctx, "choose_qparams_per_channel", args2, QPARAMS_PC)
    want_scales = base[0].copy()
    want_scales[c] *= 2.0
    return expect_close(
        ctx,
        "choose_qparams_per_channel",
        f"per output channel: doubling channel {c} of w (5, 4), axis 1 doubles only scales[{c}]",
        QPARAMS_PC,
        doubled,
        (want_scales, base[1]),
        1e-12,
        evidence=observation(ctx, "choose_qparams_per_channel", args2, doubled, QPARAMS_PC),
    )


# -- checks --------------------------------------------------------------------------------------
def checks(topic: str) -> list[Check]:
    qz, dq, cq, cqc = "quantize", "dequantize", "choose_qparams", "choose_qparams_per_channel"
    qc, dqc = "quantize_per_channel", "dequantize_per_channel"
    ties_q = affine_case((4, 6), 0.25, 0, QINT8, ties=True)
    found: list[Check] = [
        Reference(
            topic,
            qz,
            "quint8 (4, 5), scale 0.05, zero point 128",
            affine_case((4, 5), 0.05, 128, QUINT8),
            Q,
            tol=0.0,
        ),
        Reference(topic, qz, "exact .5 ties, qint8, scale 0.25", ties_q, Q, tol=0.0),
        Reference(
            topic,
            qz,
            "exact .5 ties, odd zero point 7 (added after rounding)",
            affine_case((5, 6), 0.25, 7, QINT8, ties=True),
            Q,
            tol=0.0,
        ),
        Reference(
            topic,
            qz,
            "values beyond the range are clamped",
            affine_case((3, 8), 0.02, 10, QUINT8, spread=3.0),
            Q,
            tol=0.0,
        ),
        Reference(
            topic,
            qz,
            "4-bit range (0, 15), 1-D",
            affine_case((9,), 0.5, 3, (0, 15), ties=True),
            Q,
            tol=0.0,
        ),
        Reference(
            topic,
            qz,
            "(30, 20) qint8, zero point -3, ties",
            affine_case((30, 20), 0.0625, -3, QINT8, ties=True),
            Q,
            tol=0.0,
            hidden=True,
        ),
        Property(topic, qz, "round trip within scale/2", _round_trip),
        Property(topic, qz, "zero maps exactly", _zero_exact),
        Property(topic, qz, "idempotent on its own grid", _idempotent),
        NoMutation(topic, qz, "inputs unchanged", ties_q, Q),
        Deterministic(topic, qz, "deterministic", ties_q, Q),
        Reference(topic, dq, "int64 q (4, 5)", dequant_case((4, 5), 0.05, 128, QUINT8), X),
        Reference(
            topic,
            dq,
            "uint8 q, zero point 128",
            dequant_case((6, 3), 0.1, 128, QUINT8, np.uint8),
            X,
        ),
        Reference(
            topic,
            dq,
            "int8 q (20, 10)",
            dequant_case((20, 10), 0.02, -5, QINT8, np.int8),
            X,
            hidden=True,
        ),
        Property(topic, dq, "zero point maps to 0", _dequantize_zero),
        NoMutation(topic, dq, "inputs unchanged", dequant_case((3, 3), 0.1, 4, QINT8), X),
        Reference(
            topic,
            cq,
            "[-1, 0, 2, 3], quint8: scale 4/255, zero point 64",
            fixed_observed([-1.0, 0.0, 2.0, 3.0], QUINT8),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "affine quint8, x in (-1, 2)",
            observed((5, 4), QUINT8, False),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "affine qint8, x in (-3, 0.5)",
            observed((17,), QINT8, False, -3.0, 0.5),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "all positive x (range widened to 0)",
            observed((4, 4), QUINT8, False, 0.5, 2.0),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "all negative x, qint8 (range widened to 0)",
            observed((6,), QINT8, False, -2.0, -0.3),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "symmetric qint8",
            observed((3, 5), QINT8, True, -2.0, 1.0),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "symmetric quint8",
            observed((8,), QUINT8, True, -0.5, 3.0),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "all zeros (scale floored at float32 eps)",
            fixed_observed([0.0, 0.0, 0.0], QUINT8),
            QPARAMS,
            tol=1e-9,
        ),
        Reference(
            topic,
            cq,
            "4-bit (0, 15), (20, 10)",
            observed((20, 10), (0, 15), False, -0.7, 4.0),
            QPARAMS,
            tol=1e-9,
            hidden=True,
        ),
        Property(
            topic,
            cq,
            "zero point integer in range, x round-trips (mixed signs)",
            _qparams_valid(observed((6, 5), QUINT8, False, -1.3, 2.2), "mixed signs"),
        ),
        Property(
            topic,
            cq,
            "zero point integer in range, x round-trips (all positive)",
            _qparams_valid(observed((10,), QUINT8, False, 0.4, 3.0), "all positive x"),
        ),
        Property(
            topic,
            cq,
            "zero point is an int (affine and symmetric, quint8 and qint8)",
            _zero_point_is_int,
        ),
        NoMutation(topic, cq, "inputs unchanged", observed((4, 3), QUINT8, False), QPARAMS),
        Reference(
            topic,
            cqc,
            "linear weights (6, 4), axis 1, symmetric qint8",
            per_channel_observed((6, 4), 1, QINT8, True),
            QPARAMS_PC,
            tol=1e-9,
        ),
        Reference(
            topic,
            cqc,
            "conv weights (8, 2, 3, 3), axis 0, affine quint8",
            per_channel_observed((8, 2, 3, 3), 0, QUINT8, False),
            QPARAMS_PC,
            tol=1e-9,
        ),
        Reference(
            topic,
            cqc,
            "(16, 8), axis 1, affine qint8",
            per_channel_observed((16, 8), 1, QINT8, False),
            QPARAMS_PC,
            tol=1e-9,
            hidden=True,
        ),
        Property(topic, cqc, "scales per output channel", _per_channel_independent),
        NoMutation(
            topic,
            cqc,
            "inputs unchanged",
            per_channel_observed((4, 3), 1, QINT8, False),
            QPARAMS_PC,
        ),
        Reference(
            topic, qc, "(5, 4), axis 1, qint8", per_channel_case((5, 4), 1, QINT8), Q, tol=0.0
        ),
        Reference(
            topic,
            qc,
            "exact .5 ties, (3, 2, 2, 2), axis 0",
            per_channel_case((3, 2, 2, 2), 0, QUINT8, ties=True),
            Q,
            tol=0.0,
        ),
        Reference(
            topic,
            qc,
            "(12, 10), axis 0, ties",
            per_channel_case((12, 10), 0, QINT8, ties=True),
            Q,
            tol=0.0,
            hidden=True,
        ),
        NoMutation(topic, qc, "inputs unchanged", per_channel_case((3, 4), 1, QINT8), Q),
        Reference(topic, dqc, "(5, 4), axis 1", per_channel_dequant((5, 4), 1, QINT8), X),
        Reference(topic, dqc, "(2, 3, 2), axis 0", per_channel_dequant((2, 3, 2), 0, QUINT8), X),
        NoMutation(topic, dqc, "inputs unchanged", per_channel_dequant((3, 4), 1, QINT8), X),
    ]
    return found
