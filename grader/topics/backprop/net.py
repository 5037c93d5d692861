"""Topic ``backprop``, part two: the TwoLayerNet model and the weight initialisers.

Declarations only; ``grader.topics.backprop`` adds these checks and mistakes to its own. The
model's object stays in the worker behind a handle; the judge sets its parameters, calls
``loss`` and compares with the reference model given the same parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import PASS, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_tree, mismatch_verdict
from grader.checks.outputs import conform, conform_outputs
from grader.checks.property import Property
from grader.judge import numgrad
from grader.judge.compare import gradient_error
from grader.judge.expected import CachedReference, kept
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle, RngSeed

PARAMS = ("W1", "b1", "W2", "b2")


# -- inputs ------------------------------------------------------------------------------------
def net_case(N: int, D: int, H: int, C: int, reg: float, extra_dims: bool = False) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            params = {
                "W1": rng.standard_normal((D, H)) * 0.5,
                "b1": rng.standard_normal(H) * 0.1,
                "W2": rng.standard_normal((H, C)) * 0.5,
                "b2": rng.standard_normal(C) * 0.1,
            }
            X = rng.standard_normal((N, D))
            if np.min(np.abs(X @ params["W1"] + params["b1"])) > 1e-3:
                y = rng.integers(0, C, N)
                shaped = X.reshape(N, 1, D) if extra_dims else X
                return params, shaped, y, reg
        raise RuntimeError("could not draw network inputs away from the ReLU kink")

    return make


def large_scores_case(N: int, D: int, H: int, C: int, reg: float) -> Make:
    """Scores far from 0: row 0 spread from about -500 to +500, row 1 near +800, the others
    near 0. Hidden unit 0 fires for row 0 only and unit 1 for row 1 only (features 0 and 1 are
    their indicators), and W2's rows 0 and 1 hold the offsets. exp without a shift, after a
    shift by the row minimum, or by scores + max overflows; a shift by the batch's one maximum
    underflows the rows near 0 (log 0). Row 0's label is its top class, so a correct loss that
    takes log of the probabilities stays finite."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            params, X, y, reg_ = net_case(N, D, H, C, reg)(rng)
            W1, b1, W2 = params["W1"], params["b1"], params["W2"]
            for unit in (0, 1):
                X[:, unit] = -1.0
                X[unit, unit] = 1.5
                W1[:, unit] = 0.0
                W1[unit, unit] = 1.0
                b1[unit] = -0.5  # pre-activation 1 on its row, -1.5 elsewhere
            W2[0] = np.linspace(-500.0, 500.0, C)
            W2[1] += 800.0
            y[0] = C - 1
            if np.min(np.abs(X @ W1 + b1)) > 1e-3:
                return params, X, y, reg_
        raise RuntimeError("could not draw network inputs away from the ReLU kink")

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _reference_net(ref: ModuleType, params: dict, X: np.ndarray, reg: float) -> object:
    """The reference's TwoLayerNet holding ``params`` for inputs ``X`` (D: the size of one
    input, X may be image-shaped). Made only inside a kept call, whose plain-data answer a
    release holds where it could not hold the class."""
    module = ref.module if isinstance(ref, CachedReference) else ref
    net = module.TwoLayerNet(X[0].size, params["W1"].shape[1], params["W2"].shape[1], reg=reg)
    net.params = copy.deepcopy(params)
    return net


def _net_loss(
    ref: ModuleType,
    params: dict[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    reg: float,
    reg_factor: float = 1.0,
    reg_bias: bool = False,
) -> tuple[float, dict[str, np.ndarray]]:
    """The reference net's (loss, grads), one kept call (plain data in and out)."""

    def live(params: dict, X: np.ndarray, y: np.ndarray, reg: float, *how: object) -> tuple:
        reg_factor, reg_bias = how
        net = _reference_net(ref, params, X, reg * reg_factor)
        loss, grads = net.loss(X, y)
        if reg_bias:
            for key in ("b1", "b2"):
                loss += 0.5 * reg * float(np.sum(params[key] ** 2))
                grads[key] = grads[key] + reg * params[key]
        return loss, grads

    return kept(ref, "backprop.net_loss", live, params, X, y, reg, reg_factor, reg_bias)


def _net_scores(ref: ModuleType, params: dict, X: np.ndarray, reg: float) -> np.ndarray:
    """The reference net's scores (``loss(X)`` without labels), one kept call."""

    def live(params: dict, X: np.ndarray, reg: float) -> np.ndarray:
        return _reference_net(ref, params, X, reg).loss(X)

    return kept(ref, "backprop.net_scores", live, params, X, reg)


def _net_loss_unshifted(
    ref: ModuleType, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, None]:
    """The loss of a softmax without the row max-shift (grads are not modelled: compared on the
    loss only)."""
    scores = _reference_net(ref, params, X, reg).loss(X)
    with np.errstate(all="ignore"):
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        data = -np.mean(np.log(probs[np.arange(len(y)), y]))
    W1, W2 = params["W1"], params["W2"]
    return float(data + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))), None


