"""The training checks catch realistic bugs: each mutant of solutions/training.py loses points on
the function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics import training as t


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("training", function, old, new, misconception)


SHIFT = "shifted = scores - scores.max(axis=2, keepdims=True)"
MUTANTS = [
    # named mistakes
    mutant(t.TRAIN, "best_W = W.copy()\n        else", "best_W = W\n        else", t.BY_REFERENCE),
    mutant(
        t.TRAIN,
        "        if val_acc[-1] > best_val_acc:\n",
        "        epoch_loss = np.mean(losses[-len(range(0, n, batch_size)) :])\n"
        "        if epoch == 0 or epoch_loss < best_loss:\n"
        "            best_loss = epoch_loss\n",
        t.ON_TRAIN_LOSS,
    ),
    mutant(t.TRAIN, 'waited >= config["patience"]', 'waited > config["patience"]', t.PATIENCE_OFF),
    mutant(
        t.TRAIN, 'waited >= config["patience"]', 'waited >= config["patience"] - 1', t.PATIENCE_OFF
    ),
    mutant(
        t.ENSEMBLE,
        "shifted = scores - scores.max(axis=2, keepdims=True)",
        "scores = scores.mean(axis=0, keepdims=True)\n"
        "    shifted = scores - scores.max(axis=2, keepdims=True)",
        t.AVERAGED_LOGITS,
    ),
    mutant(
        t.POLYAK,
        "avg = decay * avg + (1 - decay) * checkpoints[t]",
        "avg = (1 - decay) * avg + decay * checkpoints[t]",
        t.DECAY_SWAPPED,
    ),
    mutant(
        t.NEWTON,
        "return w - np.linalg.solve(H, grad)",
        "return w - grad @ np.linalg.inv(H)",
        t.WRONG_SIDE,
    ),
    mutant(t.BFGS, "rho = 1.0 / (y @ s)", "rho = 1.0 / (y @ s)\n    s, y = y, s", t.SY_SWAPPED),
    # edges: a first epoch at validation accuracy 0, the caller's arguments, large scores
    mutant(t.TRAIN, "W.copy(), -1.0, 0, 0", "W.copy(), 0.0, 0, 0", t.BEST_AT_ZERO),
    mutant(t.TRAIN, "    W = W.copy()\n", "", t.W_MODIFIED),
    mutant(
        t.TRAIN,
        'optim_config = dict(config.get("optim_config", {}))',
        'optim_config = config.get("optim_config", {})',
        t.CONFIG_MODIFIED,
    ),
    mutant(t.ENSEMBLE, SHIFT, "shifted = scores", t.NO_ROW_SHIFT),
    mutant(t.ENSEMBLE, SHIFT, "shifted = scores - scores.max()", t.GLOBAL_SHIFT),
    mutant(t.ENSEMBLE, SHIFT, SHIFT.replace(".max(", ".min(")),
    mutant(t.ENSEMBLE, SHIFT, SHIFT.replace("scores -", "scores +")),
    # other realistic bugs
    mutant(t.TRAIN, "perm = rng.permutation(n)", "perm = np.arange(n)"),
    mutant(
        t.TRAIN,
        'rng = np.random.default_rng(config["seed"])',
        'rng = np.random.default_rng(config["seed"])\n    perm0 = rng.permutation(n)',
    ),
    mutant(t.TRAIN, "range(0, n, batch_size)", "range(0, n - batch_size + 1, batch_size)"),
    mutant(t.TRAIN, "if val_acc[-1] > best_val_acc:", "if val_acc[-1] >= best_val_acc:"),
    mutant(
        t.TRAIN,
        "best_W = W.copy()\n        else",
        "best_W = W.copy()\n            waited += 1\n        else",
    ),
    mutant(t.TRAIN, "losses.append(loss)", "losses.append(loss * len(idx))"),
    mutant(t.ENSEMBLE, "return probs.mean(axis=0)", "return probs.sum(axis=0)"),
    mutant(t.ENSEMBLE, "probs /= probs.sum(axis=2, keepdims=True)", "probs /= probs.sum()"),
    mutant(
        t.POLYAK,
        "for t in range(1, checkpoints.shape[0])",
        "for t in range(1, checkpoints.shape[0] - 1)",
    ),
    mutant(t.POLYAK, "avg = checkpoints[0].copy()\n", "avg = checkpoints.mean(axis=0)\n"),
    mutant(t.NEWTON, "return w - np.linalg.solve(H, grad)", "return w + np.linalg.solve(H, grad)"),
    mutant(t.NEWTON, "return w - np.linalg.solve(H, grad)", "return w - grad"),
    mutant(t.BFGS, " + rho * np.outer(s, s)", ""),
    mutant(t.BFGS, "left @ H_inv @ right", "right @ H_inv @ left"),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant)


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in t.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"
