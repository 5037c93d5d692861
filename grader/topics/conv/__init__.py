"""Topic ``conv``: convolution (naive and vectorised) and max pooling.

Declarations only: the cases, the checks and the known mistakes they can name. Input makers are
in the part ``inputs``, the laws (property checks) in ``laws``, the mistakes in
``mistakes``. The fast convolution gets every check the naive one gets, against the
reference, plus two speed checks against the reference's vectorised functions, timed the same
way (``grader.checks.speed``).
"""

from __future__ import annotations

import numpy as np

from grader.checks.base import Case, Check
from grader.checks.gradient import LayerGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import CACHE
from grader.checks.property import Property
from grader.checks.reference import BackwardReference, CalledAgain, Reference
from grader.checks.speed import BackwardSpeed, Speed
from grader.topics.conv import inputs as conv_inputs
from grader.topics.conv import laws as conv_laws
from grader.topics.conv import mistakes as conv_mistakes

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "conv"
SUMMARY = (
    "naive and fast convolution, max pooling; linearity and translation equivariance; "
    "**speed** checks"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
)
OUT = ("out", CACHE)
DX = ("dx",)
DXWB = ("dx", "dw", "db")
MISCONCEPTIONS = conv_mistakes.MISCONCEPTIONS

conv = conv_inputs.conv
pool = conv_inputs.pool
pool_ties = conv_inputs.pool_ties

CONV_CASES = [
    Case("x (2, 3, 7, 7) w (4, 3, 3, 3), stride 1, pad 1", conv((2, 3, 7, 7), (4, 3, 3, 3), 1, 1)),
    Case("stride 2, pad 1, non-square x (2, 3, 8, 6)", conv((2, 3, 8, 6), (3, 3, 3, 3), 2, 1)),
    Case(
        "stride 2, pad 0, non-square kernel 3x2, sizes not divisible (x 7x9)",
        conv((2, 2, 7, 9), (3, 2, 3, 2), 2, 0),
    ),
    Case("pad 2, non-square kernel 5x3", conv((2, 2, 6, 5), (3, 2, 5, 3), 1, 2)),
    Case("C=1, F=1, stride 1, pad 1", conv((3, 1, 5, 6), (1, 1, 3, 3), 1, 1)),
    Case("batch of 1, 1x1 kernel", conv((1, 4, 5, 6), (3, 4, 1, 1), 1, 0)),
    Case("stride 3, pad 2, kernel 4x4", conv((2, 3, 9, 11), (2, 3, 4, 4), 3, 2), hidden=True),
    Case(
        "x (4, 3, 10, 12) w (5, 3, 3, 5), stride 2, pad 2",
        conv((4, 3, 10, 12), (5, 3, 3, 5), 2, 2),
        hidden=True,
    ),
]
CONV_SMALL = conv((2, 2, 4, 5), (2, 2, 3, 3), 2, 1)  # elementwise numeric gradient
CONV_LARGE = conv((2, 3, 8, 7), (3, 3, 3, 3), 1, 1)  # directional numeric gradient
# Speed: a vectorised version takes about a millisecond here (the round trip to the worker
# included), the naive loops 60-100 ms.
CONV_SPEED = conv((4, 3, 16, 16), (16, 3, 3, 3), 1, 1)

POOL_CASES = [
    Case("2x2, stride 2, x (2, 3, 8, 8)", pool((2, 3, 8, 8), 2, 2, 2)),
    Case("non-square pool 3x2, stride 1 (overlapping windows)", pool((2, 2, 6, 5), 3, 2, 1)),
    Case("3x3, stride 2 (overlapping), odd sizes 7x9", pool((2, 2, 7, 9), 3, 3, 2)),
    Case("batch of 1, C=1, 2x2 stride 2, sizes not divisible (5x7)", pool((1, 1, 5, 7), 2, 2, 2)),
    Case("x (4, 3, 16, 12), pool 2x3, stride 2", pool((4, 3, 16, 12), 2, 3, 2), hidden=True),
]

SPEED_ADVICE = (
    "vectorise: no Python loop over examples, filters or output pixels. Gather the windows "
    "once (im2col with np.lib.stride_tricks.sliding_window_view), multiply by the filters in "
    "one matrix product, and in the backward pass add the column gradients back with a loop "
    "over the HH*WW kernel offsets (strided slices), not over pixels."
)