NO_ROW_SHIFT = "softmax without the row max-shift (overflow at large scores)"

MISCONCEPTIONS = (
    Misconception(
        "TwoLayerNet",
        "L2 term reg*sum(W*W) instead of 0.5*reg*sum(W*W)",
        "fc nets use 0.5 * reg * sum(W * W) (gradient reg * W), unlike the linear classifiers",
        lambda ref, *a: _net_loss(ref, *a, reg_factor=2.0),
    ),
    Misconception(
        "TwoLayerNet",
        "biases regularised",
        "apply the L2 term to W1 and W2 only",
        lambda ref, *a: _net_loss(ref, *a, reg_bias=True),
    ),
    Misconception(
        "TwoLayerNet",
        NO_ROW_SHIFT,
        "subtract each row's own max, scores - np.max(scores, axis=1, keepdims=True), before "
        "np.exp: exp(800) overflows, and with one max for the whole batch a row far below it "
        "underflows to exp(...) = 0 and log(0)",
        _net_loss_unshifted,
        compare=("loss",),
    ),
)


# -- TwoLayerNet checks ------------------------------------------------------------------------
def _student_net(ctx: Context, params: dict, X: np.ndarray, reg: float) -> Handle:
    D, H = params["W1"].shape
    C = params["W2"].shape[1]
    reply = ctx.student.call(
        Call("TwoLayerNet", (D, H, C), {"weight_scale": 1e-3, "reg": reg}, keep="all")
    )
    if not isinstance(reply.value, Handle):
        raise StudentFault("bad_output", "TwoLayerNet(...) did not produce an object")
    return reply.value


def _net_loss_check(make: Make, with_labels: bool) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        params, X, y, reg = make(ctx.rng)
        net = _student_net(ctx, params, X, reg)
        assign = [("params", k, v) for k, v in params.items()]
        args = (X, y) if with_labels else (X,)
        reply = ctx.student.call(Call("loss", args, assign=assign, target=net))
        expected = _net_loss(ctx.ref, params, X, y, reg)
        names = ("loss", "grads") if with_labels else ("scores",)
        if not with_labels:
            expected = (_net_scores(ctx.ref, params, X, reg),)
        got = conform_outputs(reply.value, expected, names, "TwoLayerNet.loss")
        comparisons = [
            c for n, g, e in zip(names, got, expected) for c in compare_tree(n, g, e, 1e-7)
        ]
        if all(c.ok for c in comparisons):
            return PASS
        text = (
            f"TwoLayerNet(D={params['W1'].shape[0]}, H={params['W1'].shape[1]}, "
            f"C={params['W2'].shape[1]}, reg={reg:g}).loss(X {X.shape}"
            + (f", y {y.shape})" if with_labels else ")")
        )
        seen = Observation("TwoLayerNet", text, (params, X, y, reg), got, names, expected)
        return mismatch_verdict(ctx, seen, comparisons, 1e-7, "the reference")

    return body


def _net_numeric(make: Make) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        params, X, y, reg = make(ctx.rng)
        net = _student_net(ctx, params, X, reg)
        assign = [("params", k, v) for k, v in params.items()]
        reply = ctx.student.call(Call("loss", (X, y), assign=assign, target=net))
        expected = _net_loss(ctx.ref, params, X, y, reg)
        got = conform_outputs(reply.value, expected, ("loss", "grads"), "TwoLayerNet.loss")
        for key in PARAMS:

            def evaluate(points: list[np.ndarray], key: str = key) -> list[float]:
                calls = [
                    Call(
                        "loss",
                        (X, y),
                        target=net,
                        assign=[
                            *assign[: PARAMS.index(key)],
                            ("params", key, p),
                            *assign[PARAMS.index(key) + 1 :],
                        ],
                    )
                    for p in points
                ]
                values = []
                for r in ctx.student.batch(calls):
                    if not (isinstance(r.value, tuple) and r.value):
                        raise StudentFault("bad_output", "loss stopped returning (loss, grads)")
                    values.append(float(r.value[0]))
                return values

            numeric = numgrad.elementwise(evaluate, params[key])
            cmp = gradient_error(
                f"grads[{key!r}]", got[1][key], numeric.values, 1e-6, numeric.roundoff
            )
            if not cmp.ok:
                return Verdict(
                    Outcome.WRONG,
                    f"TwoLayerNet.loss: grads[{key!r}] differs from "
                    "the numeric gradient of your own loss.\n  "
                    + cmp.describe()
                    + "\n  check the backward pass through this layer (chain rule).",
                )
        return PASS

    return body


