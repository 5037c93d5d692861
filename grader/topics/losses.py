"""Topic ``losses``: linear-classifier losses (SVM, softmax), score losses, regularisers.

Declarations only: input makers, the checks, and the known mistakes they can name.
Conventions (TOPICS.md): mean over N plus ``reg * sum(W*W)``, gradient term ``2 * reg * W``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import Check, Context, Kind, Make, Misconception, Verdict
from grader.checks.diagnose import Observation
from grader.checks.gradient import LossGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import Reference, param_names

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "losses"
SUMMARY = "SVM and softmax losses, naive and vectorised; numerical stability at logits + 1000"
WORKER_SETUP = ""
LINEAR = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
SCORES = ("svm_loss", "softmax_loss")
REGULARISERS = ("l1_regularization", "l2_regularization")
FUNCTIONS = LINEAR + SCORES + REGULARISERS
LOSS_W = ("loss", "dW")
LOSS_X = ("loss", "dx")
SUM_NOT_MEAN = "sum where the mean was asked (loss N times too large)"
REG_GRAD_WITHOUT_2 = "regularisation gradient reg*W instead of 2*reg*W"
WRONG_AXIS = "softmax normalised over the wrong axis"


# -- inputs ------------------------------------------------------------------------------------
def _away_from_hinge(scores: np.ndarray, y: np.ndarray) -> bool:
    """True when no SVM margin is within 1e-3 of its kink (numeric gradients need that)."""
    margins = scores - scores[np.arange(len(y)), y][:, None] + 1.0
    margins[np.arange(len(y)), y] = 10.0
    return bool(np.min(np.abs(margins)) > 1e-3)


def linear(N: int, D: int, C: int, reg: float, shift: float = 0.0) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            W = 0.5 * rng.standard_normal((D, C))
            X = rng.standard_normal((N, D))
            y = rng.integers(0, C, N)
            if shift:
                X[:, 0] = 1.0
                W[0, :] = shift + rng.uniform(0.0, 2.0, C)
            if _away_from_hinge(X @ W, y):
                return W, X, y, reg
        raise RuntimeError("could not draw SVM inputs away from the hinge")

    return make


def scores(N: int, C: int, shift: float = 0.0) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            x = rng.standard_normal((N, C)) * 1.5 + shift
            y = rng.integers(0, C, N)
            if _away_from_hinge(x, y):
                return x, y
        raise RuntimeError("could not draw scores away from the hinge")

    return make


def zero_margins(N: int, D: int, C: int, reg: float) -> Make:
    """Integer X and W: scores, and so margins, are exact integers, some of them exactly 0 (the
    hinge's kink, inactive by the docstring's convention)."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            W = rng.integers(-1, 2, (D, C)).astype(np.float64)
            X = rng.integers(-2, 3, (N, D)).astype(np.float64)
            y = rng.integers(0, C, N)
            margins = X @ W - (X @ W)[np.arange(N), y][:, None] + 1.0
            margins[np.arange(N), y] = 1.0
            if np.sum(margins == 0) >= 2:
                return W, X, y, reg
        raise RuntimeError("could not draw SVM inputs with zero margins")

    return make


def zero_margin_scores(N: int, C: int) -> Make:
    """Integer scores with some margins exactly 0."""

    def make(rng: np.random.Generator) -> tuple:
        x = rng.integers(-3, 4, (N, C)).astype(np.float64)
        y = rng.integers(0, C, N)
        for i in range(0, N, 2):  # every other row: one wrong class exactly at the margin
            j = (y[i] + 1) % C
            x[i, j] = x[i, y[i]] - 1.0
        return x, y

    return make


