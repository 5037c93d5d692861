"""Multi-step runs of update rules (topic ``optimizers``): the machinery its checks share.

An update rule ``update(w, dw, config) -> (next_w, config)`` is judged over several steps, the
way a training loop uses it: each call gets the config the previous call returned. The student's
run happens in the worker one call per step (the config crosses as plain data each time, so the
judge sees the state); the reference's run, and the runs of known mistakes, happen judge-side on
the same gradients. Steps compare the UPDATE ``next_w - w`` (not ``next_w``: at a small learning
rate a wrong update hides below any sensible tolerance on ``next_w``) and the returned state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.anchor import Gated
from grader.checks.base import PASS, Context, Declared, Kind, Misconception, Outcome, Verdict, fail
from grader.checks.outputs import conform, describe_call
from grader.checks.reference import param_names
from grader.judge.compare import Comparison, relative_error
from grader.judge.student import Call, StudentFault

NOT_STORED = "optimizer state not written back"
KEPT_STATE = "state kept between runs (a mutable default config={}?)"
OMITTED = "<omitted>"  # a config that the first call does not pass at all

Gradient = Callable[[int, np.ndarray], np.ndarray]  # (step index, current w) -> dw
Step = Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, dict]]


# -- comparing ---------------------------------------------------------------------------------
def scaled_error(name: str, got: Any, expected: Any, tol: float) -> Comparison:
    """Relative error whose floor is 1e-6 of the larger array's magnitude.

    ``next_w - w`` carries a roundoff of about 1e-16 * |w| on either side, so an update entry far
    below the others is judged against the array's scale instead of against its own size.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    both = np.concatenate([got.ravel(), expected.ravel()])
    finite = both[np.isfinite(both)]
    scale = float(np.max(np.abs(finite), initial=0.0))
    cmp = relative_error(name, got, expected, tol, floor=max(1e-30, 1e-6 * scale))
    metric = "relative error max|a-b|/max(1e-6*scale,|a|+|b|)"
    return Comparison(**{**cmp.__dict__, "metric": metric})


def _close_or_both_nonfinite(got: Any, expected: Any, tol: float) -> bool:
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    both = ~np.isfinite(got) & ~np.isfinite(expected)
    return scaled_error("", np.where(both, 0.0, got), np.where(both, 0.0, expected), tol).ok


# -- runs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """The weights before each step (``steps + 1`` of them), each step's update and config."""

    ws: tuple[np.ndarray, ...]
    updates: tuple[np.ndarray, ...]
    configs: tuple[Any, ...]

    def same_updates(self, other: Run, tol: float) -> bool:
        """The same updates at every step, NaN and inf counting as one value; runs that are
        non-finite everywhere say nothing about each other and do not match."""
        pairs = list(zip(self.updates, other.updates))
        return (
            len(self.updates) == len(other.updates)
            and all(_close_or_both_nonfinite(a, b, tol) for a, b in pairs)
            and any(np.any(np.isfinite(a) & np.isfinite(b)) for a, b in pairs)
        )


def simulate(step: Step, w0: np.ndarray, config0: Any, gradient: Gradient, steps: int) -> Run:
    """A judge-side run of ``step`` (the reference, or a model of a mistake), on copies."""
    ws, updates, configs = [w0], [], []
    w, config = w0, copy.deepcopy(None if config0 is OMITTED else config0)
    with np.errstate(all="ignore"):
        for k in range(steps):
            dw = gradient(k, w)
            next_w, config = step(w.copy(), dw.copy(), copy.deepcopy(config))
            next_w = np.asarray(next_w, dtype=np.float64)
            updates.append(next_w - w)
            configs.append(config)
            ws.append(next_w)
            w = next_w
    return Run(tuple(ws), tuple(updates), tuple(configs))


def reference_step(ctx: Context, fn: str) -> Step:
    return getattr(ctx.ref, fn)


def variant_step(ctx: Context, mistake: Misconception) -> Step:
    return lambda w, dw, config: mistake.variant(ctx.ref, w, dw, config)


