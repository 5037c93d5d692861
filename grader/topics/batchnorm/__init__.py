"""Topic ``batchnorm``: batch, layer, spatial batch and spatial group normalisation.

Declarations only: input makers, the checks, and the laws they test. The known mistakes live
in ``grader.topics.batchnorm.mistakes``; the checks of the running statistics that a forward
pass writes into ``bn_param``, and of mode validation, in ``grader.topics.batchnorm.state``.
Forward caches stay in the worker; the backward checks pass the student's own forward cache
to the student's backward (``batchnorm_backward_alt`` gets ``batchnorm_forward``'s cache).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.checks.base import PASS, Case, Check, Context, Kind, Make, Outcome, Verdict
from grader.checks.diagnose import Observation
from grader.checks.gradient import LayerGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import CACHE, describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import BackwardReference, Reference, backward_pass, param_names
from grader.topics.batchnorm.mistakes import MISCONCEPTIONS  # noqa: F401 (the registry reads it)
from grader.topics.batchnorm.state import (
    STATE,
    StatefulForward,
    reference_state,
    rejects_mode,
    student_state,
    with_mistake_named,
)

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "batchnorm"
SUMMARY = (
    "batch, layer, spatial batch and group normalisation; running statistics written back into "
    "`bn_param`"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
)
OUT = ("out", CACHE)
GRADS = ("dx", "dgamma", "dbeta")
XGB = (0, 1, 2)  # gradients with respect to x, gamma and beta


# -- inputs ------------------------------------------------------------------------------------
def _features(rng: np.random.Generator, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Normal data with a different offset and spread along ``axis`` (per feature/channel)."""
    size = [1] * len(shape)
    size[axis] = shape[axis]
    loc = rng.uniform(-2.0, 2.0, size)
    scale = rng.uniform(0.5, 2.0, size)
    return loc + scale * rng.standard_normal(shape)


