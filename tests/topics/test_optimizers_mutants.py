"""The optimizers checks catch realistic bugs in update rules and schedules, name the known
mistakes, and accept the correct variations a student may legitimately write (a new config
dict, an in-place update of w)."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics.optimizers import ZERO_AS_DEFAULT
from grader.topics.optimizers.runs import KEPT_STATE

T = "optimizers"
NOT_STORED = "optimizer state not written back"
WRONG_SIGN = "momentum with the wrong sign"

ADAM_T = """    t = int(config.get("t", 0)) + 1
    m = beta1 * config.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * config.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["m"], config["v"], config["t"] = m, v, t
"""

NAMED = [
    Mutant(
        T,
        "adam",
        "m_hat / (np.sqrt(v_hat) + config",
        "m / (np.sqrt(v) + config",
        "Adam without bias correction",
    ),
    Mutant(
        T,
        "adam",
        ADAM_T,
        ADAM_T.replace(") + 1\n", ")\n").replace("= m, v, t", "= m, v, t + 1"),
        "t incremented after use",
    ),
    Mutant(
        T,
        "sgd_momentum",
        'v = config["momentum"] * v - config["learning_rate"] * dw',
        'v = config["momentum"] * v + config["learning_rate"] * dw',
        WRONG_SIGN,
    ),
    Mutant(
        T,
        "nesterov_momentum",
        'v = mu * v_prev - config["learning_rate"] * dw',
        'v = mu * v_prev + config["learning_rate"] * dw',
        WRONG_SIGN,
    ),
    Mutant(
        T,
        "nesterov_momentum",
        "next_w = w - mu * v_prev + (1 + mu) * v",
        "next_w = w + v",
        "classical momentum instead of Nesterov",
    ),
    Mutant(
        T,
        "rmsprop",
        "+ (1 - rho) * dw**2",
        "+ dw**2",
        "RMSProp average without (1 - decay_rate)",
    ),
    # state lost: the key never reaches config ...
    Mutant(T, "sgd_momentum", '    config["velocity"] = v\n', "", NOT_STORED),
    Mutant(T, "nesterov_momentum", '    config["velocity"] = v\n', "", NOT_STORED),
    Mutant(T, "adagrad", '    config["cache"] = cache\n', "", NOT_STORED),
    Mutant(T, "adam", '    config["m"], config["v"], config["t"] = m, v, t\n', "", NOT_STORED),
    # ... or CS231n's setdefault leaves zeros there that are never updated
    Mutant(
        T,
        "rmsprop",
        'config["cache"] = cache',
        'config.setdefault("cache", np.zeros_like(w))',
        NOT_STORED,
    ),
    Mutant(
        T,
        "step_decay",
        "float(lr0 * drop ** (step // every))",
        "float(lr0 * drop ** (step / every))",
        "continuous decay instead of a staircase",
    ),
    Mutant(
        T,
        "cosine_annealing",
        "float(lr_min + (lr0 - lr_min) * (1",
        "float(lr_min + lr0 * (1",
        "cosine amplitude lr0 instead of lr0 - lr_min",
    ),
    Mutant(
        T,
        "linear_warmup",
        "progress = min(step, warmup_steps) / warmup_steps",
        "progress = step / warmup_steps",
        "warmup never stops",
    ),
]

UNNAMED = [
    Mutant(T, "sgd", 'setdefault("learning_rate", 1e-2)', 'setdefault("learning_rate", 1e-3)'),
    Mutant(T, "sgd", 'w - config["learning_rate"] * dw', "w - 1e-2 * dw"),
    Mutant(
        T,
        "adagrad",
        'dw / (np.sqrt(cache) + config["epsilon"])',
        'dw / np.sqrt(cache + config["epsilon"])',
    ),
    Mutant(T, "adagrad", "np.zeros_like(w)) + dw**2", "np.zeros_like(w)) + np.abs(dw)"),
    Mutant(T, "rmsprop", 'rho = config["decay_rate"]', "rho = 0.99"),
    Mutant(
        T,
        "adam",
        '    config.setdefault("beta2", 0.999)\n',
        '    config.setdefault("beta2", 0.99)\n',
    ),
    Mutant(
        T, "adam", "np.zeros_like(w)) + (1 - beta2) * dw**2", "np.zeros_like(w)) + (1 - beta2) * dw"
    ),
    Mutant(T, "adam", "m_hat / (np.sqrt(v_hat)", "m_hat / (v_hat"),
    Mutant(T, "nesterov_momentum", "(1 + mu) * v\n", "mu * v\n"),
    Mutant(T, "exponential_decay", "float(lr0 * gamma**step)", "float(lr0 * gamma ** (step + 1))"),
    Mutant(
        T,
        "cosine_annealing",
        "np.pi * step / total_steps",
        "np.pi * step / (total_steps - 1)",
    ),
    Mutant(
        T,
        "linear_warmup",
        "progress = min(step, warmup_steps)",
        "progress = min(step + 1, warmup_steps)",
    ),
]

EDGES = [
    Mutant(  # a mutable default config: the second run starts from the first one's state
        "optimizers",
        "adam",
        "config: Config | None = None",
        "config: Config | None = {}",  # noqa: B006 (the bug under test)
        KEPT_STATE,
    ),
    Mutant(
        "optimizers",
        "adam",
        'config.setdefault("beta1", 0.9)',
        'config["beta1"] = config.get("beta1") or 0.9',
        ZERO_AS_DEFAULT,
    ),
]
MUTANTS = EDGES + NAMED + UNNAMED


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant)


def _grade(course, tmp_path, source: str):
    path = tmp_path / "optimizers.py"
    path.write_text(source)
    results, _ = grade_topic(course, T, path, None, sandbox_for(course))
    return results


def _reference(course) -> str:
    return (course.solutions_dir / "optimizers.py").read_text()


def test_new_config_dict_with_the_state_is_fine(course, tmp_path):
    """Rules that copy config (the caller's dict untouched) and return the copy pass."""
    source = _reference(course)
    old = "    if config is None:\n        config = {}\n"
    assert source.count(old) == 6
    results = _grade(course, tmp_path, source.replace(old, "    config = dict(config or {})\n"))
    assert [r.check_id for r in results if not r.passed] == []


def test_updating_w_in_place_is_fine(course, tmp_path):
    source = _reference(course).replace(
        '    next_w = w - config["learning_rate"] * dw\n',
        '    w -= config["learning_rate"] * dw\n    next_w = w\n',
    )
    assert "w -= config" in source
    results = _grade(course, tmp_path, source)
    assert [r.check_id for r in results if not r.passed] == []


def test_a_float_step_counter_is_bad_output(course, tmp_path):
    source = _reference(course).replace(
        't = int(config.get("t", 0)) + 1', 't = config.get("t", 0) + 1.0'
    )
    results = _grade(course, tmp_path, source)
    failed = [r for r in results if not r.passed]
    assert failed and all(r.function == "adam" for r in failed)
    bad = [r for r in failed if r.outcome is Outcome.BAD_OUTPUT]
    assert bad and "expected an int" in bad[0].message


def test_state_kept_in_a_global_is_named_and_not_deterministic(course, tmp_path):
    """Correct updates, but the velocity lives in a module global instead of config."""
    source = _reference(course).replace(
        '    v = config.get("velocity", np.zeros_like(w))\n'
        '    v = config["momentum"] * v - config["learning_rate"] * dw\n'
        "    next_w = w + v\n"
        '    config["velocity"] = v\n',
        "    global _V\n"
        '    v = _V if "_V" in globals() and _V.shape == w.shape else np.zeros_like(w)\n'
        '    v = config["momentum"] * v - config["learning_rate"] * dw\n'
        "    next_w = w + v\n"
        "    _V = v\n",
    )
    assert "global _V" in source
    failed = [r for r in _grade(course, tmp_path, source) if not r.passed]
    assert {r.function for r in failed} == {"sgd_momentum"}
    assert NOT_STORED in {r.misconception for r in failed}
    assert "optimizers/sgd_momentum: deterministic" in {r.check_id for r in failed}


def test_modifying_dw_is_reported(course, tmp_path):
    source = _reference(course).replace(
        '    next_w = w - config["learning_rate"] * dw\n',
        '    dw *= config["learning_rate"]\n    next_w = w - dw\n',
    )
    results = {r.check_id: r for r in _grade(course, tmp_path, source)}
    hygiene = results["optimizers/sgd: dw unchanged"]
    assert "modified dw" in hygiene.message
    assert hygiene.warnings or not hygiene.passed