def _conform_step(value: Any, w: np.ndarray, fn: str, want: dict | None, step: str) -> tuple:
    """The student's ``(next_w, config)`` after a structure check; ``want`` (the reference's
    config at that step) also fixes the type of every entry the student's config has."""
    conform(value, (None, None), f"{fn} return value (next_w, config) at {step}")
    next_w, config = value
    conform(next_w, w, f"{fn} -> next_w at {step}")
    if not isinstance(config, dict):
        raise fail(
            Outcome.BAD_OUTPUT,
            f"{fn} -> config at {step}: expected a dict, got {type(config).__name__}",
        )
    for key, expected in (want or {}).items():
        if key not in config:
            continue  # reported as a wrong (lost) entry, with the step, when runs are compared
        conform(config[key], expected, f"{fn} -> config[{key!r}] at {step}")
        got = config[key]
        if type(expected) is int and not (type(got) is int or isinstance(got, np.integer)):
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{fn} -> config[{key!r}] at {step}: expected an int (a step counter), "
                f"got {type(got).__name__} {got!r}",
            )
    return next_w, config


def student_run(
    ctx: Context,
    fn: str,
    w0: np.ndarray,
    config0: Any,
    gradient: Gradient,
    steps: int,
    want: Run | None = None,
) -> Run:
    """Call the student's ``fn`` ``steps`` times in the worker, each call with the config the
    previous one returned. ``want`` (the reference run on the same gradients) sets the
    structure each step's config must have."""
    ws, updates, configs = [w0], [], []
    w, config = w0, config0
    for k in range(steps):
        dw = gradient(k, w)
        args = (w, dw) if config is OMITTED else (w, dw, config)
        reply = ctx.student.call(Call(fn, args))
        expected = want.configs[k] if want is not None else None
        next_w, config = _conform_step(reply.value, w, fn, expected, f"step {k + 1}")
        with np.errstate(all="ignore"):
            updates.append(next_w - w)
        configs.append(config)
        ws.append(next_w)
        w = next_w
    return Run(tuple(ws), tuple(updates), tuple(configs))


def name_mistake(
    ctx: Context,
    fn: str,
    w0: np.ndarray,
    config0: Any,
    gradient: Gradient,
    got: Run,
    want: Run,
    tol: float,
) -> Misconception | None:
    """The first known mistake of ``fn`` whose run (same start, same gradients) makes the
    student's updates; a mistake whose run equals the reference's says nothing here."""
    steps = len(got.updates)
    tol = max(tol, 1e-6)
    for mistake in ctx.misconceptions:
        if mistake.function != fn:
            continue
        try:
            run = simulate(variant_step(ctx, mistake), w0, config0, gradient, steps)
        except Exception:  # a model that cannot apply to these inputs does not match
            continue
        if run.same_updates(want, tol):
            continue
        if got.same_updates(run, tol):
            return mistake
    return None


def _first_difference(
    got: Run, want: Run, tol: float, state: Sequence[str]
) -> tuple[int, Comparison | str, bool] | None:
    """(step index, comparison or a 'missing entry' text, whether state was lost) of the first
    thing that differs: the update of each step, then that step's returned config."""
    for k, (u_got, u_want) in enumerate(zip(got.updates, want.updates)):
        cmp = scaled_error("update", u_got, u_want, tol)
        if not cmp.ok:
            return k, cmp, False
        mine, theirs = got.configs[k], want.configs[k]
        for key, expected in theirs.items():
            if key not in mine:
                return k, key, key in state
            cmp = scaled_error(f"config[{key!r}]", mine[key], expected, tol)
            if not cmp.ok:
                return k, cmp, False
    return None


def _named(ctx: Context, fn: str, name: str) -> Misconception | None:
    return next((m for m in ctx.misconceptions if m.function == fn and m.name == name), None)


def _hint_line(mistake: Misconception | None) -> list[str]:
    if mistake is None:
        return []
    return [f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}"]


def describe_run(ctx: Context, fn: str, w0: np.ndarray, config0: Any, steps: int) -> str:
    args = (w0, w0) if config0 is OMITTED else (w0, w0, config0)
    call = describe_call(fn, param_names(ctx, fn), args)
    return (
        f"{call} called {steps} times in a row, each call getting the config the previous one "
        "returned and a new dw"
    )


# -- the check ---------------------------------------------------------------------------------
Make = Callable[[np.random.Generator], tuple[np.ndarray, list[np.ndarray], Any]]


