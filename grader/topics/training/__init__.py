"""Topic ``training``: a Solver-style loop with early stopping, ensembles, Polyak averaging,
Newton and BFGS steps.

Declarations only. The loop trains the given softmax classifier with the given in-place update
rules (callables cannot cross to the worker: the rule is named by ``config['update_rule']``), so
the student's run is compared with the reference's exactly for the same seed: one
``rng.permutation(N)`` per epoch. Loop checks train on data sets redrawn until the run stops
early and every known mistake of the loop changes the result (the part ``model``); a run is
compared entry by entry (best_W, the histories, their lengths). Second-order steps are checked
on quadratics, where the answer is exact; the Newton step is also checked with a non-symmetric
Jacobian (root finding), where applying the inverse on the wrong side shows.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import (
    PASS,
    Check,
    Context,
    Kind,
    Make,
    Misconception,
    Outcome,
    Verdict,
)
from grader.checks.diagnose import Observation
from grader.checks.hygiene import Deterministic, NoMutation, _same
from grader.checks.outputs import conform, describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import Reference, param_names
from grader.judge.student import Call
from grader.topics.training.model import (
    TRAIN,
    dataset,
    early_stopping_case,
    run_comparisons,
    run_model,
    same_run,
    variant,
    zero_first_epoch_case,
)
from grader.topics.training.model import config as train_config

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "training"
SUMMARY = (
    "seeded minibatch loop with early stopping compared run for run; ensembles, Polyak, "
    "Newton and BFGS on quadratics"
)
WORKER_SETUP = ""
ENSEMBLE, POLYAK, NEWTON, BFGS = "ensemble_predict", "polyak_average", "newton_step", "bfgs_update"
FUNCTIONS = (TRAIN, ENSEMBLE, POLYAK, NEWTON, BFGS)
RUN = ("best_W", "history")
TOL = 1e-6

BY_REFERENCE = "best parameters kept by reference"
ON_TRAIN_LOSS = "early stopping on the training loss"
PATIENCE_OFF = "patience off by one"
AVERAGED_LOGITS = "ensemble averages logits, not probabilities"
DECAY_SWAPPED = "Polyak decay weights swapped"
WRONG_SIDE = "inverse Hessian applied on the wrong side"
SY_SWAPPED = "BFGS with s and y swapped"
BEST_AT_ZERO = "best validation accuracy starts at 0"
W_MODIFIED = "the caller's W trained in place"
CONFIG_MODIFIED = "the caller's optim_config used as the optimizer state"
NO_ROW_SHIFT = "softmax without the row max-shift (overflow at large scores)"
GLOBAL_SHIFT = "max-shift by one maximum for every model and row"


# -- known mistakes ------------------------------------------------------------------------------
def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _bfgs(H: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    rho, eye = 1.0 / (y @ s), np.eye(s.shape[0])
    return (eye - rho * np.outer(s, y)) @ H @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)


def _ensemble_shifted(scores: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(scores - shift)
        return (e / e.sum(axis=-1, keepdims=True)).mean(axis=0)


def _polyak_swapped(ref: ModuleType, checkpoints: np.ndarray, decay: float) -> np.ndarray:
    avg = checkpoints[0].copy()
    for t in range(1, checkpoints.shape[0]):
        avg = (1 - decay) * avg + decay * checkpoints[t]
    return avg


MISCONCEPTIONS = (
    Misconception(
        TRAIN,
        BY_REFERENCE,
        "best_W = W stores a reference: the in-place update rules keep changing it; store "
        "best_W = W.copy()",
        variant(copy_best=False),
    ),
    Misconception(
        TRAIN,
        ON_TRAIN_LOSS,
        "early stopping (and the best parameters) follow the VALIDATION accuracy; the training "
        "loss keeps falling while the model overfits",
        variant(on_loss=True),
    ),
    Misconception(
        TRAIN,
        PATIENCE_OFF,
        "count the epochs without improvement and stop as soon as that count reaches patience "
        "(waited >= patience after waited += 1)",
        variant(patience_shift=1),
    ),
    Misconception(
        TRAIN,
        PATIENCE_OFF,
        "count the epochs without improvement and stop as soon as that count reaches patience "
        "(waited >= patience after waited += 1)",
        variant(patience_shift=-1),
    ),
    Misconception(
        TRAIN,
        BEST_AT_ZERO,
        "start the best validation accuracy at -1 (the docstring), so that epoch 0 always "
        "improves: from 0, a first epoch at accuracy 0 stores no best_W and counts as an epoch "
        "without improvement",
        variant(best_start=0.0),
    ),
    # the two below are seen by the check that watches train's arguments, not in its outputs:
    # their models are the reference run, which the diagnosis of outputs never reports
    Misconception(
        TRAIN,
        W_MODIFIED,
        "W = W.copy() first: the update rules change their argument in place, and the docstring "
        "says the caller's W is not modified",
        variant(),
    ),
    Misconception(
        TRAIN,
        CONFIG_MODIFIED,
        "optim_config = dict(config['optim_config']): the update rules store their state "
        "(velocity, m, v, t) and defaults in the dict they get, and the caller's must stay "
        "as it was",
        variant(),
    ),
    Misconception(
        ENSEMBLE,
        NO_ROW_SHIFT,
        "subtract each row's max, scores - scores.max(axis=2, keepdims=True), before np.exp: "
        "exp(800) overflows",
        lambda ref, scores: _ensemble_shifted(scores, 0.0),
    ),
    Misconception(
        ENSEMBLE,
        GLOBAL_SHIFT,
        "subtract each row's own max (scores.max(axis=2, keepdims=True)): with one max for "
        "every model and row, the rows far below it underflow to exp(...) = 0 and 0 / 0",
        lambda ref, scores: _ensemble_shifted(scores, scores.max()),
    ),
    Misconception(
        ENSEMBLE,
        AVERAGED_LOGITS,
        "average the probabilities: softmax each model's scores, then take the mean over models",
        lambda ref, scores: _softmax(scores.mean(axis=0)),
    ),
    Misconception(
        ENSEMBLE,
        AVERAGED_LOGITS,
        "average the probabilities: softmax each model's scores, then take the mean over models",
        lambda ref, scores: scores.mean(axis=0),
    ),
    Misconception(
        POLYAK,
        DECAY_SWAPPED,
        "avg = decay * avg + (1 - decay) * checkpoint: decay weighs the running average",
        _polyak_swapped,
    ),
    Misconception(
        NEWTON,
        WRONG_SIDE,
        "the Newton step solves H @ delta = grad: w - np.linalg.solve(H, grad), not "
        "w - grad @ inv(H) (they differ when H is not symmetric)",
        lambda ref, w, grad, H: w - grad @ np.linalg.inv(H),
    ),
    Misconception(
        BFGS,
        SY_SWAPPED,
        "s is the step (w_new - w), y the gradient change; the update must give H_new @ y = s",
        lambda ref, H, s, y: _bfgs(H, y, s),
    ),
)


# -- the loop ------------------------------------------------------------------------------------
Scenario = Callable[[np.random.Generator, ModuleType], tuple]


def early(rule: str, optim: dict, sizes: tuple = (40, 30, 4, 3), **kw: object) -> Scenario:
    return lambda rng, ref: early_stopping_case(rng, ref, rule, optim, sizes, **kw)


def full(rule: str, optim: dict, sizes: tuple = (30, 20, 5, 4), **kw: object) -> Scenario:
    """A run that may or may not stop early (patience as given)."""
    return lambda rng, ref: (*dataset(rng, *sizes), train_config(rng, rule, optim, **kw))


def _train_run(scenario: Scenario) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        args = scenario(ctx.rng, ctx.ref)
        want = run_model(ctx.ref, *args)
        got = ctx.student.call(Call(TRAIN, args)).value
        conform(got, want, f"{TRAIN} return value (best_W, history)")
        conform(got[0], want[0], f"{TRAIN} -> best_W")
        if not isinstance(got[1], dict) or set(want[1]) - set(got[1]):
            conform(got[1], {k: 0 for k in want[1]}, f"{TRAIN} -> history")
        comparisons = run_comparisons(got, want, TOL)
        if all(c.ok for c in comparisons):
            return PASS
        text = describe_call(TRAIN, param_names(ctx, TRAIN), args)
        bad = [c for c in comparisons if not c.ok]
        lines = [f"{text}: {bad[0].name} differs from the reference run.", "  " + bad[0].describe()]
        if len(bad) > 1:
            lines.append("  also off: " + ", ".join(c.name for c in bad[1:4]))
        epochs = want[1]["val_acc_history"].size
        lines.append(
            f"  the reference ran {epochs} epochs, best epoch {want[1]['best_epoch']} "
            f"(patience {args[5]['patience']}); draws: one rng.permutation(N) per epoch"
        )
        mistake = _named(ctx, args, got, want)
        if mistake:
            lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
        name = mistake.name if mistake else None
        return Verdict(Outcome.WRONG, "\n".join(lines), misconception=name)

    return body


def _named(ctx: Context, args: tuple, got: tuple, want: tuple) -> Misconception | None:
    for m in ctx.misconceptions:
        if m.function != TRAIN:
            continue
        out = m.variant(ctx.ref, *args)
        if same_run(got, out) and not same_run(want, out):  # a mistake that shows here
            return m
    return None


def zero_first(rule: str, optim: dict, sizes: tuple = (30, 12, 4, 3), **kw: object) -> Scenario:
    """A run whose validation accuracy after epoch 0 is exactly 0."""
    return lambda rng, ref: zero_first_epoch_case(rng, ref, rule, optim, sizes, **kw)


def _arguments_unchanged(scenario: Scenario) -> Callable[[Context], Verdict]:
    """The docstring's promise: train works on a copy of W and of config['optim_config'] (the
    update rules change both in place), so the caller's W and config are as they were."""

    def body(ctx: Context) -> Verdict:
        args = scenario(ctx.rng, ctx.ref)
        W_after, config_after = ctx.student.call(Call(TRAIN, args, echo=(0, 5))).echo
        text = describe_call(TRAIN, param_names(ctx, TRAIN), args)
        if not _same(args[0], W_after):
            name, what = W_MODIFIED, "the caller's W"
        elif not _same(args[5], config_after):
            name, what = CONFIG_MODIFIED, "the caller's config"
            before = args[5]["optim_config"]
            after = config_after.get("optim_config") if isinstance(config_after, dict) else None
            if isinstance(after, dict) and set(after) != set(before):
                what += f" (optim_config gained {sorted(set(after) - set(before))})"
        else:
            return PASS
        hint = next(m.hint for m in MISCONCEPTIONS if m.name == name)
        return Verdict(
            Outcome.WRONG,
            f"{text} modified {what}; the docstring says W and config['optim_config'] are not "
            f"modified.\n  looks like a known mistake: {name}. Hint: {hint}",
            misconception=name,
        )

    return body


