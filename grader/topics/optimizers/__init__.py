"""Topic ``optimizers``: update rules (SGD, momentum, Nesterov, Adagrad, RMSProp, Adam) and
learning-rate schedules.

Declarations only: inputs, the checks and the known mistakes they can name. The multi-step
machinery (runs in the worker, step-by-step comparison of updates and state) is in
the part ``runs``. Conventions (TOPICS.md): ``update(w, dw, config=None) -> (next_w, config)``
with CS231n's defaults and state names; state written back into config; Adam's ``t`` incremented
before use; updating ``w`` in place allowed, modifying ``dw`` not.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from types import ModuleType

import numpy as np

from grader.checks.base import Check, Make, Misconception
from grader.checks.hygiene import Deterministic
from grader.checks.property import Property
from grader.topics.optimizers.runs import (
    KEPT_STATE,
    NOT_STORED,
    OMITTED,
    Curve,
    GradientUnchanged,
    Landmarks,
    Trajectory,
    descent,
    scale_invariance,
)

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "optimizers"
SUMMARY = (
    "SGD, momentum, Nesterov, Adagrad, RMSProp, Adam over multi-step trajectories; four schedules"
)
WORKER_SETUP = ""
OPTIMIZERS = ("sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam")
ZERO_AS_DEFAULT = "a hyperparameter of 0 replaced by its default (config.get(k) or default)"
SCHEDULES = ("step_decay", "exponential_decay", "cosine_annealing", "linear_warmup")
FUNCTIONS = OPTIMIZERS + SCHEDULES
UPDATE = ("next_w", "config")

STATE = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "nesterov_momentum": ("velocity",),
    "adagrad": ("cache",),
    "rmsprop": ("cache",),
    "adam": ("m", "v", "t"),
}
# Every hyperparameter away from its default (epsilon large enough to matter at tolerance 1e-6).
CUSTOM = {
    "sgd": {"learning_rate": 0.05},
    "sgd_momentum": {"learning_rate": 0.03, "momentum": 0.8},
    "nesterov_momentum": {"learning_rate": 0.03, "momentum": 0.75},
    "adagrad": {"learning_rate": 0.05, "epsilon": 1e-4},
    "rmsprop": {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-4},
    "adam": {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
}
# One hyperparameter given, the others left to their defaults.
PARTIAL = {
    "sgd": {"learning_rate": 0.2},
    "sgd_momentum": {"momentum": 0.5},
    "nesterov_momentum": {"momentum": 0.5},
    "adagrad": {"learning_rate": 0.1},
    "rmsprop": {"decay_rate": 0.5},
    "adam": {"beta1": 0.5},
}


# -- inputs ------------------------------------------------------------------------------------
def saved_state(fn: str, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
    """State as an earlier run would have left it (positive caches, Adam at step 7)."""
    if fn in ("sgd_momentum", "nesterov_momentum"):
        return {"velocity": 0.05 * rng.standard_normal(shape)}
    if fn == "adagrad":
        return {"cache": rng.uniform(0.5, 3.0, shape)}
    if fn == "rmsprop":
        return {"cache": rng.uniform(0.1, 2.0, shape)}
    if fn == "adam":
        return {"m": 0.1 * rng.standard_normal(shape), "v": rng.uniform(0.1, 1.0, shape), "t": 7}
    return {}


def run_inputs(
    fn: str,
    shape: tuple[int, ...],
    steps: int,
    config: dict | str | None,
    resume: bool = False,
    zero_steps: tuple[int, ...] = (),
) -> Make:
    """``make(rng) -> (w0, [dw per step], config0)`` for a ``Trajectory``."""

    def make(rng: np.random.Generator) -> tuple:
        w0 = rng.standard_normal(shape)
        dws = [
            np.zeros(shape) if k in zero_steps else rng.standard_normal(shape) for k in range(steps)
        ]
        config0 = copy.deepcopy(config)
        if resume:
            config0 = {**(config0 or {}), **saved_state(fn, rng, shape)}
        return w0, dws, config0

    return make


def one_step(fn: str, shape: tuple[int, ...]) -> Make:
    """``make(rng) -> (w, dw, config)`` with custom hyperparameters and saved state."""

    def make(rng: np.random.Generator) -> tuple:
        config = {**CUSTOM[fn], **saved_state(fn, rng, shape)}
        return rng.standard_normal(shape), rng.standard_normal(shape), config

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _state_not_stored(fn: str) -> Callable[..., tuple]:
    """The new state is computed and used, then dropped: the config that comes back holds the
    hyperparameters and the state it came in with (none at all for a fresh run)."""
    keys = STATE[fn]

    def variant(
        ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
    ) -> tuple:
        given = dict(config or {})
        next_w, out = getattr(ref, fn)(w, dw, copy.deepcopy(given))
        kept = {k: v for k, v in out.items() if k not in keys}
        kept.update({k: given[k] for k in keys if k in given})
        return next_w, kept

    return variant


def _wrong_sign(fn: str) -> Callable[..., tuple]:
    """v = mu * v + lr * dw with w += v: exactly the right rule run on -dw."""

    def variant(
        ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
    ) -> tuple:
        return getattr(ref, fn)(w, -dw, config)

    return variant


def _adam_no_bias_correction(
    ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple:
    _, out = ref.adam(w, dw, {} if config is None else config)
    next_w = w - out["learning_rate"] * out["m"] / (np.sqrt(out["v"]) + out["epsilon"])
    return next_w, out


def _adam_t_after_use(
    ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple:
    config = {} if config is None else config
    t = int(config.get("t", 0))  # the count before this step's increment
    _, out = ref.adam(w, dw, config)
    m_hat = out["m"] / (1 - out["beta1"] ** t)
    v_hat = out["v"] / (1 - out["beta2"] ** t)
    next_w = w - out["learning_rate"] * m_hat / (np.sqrt(v_hat) + out["epsilon"])
    return next_w, out


def _classical_instead_of_nesterov(
    ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple:
    return ref.sgd_momentum(w, dw, config)


def _rmsprop_no_one_minus(
    ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple:
    config = {} if config is None else config
    old = np.array(config.get("cache", np.zeros_like(w)), dtype=np.float64)
    _, out = ref.rmsprop(w, dw, config)
    out["cache"] = out["decay_rate"] * old + dw**2
    next_w = w - out["learning_rate"] * dw / (np.sqrt(out["cache"]) + out["epsilon"])
    return next_w, out


def _staircase_missing(ref: ModuleType, step: int, lr0: float, drop: float, every: int) -> float:
    return lr0 * drop ** (step / every)


def _cosine_amplitude_lr0(
    ref: ModuleType, step: int, lr0: float, total_steps: int, lr_min: float = 0.0
) -> float:
    return lr_min + lr0 * (1 + math.cos(math.pi * step / total_steps)) / 2


def _warmup_never_stops(
    ref: ModuleType, step: int, lr0: float, warmup_steps: int, start_factor: float = 0.0
) -> float:
    return lr0 * (start_factor + (1 - start_factor) * step / warmup_steps)


def _named_by_runs(ref: ModuleType, *args: object) -> tuple:
    """A mistake that one call cannot show (only a second run from the same start does): the
    run checks name it themselves, ``diagnose`` never matches it."""
    raise NotImplementedError("named by Trajectory(runs=2)")


def _adam_zero_as_default(
    ref: ModuleType, w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple:
    config = {} if config is None else config
    config["beta1"] = config.get("beta1") or 0.9  # a beta1 of 0 is falsy: the default wins
    return ref.adam(w, dw, config)


def _misconceptions() -> list[Misconception]:
    found = [
        Misconception(
            fn,
            KEPT_STATE,
            "a default argument is evaluated once: with config={} every call that omits the "
            "config shares one dict; use config=None and create the dict inside",
            _named_by_runs,
        )
        for fn in OPTIMIZERS
        if STATE[fn]  # sgd keeps no state
    ]
    found += [
        Misconception(
            "adam",
            ZERO_AS_DEFAULT,
            "config.get('beta1') or 0.9 replaces a beta1 of 0 by 0.9 (0 is falsy): use "
            "config.setdefault('beta1', 0.9) or config.get('beta1', 0.9)",
            _adam_zero_as_default,
        ),
        Misconception(
            "adam",
            "Adam without bias correction",
            "divide m by (1 - beta1**t) and v by (1 - beta2**t) before the update; without it "
            "the first steps are far too large (m and v start at 0)",
            _adam_no_bias_correction,
        ),
        Misconception(
            "adam",
            "t incremented after use",
            "increment config['t'] first, then use it in the bias correction (t = 1 on the "
            "first step; t = 0 divides by 1 - beta**0 = 0)",
            _adam_t_after_use,
        ),
    ]
    for fn in ("sgd_momentum", "nesterov_momentum"):
        found.append(
            Misconception(
                fn,
                "momentum with the wrong sign",
                "v = momentum * v - learning_rate * dw, then w + v (or v = mu*v + lr*dw and "
                "w - v); adding lr * dw to v and v to w climbs the loss",
                _wrong_sign(fn),
            )
        )
    found.append(
        Misconception(
            "nesterov_momentum",
            "classical momentum instead of Nesterov",
            "Nesterov's lookahead form: next_w = w - momentum * v_prev + (1 + momentum) * v, "
            "not w + v",
            _classical_instead_of_nesterov,
        )
    )
    found.append(
        Misconception(
            "rmsprop",
            "RMSProp average without (1 - decay_rate)",
            "cache = decay_rate * cache + (1 - decay_rate) * dw**2 (a moving average, not a sum)",
            _rmsprop_no_one_minus,
        )
    )
    for fn, keys in STATE.items():
        if keys:
            found.append(
                Misconception(
                    fn,
                    NOT_STORED,
                    f"store the new state in config ({', '.join(f'config[{k!r}]' for k in keys)}"
                    ") and return that config; state kept in a local variable is lost, so every "
                    "step starts again from the old state",
                    _state_not_stored(fn),
                )
            )
    found += [
        Misconception(
            "step_decay",
            "continuous decay instead of a staircase",
            "use integer division: drop ** (step // every), so the rate stays constant for "
            "`every` steps and then drops",
            _staircase_missing,
        ),
        Misconception(
            "cosine_annealing",
            "cosine amplitude lr0 instead of lr0 - lr_min",
            "lr_min + (lr0 - lr_min) * (1 + cos(pi * step / total_steps)) / 2: it must start at "
            "lr0, not lr0 + lr_min",
            _cosine_amplitude_lr0,
        ),
        Misconception(
            "linear_warmup",
            "warmup never stops",
            "clip the progress at 1: min(step, warmup_steps) / warmup_steps; after the warmup "
            "the rate stays at lr0",
            _warmup_never_stops,
        ),
    ]
    return found


MISCONCEPTIONS = tuple(_misconceptions())


# -- schedule inputs ---------------------------------------------------------------------------


def curve(steps: range, *args: float, lr0: tuple[float, float] = (0.01, 0.5)) -> Make:
    """``make(rng) -> (steps, (lr0, *args))`` with lr0 drawn from ``lr0``."""

    def make(rng: np.random.Generator) -> tuple:
        return list(steps), (float(rng.uniform(*lr0)), *args)

    return make


def _step_decay_landmarks(rng: np.random.Generator) -> tuple[list[tuple], list[float], str]:
    lr0, drop, every = float(rng.uniform(0.05, 0.5)), 0.5, 5
    steps = [0, every - 1, every, 2 * every - 1, 2 * every]
    values = [lr0, lr0, lr0 * drop, lr0 * drop, lr0 * drop**2]
    law = "lr0 until step every - 1, lr0 * drop from step every, lr0 * drop**2 from 2 * every"
    return [(s, lr0, drop, every) for s in steps], values, law


def _exponential_landmarks(rng: np.random.Generator) -> tuple[list[tuple], list[float], str]:
    lr0, gamma = float(rng.uniform(0.05, 0.5)), 0.5
    return (
        [(0, lr0, gamma), (1, lr0, gamma), (3, lr0, gamma)],
        [lr0, lr0 / 2, lr0 / 8],
        "lr0 at step 0, then halved at every step for gamma = 0.5",
    )


def _cosine_landmarks(rng: np.random.Generator) -> tuple[list[tuple], list[float], str]:
    lr0, lr_min, total = float(rng.uniform(0.1, 0.5)), 0.01, 20
    steps = [0, total // 2, total]
    values = [lr0, (lr0 + lr_min) / 2, lr_min]
    law = "lr0 at step 0, (lr0 + lr_min) / 2 halfway, lr_min at step total_steps"
    return [(s, lr0, total, lr_min) for s in steps], values, law


def _warmup_landmarks(rng: np.random.Generator) -> tuple[list[tuple], list[float], str]:
    lr0, warmup, start = float(rng.uniform(0.05, 0.5)), 8, 0.25
    steps = [0, warmup // 2, warmup, warmup + 7]
    values = [lr0 * start, lr0 * (start + (1 - start) / 2), lr0, lr0]
    law = "start_factor * lr0 at step 0, lr0 from step warmup_steps on"
    return [(s, lr0, warmup, start) for s in steps], values, law


def _one_point(*args: float) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return args

    return make


# -- checks --------------------------------------------------------------------------------------
def _optimizer_checks(fn: str) -> list[Check]:
    state = STATE[fn]

    def trajectory(case: str, make: Make, hidden: bool = False) -> Trajectory:
        return Trajectory(TOPIC, fn, case, make, state=state, hidden=hidden)

    partial_key = next(iter(PARTIAL[fn]))
    found: list[Check] = [
        trajectory(
            "6 steps, w (4, 5), custom hyperparameters", run_inputs(fn, (4, 5), 6, CUSTOM[fn])
        ),
        trajectory("defaults: config=None, 4 steps", run_inputs(fn, (3, 4), 4, None)),
        trajectory("defaults: config omitted, 3 steps", run_inputs(fn, (5,), 3, OMITTED)),
        Trajectory(  # a mutable default config={} keeps the first run's state for the second
            TOPIC,
            fn,
            "config omitted, two runs from the same start",
            run_inputs(fn, (4,), 3, OMITTED),
            state=state,
            runs=2,
        ),
        trajectory(
            f"partial config: only {partial_key}, 4 steps", run_inputs(fn, (3, 5), 4, PARTIAL[fn])
        ),
        trajectory("single weight, shape (1,), 5 steps", run_inputs(fn, (1,), 5, {})),
        trajectory("3-d weights (2, 3, 4), 4 steps", run_inputs(fn, (2, 3, 4), 4, CUSTOM[fn])),
        trajectory(
            "small learning rate 1e-6, 5 steps",
            run_inputs(fn, (4, 3), 5, {"learning_rate": 1e-6}),
        ),
        trajectory(
            "zero gradient at steps 1 and 3, 4 steps",
            run_inputs(fn, (3, 3), 4, {}, zero_steps=(0, 2)),
        ),
        trajectory("20 steps, w (30, 40)", run_inputs(fn, (30, 40), 20, CUSTOM[fn]), hidden=True),
        Property(TOPIC, fn, "descent on a convex quadratic", descent(fn, {"learning_rate": 1e-3})),
        Deterministic(TOPIC, fn, "deterministic", one_step(fn, (4, 4)), UPDATE),
        GradientUnchanged(TOPIC, fn, "dw unchanged", one_step(fn, (3, 4))),
    ]
    if state:
        found += [
            trajectory(
                "resume from saved state, 5 steps",
                run_inputs(fn, (4, 5), 5, PARTIAL[fn], resume=True),
            ),
            trajectory(
                "resume from saved state, 10 steps, w (16, 8)",
                run_inputs(fn, (16, 8), 10, CUSTOM[fn], resume=True),
                hidden=True,
            ),
        ]
    if fn == "adam":  # beta1 = 0: no momentum, m is this step's gradient
        found.append(trajectory("beta1 = 0, 4 steps", run_inputs(fn, (3, 4), 4, {"beta1": 0.0})))
    if fn in ("adagrad", "rmsprop", "adam"):
        found.append(Property(TOPIC, fn, "invariance to the gradient scale", scale_invariance(fn)))
    return found


def _schedule_checks() -> list[Check]:
    # linear_warmup with warmup_steps = 0 is left unchecked on purpose: its docstring asks for
    # warmup_steps >= 1 (torch's LinearLR divides by total_iters too), so 0 has no answer.
    return [
        Curve(TOPIC, "step_decay", "steps 0..20, drop 0.5 every 4", curve(range(21), 0.5, 4)),
        Curve(TOPIC, "step_decay", "every=1: drops at every step", curve(range(8), 0.9, 1)),
        Curve(
            TOPIC,
            "step_decay",
            "steps 0..300, drop 0.1 every 100",
            curve(range(301), 0.1, 100),
            hidden=True,
        ),
        Landmarks(TOPIC, "step_decay", "values at step 0 and at the drops", _step_decay_landmarks),
        Curve(TOPIC, "exponential_decay", "steps 0..30, gamma 0.9", curve(range(31), 0.9)),
        Curve(
            TOPIC, "exponential_decay", "gamma 1: constant", curve(range(5), 1.0), degenerate=True
        ),
        Curve(
            TOPIC,
            "exponential_decay",
            "steps 0..500, gamma 0.99",
            curve(range(501), 0.99),
            hidden=True,
        ),
        Landmarks(TOPIC, "exponential_decay", "values at steps 0, 1, 3", _exponential_landmarks),
        Curve(
            TOPIC,
            "cosine_annealing",
            "steps 0..16 of 16, lr_min default (0)",
            curve(range(17), 16),
        ),
        Curve(
            TOPIC,
            "cosine_annealing",
            "steps 0..15 of 15 (odd), lr_min 0.005",
            curve(range(16), 15, 0.005),
        ),
        Curve(
            TOPIC,
            "cosine_annealing",
            "steps 0..1000 of 1000, lr_min 1e-4",
            curve(range(1001), 1000, 1e-4),
            hidden=True,
        ),
        Landmarks(
            TOPIC,
            "cosine_annealing",
            "values at step 0, halfway and total_steps",
            _cosine_landmarks,
        ),
        Curve(
            TOPIC,
            "linear_warmup",
            "steps 0..12, 6 warmup steps, start_factor default (0)",
            curve(range(13), 6),
        ),
        Curve(
            TOPIC,
            "linear_warmup",
            "steps 0..10, 4 warmup steps, start_factor 0.1",
            curve(range(11), 4, 0.1),
        ),
        Curve(
            TOPIC,
            "linear_warmup",
            "steps 0..200, 100 warmup steps, start_factor 0.01",
            curve(range(201), 100, 0.01),
            hidden=True,
        ),
        Landmarks(
            TOPIC,
            "linear_warmup",
            "values at step 0, halfway and after the warmup",
            _warmup_landmarks,
        ),
        Deterministic(TOPIC, "step_decay", "deterministic", _one_point(7, 0.1, 0.5, 3), ("lr",)),
        Deterministic(
            TOPIC, "exponential_decay", "deterministic", _one_point(7, 0.1, 0.95), ("lr",)
        ),
        Deterministic(
            TOPIC, "cosine_annealing", "deterministic", _one_point(7, 0.1, 20, 0.001), ("lr",)
        ),
        Deterministic(
            TOPIC, "linear_warmup", "deterministic", _one_point(3, 0.1, 10, 0.2), ("lr",)
        ),
    ]


def checks() -> list[Check]:
    found: list[Check] = []
    for fn in OPTIMIZERS:
        found += _optimizer_checks(fn)
    return found + _schedule_checks()