@dataclass(frozen=True)
class Trajectory(Gated, Declared):
    """The student's run of ``function`` against the reference's, step by step.

    ``make(rng)`` returns ``(w0, [dw per step], config0)``; ``config0`` may be ``None``, a
    partial config, a config holding saved state, or ``OMITTED``. ``state`` names the config
    entries that are optimizer state (a missing one is the mistake ``NOT_STORED``).
    """

    topic: str
    function: str
    case: str
    make: Make
    _: KW_ONLY
    state: tuple[str, ...] = ()
    tol: float = 1e-6
    hidden: bool = False
    runs: int = 1  # the same run made this often, one after the other, each from a fresh start
    kind: Kind = Kind.REFERENCE

    def evaluate(self, ctx: Context) -> Verdict:
        w0, dws, config0 = self.make(ctx.rng)
        steps = len(dws)

        def gradient(k: int, w: np.ndarray) -> np.ndarray:
            return dws[k]

        want = simulate(reference_step(ctx, self.function), w0, config0, gradient, steps)
        if self.runs > 1:
            return self._fresh_runs(ctx, w0, gradient, steps, want)
        return self._compare_run(ctx, w0, config0, gradient, steps, want)

    def _compare_run(
        self, ctx: Context, w0: np.ndarray, config0: Any, gradient: Gradient, steps: int, want: Run
    ) -> Verdict:
        """The student's run from ``config0`` against ``want``, the first difference named."""
        got = student_run(ctx, self.function, w0, config0, gradient, steps, want)
        found = _first_difference(got, want, self.tol, self.state)
        if found is None:
            return PASS
        k, what, lost_state = found
        lines = [describe_run(ctx, self.function, w0, config0, steps) + ":"]
        if isinstance(what, str):
            lines.append(
                f"  at step {k + 1} of {steps} the returned config has no {what!r}; keep every "
                f"hyperparameter and store the new state in config (config[{what!r}] = ...) so "
                "that the next call continues from it."
            )
        else:
            subject = (
                "the update next_w - w" if what.name == "update" else f"the returned {what.name}"
            )
            lines.append(f"  at step {k + 1} of {steps}, {subject} differs from the reference's.")
            lines.append("  " + what.describe())
            if not np.isfinite(what.got_value) and np.isfinite(what.expected_value):
                lines.append(
                    "  your value is NaN/inf where the expected one is finite (a division by "
                    "zero? a square root of a negative number?)"
                )
        mistake = (
            _named(ctx, self.function, NOT_STORED)
            if lost_state
            else name_mistake(ctx, self.function, w0, config0, gradient, got, want, self.tol)
        )
        lines += _hint_line(mistake)
        return Verdict(
            Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None
        )

    def _fresh_runs(
        self, ctx: Context, w0: np.ndarray, gradient: Gradient, steps: int, want: Run
    ) -> Verdict:
        """A control run with config=None, then ``runs`` runs that omit the config, each from
        the same start: with the control right, any omitted run that is not (wrong, or raising
        on state of another shape) kept state from an earlier call (a default config={})."""
        fn = self.function
        control = self._compare_run(ctx, w0, None, gradient, steps, want)
        if not control.passed:  # wrong already with config=None: that is the feedback
            return control
        for attempt in range(self.runs):
            try:
                got = student_run(ctx, fn, w0, OMITTED, gradient, steps, want)
                found = _first_difference(got, want, self.tol, self.state)
                problem = None if found is None else "differs from the reference's"
            except StudentFault as fault:
                problem = f"fails: {fault.reason}"
            if problem is not None:
                mistake = _named(ctx, fn, KEPT_STATE)
                lines = [
                    f"{describe_run(ctx, fn, w0, OMITTED, steps)}: with config=None the run "
                    f"matches the reference, but run {attempt + 1} without a config, from the "
                    f"same start, {problem}; state was kept from an earlier call.",
                    *_hint_line(mistake),
                ]
                return Verdict(
                    Outcome.WRONG,
                    "\n".join(lines),
                    misconception=mistake.name if mistake else None,
                )
        return PASS