def plain(scenario: Scenario) -> Make:
    """A maker for the hygiene checks, from a scenario that needs no reference."""
    return lambda rng: scenario(rng, None)  # type: ignore[arg-type]


# -- inputs of the other functions ---------------------------------------------------------------
def scores(m: int, n: int, c: int, scale: float = 2.0) -> Make:
    return lambda rng: (scale * rng.standard_normal((m, n, c)),)


def large_scores(m: int, n: int, c: int) -> Make:
    """Scores far from 0: model 0's row 0 spread from about -500 to +500, row 1 of every model
    near +800, the other rows near 0. exp without a shift overflows on row 1, after a shift by
    the row minimum (or by scores + max) on row 0; a shift by one maximum for everything
    underflows the rows near 0 (0 / 0)."""

    def make(rng: np.random.Generator) -> tuple:
        x = 2.0 * rng.standard_normal((m, n, c))
        x[0, 0] += np.linspace(-500.0, 500.0, c)
        x[:, 1] += 800.0
        return (x,)

    return make


def checkpoints(t: int, shape: tuple[int, ...], decay: float) -> Make:
    return lambda rng: (rng.standard_normal((t, *shape)), decay)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


def quadratic(d: int) -> Make:
    """(w, grad, H) of 0.5 w'Aw - b'w at a random w: grad = A @ w - b, H = A (SPD)."""

    def make(rng: np.random.Generator) -> tuple:
        A, b, w = _spd(rng, d), rng.standard_normal(d), rng.standard_normal(d)
        return w, A @ w - b, A

    return make


