"""The training loop as the judge models it: the reference's loop with each known mistake as a
switch, the data sets the loop checks train on, and the comparison of two runs.

``run_model`` uses the reference module's given code (``softmax_loss``, ``accuracy`` and the
update rules), so a mistake's model differs from the reference only where the mistake does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.judge.compare import Comparison, relative_error
from grader.judge.expected import CachedReference, kept

TRAIN = "train"
HISTORY = ("loss_history", "train_acc_history", "val_acc_history")


def run_model(ref: Any, *args: Any, **switches: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """``_run`` (the loop, below) as one call of plain data in (the arguments of ``train`` and
    the switches) and out (best_W and the history), kept like a reference function's answer:
    a release holds the runs as data where it could not hold the reference's ``UPDATE_RULES``
    (a dict of functions)."""

    def live(switches: dict[str, Any], *args: Any) -> tuple[np.ndarray, dict[str, Any]]:
        # the module itself only here: a release never runs this (it has no module)
        return _run(ref.module if isinstance(ref, CachedReference) else ref, *args, **switches)

    return kept(ref, "training.run_model", live, switches, *args)


def _run(
    ref: ModuleType,
    W: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    config: dict[str, Any],
    *,
    copy_best: bool = True,
    on_loss: bool = False,
    patience_shift: int = 0,
    best_start: float = -1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The reference loop; ``copy_best=False`` keeps best_W by reference, ``on_loss`` stops on
    the epoch's mean minibatch loss (lower is better) instead of the validation accuracy,
    ``patience_shift`` stops after ``patience + patience_shift`` epochs without improvement,
    and ``best_start`` is the best validation accuracy before epoch 0 (-1: epoch 0 always
    improves; 0: a first epoch at accuracy 0 does not)."""
    W = W.copy()
    rule = ref.UPDATE_RULES[config["update_rule"]]
    optim_config = copy.deepcopy(dict(config.get("optim_config", {})))
    rng = np.random.default_rng(config["seed"])
    n, size = X_train.shape[0], config["batch_size"]
    losses: list[float] = []
    train_acc: list[float] = []
    val_acc: list[float] = []
    best_W, best, best_epoch, waited = W.copy(), np.inf if on_loss else best_start, 0, 0
    for epoch in range(config["num_epochs"]):
        perm = rng.permutation(n)
        epoch_losses = []
        for i in range(0, n, size):
            idx = perm[i : i + size]
            loss, dW = ref.softmax_loss(W, X_train[idx], y_train[idx], config["reg"])
            epoch_losses.append(loss)
            W, optim_config = rule(W, dW, optim_config)
        losses.extend(epoch_losses)
        train_acc.append(ref.accuracy(W, X_train, y_train))
        val_acc.append(ref.accuracy(W, X_val, y_val))
        score = float(np.mean(epoch_losses)) if on_loss else val_acc[-1]
        if (score < best) if on_loss else (score > best):
            best, best_epoch, waited = score, epoch, 0
            best_W = W.copy() if copy_best else W
        else:
            waited += 1
            if waited >= config["patience"] + patience_shift:
                break
    history = {
        "loss_history": np.array(losses),
        "train_acc_history": np.array(train_acc),
        "val_acc_history": np.array(val_acc),
        "best_val_acc": float(val_acc[best_epoch]),
        "best_epoch": int(best_epoch),
    }
    return best_W, history


def variant(**switches: Any) -> Callable[..., tuple]:
    def model(ref: ModuleType, *args: Any) -> tuple:
        return run_model(ref, *args, **switches)

    return model


# -- data ----------------------------------------------------------------------------------------
def dataset(
    rng: np.random.Generator, n_train: int, n_val: int, d: int, c: int, spread: float = 1.2
) -> tuple:
    """(W, X_train, y_train, X_val, y_val): one draw of class means for both splits."""
    means = spread * rng.standard_normal((c, d))
    y_train = rng.permutation(np.arange(n_train) % c).astype(np.int64)
    y_val = rng.permutation(np.arange(n_val) % c).astype(np.int64)
    X_train = means[y_train] + rng.standard_normal((n_train, d))
    X_val = means[y_val] + rng.standard_normal((n_val, d))
    W = 1e-3 * rng.standard_normal((d, c))
    return W, X_train, y_train, X_val, y_val