# -- properties --------------------------------------------------------------------------------
def quadratic(
    rng: np.random.Generator, shape: tuple[int, ...] = (3, 4)
) -> tuple[np.ndarray, Gradient, Callable[[np.ndarray], float]]:
    """A start ``w0``, the gradient and the value of f(w) = 0.5 * sum(a * (w - c)**2): every
    coordinate starts 0.5 to 2 away from its minimum, with curvature a in [0.5, 2]."""
    c = rng.standard_normal(shape)
    a = rng.uniform(0.5, 2.0, shape)
    w0 = c + rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)

    def gradient(k: int, w: np.ndarray) -> np.ndarray:
        return a * (w - c)

    def f(w: np.ndarray) -> float:
        return float(0.5 * np.sum(a * (w - c) ** 2))

    return w0, gradient, f


def unit_gradients(
    rng: np.random.Generator, steps: int, shape: tuple[int, ...] = (4, 3)
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A start and ``steps`` gradients whose every entry has magnitude in [0.1, 2]."""
    w0 = rng.standard_normal(shape)
    dws = [rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape) for _ in range(steps)]
    return w0, dws


def descent(fn: str, config: dict, steps: int = 8) -> Callable[[Context], Verdict]:
    """On the convex ``quadratic`` with a small learning rate, f decreases at every step: every
    coordinate moves far less than its distance to the minimum in ``steps`` steps, so a correct
    rule never overshoots and the law holds with a margin (tests/topics measure it)."""

    def body(ctx: Context) -> Verdict:
        w0, gradient, f = quadratic(ctx.rng)
        got = student_run(ctx, fn, w0, dict(config), gradient, steps)
        values = [f(w) for w in got.ws]
        bad = next((k for k in range(steps) if not values[k + 1] < values[k]), None)
        if bad is None:
            return PASS
        want = simulate(reference_step(ctx, fn), w0, dict(config), gradient, steps)
        mistake = name_mistake(ctx, fn, w0, dict(config), gradient, got, want, 1e-6)
        lines = [
            f"{describe_run(ctx, fn, w0, config, steps)}, on the convex quadratic "
            f"f(w) = 0.5 * sum(a * (w - c)**2) with dw = a * (w - c):",
            f"  f must decrease at every step, but at step {bad + 1} it went from "
            f"{values[bad]:.6g} to {values[bad + 1]:.6g} (f along your run: "
            + ", ".join(f"{v:.4g}" for v in values)
            + "). Does your update move w against the gradient?",
        ]
        lines += _hint_line(mistake)
        return Verdict(
            Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None
        )

    return body


def scale_invariance(fn: str, scale: float = 8.0, steps: int = 5) -> Callable[[Context], Verdict]:
    """Rules that divide by a root mean square of past gradients (Adagrad, RMSProp, Adam) make
    the same updates when every dw is multiplied by ``scale`` > 0 (epsilon aside: with every
    |dw| entry at least 0.1, epsilon moves the updates by less than 1e-6 of their size)."""

    def body(ctx: Context) -> Verdict:
        w0, dws = unit_gradients(ctx.rng, steps)
        config = {"learning_rate": 1e-2}
        got = student_run(ctx, fn, w0, dict(config), lambda k, w: dws[k], steps)
        scaled = student_run(ctx, fn, w0, dict(config), lambda k, w: scale * dws[k], steps)
        for k in range(steps):
            cmp = scaled_error("update", scaled.updates[k], got.updates[k], 1e-5)
            if not cmp.ok:
                break
        else:
            return PASS
        want = simulate(reference_step(ctx, fn), w0, dict(config), lambda k, w: dws[k], steps)
        mistake = name_mistake(ctx, fn, w0, config, lambda k, w: dws[k], got, want, 1e-6)
        lines = [
            f"{describe_run(ctx, fn, w0, config, steps)}: multiplying every dw by {scale:g} "
            "must leave the updates unchanged (the rule divides dw by a root mean square of "
            f"past gradients), but at step {k + 1} it changes them.",
            "  "
            + cmp.describe()
            .replace("yours", "yours with scaled dw")
            .replace("expected", "yours with dw"),
        ]
        lines += _hint_line(mistake)
        return Verdict(
            Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None
        )

    return body


# -- hygiene -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GradientUnchanged(Gated, Declared):
    """The update must not modify ``dw`` (updating ``w`` in place is allowed). Reported like
    any input mutation: ``ctx.mutation_policy`` decides whether it costs the points."""

    topic: str
    function: str
    case: str
    make: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, Any]]
    _: KW_ONLY
    hidden: bool = False
    kind: Kind = Kind.HYGIENE

    def evaluate(self, ctx: Context) -> Verdict:
        w, dw, config = self.make(ctx.rng)
        reply = ctx.student.call(Call(self.function, (w, dw, config), echo=[1]))
        _conform_step(reply.value, w, self.function, None, "the call")
        after = reply.echo[0] if reply.echo else None
        if isinstance(after, np.ndarray) and after.shape == dw.shape and np.array_equal(after, dw):
            return PASS
        text = (
            f"{describe_call(self.function, param_names(ctx, self.function), (w, dw, config))} "
            "modified dw; compute the update out of place (dw is the caller's gradient, "
            "which it may still need)."
        )
        if ctx.mutation_policy == "fail":
            return Verdict(Outcome.WRONG, text)
        return Verdict(Outcome.PASSED, "warning: " + text, warnings=(text,))


# -- schedules ---------------------------------------------------------------------------------
def _lr_values(ctx: Context, fn: str, points: Sequence[tuple]) -> np.ndarray:
    """The student's schedule at each argument tuple, in one round trip, structure checked."""
    replies = ctx.student.batch([Call(fn, p) for p in points])
    values = []
    for p, reply in zip(points, replies):
        conform(reply.value, 0.0, f"{fn}{p} -> lr")
        values.append(float(reply.value))
    return np.array(values)


def _schedule_mistake(
    ctx: Context, fn: str, points: Sequence[tuple], got: np.ndarray, want: np.ndarray, tol: float
) -> Misconception | None:
    for mistake in ctx.misconceptions:
        if mistake.function != fn:
            continue
        try:
            model = np.array([float(mistake.variant(ctx.ref, *p)) for p in points])
        except Exception:
            continue
        if _close_or_both_nonfinite(model, want, tol):
            continue
        if _close_or_both_nonfinite(got, model, tol):
            return mistake
    return None


def _schedule_verdict(
    ctx: Context,
    fn: str,
    points: Sequence[tuple],
    got: np.ndarray,
    want: np.ndarray,
    tol: float,
    what: str,
) -> Verdict:
    cmp = scaled_error("lr", got, want, tol)
    if cmp.ok:
        return PASS
    k = cmp.worst_index[0]
    names = param_names(ctx, fn)
    lines = [
        f"{fn} at steps {points[0][0]}..{points[-1][0]} ({', '.join(names[1:])} = "
        f"{', '.join(f'{v:g}' for v in points[0][1:])}): {what}",
        f"  {cmp.describe()} (the worst is {fn}({', '.join(f'{v:g}' for v in points[k])}))",
    ]
    mistake = _schedule_mistake(ctx, fn, points, got, want, tol)
    lines += _hint_line(mistake)
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)