def _scale_shift(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """gamma away from 1 (and from 0), beta away from 0: forgetting either one shows."""
    gamma = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    beta = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return gamma, beta


def _bn_param(rng: np.random.Generator, D: int, mode: str, running: bool, **extra: Any) -> dict:
    param: dict = {"mode": mode, **extra}
    if running:
        param["running_mean"] = rng.uniform(-1.0, 1.0, D)
        param["running_var"] = rng.uniform(0.5, 2.0, D)
    return param


def bn_case(
    N: int, D: int, mode: str = "train", running: bool = True, unit: bool = False, **extra: Any
) -> Make:
    """(x (N, D), gamma (D,), beta (D,), bn_param); ``extra`` goes into bn_param (eps,
    momentum); ``unit``: gamma = 1 and beta = 0."""

    def make(rng: np.random.Generator) -> tuple:
        x = _features(rng, (N, D), 1)
        gamma, beta = (np.ones(D), np.zeros(D)) if unit else _scale_shift(rng, (D,))
        return x, gamma, beta, _bn_param(rng, D, mode, running, **extra)

    return make


def far_from_zero(make: Make, offset: float = 1e8) -> Make:
    """``make``'s inputs with ``offset`` added to x (features near 1e8, spread about 1)."""

    def shifted(rng: np.random.Generator) -> tuple:
        x, *rest = make(rng)
        return (x + offset, *rest)

    return shifted


def ln_case(N: int, D: int, unit: bool = False, **ln_param: Any) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x = _features(rng, (N, D), 0)  # rows with different offsets and spreads
        gamma, beta = (np.ones(D), np.zeros(D)) if unit else _scale_shift(rng, (D,))
        return x, gamma, beta, dict(ln_param)

    return make


def spatial_case(
    shape: tuple[int, int, int, int], mode: str = "train", running: bool = True, **extra: Any
) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        C = shape[1]
        x = _features(rng, shape, 1)
        gamma, beta = _scale_shift(rng, (C,))
        return x, gamma, beta, _bn_param(rng, C, mode, running, **extra)

    return make


def gn_case(shape: tuple[int, int, int, int], G: int, unit: bool = False, **gn_param: Any) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        C = shape[1]
        x = _features(rng, shape, 1)
        if unit:
            gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
        else:
            gamma, beta = _scale_shift(rng, (1, C, 1, 1))
        return x, gamma, beta, G, dict(gn_param)

    return make


# -- laws ----------------------------------------------------------------------------------------
def _normalised_law(
    function: str, make: Make, axes: tuple[int, ...], what: str
) -> Callable[[Context], Verdict]:
    """With gamma = 1 and beta = 0 (train mode), out has mean 0 and mean square
    var / (var + eps) over ``axes``, var being the biased variance of x over the same axes."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        x = args[0]
        eps = args[-1].get("eps", 1e-5)
        var = x.var(axis=axes)
        if function in ("batchnorm_forward", "spatial_batchnorm_forward"):
            expected = reference_state(ctx, function, args)
            got = student_state(ctx, function, args, expected[0])
            names: tuple[str, ...] = STATE
        else:
            expected = tuple(getattr(ctx.ref, function)(*args))
            got = student_outputs(ctx, function, args, OUT)
            names = OUT
        out = got[0]
        verdict = expect_close(
            ctx,
            function,
            f"with gamma = 1, beta = 0: mean 0 and variance var / (var + eps) {what}",
            ("mean of out", "variance of out"),
            (out.mean(axis=axes), (out**2).mean(axis=axes)),
            (np.zeros_like(var), var / (var + eps)),
            1e-7,
        )
        text = describe_call(function, param_names(ctx, function), args)
        seen = Observation(function, text, args, got, names, expected)
        return with_mistake_named(ctx, verdict, seen, 1e-7)

    return body


def _affine_law(function: str, make: Make) -> Callable[[Context], Verdict]:
    """out(gamma, beta) == gamma * out(1, 0) + beta (the scale and shift come last)."""

    def body(ctx: Context) -> Verdict:
        x, gamma, beta, param = make(ctx.rng)
        plain = student_outputs(
            ctx, function, (x, np.ones_like(gamma), np.zeros_like(beta), param), OUT
        )
        scaled = student_outputs(ctx, function, (x, gamma, beta, param), OUT)
        return expect_close(
            ctx,
            function,
            "out(gamma, beta) == gamma * out(gamma=1, beta=0) + beta",
            ("out",),
            (scaled[0],),
            (gamma * plain[0] + beta,),
            1e-7,
        )

    return body


def _dx_sums_to_zero(
    function: str, forward: str, make: Make, axis: int
) -> Callable[[Context], Verdict]:
    """Shifting a feature (batchnorm) or an example (layernorm) by a constant does not change
    the output, so dx sums to zero along ``axis`` for any dout (up to roundoff: 1e-9 of the
    sum of |dx| along that axis)."""

    def body(ctx: Context) -> Verdict:
        run = backward_pass(ctx, forward, function, make(ctx.rng), GRADS)
        dx = run.seen.got[0]
        total, size = np.abs(dx.sum(axis=axis)), np.abs(dx).sum(axis=axis)
        worst = int(np.argmax(total - 1e-9 * size))
        if total[worst] <= 1e-9 * size[worst]:
            return PASS
        verdict = Verdict(
            Outcome.WRONG,
            f"{run.seen.call}: dx.sum(axis={axis}) should be 0 (the output does not change when "
            f"{'a feature' if axis == 0 else 'an example'} is shifted by a constant).\n"
            f"  worst at index {worst}: |sum| {total[worst]:.3g}, while the sum of |dx| there "
            f"is {size[worst]:.3g} (tolerance 1e-9 of it)",
        )
        return with_mistake_named(ctx, verdict, run.seen, 1e-7)

    return body


# -- checks --------------------------------------------------------------------------------------
def _backward_checks(
    backward: str, forward: str, cases: Sequence[Case], small: Make, large: Make
) -> list[Check]:
    found: list[Check] = [
        BackwardReference(TOPIC, backward, forward, case.name, case.make, GRADS, hidden=case.hidden)
        for case in cases
    ]
    found += [
        LayerGradient(
            TOPIC, backward, forward, "numeric gradient, elementwise", small, GRADS, wrt=XGB
        ),
        LayerGradient(
            TOPIC,
            backward,
            forward,
            "numeric gradient, directional",
            large,
            GRADS,
            wrt=XGB,
            mode="directional",
        ),
    ]
    return found


def _batchnorm_checks() -> list[Check]:
    fn = "batchnorm_forward"
    found: list[Check] = [
        StatefulForward(TOPIC, fn, "train, N=8 D=5", bn_case(8, 5)),
        StatefulForward(TOPIC, fn, "train, batch of 2, D=3", bn_case(2, 3)),
        StatefulForward(
            TOPIC, fn, "train, eps=0.1 momentum=0.7", bn_case(6, 4, eps=0.1, momentum=0.7)
        ),
        StatefulForward(
            TOPIC,
            fn,
            "train, defaults (no eps, momentum or running statistics in bn_param)",
            bn_case(7, 4, running=False),
        ),
        StatefulForward(TOPIC, fn, "test, N=6 D=4", bn_case(6, 4, "test")),
        StatefulForward(TOPIC, fn, "test, eps=0.1, batch of 1", bn_case(1, 5, "test", eps=0.1)),
        StatefulForward(
            TOPIC,
            fn,
            "running_mean = momentum * running_mean + (1 - momentum) * mean",
            bn_case(9, 3, momentum=0.8),
            compared=("running_mean",),
            kind=Kind.PROPERTY,
        ),
        StatefulForward(TOPIC, fn, "train, N=64 D=20", bn_case(64, 20, momentum=0.95), hidden=True),
        StatefulForward(
            TOPIC,
            fn,
            "train, features near 1e8 (variance of centred values)",
            far_from_zero(bn_case(8, 5)),
            compared=("out",),
            tol=1e-6,
            kind=Kind.HYGIENE,
        ),
        StatefulForward(TOPIC, fn, "test, N=30 D=12", bn_case(30, 12, "test"), hidden=True),
        Property(
            TOPIC, fn, "mode 'eval' raises ValueError", rejects_mode(fn, bn_case(4, 3), "eval")
        ),
        Property(
            TOPIC, fn, "mode 'bogus' raises ValueError", rejects_mode(fn, bn_case(4, 3), "bogus")
        ),
        Property(
            TOPIC,
            fn,
            "train output statistics (biased variance)",
            _normalised_law(fn, bn_case(10, 6, unit=True, eps=0.01), (0,), "per feature"),
        ),
        Property(TOPIC, fn, "scale and shift", _affine_law(fn, bn_case(6, 4))),
        NoMutation(TOPIC, fn, "inputs unchanged (train)", bn_case(5, 3), OUT),
        NoMutation(TOPIC, fn, "inputs unchanged (test)", bn_case(5, 3, "test"), OUT),
        Deterministic(TOPIC, fn, "deterministic", bn_case(5, 3), OUT),
    ]
    cases = [
        Case("N=8 D=5", bn_case(8, 5)),
        Case("batch of 2, eps=0.1", bn_case(2, 4, eps=0.1)),
        Case("N=50 D=16", bn_case(50, 16), hidden=True),
    ]
    for backward in ("batchnorm_backward", "batchnorm_backward_alt"):
        found += _backward_checks(backward, fn, cases, bn_case(4, 3), bn_case(30, 20))
        found.append(
            Property(
                TOPIC,
                backward,
                "dx sums to zero over the batch",
                _dx_sums_to_zero(backward, fn, bn_case(7, 4), 0),
            )
        )
    return found


def _layernorm_checks() -> list[Check]:
    fn, back = "layernorm_forward", "layernorm_backward"
    cases = [
        Case("N=4 D=6", ln_case(4, 6)),
        Case("batch of 1, eps=0.1", ln_case(1, 5, eps=0.1)),
        Case("N=32 D=40", ln_case(32, 40), hidden=True),
    ]
    found: list[Check] = [
        Reference(TOPIC, fn, case.name, case.make, OUT, hidden=case.hidden) for case in cases
    ]
    found += [
        Reference(
            TOPIC, fn, "ln_param with extra keys", ln_case(5, 4, mode="train", momentum=0.9), OUT
        ),
        Reference(
            TOPIC,
            fn,
            "features near 1e8 (variance of centred values)",
            far_from_zero(ln_case(6, 5)),
            OUT,
            tol=1e-6,
            kind=Kind.HYGIENE,
        ),
        Property(
            TOPIC,
            fn,
            "output statistics per example",
            _normalised_law(fn, ln_case(6, 8, unit=True), (1,), "per example"),
        ),
        Property(TOPIC, fn, "scale and shift", _affine_law(fn, ln_case(5, 6))),
        NoMutation(TOPIC, fn, "inputs unchanged", ln_case(3, 4), OUT),
        Deterministic(TOPIC, fn, "deterministic", ln_case(3, 4), OUT),
    ]
    found += _backward_checks(back, fn, cases, ln_case(3, 4), ln_case(20, 30))
    found.append(
        Property(
            TOPIC,
            back,
            "dx sums to zero over the features",
            _dx_sums_to_zero(back, fn, ln_case(5, 6), 1),
        )
    )
    return found


def _spatial_checks() -> list[Check]:
    fn, back = "spatial_batchnorm_forward", "spatial_batchnorm_backward"
    found: list[Check] = [
        StatefulForward(TOPIC, fn, "train, x (2, 3, 4, 5)", spatial_case((2, 3, 4, 5))),
        StatefulForward(TOPIC, fn, "train, batch of 1, x (1, 4, 3, 3)", spatial_case((1, 4, 3, 3))),
        StatefulForward(
            TOPIC,
            fn,
            "train, defaults, eps=0.1 momentum=0.6",
            spatial_case((3, 2, 2, 3), running=False, eps=0.1, momentum=0.6),
        ),
        StatefulForward(TOPIC, fn, "test, x (2, 3, 4, 4)", spatial_case((2, 3, 4, 4), "test")),
        StatefulForward(
            TOPIC, fn, "train, x (8, 6, 5, 5)", spatial_case((8, 6, 5, 5)), hidden=True
        ),
        Property(
            TOPIC,
            fn,
            "mode 'bogus' raises ValueError",
            rejects_mode(fn, spatial_case((2, 2, 2, 2)), "bogus"),
        ),
        Property(
            TOPIC,
            fn,
            "output statistics per channel",
            _normalised_law(fn, _unit_spatial((3, 4, 3, 2)), (0, 2, 3), "per channel"),
        ),
        NoMutation(TOPIC, fn, "inputs unchanged", spatial_case((2, 3, 2, 2)), OUT),
        Deterministic(TOPIC, fn, "deterministic", spatial_case((2, 3, 2, 2)), OUT),
    ]
    cases = [
        Case("x (2, 3, 4, 5)", spatial_case((2, 3, 4, 5))),
        Case("x (6, 4, 5, 5)", spatial_case((6, 4, 5, 5)), hidden=True),
    ]
    found += _backward_checks(
        back, fn, cases, spatial_case((2, 2, 2, 2)), spatial_case((4, 3, 5, 5))
    )
    return found


def _unit_spatial(shape: tuple[int, int, int, int]) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x, _, _, param = spatial_case(shape, eps=0.01)(rng)
        return x, np.ones(shape[1]), np.zeros(shape[1]), param

    return make


def _groupnorm_checks() -> list[Check]:
    fn, back = "spatial_groupnorm_forward", "spatial_groupnorm_backward"
    cases = [
        Case("G=2, x (2, 6, 3, 4)", gn_case((2, 6, 3, 4), 2)),
        Case("G=1 (layernorm over C, H, W)", gn_case((3, 4, 2, 3), 1)),
        Case("G=C (instance norm)", gn_case((2, 5, 3, 3), 5)),
        Case("G=3, eps=0.1, batch of 1", gn_case((1, 6, 2, 2), 3, eps=0.1)),
        Case("G=4, x (4, 16, 5, 5)", gn_case((4, 16, 5, 5), 4), hidden=True),
    ]
    found: list[Check] = [
        Reference(TOPIC, fn, case.name, case.make, OUT, hidden=case.hidden) for case in cases
    ]
    found += [
        Reference(
            TOPIC,
            fn,
            "gn_param with extra keys",
            gn_case((2, 4, 3, 3), 2, mode="train", momentum=0.9),
            OUT,
        ),
        Property(
            TOPIC,
            fn,
            "output statistics per example and group",
            _groupnorm_law(gn_case((2, 6, 3, 3), 3, unit=True, eps=0.01)),
        ),
        NoMutation(TOPIC, fn, "inputs unchanged", gn_case((2, 4, 2, 2), 2), OUT),
        Deterministic(TOPIC, fn, "deterministic", gn_case((2, 4, 2, 2), 2), OUT),
    ]
    found += _backward_checks(back, fn, cases, gn_case((2, 4, 1, 2), 2), gn_case((3, 6, 4, 4), 3))
    return found


def _groupnorm_law(make: Make) -> Callable[[Context], Verdict]:
    """With gamma = 1 and beta = 0, each (example, group of consecutive channels) has mean 0
    and mean square var / (var + eps)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        x, G, eps = args[0], args[3], args[4].get("eps", 1e-5)
        N, C, H, W = x.shape
        var = x.reshape(N, G, -1).var(axis=2)
        got = student_outputs(ctx, "spatial_groupnorm_forward", args, OUT)
        groups = got[0].reshape(N, G, -1)
        verdict = expect_close(
            ctx,
            "spatial_groupnorm_forward",
            "with gamma = 1, beta = 0: mean 0 and variance var / (var + eps) per example and "
            "group of C // G consecutive channels",
            ("mean of out", "variance of out"),
            (groups.mean(axis=2), (groups**2).mean(axis=2)),
            (np.zeros_like(var), var / (var + eps)),
            1e-7,
        )
        expected = tuple(ctx.ref.spatial_groupnorm_forward(*args))
        function = "spatial_groupnorm_forward"
        text = describe_call(function, param_names(ctx, function), args)
        seen = Observation(function, text, args, got, OUT, expected)
        return with_mistake_named(ctx, verdict, seen, 1e-7)

    return body


def checks() -> list[Check]:
    return _batchnorm_checks() + _layernorm_checks() + _spatial_checks() + _groupnorm_checks()