def jacobian(d: int) -> Make:
    """(w, F, J): a Newton root-finding step with a non-symmetric, well-conditioned J."""

    def make(rng: np.random.Generator) -> tuple:
        J = rng.standard_normal((d, d)) + d * np.eye(d)
        return rng.standard_normal(d), rng.standard_normal(d), J

    return make


def secant(d: int) -> Make:
    """(H_inv, s, y) with H_inv SPD and y = A @ s for an SPD A (a quadratic), so y @ s > 0."""

    def make(rng: np.random.Generator) -> tuple:
        H, A, s = np.linalg.inv(_spd(rng, d)), _spd(rng, d), rng.standard_normal(d)
        return H, s, A @ s

    return make


# -- laws ----------------------------------------------------------------------------------------
def _rows_sum_to_one(ctx: Context) -> Verdict:
    args = scores(4, 7, 5)(ctx.rng)
    probs = student_outputs(ctx, ENSEMBLE, args, ("probs",))[0]
    ones = np.ones(probs.shape[0])
    return expect_close(
        ctx, ENSEMBLE, "every row sums to 1", ("row sums",), (probs.sum(axis=1),), (ones,), 1e-9
    )


def _one_step_minimises(ctx: Context) -> Verdict:
    w, grad, A = quadratic(6)(ctx.rng)
    b = A @ w - grad
    got = student_outputs(ctx, NEWTON, (w, grad, A), ("w_new",))
    evidence = Observation(NEWTON, "", (w, grad, A), got, ("w_new",))
    return expect_close(
        ctx,
        NEWTON,
        "one step on a quadratic lands on the minimiser solve(A, b)",
        ("w_new",),
        got,
        (np.linalg.solve(A, b),),
        1e-8,
        evidence,
    )