def config(rng: np.random.Generator, rule: str, optim: dict[str, Any], **kw: Any) -> dict[str, Any]:
    base = {
        "update_rule": rule,
        "optim_config": dict(optim),
        "num_epochs": 20,
        "batch_size": 8,
        "reg": 1e-3,
        "patience": 3,
        "seed": int(rng.integers(2**31)),
    }
    return {**base, **kw}


def stops_early(ref: ModuleType, args: tuple) -> bool:
    """The run stops early (with room for one more epoch), and every mistake's model of the
    loop gives another run than the reference on these inputs."""
    best_W, history = run_model(ref, *args)
    epochs = history["val_acc_history"].size
    if epochs >= args[5]["num_epochs"] - 1:
        return False
    for switches in ({"copy_best": False}, {"on_loss": True}, {"patience_shift": 1}):
        if same_run((best_W, history), run_model(ref, *args, **switches)):
            return False
    return True


def early_stopping_case(
    rng: np.random.Generator,
    ref: ModuleType,
    rule: str,
    optim: dict[str, Any],
    sizes: tuple[int, int, int, int] = (40, 30, 4, 3),
    **kw: Any,
) -> tuple:
    """Inputs on which the loop stops early and every mistake shows (redrawn until it does)."""
    for _ in range(200):
        args = (*dataset(rng, *sizes), config(rng, rule, optim, **kw))
        if stops_early(ref, args):
            return args
    raise AssertionError("no data set on which training stops early")  # judge-side fault


def zero_first_epoch_case(
    rng: np.random.Generator,
    ref: ModuleType,
    rule: str,
    optim: dict[str, Any],
    sizes: tuple[int, int, int, int] = (30, 12, 4, 3),
    **kw: Any,
) -> tuple:
    """Inputs whose validation accuracy after epoch 0 is exactly 0 (each validation label is
    another class than the one the weights after epoch 0 predict), so that only a best that
    starts below 0 stores epoch 0; redrawn until a best starting at 0 gives another run."""
    for _ in range(200):
        W, X_train, y_train, X_val, y_val = dataset(rng, *sizes)
        cfg = config(rng, rule, optim, **kw)
        one_epoch = (W, X_train, y_train, X_val, y_val, {**cfg, "num_epochs": 1})
        after_first, _ = run_model(ref, *one_epoch)  # the labels of X_val do not move W
        predicted = np.argmax(X_val @ after_first, axis=1)
        C = W.shape[1]
        y_val = ((predicted + rng.integers(1, C, predicted.size)) % C).astype(np.int64)
        args = (W, X_train, y_train, X_val, y_val, cfg)
        want = run_model(ref, *args)
        if want[1]["val_acc_history"][0] == 0.0 and not same_run(
            want, run_model(ref, *args, best_start=0.0)
        ):
            return args
    raise AssertionError("no data set with a first epoch at validation accuracy 0")


# -- comparing runs ------------------------------------------------------------------------------
def run_comparisons(got: tuple, want: tuple, tol: float) -> list[Comparison]:
    """Comparisons of best_W and each history entry (lengths first: a run of another length is
    one failed comparison)."""
    found = [relative_error("best_W", got[0], want[0], tol)]
    for key in (*HISTORY, "best_val_acc", "best_epoch"):
        g, w = np.asarray(got[1][key], dtype=np.float64), np.asarray(want[1][key])
        if g.shape != w.shape:
            found.append(
                Comparison(f"history[{key!r}] length", np.inf, 0.0, (), g.size, w.size, "length")
            )
        else:
            found.append(relative_error(f"history[{key!r}]", g, w, tol))
    return found


def same_run(got: tuple, want: tuple, tol: float = 1e-6) -> bool:
    return all(c.ok for c in run_comparisons(got, want, tol))
