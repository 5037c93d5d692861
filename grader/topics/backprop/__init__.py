"""Topic ``backprop``: affine and activation layers, maxout, affine-relu; with
``grader.topics.backprop.net``, TwoLayerNet and the weight initialisers.

Declarations only: input makers, the checks, and the known mistakes they can name. Forward
functions return ``(out, cache)``; the cache stays in the worker and is passed back by handle.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import Case, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.outputs import CACHE
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import BackwardReference, Reference
from grader.checks.suites import layer_suite
from grader.topics.backprop import net as backprop_net

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "backprop"
SUMMARY = (
    "layers, activations, maxout, `TwoLayerNet` (a class, graded through a handle), initialisers"
)
WORKER_SETUP = ""
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu")
LAYERS = ("affine", *ACTIVATIONS, "maxout", "affine_relu")
FUNCTIONS = tuple(f"{layer}_{d}" for layer in LAYERS for d in ("forward", "backward")) + (
    "TwoLayerNet",
    "xavier_init",
    "kaiming_init",
)
OUT = ("out", CACHE)
DX = ("dx",)
DXWB = ("dx", "dw", "db")


# -- inputs ------------------------------------------------------------------------------------
def away_from_zero(
    rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0
) -> np.ndarray:
    """Normal values with |v| >= 1e-2: kinks at 0 stay out of reach of the numeric gradient."""
    v = rng.standard_normal(shape) * scale
    return np.where(np.abs(v) < 1e-2, np.copysign(0.5, v), v)


def affine(x_shape: tuple[int, ...], M: int, relu: bool = False) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        D = int(np.prod(x_shape[1:]))
        for _ in range(1000):
            x = rng.standard_normal(x_shape)
            w = rng.standard_normal((D, M)) * 0.5
            b = rng.standard_normal(M) * 0.5
            pre = x.reshape(x_shape[0], D) @ w + b
            if not relu or np.min(np.abs(pre)) > 1e-3:
                return x, w, b
        raise RuntimeError("could not draw affine-relu inputs away from the kink")

    return make


def activation(shape: tuple[int, ...], alpha: float | None = None, scale: float = 1.5) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x = away_from_zero(rng, shape, scale)
        return (x,) if alpha is None else (x, alpha)

    return make


def maxout(N: int, D: int, M: int, K: int) -> Make:
    """Inputs whose best and second-best pieces differ by more than 1e-3 (no ties)."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            x = rng.standard_normal((N, D))
            w = rng.standard_normal((D, M, K))
            b = rng.standard_normal((M, K))
            z = np.einsum("nd,dmk->nmk", x, w) + b
            top2 = np.sort(z, axis=2)[:, :, -2:]
            if np.min(top2[:, :, 1] - top2[:, :, 0]) > 1e-3:
                return x, w, b
        raise RuntimeError("could not draw maxout inputs without near-ties")

    return make


def with_zeros(shape: tuple[int, ...], alpha: float | None = None) -> Make:
    """x with about a third of its entries exactly 0 (the kink; the docstring fixes the gradient
    there), the others away from it."""

    def make(rng: np.random.Generator) -> tuple:
        x = away_from_zero(rng, shape, 1.5)
        x = np.where(rng.random(shape) < 0.35, 0.0, x)
        x.flat[0] = 0.0
        return (x,) if alpha is None else (x, alpha)

    return make