def far_rows(N: int, D: int, C: int, reg: float) -> Make:
    """Scores of row 0 near +700 and of row 1 near -100, the others near 0 (X[:, 0] is a per-row
    offset, W[0] the same for every class): a max-shift by the batch's maximum sends row 1 to
    exp(-800) = 0 (log 0), while no shift at all still fits in float64 (exp(700) ~ 1e304), so
    this case tells the two mistakes apart."""

    def make(rng: np.random.Generator) -> tuple:
        W, X, y, reg_ = linear(N, D, C, reg)(rng)
        W[0, :] = 1.0
        X[:, 0] = 0.0
        X[0, 0], X[1, 0] = 700.0, -100.0
        return W, X, y, reg_

    return make


def far_row_scores(N: int, C: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x, y = scores(N, C)(rng)
        x[0] += 700.0
        x[1] -= 100.0
        return x, y

    return make


def spread_row(N: int, D: int, C: int, reg: float) -> Make:
    """Row 0's scores spread from about -500 to +500 (X[0, 0] = 1 picks W[0], which holds
    +-500; X[:, 0] is 0 elsewhere): shifting by the row's minimum instead of its maximum
    overflows (exp(1000)), while the row max-shift, and even no shift, stay finite. Row 0's
    label is its top class: a correct loss that takes log of the probabilities (not a
    log-softmax) would get log(exp(-1000)) = log(0) for a label at the bottom."""

    def make(rng: np.random.Generator) -> tuple:
        W, X, y, reg_ = linear(N, D, C, reg)(rng)
        W[0, :] = np.linspace(-500.0, 500.0, C)
        X[:, 0] = 0.0
        X[0, 0] = 1.0
        y[0] = C - 1
        return W, X, y, reg_

    return make


def spread_row_scores(N: int, C: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x, y = scores(N, C)(rng)
        x[0] += np.linspace(-500.0, 500.0, C)
        y[0] = C - 1  # the top class (see spread_row)
        return x, y

    return make


def weights(shape: tuple[int, ...], reg: float) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        W = rng.standard_normal(shape)
        W = np.where(np.abs(W) < 1e-2, 0.5, W)  # away from l1's kink at 0
        return W, reg

    return make


def weights_with_zeros(shape: tuple[int, ...], reg: float) -> Make:
    """Weights of which about a third are exactly 0, where l1's subgradient is pinned to 0."""

    def make(rng: np.random.Generator) -> tuple:
        W, reg_ = weights(shape, reg)(rng)
        zeros = rng.random(shape) < 1 / 3
        zeros.flat[0] = True  # at least one
        return np.where(zeros, 0.0, W), reg_

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _no_reg_in_loss(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dW = getattr(r, fn)(W, X, y, reg)
        return loss - reg * np.sum(W * W), dW

    return variant


def _reg_grad_per_example(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dW = getattr(r, fn)(W, X, y, reg)
        return loss, dW + (X.shape[0] - 1) * 2 * reg * W

    return variant


def _divide_by_c(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dW = getattr(r, fn)(W, X, y, 0.0)
        N, C = X.shape[0], W.shape[1]
        return loss * N / C + reg * np.sum(W * W), dW * N / C + 2 * reg * W

    return variant


def _sum_not_mean_linear(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dW = getattr(r, fn)(W, X, y, 0.0)  # the data term alone; reg is not averaged
        N = X.shape[0]
        return loss * N + reg * np.sum(W * W), dW * N + 2 * reg * W

    return variant


def _sum_not_mean_scores(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, x: np.ndarray, y: np.ndarray) -> tuple:
        loss, dx = getattr(r, fn)(x, y)
        return loss * x.shape[0], dx * x.shape[0]

    return variant


def _reg_grad_without_2_linear(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dW = getattr(r, fn)(W, X, y, reg)
        return loss, dW - reg * W

    return variant


def _reg_grad_without_2_l2(r: ModuleType, W: np.ndarray, reg: float) -> tuple:
    loss, _ = r.l2_regularization(W, reg)
    return loss, reg * W


def _softmax_over_batch(scores: np.ndarray, y: np.ndarray, shift_axis: int) -> tuple:
    """Loss and dscores of a softmax whose probabilities are normalised over the batch (axis 0)
    instead of the classes (axis 1), after the max-shift over ``shift_axis`` (1: as asked, the
    normalisation alone is wrong; 0: every axis wrong, which equals the unshifted softmax over
    the batch without its overflow)."""
    shifted = scores - np.max(scores, axis=shift_axis, keepdims=True)
    e = np.exp(shifted)
    p = e / e.sum(axis=0, keepdims=True)
    N = scores.shape[0]
    loss = -np.mean(np.log(p[np.arange(N), y]))
    p[np.arange(N), y] -= 1
    return loss, p / N


def _wrong_axis_linear(shift_axis: int) -> Callable[..., tuple]:
    def variant(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
        loss, dscores = _softmax_over_batch(X @ W, y, shift_axis)
        return loss + reg * np.sum(W * W), X.T @ dscores + 2 * reg * W

    return variant


def _wrong_axis_scores(shift_axis: int) -> Callable[..., tuple]:
    def variant(r: ModuleType, x: np.ndarray, y: np.ndarray) -> tuple:
        return _softmax_over_batch(x, y, shift_axis)

    return variant


def _correct_class_margin(fn: str) -> Callable[..., tuple]:
    def variant(r: ModuleType, *args: object) -> tuple:
        loss, grad = getattr(r, fn)(*args)
        return loss + 1.0, grad

    return variant


def _softmax_unshifted(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    e = np.exp(scores)
    p = e / e.sum(axis=1, keepdims=True)
    N = scores.shape[0]
    loss = -np.mean(np.log(p[np.arange(N), y]))
    p[np.arange(N), y] -= 1
    return loss, p / N


def _no_max_shift_linear(
    r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple:
    loss, dscores = _softmax_unshifted(X @ W, y)
    return loss + reg * np.sum(W * W), X.T @ dscores + 2 * reg * W


def _no_max_shift_scores(r: ModuleType, x: np.ndarray, y: np.ndarray) -> tuple:
    return _softmax_unshifted(x, y)


def _svm_zero_margin_active(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """SVM loss and dscores with a margin of exactly 0 counted as active (margin >= 0)."""
    N = scores.shape[0]
    rows = np.arange(N)
    raw = scores - scores[rows, y][:, None] + 1.0
    raw[rows, y] = -1.0
    loss = float(np.sum(np.maximum(raw, 0.0))) / N
    coeff = (raw >= 0).astype(np.float64)
    coeff[rows, y] = -np.sum(coeff, axis=1)
    return loss, coeff / N


def _zero_margin_linear(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float):
    loss, dscores = _svm_zero_margin_active(X @ W, y)
    return loss + reg * np.sum(W * W), X.T @ dscores + 2 * reg * W


def _zero_margin_scores(r: ModuleType, x: np.ndarray, y: np.ndarray) -> tuple:
    return _svm_zero_margin_active(x, y)


def _softmax_global_shift(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax loss and dscores after subtracting the batch's one max (not each row's)."""
    with np.errstate(all="ignore"):
        e = np.exp(scores - np.max(scores))
        p = e / e.sum(axis=1, keepdims=True)
        N = scores.shape[0]
        loss = -np.mean(np.log(p[np.arange(N), y]))
        p[np.arange(N), y] -= 1
    return float(loss), p / N


def _global_shift_linear(r: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float):
    loss, dscores = _softmax_global_shift(X @ W, y)
    with np.errstate(all="ignore"):
        return loss + reg * np.sum(W * W), X.T @ dscores + 2 * reg * W


def _global_shift_scores(r: ModuleType, x: np.ndarray, y: np.ndarray) -> tuple:
    return _softmax_global_shift(x, y)


def _l1_with_sign(sign: Callable[[np.ndarray], np.ndarray]) -> Callable[..., tuple]:
    """l1 with the subgradient ``reg * sign(W)`` for another ``sign`` (wrong at W == 0)."""

    def variant(r: ModuleType, W: np.ndarray, reg: float) -> tuple:
        with np.errstate(all="ignore"):
            return reg * float(np.sum(np.abs(W))), reg * sign(W)

    return variant


ZERO_MARGIN = "a margin of exactly 0 counted as active (margin >= 0)"
GLOBAL_SHIFT = "max-shift by the batch's maximum instead of each row's"
L1_AT_ZERO = "L1 subgradient not 0 at W == 0"


def _edge_misconceptions() -> list[Misconception]:
    found = []
    for fn in ("svm_loss_naive", "svm_loss_vectorized", "svm_loss"):
        found.append(
            Misconception(
                fn,
                ZERO_MARGIN,
                "count a margin only when it is > 0: at exactly 0 the hinge is inactive "
                "(subgradient 0), as the docstring says",
                _zero_margin_scores if fn == "svm_loss" else _zero_margin_linear,
            )
        )
    for fn in ("softmax_loss_naive", "softmax_loss_vectorized", "softmax_loss"):
        found.append(
            Misconception(
                fn,
                GLOBAL_SHIFT,
                "subtract each row's own max (np.max(scores, axis=1, keepdims=True)): with one "
                "max for the batch, a row far below it underflows to exp(...) = 0 and log(0)",
                _global_shift_scores if fn == "softmax_loss" else _global_shift_linear,
            )
        )
    for sign in (  # W / |W| is NaN at 0; the two-valued signs give +1 or -1 there
        lambda W: W / np.abs(W),
        lambda W: np.where(W >= 0, 1.0, -1.0),
        lambda W: np.where(W > 0, 1.0, -1.0),
    ):
        found.append(
            Misconception(
                "l1_regularization",
                L1_AT_ZERO,
                "use reg * np.sign(W): np.sign(0) is 0, the subgradient the docstring asks for "
                "where W == 0 (W / np.abs(W) is NaN there, np.where(W >= 0, 1, -1) is 1)",
                _l1_with_sign(sign),
            )
        )
    return found


def _misconceptions() -> list[Misconception]:
    found = []
    for fn in LINEAR:
        found += [
            Misconception(
                fn,
                "regularisation missing from the loss",
                "add reg * np.sum(W * W) to the loss, not only 2 * reg * W to dW",
                _no_reg_in_loss(fn),
            ),
            Misconception(
                fn,
                "regularisation gradient added once per example",
                "add 2 * reg * W once, after averaging over the batch, outside the loop",
                _reg_grad_per_example(fn),
            ),
            Misconception(
                fn,
                "dividing by the number of classes C instead of the batch size N",
                "average the data loss and its gradient over N = X.shape[0]",
                _divide_by_c(fn),
            ),
        ]
    for fn in LINEAR + SCORES:
        found.append(
            Misconception(
                fn,
                SUM_NOT_MEAN,
                "divide the data loss and its gradient by N = "
                f"{'X' if fn in LINEAR else 'x'}.shape[0] (the mean over the batch)"
                + ("; add the regularisation after, not divided" if fn in LINEAR else ""),
                _sum_not_mean_linear(fn) if fn in LINEAR else _sum_not_mean_scores(fn),
            )
        )
    for fn in LINEAR:
        found.append(
            Misconception(
                fn,
                REG_GRAD_WITHOUT_2,
                "the derivative of reg * sum(W * W) is 2 * reg * W",
                _reg_grad_without_2_linear(fn),
            )
        )
    found.append(
        Misconception(
            "l2_regularization",
            REG_GRAD_WITHOUT_2,
            "the derivative of reg * sum(W * W) is 2 * reg * W (no factor 0.5 in this loss)",
            _reg_grad_without_2_l2,
        )
    )
    for fn in ("svm_loss_naive", "svm_loss_vectorized", "svm_loss"):
        found.append(
            Misconception(
                fn,
                "correct-class margin counted",
                "skip j == y[i]: the correct class contributes no margin (it adds 1 per example)",
                _correct_class_margin(fn),
                compare=("loss",),  # the gradient terms of that margin cancel in loops
            )
        )
    for fn in ("softmax_loss_naive", "softmax_loss_vectorized"):
        found.append(
            Misconception(
                fn,
                "no max-shift before exp",
                "subtract the row maximum from the scores before np.exp; exp(1000) overflows",
                _no_max_shift_linear,
                compare=("loss",),
            )
        )
    found.append(
        Misconception(
            "softmax_loss",
            "no max-shift before exp",
            "subtract the row maximum from x before np.exp; exp(1000) overflows",
            _no_max_shift_scores,
            compare=("loss",),
        )
    )
    for fn in ("softmax_loss_vectorized", "softmax_loss"):
        for shift_axis in (1, 0):  # the row max-shift as asked, or that one wrong too
            found.append(
                Misconception(
                    fn,
                    WRONG_AXIS,
                    "sum the exponentials over the classes of each example: "
                    "np.sum(..., axis=1, keepdims=True), not axis=0 (the batch)",
                    _wrong_axis_linear(shift_axis)
                    if fn in LINEAR
                    else _wrong_axis_scores(shift_axis),
                )
            )
    return found


MISCONCEPTIONS = tuple(_misconceptions() + _edge_misconceptions())


# -- properties ----------------------------------------------------------------------------------
def _evidence(
    ctx: Context, fn: str, args: tuple, got: tuple, names: tuple[str, ...]
) -> Observation:
    """One plain call of ``fn``: the student's outputs ``got`` for ``args`` (names a mistake)."""
    return Observation(fn, describe_call(fn, param_names(ctx, fn), args), args, got, names)


def _zero_weights(fn: str) -> Callable[[Context], Verdict]:
    """With W = 0 every score is 0: softmax loss is log C, SVM loss is C - 1."""

    def body(ctx: Context) -> Verdict:
        D, C, N = 6, 5, 7
        W = np.zeros((D, C))
        X = ctx.rng.standard_normal((N, D))
        y = ctx.rng.integers(0, C, N)
        got = student_outputs(ctx, fn, (W, X, y, 0.3), LOSS_W)
        want = np.log(C) if fn.startswith("softmax") else float(C - 1)
        return expect_close(
            ctx,
            fn,
            f"loss at W = 0 equals {'log C' if want != C - 1 else 'C - 1'}",
            ("loss",),
            got[:1],
            (want,),
            1e-9,
            evidence=_evidence(ctx, fn, (W, X, y, 0.3), got, LOSS_W),
        )

    return body


def _regulariser_law(fn: str) -> Callable[[Context], Verdict]:
    """loss(reg) - loss(0) == reg * sum(W*W) and dW(reg) - dW(0) == 2 * reg * W."""

    def body(ctx: Context) -> Verdict:
        W, X, y, _ = linear(9, 5, 4, 0.0)(ctx.rng)
        reg = 0.7
        with_reg = student_outputs(ctx, fn, (W, X, y, reg), LOSS_W)
        without = student_outputs(ctx, fn, (W, X, y, 0.0), LOSS_W)
        got = (float(with_reg[0]) - float(without[0]), with_reg[1] - without[1])
        want = (reg * float(np.sum(W * W)), 2 * reg * W)
        return expect_close(
            ctx,
            fn,
            "regularisation adds reg*sum(W*W) to the loss and 2*reg*W to dW",
            LOSS_W,
            got,
            want,
            1e-7,
            evidence=_evidence(ctx, fn, (W, X, y, reg), with_reg, LOSS_W),
        )

    return body


def _shift_invariance(fn: str) -> Callable[[Context], Verdict]:
    """Adding a constant to every score of an example changes neither the loss nor dx."""

    def body(ctx: Context) -> Verdict:
        x, y = scores(8, 6)(ctx.rng)
        c = ctx.rng.uniform(-5, 5, (8, 1))
        base = student_outputs(ctx, fn, (x, y), LOSS_X)
        shifted = student_outputs(ctx, fn, (x + c, y), LOSS_X)
        return expect_close(
            ctx,
            fn,
            "invariance to adding a constant to each row of scores",
            LOSS_X,
            shifted,
            base,
            1e-8,
            evidence=_evidence(ctx, fn, (x + c, y), shifted, LOSS_X),
        )

    return body


def _l2_linear_in_reg(ctx: Context) -> Verdict:
    W, _ = weights((5, 4), 0.0)(ctx.rng)
    one = student_outputs(ctx, "l2_regularization", (W, 0.25), LOSS_W)
    three = student_outputs(ctx, "l2_regularization", (W, 0.75), LOSS_W)
    return expect_close(
        ctx,
        "l2_regularization",
        "loss and dW are linear in reg",
        LOSS_W,
        three,
        (3 * float(one[0]), 3 * one[1]),
        1e-9,
    )


def _l1_symmetric(ctx: Context) -> Verdict:
    W, reg = weights((4, 6), 0.4)(ctx.rng)
    pos = student_outputs(ctx, "l1_regularization", (W, reg), LOSS_W)
    neg = student_outputs(ctx, "l1_regularization", (-W, reg), LOSS_W)
    return expect_close(
        ctx,
        "l1_regularization",
        "loss(-W) == loss(W) and dW(-W) == -dW(W)",
        LOSS_W,
        neg,
        (float(pos[0]), -pos[1]),
        1e-12,
    )


# -- checks --------------------------------------------------------------------------------------
def checks() -> list[Check]:
    found: list[Check] = []
    for fn in LINEAR:
        found += [
            Reference(TOPIC, fn, "random N=8 D=5 C=4 reg=0.1", linear(8, 5, 4, 0.1), LOSS_W),
            Reference(TOPIC, fn, "batch of 1 (N=1 D=3 C=5)", linear(1, 3, 5, 0.2), LOSS_W),
            Reference(TOPIC, fn, "no regularisation (reg=0)", linear(10, 6, 3, 0.0), LOSS_W),
            Reference(TOPIC, fn, "two classes (C=2)", linear(12, 4, 2, 0.05), LOSS_W),
            Reference(
                TOPIC,
                fn,
                "N=64 D=40 C=10 reg=0.05",
                linear(64, 40, 10, 0.05),
                LOSS_W,
                hidden=True,
            ),
            LossGradient(
                TOPIC,
                fn,
                "numeric dW, elementwise (N=6 D=4 C=3 reg=0.3)",
                linear(6, 4, 3, 0.3),
                LOSS_W,
            ),
            LossGradient(
                TOPIC,
                fn,
                "numeric dW, directional (N=40 D=30 C=10 reg=0.1)",
                linear(40, 30, 10, 0.1),
                LOSS_W,
                mode="directional",
            ),
            Property(TOPIC, fn, "zero weights", _zero_weights(fn)),
            Property(TOPIC, fn, "regularisation term", _regulariser_law(fn)),
            NoMutation(TOPIC, fn, "inputs unchanged", linear(7, 5, 4, 0.1), LOSS_W),
            Deterministic(TOPIC, fn, "deterministic", linear(7, 5, 4, 0.1), LOSS_W),
        ]
        if fn.startswith("svm"):
            found.append(
                Reference(
                    TOPIC, fn, "margins of exactly 0 (inactive)", zero_margins(8, 5, 4, 0.1), LOSS_W
                )
            )
        if fn.startswith("softmax"):
            found.append(
                Reference(
                    TOPIC,
                    fn,
                    "one row near +700, one near -100 (per-row max-shift)",
                    far_rows(6, 4, 5, 0.1),
                    LOSS_W,
                    kind=Kind.HYGIENE,
                )
            )
            found.append(
                Reference(
                    TOPIC,
                    fn,
                    "large scores (about +1000)",
                    linear(10, 5, 4, 0.1, shift=1000.0),
                    LOSS_W,
                    kind=Kind.HYGIENE,
                )
            )
            found.append(
                Reference(
                    TOPIC,
                    fn,
                    "one row spread from -500 to +500 (shift by the max, not the min)",
                    spread_row(6, 4, 5, 0.01),
                    LOSS_W,
                    kind=Kind.HYGIENE,
                )
            )
    for fn in SCORES:
        found += [
            Reference(TOPIC, fn, "random N=10 C=5", scores(10, 5), LOSS_X),
            Reference(TOPIC, fn, "batch of 1 (C=7)", scores(1, 7), LOSS_X),
            Reference(TOPIC, fn, "two classes (C=2)", scores(9, 2), LOSS_X),
            Reference(TOPIC, fn, "N=100 C=10", scores(100, 10), LOSS_X, hidden=True),
            LossGradient(TOPIC, fn, "numeric dx, elementwise (N=4 C=3)", scores(4, 3), LOSS_X),
            LossGradient(
                TOPIC,
                fn,
                "numeric dx, directional (N=50 C=10)",
                scores(50, 10),
                LOSS_X,
                mode="directional",
            ),
            Property(TOPIC, fn, "shift invariance", _shift_invariance(fn)),
            NoMutation(TOPIC, fn, "inputs unchanged", scores(6, 4), LOSS_X),
            Deterministic(TOPIC, fn, "deterministic", scores(6, 4), LOSS_X),
        ]
    found += [
        Reference(
            TOPIC, "svm_loss", "margins of exactly 0 (inactive)", zero_margin_scores(8, 5), LOSS_X
        ),
        Reference(
            TOPIC,
            "softmax_loss",
            "one row near +700, one near -100 (per-row max-shift)",
            far_row_scores(6, 5),
            LOSS_X,
            kind=Kind.HYGIENE,
        ),
    ]
    found.append(
        Reference(
            TOPIC,
            "softmax_loss",
            "large scores (about +1000)",
            scores(10, 5, shift=1000.0),
            LOSS_X,
            kind=Kind.HYGIENE,
        )
    )
    found.append(
        Reference(
            TOPIC,
            "softmax_loss",
            "one row spread from -500 to +500 (shift by the max, not the min)",
            spread_row_scores(6, 5),
            LOSS_X,
            kind=Kind.HYGIENE,
        )
    )
    for fn in REGULARISERS:
        found += [
            Reference(TOPIC, fn, "random (4, 3) reg=0.1", weights((4, 3), 0.1), LOSS_W),
            Reference(TOPIC, fn, "single weight (1, 1)", weights((1, 1), 2.0), LOSS_W),
            Reference(TOPIC, fn, "(30, 20) reg=0.01", weights((30, 20), 0.01), LOSS_W, hidden=True),
            LossGradient(TOPIC, fn, "numeric dW, elementwise (3, 4)", weights((3, 4), 0.5), LOSS_W),
            LossGradient(
                TOPIC,
                fn,
                "numeric dW, directional (40, 30)",
                weights((40, 30), 0.2),
                LOSS_W,
                mode="directional",
            ),
            NoMutation(TOPIC, fn, "inputs unchanged", weights((3, 3), 0.1), LOSS_W),
        ]
    found.append(
        Reference(
            TOPIC,
            "l1_regularization",
            "exact zeros in W (subgradient 0 there)",
            weights_with_zeros((5, 4), 0.3),
            LOSS_W,
        )
    )
    found.append(Property(TOPIC, "l2_regularization", "linear in reg", _l2_linear_in_reg))
    found.append(Property(TOPIC, "l1_regularization", "symmetric in W", _l1_symmetric))
    return found