def _conv_checks(kind: str) -> list[Check]:
    fwd, bwd = f"conv_forward_{kind}", f"conv_backward_{kind}"
    found: list[Check] = []
    for case in CONV_CASES:
        found.append(Reference(TOPIC, fwd, case.name, case.make, OUT, hidden=case.hidden))
        found.append(
            BackwardReference(TOPIC, bwd, fwd, case.name, case.make, DXWB, hidden=case.hidden)
        )
    found += [
        LayerGradient(
            TOPIC,
            bwd,
            fwd,
            "numeric gradient, elementwise (stride 2, pad 1)",
            CONV_SMALL,
            DXWB,
            wrt=(0, 1, 2),
        ),
        LayerGradient(
            TOPIC,
            bwd,
            fwd,
            "numeric gradient, directional (x (2, 3, 8, 7))",
            CONV_LARGE,
            DXWB,
            wrt=(0, 1, 2),
            mode="directional",
        ),
        NoMutation(TOPIC, fwd, "inputs unchanged", CONV_CASES[1].make, OUT),
        Deterministic(TOPIC, fwd, "deterministic", CONV_CASES[1].make, OUT),
        Property(TOPIC, fwd, "linear in x", conv_laws.linear_in_x(fwd, CONV_CASES[0].make)),
        Property(
            TOPIC,
            fwd,
            "translation equivariance, stride 1, pad 1",
            conv_laws.translation_equivariant(fwd, conv((2, 2, 8, 9), (2, 2, 3, 3), 1, 1), (2, 1)),
        ),
        Property(
            TOPIC,
            fwd,
            "translation equivariance, stride 2, pad 1",
            conv_laws.translation_equivariant(fwd, conv((2, 2, 9, 8), (3, 2, 3, 2), 2, 1), (1, 2)),
        ),
        Property(
            TOPIC,
            fwd,
            "pad 1 is zero padding of H and W",
            conv_laws.zero_padding(fwd, conv((2, 3, 5, 6), (2, 3, 3, 3), 1, 1)),
        ),
        Property(
            TOPIC,
            fwd,
            "pad 2, stride 2 is zero padding of H and W",
            conv_laws.zero_padding(fwd, conv((2, 2, 7, 6), (3, 2, 3, 3), 2, 2)),
            hidden=True,
        ),
    ]
    return found


def _pool_checks() -> list[Check]:
    fwd, bwd = "max_pool_forward_naive", "max_pool_backward_naive"
    found: list[Check] = []
    for case in POOL_CASES:
        found.append(Reference(TOPIC, fwd, case.name, case.make, OUT, hidden=case.hidden))
        found.append(
            BackwardReference(TOPIC, bwd, fwd, case.name, case.make, DX, hidden=case.hidden)
        )
    found += [
        LayerGradient(
            TOPIC,
            bwd,
            fwd,
            "numeric gradient, elementwise (overlapping 2x2, stride 1)",
            pool((2, 2, 4, 5), 2, 2, 1),
            DX,
        ),
        LayerGradient(
            TOPIC,
            bwd,
            fwd,
            "numeric gradient, directional (x (4, 3, 12, 10))",
            pool((4, 3, 12, 10), 2, 2, 2),
            DX,
            mode="directional",
        ),
        BackwardReference(
            TOPIC,
            bwd,
            fwd,
            "tied maxima, 2x2 stride 2 (the first gets the gradient)",
            pool_ties((2, 3, 6, 6), 2, 2, 2),
            DX,
        ),
        BackwardReference(
            TOPIC,
            bwd,
            fwd,
            "tied maxima, overlapping 3x3 stride 1",
            pool_ties((2, 2, 5, 5), 3, 3, 1),
            DX,
        ),
        NoMutation(TOPIC, fwd, "inputs unchanged", POOL_CASES[0].make, OUT),
        Deterministic(TOPIC, fwd, "deterministic", POOL_CASES[0].make, OUT),
        Property(
            TOPIC,
            fwd,
            "max_pool(x + c) == max_pool(x) + c",
            conv_laws.pool_shift(POOL_CASES[2].make),
        ),
    ]
    return found


def _speed_checks() -> list[Check]:
    return [
        Speed(
            TOPIC,
            "conv_forward_fast",
            "speed: x (4, 3, 16, 16) w (16, 3, 3, 3) vs the reference's vectorised version",
            CONV_SPEED,
            OUT,
            baseline="conv_forward_fast",
            advice=SPEED_ADVICE,
        ),
        BackwardSpeed(
            TOPIC,
            "conv_backward_fast",
            "conv_forward_fast",
            "speed: x (4, 3, 16, 16) w (16, 3, 3, 3) vs the reference's vectorised version",
            CONV_SPEED,
            DXWB,
            baseline="conv_backward_fast",
            baseline_forward="conv_forward_fast",
            advice=SPEED_ADVICE,
        ),
    ]


def _same_shapes_again(rng: np.random.Generator) -> list[tuple]:
    """Two calls on x (3, 2, 7, 7) and 3x3 filters whose outputs are both 5x5: stride 1 with
    pad 0, then stride 2 with pad 2. Parameters kept from the first call (a cache keyed by the
    input's shape) give the second a wrong result of the right shape."""
    first = conv((3, 2, 7, 7), (4, 2, 3, 3), 1, 0)(rng)
    second = conv((3, 2, 7, 7), (4, 2, 3, 3), 2, 2)(rng)
    return [first, second]


def _stale_checks() -> list[Check]:
    return [
        CalledAgain(
            TOPIC,
            fn,
            "same shapes again, other stride and pad",
            _same_shapes_again,
            OUT,
            stale=conv_mistakes.STALE_BY_SHAPE,
        )
        for fn in ("conv_forward_naive", "conv_forward_fast")
    ]


def checks() -> list[Check]:
    return [
        *_conv_checks("naive"),
        *_pool_checks(),
        *_conv_checks("fast"),
        *_stale_checks(),
        *_speed_checks(),
    ]
