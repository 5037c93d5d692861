"""Topic ``quantization``, part four: knowledge distillation and dynamic loss scaling.

Declarations only; ``grader.topics.quantization`` gathers these checks and mistakes. The loss
scaler is graded like TwoLayerNet: the object stays in the worker behind a handle, the judge
plays a scripted sequence of clean and overflowing gradients through ``step`` and reads
``scale`` after each call; the reference scaler plays the same script.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Check, Context, Kind, Make, Misconception, Verdict
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.gradient import LossGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import conform, conform_outputs
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import Reference
from grader.judge.expected import CachedReference, kept
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle
from grader.topics.quantization.affine import observation

LOSS = ("loss", "dstudent")
TRACE = ("scales", "stepped", "params")
SCALER = "DynamicLossScaler"

NO_T2 = "distillation without the T**2 factor"
NO_SKIP = "loss scaler does not skip the step on overflow"


# -- inputs ------------------------------------------------------------------------------------
def distill_case(
    N: int, C: int, T: float, alpha: float, shift: float = 0.0, wide_row: bool = False
) -> Make:
    """(student, teacher, y, T, alpha); ``wide_row``: one row of each holds +1000 and -1000
    beside ordinary logits (a softmax shifted by the row minimum, or by the maximum of the
    whole batch, overflows or underflows there; the row maximum keeps every row finite)."""

    def make(rng: np.random.Generator) -> tuple:
        s = rng.standard_normal((N, C)) * 2.0 + shift
        t = rng.standard_normal((N, C)) * 3.0 + shift
        if wide_row:
            for logits in (s, t):
                row = int(rng.integers(N))
                high, low = rng.choice(C, 2, replace=False)
                logits[row, high], logits[row, low] = 1000.0, -1000.0
        return s, t, rng.integers(0, C, N), float(T), float(alpha)

    return make


Script = tuple[dict, list[dict[str, np.ndarray]], float, dict[str, np.ndarray]]


def scaler_script(
    pattern: str, growth_interval: int, init_scale: float = 1024.0
) -> Callable[[np.random.Generator], Script]:
    """(constructor kwargs, scaled gradients per step, lr, initial params). ``pattern`` has one
    letter per step: ``c`` clean, ``i`` an inf entry, ``n`` a NaN entry."""

    def make(rng: np.random.Generator) -> Script:
        kwargs = {"init_scale": init_scale, "growth_interval": growth_interval}
        params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
        grads = []
        for letter in pattern:
            g = {k: rng.standard_normal(v.shape) * 100.0 for k, v in params.items()}
            if letter != "c":
                key = "w" if rng.random() < 0.5 else "b"
                g[key].flat[int(rng.integers(g[key].size))] = np.inf if letter == "i" else np.nan
            grads.append(g)
        return kwargs, grads, 0.1, params

    return make


# -- the scripted trace, played by any scaler ---------------------------------------------------
def play(scaler: Any, grads: list, lr: float, params: dict) -> tuple:
    """Run ``scaler.step`` over the script: (scale after each step, stepped flags, the params
    after each step stacked per key)."""
    scales, stepped, history = [], [], []
    for g in grads:
        params, ok = scaler.step(params, copy.deepcopy(g), lr)
        scales.append(scaler.scale)
        stepped.append(ok)
        history.append(params)
    return _trace(scales, stepped, history)


def _trace(scales: list, stepped: list, history: list[dict]) -> tuple:
    stacked = {k: np.stack([h[k] for h in history]) for k in history[0]}
    return np.array(scales, dtype=np.float64), np.array(stepped, dtype=bool), stacked


def _module(ref: Any) -> ModuleType:
    """The reference module itself: its scaler objects live only inside one kept call (the
    reference's trace, a mistake's model), never in a check."""
    return ref.module if isinstance(ref, CachedReference) else ref


def reference_trace(ref: Any, kwargs: dict, grads: list, lr: float, params: dict) -> tuple:
    """``play`` on the reference's DynamicLossScaler(**kwargs): one call of plain data in (the
    script) and out (the trace), kept like a reference function's answer, so a release holds
    it as data where it could not hold the class."""

    def live(kwargs: dict, grads: list, lr: float, params: dict) -> tuple:
        return play(_module(ref).DynamicLossScaler(**kwargs), grads, lr, copy.deepcopy(params))

    return kept(ref, "quantization.scaler_trace", live, kwargs, grads, lr, params)


class _NoSkipScaler:
    """The mistake: the update is applied even when the gradients overflowed."""

    def __init__(self, ref: ModuleType, **kwargs: float) -> None:
        self.inner = _module(ref).DynamicLossScaler(**kwargs)

    @property
    def scale(self) -> float:
        return self.inner.scale

    def step(self, params: dict, grads: dict, lr: float) -> tuple[dict, bool]:
        unscaled, found_inf = self.inner.unscale(grads)
        self.inner.update(found_inf)
        return {k: p - lr * unscaled[k] for k, p in params.items()}, not found_inf


def _no_skip_trace(ref: ModuleType, kwargs: dict, grads: list, lr: float, params: dict) -> tuple:
    with np.errstate(all="ignore"):
        return play(_NoSkipScaler(ref, **kwargs), grads, lr, params)


def _no_t2(
    ref: ModuleType, s: np.ndarray, t: np.ndarray, y: np.ndarray, T: float, alpha: float
) -> tuple:
    soft_loss, soft_grad = ref.distillation_loss(s, t, y, T, 1.0)
    hard_loss, hard_grad = ref.distillation_loss(s, t, y, T, 0.0)
    return (
        alpha * soft_loss / T**2 + (1 - alpha) * hard_loss,
        alpha * soft_grad / T**2 + (1 - alpha) * hard_grad,
    )


MISCONCEPTIONS = (
    Misconception(
        "distillation_loss",
        NO_T2,
        "multiply the soft term by T**2: its gradient shrinks like 1/T**2, and the factor keeps "
        "it on the hard term's scale when T changes",
        _no_t2,
    ),
    Misconception(
        SCALER,
        NO_SKIP,
        "when unscale finds inf/NaN, return the params unchanged (skip the step) and back off "
        "the scale; never apply an update with non-finite gradients",
        _no_skip_trace,
        compare=("params",),
    ),
)


# -- properties --------------------------------------------------------------------------------
def _teacher_equals_student(ctx: Context) -> Verdict:
    """With alpha=1 and identical logits the KL term, its gradient and so the loss are 0."""
    s, _, y, T, _ = distill_case(5, 4, 3.0, 1.0)(ctx.rng)
    args = (s, s.copy(), y, T, 1.0)
    got = student_outputs(ctx, "distillation_loss", args, LOSS)
    return expect_close(
        ctx,
        "distillation_loss",
        "alpha=1 with teacher_logits == student_logits gives loss 0 and gradient 0",
        LOSS,
        (float(got[0]), got[1]),
        (0.0, np.zeros_like(s)),
        1e-12,
        evidence=observation(ctx, "distillation_loss", args, got, LOSS),
    )


def _student_scaler(ctx: Context, kwargs: dict) -> Handle:
    reply = ctx.student.call(Call(SCALER, (), kwargs, keep="all"))
    if not isinstance(reply.value, Handle):
        raise StudentFault("bad_output", f"{SCALER}(...) did not produce an object")
    return reply.value


def _scale_of(ctx: Context, handle: Handle) -> float:
    value = ctx.student.getattr(handle, "scale")
    conform(value, 1.0, f"{SCALER}.scale")
    return float(value)


def _trace_check(
    make: Callable[[np.random.Generator], Script], describe: str
) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        kwargs, grads, lr, params = make(ctx.rng)
        expected = reference_trace(ctx.ref, kwargs, grads, lr, params)
        handle = _student_scaler(ctx, kwargs)
        scales, stepped, history = [], [], []
        current = params
        for g in grads:
            reply = ctx.student.call(Call("step", (current, g, lr), target=handle))
            want = (copy.deepcopy(params), True)
            new, ok = conform_outputs(reply.value, want, ("new_params", "stepped"), "step")
            current = new
            history.append(new)
            stepped.append(bool(ok))
            scales.append(_scale_of(ctx, handle))
        got = _trace(scales, stepped, history)
        text = f"{SCALER}({', '.join(f'{k}={v:g}' for k, v in kwargs.items())}): {describe}"
        seen = Observation(SCALER, text, (kwargs, grads, lr, params), got, TRACE, expected)
        return judge_outputs(ctx, seen, 1e-12, "the reference scaler's trace")

    return body


def _defaults(ctx: Context) -> Verdict:
    """GradScaler's defaults: 2**16, halved on overflow, doubled after 2000 clean steps."""
    handle = _student_scaler(ctx, {})
    trace = [_scale_of(ctx, handle)]
    ctx.student.call(Call("update", (True,), target=handle))
    trace.append(_scale_of(ctx, handle))
    ctx.student.batch([Call("update", (False,), target=handle)] * 1999)
    trace.append(_scale_of(ctx, handle))
    ctx.student.call(Call("update", (False,), target=handle))
    trace.append(_scale_of(ctx, handle))
    want = np.array([2.0**16, 2.0**15, 2.0**15, 2.0**16])
    return expect_close(
        ctx,
        SCALER,
        "default scale 2**16, update(True) halves it, 2000 clean update(False) calls double it "
        "(scale at start, after the overflow, after 1999 and after 2000 clean steps)",
        ("scales",),
        (np.array(trace),),
        (want,),
        0.0,
    )


