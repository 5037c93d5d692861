"""Topic ``rnn``: vanilla RNN and LSTM (steps and whole sequences), word embeddings, temporal
affine layer and temporal softmax loss (CS231n rnn_layers.py).

Declarations only. The pieces live beside this module: ``laws`` (input makers and property
laws), ``mistakes`` (the known mistakes the checks can name) and ``lstm_step`` (checks of
lstm_step_backward, whose forward returns three values and whose backward takes two upstream
gradients). Conventions (TOPICS.md): tanh RNN; LSTM gates i, f, o, g; c0 = 0; repeated word
indices accumulate; the temporal loss is summed over unmasked positions and divided by N.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.checks.anchor import degenerate
from grader.checks.base import Case, Check, Kind, Make
from grader.checks.gradient import LossGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.checks.suites import layer_suite
from grader.topics.rnn import laws as law
from grader.topics.rnn.laws import (
    LOSS_X,
    embedding,
    lstm_step,
    rnn_step,
    sequence,
    temporal_affine,
    temporal_loss,
)
from grader.topics.rnn.lstm_step import STEP_OUT, StepBackwardReference, StepGradient
from grader.topics.rnn.mistakes import MISCONCEPTIONS

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "rnn"
SUMMARY = (
    "vanilla RNN and LSTM (gate order i, f, o, g), embeddings, temporal affine and masked loss"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
)
RECURRENT_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")


# -- checks --------------------------------------------------------------------------------------
def _layer(
    fwd: str,
    bwd: str,
    cases: Sequence[Case],
    small: Make,
    large: Make,
    grads: tuple[str, ...],
    wrt: tuple[int, ...],
) -> list[Check]:
    return layer_suite(TOPIC, fwd, bwd, cases, small, large, grads, wrt)


def _rnn_checks() -> list[Check]:
    found = _layer(
        "rnn_step_forward",
        "rnn_step_backward",
        [
            Case("N=3 D=10 H=4", rnn_step(3, 10, 4)),
            Case("N=1 D=1 H=1", rnn_step(1, 1, 1)),
            Case("N=8 D=12 H=6", rnn_step(8, 12, 6), hidden=True),
        ],
        rnn_step(2, 3, 2),
        rnn_step(10, 15, 8),
        STEP_GRADS,
        (0, 1, 2, 3, 4),
    )
    found += _layer(
        "rnn_forward",
        "rnn_backward",
        [
            Case("N=2 T=3 D=4 H=5", sequence(2, 3, 4, 5)),
            Case("T=1", sequence(3, 1, 4, 3)),
            Case("N=1 D=1 H=1 T=5", sequence(1, 5, 1, 1)),
            Case("N=5 T=8 D=6 H=7", sequence(5, 8, 6, 7), hidden=True),
        ],
        sequence(2, 3, 2, 2),
        sequence(6, 10, 8, 7),
        RECURRENT_GRADS,
        (0, 1, 2, 3, 4),
    )
    found.append(
        Property(TOPIC, "rnn_forward", "iterates rnn_step_forward", law.rnn_forward_iterates_step)
    )
    return found


def _embedding_and_affine_checks() -> list[Check]:
    found = _layer(
        "word_embedding_forward",
        "word_embedding_backward",
        [
            Case("repeated words, N=2 T=4 V=5 D=3", embedding(2, 4, 5, 3)),
            Case("no repeated word, N=2 T=3 V=10 D=4", embedding(2, 3, 10, 4, distinct=True)),
            Case("V=1 D=1 (every word the same)", embedding(2, 3, 1, 1)),
            Case("N=6 T=9 V=12 D=8", embedding(6, 9, 12, 8), hidden=True),
        ],
        embedding(2, 3, 4, 2),
        embedding(8, 10, 20, 16),
        ("dW",),
        (1,),
    )
    found.append(
        Property(
            TOPIC,
            "word_embedding_backward",
            "a word repeated everywhere gets the sum of dout",
            law.embedding_accumulates,
        )
    )
    found += _layer(
        "temporal_affine_forward",
        "temporal_affine_backward",
        [
            Case("N=2 T=3 D=4 M=5", temporal_affine(2, 3, 4, 5)),
            Case("N=1 T=1 D=1 M=1", temporal_affine(1, 1, 1, 1)),
            Case("N=6 T=7 D=8 M=9", temporal_affine(6, 7, 8, 9), hidden=True),
        ],
        temporal_affine(2, 3, 2, 3),
        temporal_affine(8, 10, 12, 15),
        ("dx", "dw", "db"),
        (0, 1, 2),
    )
    return degenerate(found, "V=1 D=1 (every word the same)")


def _loss_checks() -> list[Check]:
    fn = "temporal_softmax_loss"
    found: list[Check] = [
        Reference(TOPIC, fn, case.name, case.make, LOSS_X, hidden=case.hidden)
        for case in [
            Case("mask with some zeros, N=3 T=4 V=5", temporal_loss(3, 4, 5)),
            Case("a fully masked row", temporal_loss(4, 5, 6, "masked row")),
            Case("no position masked", temporal_loss(3, 4, 5, "ones")),
            Case("N=1 T=1", temporal_loss(1, 1, 7, "ones")),
            Case("every position masked (loss 0)", temporal_loss(2, 3, 4, "zeros")),
            Case("N=10 T=12 V=20", temporal_loss(10, 12, 20), hidden=True),
        ]
    ]
    found += [
        Reference(
            TOPIC,
            fn,
            "large scores (about 1000)",
            temporal_loss(3, 4, 5, scale=1000.0),
            LOSS_X,
            kind=Kind.HYGIENE,
        ),
        LossGradient(TOPIC, fn, "numeric gradient, elementwise", temporal_loss(2, 3, 4), LOSS_X),
        LossGradient(
            TOPIC,
            fn,
            "numeric gradient, directional",
            temporal_loss(8, 10, 12, "masked row"),
            LOSS_X,
            mode="directional",
        ),
        Property(TOPIC, fn, "masked positions do not count", law.masked_positions_ignored),
        Property(TOPIC, fn, "divided by N, not by the number of tokens", law.divided_by_n),
        NoMutation(TOPIC, fn, "inputs unchanged", temporal_loss(2, 3, 4), LOSS_X),
        Deterministic(TOPIC, fn, "deterministic", temporal_loss(2, 3, 4), LOSS_X),
    ]
    return degenerate(found, "every position masked (loss 0)")


def _saturated(make: Make, scale: float = 1500.0) -> Make:
    """LSTM step inputs with Wx and b scaled up: pre-activations in the thousands either way,
    where every gate saturates (a naive exp overflows past 709)."""

    def scaled(rng: np.random.Generator) -> tuple:
        x, prev_h, prev_c, Wx, Wh, b = make(rng)
        return x, prev_h, prev_c, Wx * scale, Wh, b * scale

    return scaled


def _lstm_checks() -> list[Check]:
    fwd = "lstm_step_forward"
    step_cases = [
        Case("N=3 D=5 H=4", lstm_step(3, 5, 4)),
        Case("N=1 D=1 H=1", lstm_step(1, 1, 1)),
        Case("N=7 D=9 H=6", lstm_step(7, 9, 6), hidden=True),
    ]
    found: list[Check] = []
    for case in step_cases:
        found.append(Reference(TOPIC, fwd, case.name, case.make, STEP_OUT, hidden=case.hidden))
        found.append(StepBackwardReference(TOPIC, case.name, case.make, hidden=case.hidden))
    found += [
        Reference(
            TOPIC,
            fwd,
            "pre-activations in the thousands (saturated gates)",
            _saturated(lstm_step(3, 5, 4)),
            STEP_OUT,
            kind=Kind.HYGIENE,
        ),
        Property(TOPIC, fwd, "gate order i, f, o, g", law.lstm_gate_order),
        NoMutation(TOPIC, fwd, "inputs unchanged", lstm_step(2, 3, 2), STEP_OUT),
        Deterministic(TOPIC, fwd, "deterministic", lstm_step(2, 3, 2), STEP_OUT),
        StepGradient(TOPIC, "numeric gradient, elementwise", lstm_step(2, 3, 2)),
        StepGradient(
            TOPIC, "numeric gradient, directional", lstm_step(8, 10, 6), mode="directional"
        ),
    ]
    found += _layer(
        "lstm_forward",
        "lstm_backward",
        [
            Case("N=2 T=3 D=4 H=5", sequence(2, 3, 4, 5, gates=4)),
            Case("T=1", sequence(3, 1, 4, 3, gates=4)),
            Case("N=1 D=1 H=1 T=5", sequence(1, 5, 1, 1, gates=4)),
            Case("N=5 T=8 D=6 H=7", sequence(5, 8, 6, 7, gates=4), hidden=True),
        ],
        sequence(2, 3, 2, 2, gates=4),
        sequence(6, 10, 8, 7, gates=4),
        RECURRENT_GRADS,
        (0, 1, 2, 3, 4),
    )
    found.append(
        Property(
            TOPIC, "lstm_forward", "iterates lstm_step_forward", law.lstm_forward_iterates_step
        )
    )
    return found


def checks() -> list[Check]:
    return _rnn_checks() + _embedding_and_affine_checks() + _loss_checks() + _lstm_checks()