def _secant_condition(ctx: Context) -> Verdict:
    H, s, y = secant(5)(ctx.rng)
    got = student_outputs(ctx, BFGS, (H, s, y), ("H_new",))
    evidence = Observation(BFGS, "", (H, s, y), got, ("H_new",))
    return expect_close(
        ctx,
        BFGS,
        "the secant condition H_new @ y = s",
        ("H_new @ y",),
        (got[0] @ y,),
        (s,),
        1e-8,
        evidence,
    )


def _symmetric_positive_definite(ctx: Context) -> Verdict:
    H, s, y = secant(6)(ctx.rng)
    new = student_outputs(ctx, BFGS, (H, s, y), ("H_new",))[0]
    if np.allclose(new, new.T, rtol=1e-10, atol=1e-12) and np.linalg.eigvalsh(new).min() > 0:
        return PASS
    return Verdict(
        Outcome.WRONG,
        f"{describe_call(BFGS, param_names(ctx, BFGS), (H, s, y))}: H_new must be symmetric "
        "positive definite when H_inv is and y @ s > 0 "
        f"(max |H_new - H_new.T| = {np.abs(new - new.T).max():.3g}, smallest eigenvalue "
        f"{np.linalg.eigvalsh((new + new.T) / 2).min():.3g})",
    )


# -- checks --------------------------------------------------------------------------------------
SGD = ("sgd", {"learning_rate": 0.3})
MOMENTUM = ("sgd_momentum", {"learning_rate": 0.05, "momentum": 0.8})
ADAM = ("adam", {"learning_rate": 0.05})


def _loop_checks() -> list[Check]:
    def prop(case: str, scenario: Scenario, hidden: bool = False, anchor: bool = False) -> Check:
        return Property(TOPIC, TRAIN, case, _train_run(scenario), hidden=hidden, is_anchor=anchor)

    hygiene = full(*SGD, sizes=(12, 6, 3, 2), num_epochs=4)
    return [
        # the anchor of train (a run compared with the reference's, step for step)
        prop(
            "sgd, no early stop (patience 50, N=30, batch 8)", full(*SGD, patience=50), anchor=True
        ),
        prop(
            "sgd, batch of 1 (N=7, 3 epochs)",
            full(*SGD, sizes=(7, 5, 3, 2), batch_size=1, num_epochs=3, patience=10),
        ),
        prop("sgd, stops early (patience 3)", early(*SGD)),
        prop("sgd_momentum, stops early (patience 2)", early(*MOMENTUM, patience=2)),
        prop("adam, stops early (patience 3, batch 16)", early(*ADAM, batch_size=16)),
        prop("sgd, patience 1", early(*SGD, patience=1)),
        prop(
            "sgd, validation accuracy 0 after epoch 0 (the best starts at -1)",
            zero_first(*SGD, patience=2),
        ),
        prop(
            "adam, validation accuracy 0 after epoch 0, patience 1",
            zero_first(*ADAM, patience=1, batch_size=6),
            hidden=True,
        ),
        Property(
            TOPIC,
            TRAIN,
            "W and config not modified (sgd_momentum, the docstring promises it)",
            _arguments_unchanged(full(*MOMENTUM, sizes=(12, 6, 3, 2), num_epochs=3)),
        ),
        prop(
            "adam, stops early (patience 4, N=52, D=6, C=5)",
            early(*ADAM, sizes=(52, 40, 6, 5), patience=4, batch_size=10, num_epochs=30),
            hidden=True,
        ),
        prop(
            "sgd_momentum, whole batch (N=25)",
            full(*MOMENTUM, sizes=(25, 15, 4, 3), batch_size=25, patience=50),
            hidden=True,
        ),
        Deterministic(TOPIC, TRAIN, "same inputs, same run", plain(hygiene), RUN),
        NoMutation(TOPIC, TRAIN, "inputs unchanged", plain(hygiene), RUN),
    ]


