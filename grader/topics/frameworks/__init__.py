"""Topic ``frameworks``: the same models in PyTorch, graded in the worker on the CPU.

The student module imports torch once, when the worker loads it (``limits`` in
autograder.yml give that import time and memory). Everything the student returns to the judge
is numpy data; models, loaders and optimizers stay in the worker behind handles and are read
through the given ``get_weights`` and ``inspect_model``. The net is compared with the reference
(itself pinned to the numpy ``TwoLayerNet`` of backprop by the oracle tests) and with the
numeric gradient of the student's own loss; the custom autograd Function's backward with the
reference and with the numeric gradient of the student's own forward; training with the
reference for the same seed (exactly the same batches), and transfer learning also by the
untouched extractor, the optimizer's parameters and a validation accuracy.
"""

from __future__ import annotations

import numpy as np

from grader.checks.base import Check, Kind, Make
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.topics.frameworks import bodies as b
from grader.topics.frameworks.mistakes import MISCONCEPTIONS

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "frameworks"
SUMMARY = "PyTorch in the worker (CPU, float64); only numpy crosses back; seeded loaders"
WORKER_SETUP = ""
FUNCTIONS = (
    "TwoLayerTorchNet",
    "load_weights",
    "forward_and_grads",
    "custom_leaky_relu_forward",
    "custom_leaky_relu_grad",
    "loader_batches",
    "sgd_train",
    "predict",
    "replace_head",
    "head_optimizer",
    "train_head",
)
REF, GRAD = Kind.REFERENCE, Kind.GRADIENT


def leaky_case(shape: tuple[int, ...], alpha: float) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return (rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape), alpha)

    return make


def leaky_grad_case(shape: tuple[int, ...], alpha: float) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        return x, rng.standard_normal(shape), alpha

    return make


def loader_case(N: int, D: int, batch_size: int, epochs: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        X, y = rng.standard_normal((N, D)), rng.integers(0, 5, N)
        return X, y, batch_size, int(rng.integers(2**31)), epochs

    return make


def _net(t: str) -> list[Check]:
    fg = "forward_and_grads"
    return [
        # a net with the right layers proves nothing until it computes: gated on the anchor of
        # forward_and_grads, which runs the student's net
        Property(
            t,
            "TwoLayerTorchNet",
            "fc1 and fc2 shapes, float64",
            b.net_layers,
            anchor_function=fg,
        ),
        Property(t, "load_weights", "CS231n layout in", b.load_body(b.net_case(3, 7, 5, 4))),
        Property(t, fg, "N=5 D=6 H=4 C=3", b.grads_body(b.net_case(5, 6, 4, 3)), kind=REF),
        Property(t, fg, "batch of 1", b.grads_body(b.net_case(1, 5, 7, 2)), kind=REF),
        Property(
            t, fg, "image-shaped X (N, 1, D)", b.grads_body(b.net_case(4, 6, 5, 3, True)), kind=REF
        ),
        Property(t, fg, "called twice (zero_grad)", b.grads_body(b.net_case(4, 5, 6, 3), True)),
        Property(
            t,
            fg,
            "numeric gradient of your own loss",
            b.grads_numeric(b.net_case(3, 4, 5, 3)),
            kind=GRAD,
        ),
        Property(
            t,
            fg,
            "N=20 D=13 H=9 C=7",
            b.grads_body(b.net_case(20, 13, 9, 7)),
            kind=REF,
            hidden=True,
        ),
    ]


def _custom(t: str) -> list[Check]:
    fw, gr = "custom_leaky_relu_forward", "custom_leaky_relu_grad"
    return [
        Reference(t, fw, "(4, 5), alpha=0.1", leaky_case((4, 5), 0.1), ("out",)),
        Reference(t, fw, "(3,), alpha=0.01", leaky_case((3,), 0.01), ("out",)),
        Reference(t, fw, "(2, 3, 4), alpha=0.3", leaky_case((2, 3, 4), 0.3), ("out",), hidden=True),
        NoMutation(t, fw, "x unchanged", leaky_case((3, 4), 0.1), ("out",)),
        Deterministic(t, fw, "same out twice", leaky_case((3, 4), 0.1), ("out",)),
        Reference(t, gr, "(4, 5), alpha=0.1", leaky_grad_case((4, 5), 0.1), ("dx",)),
        Reference(t, gr, "(1, 3), alpha=0.2", leaky_grad_case((1, 3), 0.2), ("dx",)),
        Reference(
            t, gr, "(3, 2, 5), alpha=0.05", leaky_grad_case((3, 2, 5), 0.05), ("dx",), hidden=True
        ),
        Property(
            t, gr, "numeric gradient of your forward", b.leaky_numeric((3, 4), 0.1), kind=GRAD
        ),
        NoMutation(t, gr, "x and dout unchanged", leaky_grad_case((3, 4), 0.1), ("dx",)),
    ]


def _training(t: str) -> list[Check]:
    lb, sgd = "loader_batches", "sgd_train"
    out3 = ("X_seen", "y_seen", "sizes")
    return [
        Reference(t, lb, "N=10 batch 4, 2 epochs", loader_case(10, 3, 4, 2), out3, tol=0.0),
        Reference(t, lb, "N=6 batch 6, 3 epochs", loader_case(6, 2, 6, 3), out3, tol=0.0),
        Reference(
            t, lb, "N=13 batch 5, 1 epoch", loader_case(13, 2, 5, 1), out3, tol=0.0, hidden=True
        ),
        Property(t, lb, "every epoch a permutation", b.loader_epochs),
        Deterministic(t, lb, "same batches for the same seed", loader_case(9, 2, 4, 2), out3),
        Property(
            t, sgd, "full batch, 3 epochs", b.sgd_body(b.net_case(6, 5, 4, 3), 0.5, 6, 3), kind=REF
        ),
        Property(
            t,
            sgd,
            "batch 4 of N=10, 2 epochs",
            b.sgd_body(b.net_case(10, 4, 6, 3), 0.3, 4, 2),
            kind=REF,
        ),
        Property(
            t,
            sgd,
            "batch 3 of N=8, 2 epochs",
            b.sgd_body(b.net_case(8, 6, 5, 4), 0.2, 3, 2),
            kind=REF,
            hidden=True,
        ),
        Property(
            t,
            sgd,
            "a batch-norm net in eval mode (net.train() first)",
            b.sgd_eval_mode_body(8, 0.1, 4, 1),
            kind=REF,
        ),
        Property(t, "predict", "N=6 (batch norm, eval mode)", b.predict_body(6), kind=REF),
        Property(t, "predict", "N=1", b.predict_body(1), kind=REF, hidden=True),
    ]


def _transfer(t: str) -> list[Check]:
    return [
        Property(t, "replace_head", "frozen extractor, new zero head", b.replace_body(4)),
        Property(t, "replace_head", "3 classes", b.replace_body(3), hidden=True),
        Property(t, "head_optimizer", "holds the head only", b.optimizer_body(4, 0.05)),
        Property(
            t,
            "train_head",
            "losses, extractor unchanged, accuracy >= 0.9",
            b.train_body(30, 16, 3, 0.9),
            kind=REF,
        ),
        Property(
            t,
            "train_head",
            "a model in eval mode: head trained in train mode, extractor in eval",
            b.train_modes_body(6, 8, 1),
            kind=REF,
        ),
    ]


def checks() -> list[Check]:
    return [*_net(TOPIC), *_custom(TOPIC), *_training(TOPIC), *_transfer(TOPIC)]