def _net_init(ctx: Context) -> Verdict:
    D, H, C, scale = 200, 100, 50, 0.05  # 5000+ weights a matrix: statistics far from chance
    reply = ctx.student.call(
        Call("TwoLayerNet", (D, H, C), {"weight_scale": scale, "reg": 0.1}, keep="all")
    )
    if not isinstance(reply.value, Handle):
        raise StudentFault("bad_output", "TwoLayerNet(...) did not produce an object")
    params = ctx.student.getattr(reply.value, "params")
    shapes = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    conform(params, {k: np.zeros(s) for k, s in shapes.items()}, "TwoLayerNet.params")
    for key in ("b1", "b2"):
        if np.any(params[key] != 0):
            return Verdict(Outcome.WRONG, f"TwoLayerNet.params[{key!r}] should start at zeros")
    for key in ("W1", "W2"):
        std, mean = float(np.std(params[key])), float(np.mean(params[key]))
        if not (0.8 * scale < std < 1.2 * scale and abs(mean) < 0.25 * scale):
            return Verdict(
                Outcome.WRONG,
                f"TwoLayerNet.params[{key!r}] has std {std:.4g} and "
                f"mean {mean:.3g}; expected weight_scale * randn, std {scale} mean 0",
            )
    return PASS


# -- initialisation checks ---------------------------------------------------------------------
def _init_stats(
    fn: str, fan_in: int, fan_out: int, a: float | None
) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        seed = int(ctx.rng.integers(2**31))
        args = (fan_in, fan_out, RngSeed(seed)) + (() if a is None else (a,))
        first, again = ctx.student.batch([Call(fn, args), Call(fn, args)])
        w = first.value
        conform(w, np.zeros((fan_in, fan_out)), f"{fn} result")
        if not np.array_equal(w, again.value):
            return Verdict(
                Outcome.WRONG,
                f"{fn}: two calls with generators of the same seed "
                "gave different weights; draw only from the rng argument",
            )
        if fn == "xavier_init":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            top = float(np.max(np.abs(w)))
            if top > bound or top < 0.95 * bound or abs(float(np.mean(w))) > 0.1 * bound:
                return Verdict(
                    Outcome.WRONG,
                    f"{fn}({fan_in}, {fan_out}): values should fill "
                    f"U(-{bound:.4g}, {bound:.4g}); max |w| is {top:.4g}, mean "
                    f"{float(np.mean(w)):.3g}",
                )
            return PASS
        std = np.sqrt(2.0 / (1.0 + (a or 0.0) ** 2)) / np.sqrt(fan_in)
        got = float(np.std(w))
        if not 0.95 * std < got < 1.05 * std or abs(float(np.mean(w))) > 0.1 * std:
            return Verdict(
                Outcome.WRONG,
                f"{fn}({fan_in}, {fan_out}, a={a}): std {got:.4g}, "
                f"expected gain/sqrt(fan_in) = {std:.4g} with gain sqrt(2/(1+a^2)) "
                "(fan_in, not fan_out)",
            )
        return PASS

    return body


def checks(topic: str) -> list[Check]:
    net = "TwoLayerNet"
    reference, gradient = Kind.REFERENCE, Kind.GRADIENT
    return [
        Property(topic, net, "initial parameters", _net_init),
        Property(
            topic,
            net,
            "scores (y=None)",
            _net_loss_check(net_case(5, 6, 4, 3, 0.0), False),
            kind=reference,
        ),
        Property(
            topic,
            net,
            "loss and grads, reg=0",
            _net_loss_check(net_case(6, 5, 7, 4, 0.0), True),
            kind=reference,
        ),
        Property(
            topic,
            net,
            "loss and grads, reg=0.7",
            _net_loss_check(net_case(6, 5, 7, 4, 0.7), True),
            kind=reference,
        ),
        Property(
            topic,
            net,
            "image-shaped X (N, 1, D)",
            _net_loss_check(net_case(4, 6, 5, 3, 0.1, extra_dims=True), True),
            kind=reference,
        ),
        Property(
            topic,
            net,
            "large scores (one row spread over +-500, one near +800)",
            _net_loss_check(large_scores_case(5, 4, 5, 4, 0.1), True),
            kind=Kind.HYGIENE,
        ),
        Property(
            topic,
            net,
            "N=32 D=20 H=15 C=10 reg=0.05",
            _net_loss_check(net_case(32, 20, 15, 10, 0.05), True),
            hidden=True,
            kind=reference,
        ),
        Property(
            topic,
            net,
            "numeric gradient of every parameter",
            _net_numeric(net_case(3, 4, 5, 3, 0.4)),
            kind=gradient,
        ),
        Property(
            topic,
            "xavier_init",
            "bound, mean and seeding (300x200)",
            _init_stats("xavier_init", 300, 200, None),
        ),
        Property(
            topic,
            "kaiming_init",
            "std and seeding, a=0 (400x300)",
            _init_stats("kaiming_init", 400, 300, 0.0),
        ),
        Property(
            topic,
            "kaiming_init",
            "std with leaky slope a=0.5 (500x100)",
            _init_stats("kaiming_init", 500, 100, 0.5),
        ),
    ]
