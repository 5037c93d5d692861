"""Topic ``dropout``: inverted dropout, p = probability of KEEPING a unit.

Declarations only: input makers, the checks, and the known mistakes they can name. A student's
random mask cannot be compared with the reference's unless both draw it the same way, so most
checks judge the student's output against the student's own mask (read off the output: x is
drawn away from 0, so out != 0 exactly where a unit was kept) and against laws: test mode is
the identity, kept units are x / p, the kept fraction is p and the mean of out is the mean of x
(on 200,000 units, with bounds of 10 standard deviations: they hold for any seed, and p is
chosen far from 0.5 so that p taken as the drop probability cannot pass). Only one check
compares with the reference's mask for a given seed (CS231n's ``np.random.seed(seed)`` then
``np.random.rand(*x.shape) < p``); a mask drawn another way fails that check alone.

Mistake models get ``(x, dropout_param, mask)`` for ``dropout_forward`` and ``(dout, x,
dropout_param, mask)`` for ``dropout_backward``, where mask (bool, x's shape) is the student's
kept set; with mask None they draw CS231n's mask from the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import PASS, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, diagnose
from grader.checks.gradient import LayerGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.property import Property, student_outputs
from grader.checks.raises import expect_value_error
from grader.checks.reference import param_names, reference_outputs
from grader.judge.compare import relative_error
from grader.judge.student import Call
from grader.protocol.values import Handle

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "dropout"
SUMMARY = "`p` is the keep probability; statistical checks at 10 standard deviations"
WORKER_SETUP = ""
FORWARD, BACKWARD = "dropout_forward", "dropout_backward"
FUNCTIONS = (FORWARD, BACKWARD)
OUT = ("out", CACHE)
BIG = 200_000  # units in the statistical checks
SIGMAS = 10.0  # their bounds, in standard deviations
TOL = 1e-10

NOT_INVERTED = "dropout not inverted"
P_AS_DROP = "p taken as the drop probability"


# -- inputs ------------------------------------------------------------------------------------
def case(shape: tuple[int, ...], p: float, mode: str = "train", positive: bool = False) -> Make:
    """(x, dropout_param) with |x| in [0.5, 2] (in [1, 2] when ``positive``) and a seed."""

    def make(rng: np.random.Generator) -> tuple:
        x = rng.uniform(1.0 if positive else 0.5, 2.0, shape)
        if not positive:
            x = x * rng.choice([-1.0, 1.0], shape)
        seed = int(rng.integers(2**31))
        return x, {"p": p, "mode": mode, "seed": seed}

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _seeded_uniform(x: np.ndarray, param: dict) -> np.ndarray:
    """CS231n's draws for this seed, without touching numpy's global generator."""
    return np.random.RandomState(param["seed"]).rand(*x.shape)


def _no_scaling(
    ref: ModuleType, x: np.ndarray, param: dict, mask: np.ndarray | None = None
) -> tuple:
    if param["mode"] == "test":
        return x * param["p"], None  # the scaling moved to test time
    if mask is None:
        mask = _seeded_uniform(x, param) < param["p"]
    return x * mask, None


def _p_as_drop(draw: Callable[[np.ndarray, float], np.ndarray]) -> Callable[..., tuple]:
    def variant(
        ref: ModuleType, x: np.ndarray, param: dict, mask: np.ndarray | None = None
    ) -> tuple:
        p = param["p"]
        if param["mode"] != "train":
            raise ValueError("train mode only")
        if mask is None:
            mask = draw(_seeded_uniform(x, param), p)
        return x * mask / (1 - p), None

    return variant


def _backward_no_scaling(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, param: dict, mask: np.ndarray | None = None
) -> np.ndarray:
    if mask is None or param["mode"] != "train":
        raise ValueError("needs the student's train-mode mask")
    return dout * mask


def _backward_p_as_drop(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, param: dict, mask: np.ndarray | None = None
) -> np.ndarray:
    if mask is None or param["mode"] != "train":
        raise ValueError("needs the student's train-mode mask")
    return dout * mask / (1 - param["p"])


_NOT_INVERTED_HINT = (
    "inverted dropout scales the kept units by 1 / p at train time (mask = (rand < p) / p, "
    "also in the backward pass) and leaves test mode as the identity"
)
_P_AS_DROP_HINT = "p is the probability of KEEPING a unit: keep where np.random.rand(...) < p"

RESEEDED = "the generator reseeded with a constant when no seed is given"
MODE_UNCHECKED = "an unknown mode run as test mode"
_MODE_HINT = (
    "compare mode with 'train' and with 'test' and raise ValueError for anything else (if ... "
    "elif ... else: raise): with a bare else, a typo such as 'eval' or 'Train' silently turns "
    "dropout off"
)


def _seen_twice(ref: ModuleType, *args: object) -> Any:
    """Named by the check that calls twice without a seed; one call cannot show it."""
    raise NotImplementedError("named by 'no seed: two calls draw different masks'")


def _returned_for_a_bad_mode(ref: ModuleType, *args: object) -> Any:
    """Named by the check that passes an unknown mode: no output to match."""
    raise NotImplementedError("named by 'an unknown mode raises ValueError'")


MISCONCEPTIONS = (
    Misconception(
        FORWARD,
        RESEEDED,
        "call np.random.seed only when dropout_param has a 'seed' (if 'seed' in "
        "dropout_param: ...); np.random.seed(dropout_param.get('seed', 0)) gives every "
        "unseeded call the same mask",
        _seen_twice,
    ),
    Misconception(FORWARD, MODE_UNCHECKED, _MODE_HINT, _returned_for_a_bad_mode),
    Misconception(FORWARD, NOT_INVERTED, _NOT_INVERTED_HINT, _no_scaling),
    Misconception(FORWARD, P_AS_DROP, _P_AS_DROP_HINT, _p_as_drop(lambda u, p: u < 1 - p)),
    Misconception(FORWARD, P_AS_DROP, _P_AS_DROP_HINT, _p_as_drop(lambda u, p: u >= p)),
    Misconception(BACKWARD, NOT_INVERTED, _NOT_INVERTED_HINT, _backward_no_scaling),
    Misconception(BACKWARD, P_AS_DROP, _P_AS_DROP_HINT, _backward_p_as_drop),
)


def _named(ctx: Context, message: str, seen: Observation) -> Verdict:
    """A wrong verdict, naming the known mistake that ``seen.got`` matches, if any."""
    mistake = diagnose(ctx, seen, TOL)
    if mistake:
        message += f"\n  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}"
    return Verdict(Outcome.WRONG, message, misconception=mistake.name if mistake else None)


def _by_name(name: str) -> Misconception:
    return next(m for m in MISCONCEPTIONS if m.name == name)


def _named_directly(message: str, name: str) -> Verdict:
    mistake = _by_name(name)
    return Verdict(
        Outcome.WRONG,
        f"{message}\n  looks like a known mistake: {name}. Hint: {mistake.hint}",
        misconception=name,
    )


# -- forward laws --------------------------------------------------------------------------------
def _call_text(ctx: Context, function: str, args: tuple) -> str:
    return describe_call(function, param_names(ctx, function), args)


def _test_identity(make: Make) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        x, param = make(ctx.rng)
        got = student_outputs(ctx, FORWARD, (x, param), OUT)
        if np.array_equal(got[0], x):
            return PASS
        cmp = relative_error("out", got[0], x, 0.0)
        text = _call_text(ctx, FORWARD, (x, param))
        return _named(
            ctx,
            f"{text}: test mode must return x unchanged.\n  " + cmp.describe(),
            Observation(FORWARD, text, (x, param), got, OUT, (x, None)),
        )

    return body


def _kept_scaled(make: Make) -> Callable[[Context], Verdict]:
    """Every output is 0 (dropped) or x / p (kept)."""

    def body(ctx: Context) -> Verdict:
        x, param = make(ctx.rng)
        got = student_outputs(ctx, FORWARD, (x, param), OUT)
        kept = got[0] != 0
        want = np.where(kept, x / param["p"], 0.0)
        cmp = relative_error("out", got[0], want, TOL)
        if cmp.ok:
            return PASS
        text = _call_text(ctx, FORWARD, (x, param))
        return _named(
            ctx,
            f"{text}: in train mode each output must be 0 (dropped) or x / p (kept, "
            f"p = {param['p']}); compared with x / p where your out is not 0.\n  " + cmp.describe(),
            Observation(FORWARD, text, (x, param, kept), got, OUT, (want, None)),
        )

    return body


def _kept_fraction(p: float) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        x, param = case((BIG,), p)(ctx.rng)
        out = student_outputs(ctx, FORWARD, (x, param), OUT)[0]
        fraction = float(np.mean(out != 0))
        bound = SIGMAS * np.sqrt(p * (1 - p) / BIG)
        if abs(fraction - p) <= bound:
            return PASS
        message = (
            f"{_call_text(ctx, FORWARD, (x, param))}: kept {fraction:.4f} of the units; with "
            f"p = {p} (probability of keeping a unit) expected {p} +- {bound:.4f} "
            f"({SIGMAS:g} standard deviations)"
        )
        if abs(fraction - (1 - p)) <= bound:
            return _named_directly(message, P_AS_DROP)
        return Verdict(Outcome.WRONG, message)

    return body


def _mean_preserved(p: float) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        x, param = case((BIG,), p, positive=True)(ctx.rng)
        out = student_outputs(ctx, FORWARD, (x, param), OUT)[0]
        mean_x, mean_out = float(np.mean(x)), float(np.mean(out))
        # each unit x * keep / p has variance below E[x^2] / p
        bound = SIGMAS * np.sqrt(float(np.mean(x**2)) / p / BIG)
        if abs(mean_out - mean_x) <= bound:
            return PASS
        message = (
            f"{_call_text(ctx, FORWARD, (x, param))}: mean of out {mean_out:.4f}, mean of x "
            f"{mean_x:.4f}; inverted dropout keeps the expectation (allowed difference "
            f"{bound:.4f}, {SIGMAS:g} standard deviations)"
        )
        if abs(mean_out - p * mean_x) <= bound:
            return _named_directly(message, NOT_INVERTED)
        return Verdict(Outcome.WRONG, message)

    return body


def _seeds_differ(ctx: Context) -> Verdict:
    x, param = case((50, 40), 0.5)(ctx.rng)
    other = {**param, "seed": (param["seed"] + 1 + int(ctx.rng.integers(1000))) % 2**31}
    first = student_outputs(ctx, FORWARD, (x, param), OUT)[0]
    second = student_outputs(ctx, FORWARD, (x, other), OUT)[0]
    if not np.array_equal(first != 0, second != 0):
        return PASS
    return Verdict(
        Outcome.WRONG,
        f"{_call_text(ctx, FORWARD, (x, param))}: seeds {param['seed']} and {other['seed']} "
        "gave the same mask over 2000 units; seed with dropout_param['seed'] "
        "(np.random.seed(seed)), not with a constant",
    )


def _unseeded_differ(ctx: Context) -> Verdict:
    """Without a seed the mask comes from the global generator as it stands: two calls in a
    row draw two different masks (the docstring seeds only when 'seed' is given)."""
    x, param = case((50, 40), 0.5)(ctx.rng)
    param = {k: v for k, v in param.items() if k != "seed"}
    first = student_outputs(ctx, FORWARD, (x, param), OUT)[0]
    second = student_outputs(ctx, FORWARD, (x, dict(param)), OUT)[0]
    if not np.array_equal(first != 0, second != 0):
        return PASS
    return _named_directly(
        f"{_call_text(ctx, FORWARD, (x, param))} without a seed, called twice, kept the same "
        "units both times (2000 units)",
        RESEEDED,
    )


def _keeps_float32(ctx: Context) -> Verdict:
    """float32 x in, float32 out, in both modes, every kept unit x / p (in float32)."""
    for mode in ("train", "test"):
        x, param = case((6, 8), 0.5, mode)(ctx.rng)
        x32 = x.astype(np.float32)
        out = student_outputs(ctx, FORWARD, (x32, param), OUT)[0]  # dtype checked there
        kept = out != 0
        want = x32 / np.float32(param["p"]) if mode == "train" else x32
        if not np.allclose(out[kept], want[kept], rtol=1e-6) or (mode == "test" and not kept.all()):
            return Verdict(
                Outcome.WRONG,
                f"{_call_text(ctx, FORWARD, (x32, param))}: out is not "
                + ("0 or x / p" if mode == "train" else "x"),
            )
    return PASS


def _rejects_mode(modes: tuple[str, ...]) -> Callable[[Context], Verdict]:
    """dropout_forward with each of ``modes`` (neither 'train' nor 'test') raises ValueError."""

    def body(ctx: Context) -> Verdict:
        for mode in modes:
            x, param = case((4, 5), 0.5)(ctx.rng)
            param = {**param, "mode": mode}
            verdict = expect_value_error(
                ctx,
                Call(FORWARD, (x, param)),
                _call_text(ctx, FORWARD, (x, param)),
                f"mode {mode!r} is neither 'train' nor 'test': the docstring asks for a ValueError",
                (MODE_UNCHECKED, _MODE_HINT),
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def _reference_mask(ctx: Context) -> Verdict:
    x, param = case((8, 10), 0.6)(ctx.rng)
    got = student_outputs(ctx, FORWARD, (x, param), OUT)
    expected = reference_outputs(ctx, FORWARD, (x, param))
    cmp = compare_outputs(("out",), got[:1], expected[:1], TOL)[0]
    if cmp.ok:
        return PASS
    differ = int(np.sum((got[0] != 0) != (expected[0] != 0)))
    text = _call_text(ctx, FORWARD, (x, param))
    return _named(
        ctx,
        f"{text}: out differs from the reference for the same seed ({differ} of {x.size} "
        "units kept differently).\n  " + cmp.describe() + "\n  the reference follows CS231n: "
        "np.random.seed(seed), then mask = (np.random.rand(*x.shape) < p) / p. A mask drawn "
        "another way fails only this check.",
        Observation(FORWARD, text, (x, param), got, OUT, expected),
    )


# -- backward ------------------------------------------------------------------------------------
def _backward_mask(make: Make) -> Callable[[Context], Verdict]:
    """dx == dout * mask / p with the mask of the student's own forward pass (dout in test)."""

    def body(ctx: Context) -> Verdict:
        x, param = make(ctx.rng)
        out_ref = reference_outputs(ctx, FORWARD, (x, param))[0]
        reply = ctx.student.call(Call(FORWARD, (x, param), keep=[1]))
        out, cache = conform_outputs(reply.value, (out_ref, None), OUT, FORWARD)
        if not isinstance(cache, Handle):
            return Verdict(Outcome.BAD_OUTPUT, f"{FORWARD} did not return (out, cache)")
        kept = out != 0
        dout = ctx.rng.standard_normal(x.shape)
        train = param["mode"] == "train"
        want = dout * kept / param["p"] if train else dout
        reply = ctx.student.call(Call(BACKWARD, (dout, cache)))
        dx = conform_outputs(reply.value, (want,), ("dx",), BACKWARD)[0]
        cmp = relative_error("dx", dx, want, TOL)
        if cmp.ok:
            return PASS
        law = "dout * mask / p, with the mask of your forward pass" if train else "dout"
        text = f"{BACKWARD}(dout {dout.shape}, cache) after {_call_text(ctx, FORWARD, (x, param))}"
        return _named(
            ctx,
            f"{text}: dx must be {law}.\n  " + cmp.describe(),
            Observation(BACKWARD, text, (dout, x, param, kept), (dx,), ("dx",), (want,)),
        )

    return body