@dataclass(frozen=True)
class Curve(Gated, Declared):
    """A schedule at many steps against the reference. ``make(rng)`` returns ``(steps, args)``:
    the schedule is evaluated at ``(step, *args)`` for each step."""

    topic: str
    function: str
    case: str
    make: Callable[[np.random.Generator], tuple[Sequence[int], tuple]]
    _: KW_ONLY
    tol: float = 1e-9
    hidden: bool = False
    degenerate: bool = False  # a trivial answer is right here: gated (checks.anchor)
    kind: Kind = Kind.REFERENCE

    def evaluate(self, ctx: Context) -> Verdict:
        steps, args = self.make(ctx.rng)
        points = [(int(s), *args) for s in steps]
        want = np.array([getattr(ctx.ref, self.function)(*p) for p in points])
        got = _lr_values(ctx, self.function, points)
        return _schedule_verdict(
            ctx, self.function, points, got, want, self.tol, "differs from the reference"
        )


@dataclass(frozen=True)
class Landmarks(Gated, Declared):
    """A schedule at its landmark steps (start, drop, end of warmup, ...) against values known
    in closed form: ``make(rng)`` returns ``[(step, *args)]`` and the values expected there."""

    topic: str
    function: str
    case: str
    make: Callable[[np.random.Generator], tuple[list[tuple], list[float], str]]
    _: KW_ONLY
    tol: float = 1e-9
    hidden: bool = False
    kind: Kind = Kind.PROPERTY

    def evaluate(self, ctx: Context) -> Verdict:
        points, values, law = self.make(ctx.rng)
        got = _lr_values(ctx, self.function, points)
        return _schedule_verdict(ctx, self.function, points, got, np.array(values), self.tol, law)
