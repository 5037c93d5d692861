"""Check suites shared by topics: the standard set of checks of a forward/backward layer."""

from __future__ import annotations

from collections.abc import Sequence

from grader.checks.base import Case, Check, Make
from grader.checks.gradient import LayerGradient
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import CACHE
from grader.checks.reference import BackwardReference, Reference

OUT = ("out", CACHE)


def layer_suite(
    topic: str,
    fwd: str,
    bwd: str,
    cases: Sequence[Case],
    small: Make,
    large: Make,
    grads: tuple[str, ...],
    wrt: tuple[int, ...],
) -> list[Check]:
    """Forward and backward against the reference on each case; the backward against the
    numeric gradient of the student's own forward (elementwise on ``small``, along random
    directions on ``large``); the forward leaves its inputs alone and is deterministic."""
    found: list[Check] = []
    for case in cases:
        found.append(Reference(topic, fwd, case.name, case.make, OUT, hidden=case.hidden))
        found.append(
            BackwardReference(topic, bwd, fwd, case.name, case.make, grads, hidden=case.hidden)
        )
    found += [
        LayerGradient(topic, bwd, fwd, "numeric gradient, elementwise", small, grads, wrt=wrt),
        LayerGradient(
            topic,
            bwd,
            fwd,
            "numeric gradient, directional",
            large,
            grads,
            wrt=wrt,
            mode="directional",
        ),
        NoMutation(topic, fwd, "inputs unchanged", small, OUT),
        Deterministic(topic, fwd, "deterministic", small, OUT),
    ]
    return found