def _unscale(ctx: Context) -> Verdict:
    """unscale divides by the scale; found_inf is True exactly when an entry is inf or NaN."""
    handle = _student_scaler(ctx, {"init_scale": 512.0})
    clean = {"w": ctx.rng.standard_normal((2, 3)) * 512, "b": ctx.rng.standard_normal(3)}
    bad = copy.deepcopy(clean)
    bad["b"][1] = np.nan
    got_clean = ctx.student.call(Call("unscale", (clean,), target=handle)).value
    got_bad = ctx.student.call(Call("unscale", (bad,), target=handle)).value
    want = ({k: v / 512.0 for k, v in clean.items()}, False)
    names = ("unscaled", "found_inf")
    got_clean = conform_outputs(got_clean, want, names, "unscale")
    got_bad = conform_outputs(got_bad, (want[0], True), names, "unscale")
    return expect_close(
        ctx,
        SCALER,
        "unscale(grads) == (grads / scale, found_inf); found_inf True for a NaN entry",
        ("unscaled (clean grads)", "found_inf (clean grads)", "found_inf (a NaN entry)"),
        (got_clean[0], got_clean[1], got_bad[1]),
        (want[0], False, True),
        1e-12,
    )


# -- checks --------------------------------------------------------------------------------------
def checks(topic: str) -> list[Check]:
    dl = "distillation_loss"
    reference = Kind.REFERENCE
    return [
        Reference(topic, dl, "N=6 C=5 T=4 alpha=0.7", distill_case(6, 5, 4.0, 0.7), LOSS),
        Reference(topic, dl, "T=1 alpha=0.5", distill_case(5, 3, 1.0, 0.5), LOSS),
        Reference(topic, dl, "alpha=1 (soft term only), T=2", distill_case(4, 6, 2.0, 1.0), LOSS),
        Reference(topic, dl, "alpha=0 (cross-entropy only)", distill_case(4, 6, 3.0, 0.0), LOSS),
        Reference(topic, dl, "batch of 1, T=10", distill_case(1, 4, 10.0, 0.9), LOSS),
        Reference(
            topic,
            dl,
            "one row with logits at +1000 and -1000, the others ordinary (T=2)",
            distill_case(5, 4, 2.0, 0.5, wide_row=True),
            LOSS,
            kind=Kind.HYGIENE,
        ),
        Reference(
            topic,
            dl,
            "large logits (about +1000)",
            distill_case(6, 5, 2.0, 0.5, 1000.0),
            LOSS,
            kind=Kind.HYGIENE,
        ),
        Reference(
            topic, dl, "N=50 C=10 T=5 alpha=0.3", distill_case(50, 10, 5.0, 0.3), LOSS, hidden=True
        ),
        LossGradient(
            topic,
            dl,
            "numeric dstudent, elementwise (N=3 C=4 T=3)",
            distill_case(3, 4, 3.0, 0.6),
            LOSS,
        ),
        LossGradient(
            topic,
            dl,
            "numeric dstudent, directional (N=40 C=10 T=4)",
            distill_case(40, 10, 4.0, 0.8),
            LOSS,
            mode="directional",
        ),
        Property(topic, dl, "teacher equals student", _teacher_equals_student),
        NoMutation(topic, dl, "inputs unchanged", distill_case(4, 3, 2.0, 0.5), LOSS),
        Deterministic(topic, dl, "deterministic", distill_case(4, 3, 2.0, 0.5), LOSS),
        Property(
            topic,
            SCALER,
            "scale trace, growth_interval=3: c c c i c c c c n c",
            _trace_check(scaler_script("cccicccncc", 3), "scripted clean/overflow steps"),
            kind=reference,
        ),
        Property(
            topic,
            SCALER,
            "scale trace, growth_interval=1, overflow twice in a row",
            _trace_check(scaler_script("ciicc", 1), "scripted clean/overflow steps"),
            kind=reference,
        ),
        Property(
            topic,
            SCALER,
            "scale trace, growth_interval=4, 16 steps",
            _trace_check(scaler_script("ccccccicccccnccc", 4, 2.0**10), "scripted steps"),
            kind=reference,
            hidden=True,
        ),
        Property(topic, SCALER, "defaults (2**16, 0.5, 2.0, 2000)", _defaults),
        Property(topic, SCALER, "unscale and found_inf", _unscale, kind=reference),
    ]