def checks() -> list[Check]:
    E, P, N, B = ENSEMBLE, POLYAK, NEWTON, BFGS
    return [
        *_loop_checks(),
        Reference(TOPIC, E, "3 models, N=6, C=4", scores(3, 6, 4), ("probs",)),
        Reference(TOPIC, E, "one model is its softmax (N=5, C=3)", scores(1, 5, 3), ("probs",)),
        Reference(TOPIC, E, "2 models, one row, large scores", scores(2, 1, 6, 40.0), ("probs",)),
        Reference(
            TOPIC,
            E,
            "scores near +800 and a row spread over +-500 (row max-shift)",
            large_scores(3, 4, 5),
            ("probs",),
            kind=Kind.HYGIENE,
        ),
        Property(TOPIC, E, "rows sum to 1", _rows_sum_to_one),
        Reference(TOPIC, E, "7 models, N=11, C=9", scores(7, 11, 9), ("probs",), hidden=True),
        NoMutation(TOPIC, E, "inputs unchanged", scores(2, 3, 4), ("probs",)),
        Deterministic(TOPIC, E, "same input, same output", scores(2, 3, 4), ("probs",)),
        Reference(
            TOPIC, P, "5 checkpoints (4, 3), decay 0.9", checkpoints(5, (4, 3), 0.9), ("avg",)
        ),
        Reference(
            TOPIC,
            P,
            "one checkpoint is itself",
            checkpoints(1, (6,), 0.7),
            ("avg",),
            degenerate=True,
        ),
        Reference(TOPIC, P, "decay 0 is the last checkpoint", checkpoints(4, (3,), 0.0), ("avg",)),
        Reference(
            TOPIC, P, "3 checkpoints (2, 5), decay 0.6", checkpoints(3, (2, 5), 0.6), ("avg",)
        ),
        Reference(
            TOPIC,
            P,
            "12 checkpoints (3, 4, 2), decay 0.75",
            checkpoints(12, (3, 4, 2), 0.75),
            ("avg",),
            hidden=True,
        ),
        NoMutation(TOPIC, P, "inputs unchanged", checkpoints(4, (3, 2), 0.5), ("avg",)),
        Deterministic(TOPIC, P, "same input, same output", checkpoints(4, (3, 2), 0.5), ("avg",)),
        Reference(TOPIC, N, "quadratic, D=4", quadratic(4), ("w_new",), tol=1e-8),
        Reference(TOPIC, N, "D=1", quadratic(1), ("w_new",), tol=1e-8),
        Property(TOPIC, N, "one step minimises a quadratic (D=6)", _one_step_minimises),
        Reference(
            TOPIC,
            N,
            "non-symmetric Jacobian (root finding), D=5",
            jacobian(5),
            ("w_new",),
            tol=1e-8,
        ),
        Reference(
            TOPIC, N, "non-symmetric Jacobian, D=9", jacobian(9), ("w_new",), tol=1e-8, hidden=True
        ),
        NoMutation(TOPIC, N, "inputs unchanged", jacobian(3), ("w_new",)),
        Deterministic(TOPIC, N, "same input, same output", jacobian(3), ("w_new",)),
        Reference(TOPIC, B, "D=4", secant(4), ("H_new",), tol=1e-8),
        Reference(TOPIC, B, "D=1", secant(1), ("H_new",), tol=1e-8),
        Property(TOPIC, B, "secant condition H_new @ y = s (D=5)", _secant_condition),
        Property(TOPIC, B, "symmetric positive definite (D=6)", _symmetric_positive_definite),
        Reference(TOPIC, B, "D=8", secant(8), ("H_new",), tol=1e-8, hidden=True),
        NoMutation(TOPIC, B, "inputs unchanged", secant(3), ("H_new",)),
        Deterministic(TOPIC, B, "same input, same output", secant(3), ("H_new",)),
    ]