# -- checks --------------------------------------------------------------------------------------
# the backward's laws use the mask of the student's own forward (zeros and a zero backward
# agree): they count only when dropout_forward is right at its anchor
AFTER_FORWARD: dict = {"degenerate": True, "anchor_function": FORWARD}


def checks() -> list[Check]:
    F, B = FORWARD, BACKWARD
    return [
        Property(
            TOPIC, F, "test mode is the identity (p=0.3)", _test_identity(case((6, 7), 0.3, "test"))
        ),
        Property(
            TOPIC,
            F,
            "test mode is the identity (p=0.8, x (2, 3, 4))",
            _test_identity(case((2, 3, 4), 0.8, "test")),
        ),
        Property(
            TOPIC, F, "train: each out is 0 or x / p (p=0.3)", _kept_scaled(case((20, 30), 0.3))
        ),
        Property(
            TOPIC,
            F,
            "train: each out is 0 or x / p (p=0.8, x (4, 5, 6))",
            _kept_scaled(case((4, 5, 6), 0.8)),
        ),
        Property(TOPIC, F, "train: p=1 keeps every unit", _kept_scaled(case((5, 8), 1.0))),
        Property(
            TOPIC,
            F,
            "train: each out is 0 or x / p (p=0.55, x (30, 40))",
            _kept_scaled(case((30, 40), 0.55)),
            hidden=True,
        ),
        # the anchor of dropout_forward: no trivial function keeps a fraction p of the units,
        # and any draw order does (the reference's draw is checked once, below, for 0.5 point)
        Property(
            TOPIC,
            F,
            "train: kept fraction is p (p=0.3, 200000 units)",
            _kept_fraction(0.3),
            is_anchor=True,
        ),
        Property(TOPIC, F, "train: kept fraction is p (p=0.8, 200000 units)", _kept_fraction(0.8)),
        Property(
            TOPIC,
            F,
            "train: mean of out is the mean of x (p=0.3, 200000 units)",
            _mean_preserved(0.3),
        ),
        Property(
            TOPIC,
            F,
            "train: mean of out is the mean of x (p=0.8, 200000 units)",
            _mean_preserved(0.8),
        ),
        Deterministic(TOPIC, F, "same seed, same output", case((10, 12), 0.5), OUT),
        Property(TOPIC, F, "different seeds, different masks", _seeds_differ),
        Property(TOPIC, F, "no seed: two calls draw different masks", _unseeded_differ),
        Property(
            TOPIC,
            F,
            "same mask as the reference for a given seed (CS231n draw)",
            _reference_mask,
            kind=Kind.REFERENCE,
        ),
        # the docstring: outputs have x's dtype (a float64 mask would make out float64)
        Property(TOPIC, F, "float32 x gives float32 out (train and test)", _keeps_float32),
        Property(
            TOPIC,
            F,
            "an unknown mode ('eval', 'Train') raises ValueError",
            _rejects_mode(("eval", "Train")),
        ),
        NoMutation(TOPIC, F, "inputs unchanged (train)", case((4, 5), 0.5), OUT),
        NoMutation(TOPIC, F, "inputs unchanged (test)", case((4, 5), 0.5, "test"), OUT),
        Property(
            TOPIC,
            B,
            "train: dx = dout * mask / p (p=0.3)",
            _backward_mask(case((10, 12), 0.3)),
            kind=Kind.REFERENCE,
            **AFTER_FORWARD,
        ),
        Property(
            TOPIC,
            B,
            "train: dx = dout * mask / p (p=0.7, x (3, 4, 5))",
            _backward_mask(case((3, 4, 5), 0.7)),
            kind=Kind.REFERENCE,
            **AFTER_FORWARD,
        ),
        Property(
            TOPIC,
            B,
            "test: dx = dout",
            _backward_mask(case((6, 5), 0.4, "test")),
            kind=Kind.REFERENCE,
            **AFTER_FORWARD,
        ),
        Property(
            TOPIC,
            B,
            "train: dx = dout * mask / p (p=0.45, x (40, 50))",
            _backward_mask(case((40, 50), 0.45)),
            hidden=True,
            kind=Kind.REFERENCE,
            **AFTER_FORWARD,
        ),
        LayerGradient(
            TOPIC,
            B,
            F,
            "numeric gradient, elementwise (seeded mask)",
            case((4, 5), 0.6),
            ("dx",),
            forward_against="anchor",
        ),
        LayerGradient(
            TOPIC,
            B,
            F,
            "numeric gradient, directional (seeded mask)",
            case((30, 40), 0.6),
            ("dx",),
            mode="directional",
            forward_against="anchor",
        ),
    ]
