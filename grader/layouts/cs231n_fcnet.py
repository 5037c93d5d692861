"""CS231n-only checks: ``FullyConnectedNet`` of ``cs231n/classifiers/fc_net.py``.

The kit has no FullyConnectedNet (its backprop topic stops at ``TwoLayerNet``), so a CS231n
tree that has one is graded by this check set, which the layout declares (``cs231n.EXTRA``) and
the pipeline runs with the topic's own checks. The reference is built from the kit's reference
layer functions (the topic's ``affine_*`` and ``relu_*``, plus a softmax written here):
``{affine - relu} x (L - 1) - affine - softmax`` with the L2 term ``0.5 * reg * sum(W*W)`` over
every W (CS231n's fc_net convention, as for TwoLayerNet). The net is built with keyword
arguments only (``hidden_dims, input_dim, num_classes, reg, weight_scale, dtype``), whose
meaning is the same in every year 2017-2024; dropout and normalisation keep their defaults
(off in every year, whatever the dropout argument is called). ``dtype`` is passed as the
string ``"float64"``, which ``astype`` accepts as it does ``np.float64``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import PASS, Context, Kind, Outcome, Verdict
from grader.checks.diagnose import compare_tree
from grader.checks.outputs import conform, conform_outputs
from grader.checks.property import Property
from grader.config import CheckPlan
from grader.judge import numgrad
from grader.judge.compare import gradient_error
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle

TOPIC, NET = "backprop", "FullyConnectedNet"
TOL = 1e-7


def _keys(layers: int) -> list[str]:
    return [f"{p}{i}" for i in range(1, layers + 1) for p in ("W", "b")]


def _draw(rng: np.random.Generator, N: int, dims: list[int], C: int) -> tuple[dict, np.ndarray]:
    """Parameters and inputs with every hidden pre-activation away from the ReLU kink."""
    sizes = [dims[0], *dims[1:], C]
    for _ in range(1000):
        params = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            params[f"W{i}"] = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
            params[f"b{i}"] = 0.1 * rng.standard_normal(fan_out)
        X = rng.standard_normal((N, dims[0]))
        h, ok = X, True
        for i in range(1, len(sizes) - 1):
            a = h @ params[f"W{i}"] + params[f"b{i}"]
            ok = ok and float(np.min(np.abs(a))) > 1e-3
            h = np.maximum(a, 0)
        if ok:
            return params, X
    raise RuntimeError("could not draw network inputs away from the ReLU kink")


def reference_loss(
    ref: ModuleType, params: dict, X: np.ndarray, y: np.ndarray | None, reg: float
) -> tuple:
    """(scores,) when ``y`` is None, else (loss, grads), from the reference layer functions."""
    layers = len(params) // 2
    h, caches = X, []
    for i in range(1, layers):
        a, fc = ref.affine_forward(h, params[f"W{i}"], params[f"b{i}"])
        h, rc = ref.relu_forward(a)
        caches.append((fc, rc))
    scores, last = ref.affine_forward(h, params[f"W{layers}"], params[f"b{layers}"])
    if y is None:
        return (scores,)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = X.shape[0]
    loss = -float(np.mean(log_probs[np.arange(N), y]))
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dh, dW, db = ref.affine_backward(dscores / N, last)
    grads = {f"W{layers}": dW, f"b{layers}": db}
    for i in range(layers - 1, 0, -1):
        fc, rc = caches[i - 1]
        dh, grads[f"W{i}"], grads[f"b{i}"] = ref.affine_backward(ref.relu_backward(dh, rc), fc)
    for i in range(1, layers + 1):
        loss += 0.5 * reg * float(np.sum(params[f"W{i}"] ** 2))
        grads[f"W{i}"] = grads[f"W{i}"] + reg * params[f"W{i}"]
    return loss, {k: grads[k] for k in _keys(layers)}


def _build(ctx: Context, dims: list[int], C: int, reg: float, scale: float = 1e-2) -> Handle:
    kwargs = {
        "hidden_dims": list(dims[1:]),
        "input_dim": dims[0],
        "num_classes": C,
        "reg": reg,
        "weight_scale": scale,
        "dtype": "float64",
    }
    reply = ctx.student.call(Call(NET, (), kwargs, keep="all"))
    if not isinstance(reply.value, Handle):
        raise StudentFault("bad_output", f"{NET}(...) did not produce an object")
    return reply.value


def _describe(dims: list[int], C: int, reg: float, X: np.ndarray, labels: bool) -> str:
    return (
        f"{NET}(hidden_dims={dims[1:]}, input_dim={dims[0]}, num_classes={C}, reg={reg:g})"
        f".loss(X {X.shape}" + (", y)" if labels else ")")
    )


def _loss_check(N: int, dims: list[int], C: int, reg: float, labels: bool) -> Callable:
    def body(ctx: Context) -> Verdict:
        params, X = _draw(ctx.rng, N, dims, C)
        y = ctx.rng.integers(0, C, N) if labels else None
        net = _build(ctx, dims, C, reg)
        assign = [("params", k, v) for k, v in params.items()]
        args = (X, y) if labels else (X,)
        reply = ctx.student.call(Call("loss", args, assign=assign, target=net))
        expected = reference_loss(ctx.ref, copy.deepcopy(params), X, y, reg)
        names = ("loss", "grads") if labels else ("scores",)
        got = conform_outputs(reply.value, expected, names, f"{NET}.loss")
        if labels and set(got[1]) != set(expected[1]):
            return Verdict(
                Outcome.BAD_OUTPUT,
                f"{NET}.loss: grads has keys {sorted(got[1])}, expected {sorted(expected[1])}",
            )
        found = [c for n, g, e in zip(names, got, expected) for c in compare_tree(n, g, e, TOL)]
        bad = [c for c in found if not c.ok]
        if not bad:
            return PASS
        lines = [f"{_describe(dims, C, reg, X, labels)} differs from the reference:"]
        lines += ["  " + c.describe() for c in bad[:3]]
        lines.append(
            "  the reference: {affine - relu} x (L-1) - affine - softmax, mean over N, plus "
            "0.5 * reg * sum(W*W) for every W (biases not regularised)"
        )
        return Verdict(Outcome.WRONG, "\n".join(lines))

    return body


def _numeric_check(N: int, dims: list[int], C: int, reg: float) -> Callable:
    def body(ctx: Context) -> Verdict:
        params, X = _draw(ctx.rng, N, dims, C)
        y = ctx.rng.integers(0, C, N)
        net = _build(ctx, dims, C, reg)
        assign = [("params", k, v) for k, v in params.items()]
        reply = ctx.student.call(Call("loss", (X, y), assign=assign, target=net))
        expected = reference_loss(ctx.ref, copy.deepcopy(params), X, y, reg)
        got = conform_outputs(reply.value, expected, ("loss", "grads"), f"{NET}.loss")
        for key in params:
            if key not in got[1]:
                return Verdict(Outcome.BAD_OUTPUT, f"{NET}.loss: grads has no {key!r}")

            def evaluate(points: list[np.ndarray], key: str = key) -> list[float]:
                others = [a for a in assign if a[1] != key]
                calls = [
                    Call("loss", (X, y), target=net, assign=[*others, ("params", key, p)])
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
                f"grads[{key!r}]", np.asarray(got[1][key]), numeric.values, 1e-6, numeric.roundoff
            )
            if not cmp.ok:
                return Verdict(
                    Outcome.WRONG,
                    f"{_describe(dims, C, reg, X, True)}: grads[{key!r}] differs from the "
                    f"numeric gradient of your own loss.\n  {cmp.describe()}\n  check the "
                    "backward pass through this layer (chain rule).",
                )
        return PASS

    return body


def _init_check(ctx: Context) -> Verdict:
    dims, C, scale = [120, 80, 60], 40, 0.05  # 4800+ weights a matrix: statistics far from chance
    net = _build(ctx, dims, C, 0.1, scale)
    params = ctx.student.getattr(net, "params")
    sizes = [*dims, C]
    shapes = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    conform(params, {k: np.zeros(s) for k, s in shapes.items()}, f"{NET}.params")
    for key, shape in shapes.items():
        value = np.asarray(params[key])
        if value.shape != shape:
            return Verdict(
                Outcome.WRONG, f"{NET}.params[{key!r}] has shape {value.shape}, expected {shape}"
            )
        if key.startswith("b") and np.any(value != 0):
            return Verdict(Outcome.WRONG, f"{NET}.params[{key!r}] should start at zeros")
        std, mean = float(np.std(value)), float(np.mean(value))
        if key.startswith("W") and not (
            0.8 * scale < std < 1.2 * scale and abs(mean) < 0.25 * scale
        ):
            return Verdict(
                Outcome.WRONG,
                f"{NET}.params[{key!r}] has std {std:.4g} and mean {mean:.3g}; expected "
                f"weight_scale * randn, std {scale} mean 0",
            )
    return PASS


def _declare(case: str, body: Callable, kind: Kind = Kind.REFERENCE) -> Property:
    return Property(TOPIC, NET, case, body, kind=kind)


CHECKS: tuple[tuple[Property, float], ...] = (
    (
        _declare(
            "parameters: shapes, zero biases, weight_scale * randn", _init_check, Kind.PROPERTY
        ),
        1.0,
    ),
    (_declare("scores (y=None), hidden_dims [5]", _loss_check(4, [6, 5], 3, 0.0, False)), 1.0),
    (_declare("loss and grads, hidden_dims [5], reg 0", _loss_check(4, [6, 5], 3, 0.0, True)), 1.0),
    (
        _declare(
            "loss and grads, hidden_dims [6, 5, 4], reg 0.7",
            _loss_check(5, [7, 6, 5, 4], 3, 0.7, True),
        ),
        1.0,
    ),
    (
        _declare(
            "numeric gradient, hidden_dims [4, 3], reg 0.3",
            _numeric_check(3, [4, 4, 3], 3, 0.3),
            Kind.GRADIENT,
        ),
        2.0,
    ),
)


def plans() -> tuple[tuple[Property, CheckPlan], ...]:
    """The check set with its points (declared here: autograder.yml knows only kit checks)."""
    return tuple((check, CheckPlan(check.id, points, "visible")) for check, points in CHECKS)