def maxout_ties(N: int, D: int, M: int, K: int) -> Make:
    """Maxout inputs where pieces 0 and 1 of every unit are identical (exact ties for the max),
    and win in most units: the docstring gives the whole gradient to the first."""

    def make(rng: np.random.Generator) -> tuple:
        x, w, b = maxout(N, D, M, K)(rng)
        w[:, :, 1] = w[:, :, 0]
        b[:, 1] = b[:, 0] + 5.0  # the tied pair wins the max almost everywhere
        b[:, 0] = b[:, 1]
        return x, w, b

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _at_zero_as_positive(slope: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    """A backward whose mask is x >= 0: at x == 0 the gradient of the x > 0 branch (1)."""

    def variant(ref: ModuleType, dout: np.ndarray, x: np.ndarray, *alpha: float) -> np.ndarray:
        negative = slope(x) if not alpha else slope(x, *alpha)
        return dout * np.where(x >= 0, 1.0, negative)

    return variant


def _maxout_every_tied_piece(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.einsum("nd,dmk->nmk", x, w) + b
    dz = (z == z.max(axis=2, keepdims=True)) * dout[:, :, None]
    dx = np.einsum("nmk,dmk->nd", dz, w)
    dw = np.einsum("nd,nmk->dmk", x, dz)
    return dx, dw, dz.sum(axis=0)


AT_ZERO = "gradient at x == 0 taken from the x > 0 side (mask x >= 0)"
EVERY_TIE = "every tied piece gets the gradient (mask z == max)"


def _relu_identity(ref: ModuleType, dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return dout.copy()


def _relu_mask_on_dout(ref: ModuleType, dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return dout * (dout > 0)


def _sigmoid_at_input(ref: ModuleType, dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return dout * x * (1 - x)


def _tanh_at_input(ref: ModuleType, dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return dout * (1 - x**2)


def _leaky_as_relu(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, alpha: float = 0.01
) -> np.ndarray:
    return dout * (x > 0)


def _elu_without_alpha(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, alpha: float = 1.0
) -> np.ndarray:
    return dout * np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))


def _maxout_all_pieces(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    K = w.shape[2]
    dz = np.repeat(dout[:, :, None], K, axis=2)
    dx = np.einsum("nmk,dmk->nd", dz, w)
    dw = np.einsum("nd,nmk->dmk", x, dz)
    return dx, dw, dz.sum(axis=0)


MISCONCEPTIONS = backprop_net.MISCONCEPTIONS + (
    Misconception(
        "relu_backward",
        "gradient passed through where x <= 0",
        "multiply dout by the mask (x > 0): ReLU blocks the gradient for x <= 0",
        _relu_identity,
    ),
    Misconception(
        "relu_backward",
        "ReLU mask taken from dout instead of x",
        "the mask is (x > 0) with x from the cache, not (dout > 0)",
        _relu_mask_on_dout,
    ),
    Misconception(
        "sigmoid_backward",
        "derivative evaluated at the input instead of the output",
        "d sigmoid/dx = s * (1 - s) with s = sigmoid(x), not x * (1 - x)",
        _sigmoid_at_input,
    ),
    Misconception(
        "tanh_backward",
        "derivative evaluated at the input instead of the output",
        "d tanh/dx = 1 - tanh(x)**2, not 1 - x**2",
        _tanh_at_input,
    ),
    Misconception(
        "leaky_relu_backward",
        "slope for x <= 0 dropped (plain ReLU gradient)",
        "for x <= 0 the gradient is alpha * dout, not 0",
        _leaky_as_relu,
    ),
    Misconception(
        "elu_backward",
        "alpha missing from the negative-side gradient",
        "for x <= 0, d/dx alpha*(exp(x)-1) = alpha * exp(x)",
        _elu_without_alpha,
    ),
    Misconception(
        "relu_backward",
        AT_ZERO,
        "the docstring takes the gradient at x == 0 as 0: use the mask (x > 0), not (x >= 0)",
        _at_zero_as_positive(np.zeros_like),
    ),
    Misconception(
        "leaky_relu_backward",
        AT_ZERO,
        "the docstring takes the gradient at x == 0 as alpha (as PyTorch): np.where(x > 0, "
        "1.0, alpha), not x >= 0",
        _at_zero_as_positive(lambda x, alpha: np.full_like(x, alpha)),
    ),
    Misconception(
        "elu_backward",
        AT_ZERO,
        "the docstring takes the gradient at x == 0 as alpha (as PyTorch): np.where(x > 0, "
        "1.0, alpha * exp(x)), not x >= 0",
        _at_zero_as_positive(lambda x, alpha: alpha * np.exp(np.minimum(x, 0))),
    ),
    Misconception(
        "maxout_backward",
        EVERY_TIE,
        "give dout to the first maximal piece only (np.argmax over K), as the docstring's tie "
        "policy says; a mask z == max sends it to every tied piece",
        _maxout_every_tied_piece,
    ),
    Misconception(
        "maxout_backward",
        "gradient sent to every piece",
        "only the piece that won the max (argmax over K) receives dout",
        _maxout_all_pieces,
    ),
)


# -- laws of single layers ---------------------------------------------------------------------
def _forward_out(ctx: Context, fn: str, args: tuple) -> np.ndarray:
    return student_outputs(ctx, fn, args, OUT)[0]


def _sigmoid_symmetry(ctx: Context) -> Verdict:
    (x,) = activation((5, 6))(ctx.rng)
    pos, neg = (
        _forward_out(ctx, "sigmoid_forward", (x,)),
        _forward_out(ctx, "sigmoid_forward", (-x,)),
    )
    return expect_close(
        ctx,
        "sigmoid_forward",
        "sigmoid(x) + sigmoid(-x) == 1",
        ("out",),
        (pos + neg,),
        (np.ones_like(x),),
        1e-12,
    )


def _tanh_odd(ctx: Context) -> Verdict:
    (x,) = activation((5, 6))(ctx.rng)
    pos, neg = _forward_out(ctx, "tanh_forward", (x,)), _forward_out(ctx, "tanh_forward", (-x,))
    return expect_close(
        ctx, "tanh_forward", "tanh(-x) == -tanh(x)", ("out",), (neg,), (-pos,), 1e-12
    )


def _affine_linearity(ctx: Context) -> Verdict:
    x1, w, b = affine((4, 3, 2), 5)(ctx.rng)
    x2 = ctx.rng.standard_normal(x1.shape)
    f1 = _forward_out(ctx, "affine_forward", (x1, w, b))
    f2 = _forward_out(ctx, "affine_forward", (x2, w, b))
    f12 = _forward_out(ctx, "affine_forward", (x1 + x2, w, b))
    return expect_close(
        ctx,
        "affine_forward",
        "f(x1 + x2) == f(x1) + f(x2) - b",
        ("out",),
        (f12,),
        (f1 + f2 - b,),
        1e-10,
    )


def _relu_idempotent(ctx: Context) -> Verdict:
    (x,) = activation((6, 7))(ctx.rng)
    once = _forward_out(ctx, "relu_forward", (x,))
    twice = _forward_out(ctx, "relu_forward", (once,))
    if np.any(once < 0):
        return Verdict(Outcome.WRONG, "relu_forward returned negative values; max(0, x) is >= 0")
    return expect_close(
        ctx, "relu_forward", "relu(relu(x)) == relu(x)", ("out",), (twice,), (once,), 0.0
    )


# -- checks --------------------------------------------------------------------------------------
def _layer_checks(
    layer: str,
    cases: list[Case],
    small: Make,
    large: Make,
    wrt: tuple[int, ...],
    grads: tuple[str, ...],
) -> list[Check]:
    return layer_suite(
        TOPIC, f"{layer}_forward", f"{layer}_backward", cases, small, large, grads, wrt
    )


def checks() -> list[Check]:
    found: list[Check] = []
    found += _layer_checks(
        "affine",
        [
            Case("x (4, 5) w (5, 3)", affine((4, 5), 3)),
            Case("x with extra dims (2, 3, 4) -> 6", affine((2, 3, 4), 6)),
            Case("batch of 1, x (1, 7) -> 2", affine((1, 7), 2)),
            Case("x (10, 6, 5) -> 7", affine((10, 6, 5), 7), hidden=True),
        ],
        affine((2, 3, 2), 3),
        affine((20, 30), 10),
        (0, 1, 2),
        DXWB,
    )
    for act in ACTIVATIONS:
        alpha = {"leaky_relu": 0.2, "elu": 0.5}.get(act)
        cases = [
            Case("x (3, 4)", activation((3, 4))),
            Case("x (2, 3, 4, 5)", activation((2, 3, 4, 5))),
            Case("x (50, 40)", activation((50, 40)), hidden=True),
        ]
        if alpha is not None:
            cases.append(Case(f"alpha={alpha}", activation((4, 6), alpha)))
        found += _layer_checks(act, cases, activation((3, 4)), activation((30, 20)), (0,), DX)
    for act, alpha in (("leaky_relu", 0.2), ("elu", 0.5)):
        found.append(
            BackwardReference(
                TOPIC,
                f"{act}_backward",
                f"{act}_forward",
                "x with exact zeros (gradient alpha there)",
                with_zeros((4, 5), alpha),
                DX,
            )
        )
    found.append(
        BackwardReference(
            TOPIC,
            "maxout_backward",
            "maxout_forward",
            "tied pieces (the first one gets the gradient)",
            maxout_ties(5, 4, 3, 3),
            DXWB,
        )
    )
    found.append(
        BackwardReference(
            TOPIC,
            "relu_backward",
            "relu_forward",
            "x with exact zeros (gradient 0 there)",
            lambda rng: (np.where(rng.random((4, 5)) < 0.3, 0.0, rng.standard_normal((4, 5))),),
            DX,
        )
    )
    found.append(
        Reference(
            TOPIC,
            "sigmoid_forward",
            "large |x| (about 800)",
            activation((4, 5), scale=800.0),
            OUT,
            kind=Kind.HYGIENE,
        )
    )
    found.append(
        Reference(
            TOPIC,
            "elu_forward",
            "large positive x (about 1000)",
            lambda rng: (np.abs(activation((4, 5))(rng)[0]) + 1000.0,),
            OUT,
            kind=Kind.HYGIENE,
        )
    )
    found += _layer_checks(
        "maxout",
        [
            Case("x (4, 5) M=3 K=2", maxout(4, 5, 3, 2)),
            Case("batch of 1, K=4", maxout(1, 6, 2, 4)),
            Case("x (16, 12) M=8 K=3", maxout(16, 12, 8, 3), hidden=True),
        ],
        maxout(3, 4, 2, 3),
        maxout(20, 15, 6, 3),
        (0, 1, 2),
        DXWB,
    )
    found += _layer_checks(
        "affine_relu",
        [
            Case("x (4, 5) w (5, 3)", affine((4, 5), 3, relu=True)),
            Case("x with extra dims (3, 2, 2) -> 5", affine((3, 2, 2), 5, relu=True)),
            Case("x (20, 15) -> 10", affine((20, 15), 10, relu=True), hidden=True),
        ],
        affine((2, 4), 3, relu=True),
        affine((20, 25), 10, relu=True),
        (0, 1, 2),
        DXWB,
    )
    found += [
        Property(TOPIC, "sigmoid_forward", "symmetry", _sigmoid_symmetry),
        Property(TOPIC, "tanh_forward", "odd function", _tanh_odd),
        Property(TOPIC, "affine_forward", "linear in x", _affine_linearity),
        Property(TOPIC, "relu_forward", "non-negative and idempotent", _relu_idempotent),
    ]
    found += backprop_net.checks(TOPIC)
    return found
